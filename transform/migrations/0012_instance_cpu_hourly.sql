-- 0012: the table instance_cpu_hourly, each Instance's CPU per hour as aggregate states: the rollup the daily
-- table and hourly panels read instead of raw samples. The loader rebuilds it from the model
-- instance_cpu_hourly_source (transform/models/instance_cpu_hourly_source.sql says how) after each load, before
-- instance_cpu_daily, which merges its hours into days.
--   * utilisation: the 5-minute utilisations of the hour (fractions of the vCPUs) as a quantilesExact state, so
--     that merging hours gives a day's (or a month's) exact percentiles;
--   * cpu_seconds / capacity_seconds: CPU seconds used and available (interval x vCPUs), for exact means.
-- Read it with the -Merge combinators and sums, grouped by what you need (rows of one hour may be split across
-- parts until merged): quantilesExactMerge(0.5, 0.95)(utilisation), sum(cpu_seconds) / sum(capacity_seconds).

CREATE TABLE IF NOT EXISTS instance_cpu_hourly
(
    organization_id  String,
    resource_id      String,
    hour             DateTime('UTC'),
    resource_name    SimpleAggregateFunction(anyLast, Nullable(String)),
    project_id       SimpleAggregateFunction(any, String),
    zone             SimpleAggregateFunction(any, Nullable(String)),
    intervals        SimpleAggregateFunction(sum, UInt64),
    vcpus            SimpleAggregateFunction(max, Float64),
    cpu_seconds      SimpleAggregateFunction(sum, Float64),
    capacity_seconds SimpleAggregateFunction(sum, Float64),
    utilisation_max  SimpleAggregateFunction(max, Float64),
    utilisation      AggregateFunction(quantilesExact(0.5, 0.95), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (organization_id, resource_id, hour);

-- The vCPU-hours each day measured (interval lengths x vCPUs), for capacities that do not assume the step. The
-- twin the loader rebuilds into is recreated from the new shape.
ALTER TABLE instance_cpu_daily ADD COLUMN IF NOT EXISTS vcpu_hours_available Float64;
DROP TABLE IF EXISTS instance_cpu_daily_next;
