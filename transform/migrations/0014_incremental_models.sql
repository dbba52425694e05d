-- 0014: the derived tables are maintained per loaded run instead of rebuilt whole at every load.
--
-- A load recomputes only the days (or, for billing_daily, the billing periods) that its runs brought data for,
-- month partition by month partition: the month's other rows are copied into the twin table `<table>_next`, the
-- touched days recomputed beside them, and the partition swapped in with `REPLACE PARTITION`, atomic as the
-- `EXCHANGE TABLES` of a whole rebuild was. So a load's cost follows what it brings, not the history kept.
-- `_refresh_runs` records which runs each table holds, and under which models (a checksum of their text): a run
-- not recorded (a load killed before its refresh) is folded in by the next load, and a table built by other
-- models is rebuilt whole. It replaces `_refresh_state`'s single fingerprint of the ledger.

CREATE TABLE IF NOT EXISTS _refresh_runs
(
    table_name   String,
    models       String,
    run_id       String,
    refreshed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(refreshed_at)
ORDER BY (table_name, models, run_id);

-- Partitioned by month so that a month can be swapped alone. Derived tables: recreated empty, the next load
-- rebuilds them (reports say so until then).
DROP TABLE IF EXISTS instance_cpu_daily_next;
DROP TABLE IF EXISTS instance_cpu_daily;
CREATE TABLE instance_cpu_daily
(
    organization_id      String,
    resource_id          String,
    day                  Date,
    resource_name        Nullable(String),
    project_id           String,
    zone                 Nullable(String),
    intervals            UInt32,
    vcpus                Float64,
    cpu_p95              Float64,
    cpu_max              Float64,
    cpu_mean             Float64,
    vcpu_hours_used      Float64,
    vcpu_hours_available Float64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (organization_id, resource_id, day);

DROP TABLE IF EXISTS rdb_usage_daily_next;
DROP TABLE IF EXISTS rdb_usage_daily;
CREATE TABLE rdb_usage_daily
(
    organization_id String,
    resource_id     String,
    day             Date,
    resource_name   Nullable(String),
    project_id      String,
    region          String,
    intervals       UInt32,
    cpu_max         Float64,
    cpu_mean        Float64,
    connections_max Nullable(Float64)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (organization_id, resource_id, day);

DROP TABLE IF EXISTS billing_daily_next;
DROP TABLE IF EXISTS billing_daily;
CREATE TABLE billing_daily
(
    organization_id        String,
    billing_period         Date,
    day                    Date,
    project_id             String,
    sku                    String,
    category_name          Nullable(String),
    product_name           Nullable(String),
    resource_name          Nullable(String),
    unit                   Nullable(String),
    currency               String,
    cost                   Decimal(38, 9),
    quantity               Decimal(38, 9),
    charge_class           LowCardinality(String),
    spread_days            UInt32,
    late                   Bool,
    observed_at            DateTime64(6, 'UTC'),
    restates_closed_period Bool DEFAULT false
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(billing_period)
ORDER BY (organization_id, day, project_id, sku);

DROP TABLE IF EXISTS instance_cpu_hourly_next;
DROP TABLE IF EXISTS _refresh_state;
