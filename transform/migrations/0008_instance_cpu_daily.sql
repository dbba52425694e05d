-- 0008: the table instance_cpu_daily, each Instance's CPU utilisation per day (fractions of its vCPUs). The
-- loader rebuilds it from the model instance_cpu_daily_source (transform/models/instance_cpu_daily_source.sql
-- says how) after each load.

CREATE TABLE IF NOT EXISTS instance_cpu_daily
(
    organization_id String,
    resource_id     String,
    day             Date,
    resource_name   Nullable(String),
    project_id      String,
    zone            Nullable(String),
    intervals       UInt32,
    vcpus           Float64,
    cpu_p95         Float64,
    cpu_max         Float64,
    cpu_mean        Float64,
    vcpu_hours_used Float64
)
ENGINE = MergeTree
ORDER BY (organization_id, resource_id, day);
