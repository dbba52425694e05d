-- 0007: Cockpit, raw. The data sources of each project and region, and every metric sample collected, as the
-- data plane served it: its labels (all of them, JSON), its time and its value. Rates and utilisation are
-- computed from these by the models, so the warehouse keeps the source data for as long as costlake runs.

CREATE TABLE IF NOT EXISTS raw_cockpit_data_sources
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    region          LowCardinality(String),
    id              String,
    project_id      Nullable(String),
    name            Nullable(String),
    url             Nullable(String),
    type            LowCardinality(Nullable(String)),
    origin          LowCardinality(Nullable(String)),
    retention_days  Nullable(UInt64),
    created_at      Nullable(DateTime64(6, 'UTC')),
    updated_at      Nullable(DateTime64(6, 'UTC')),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, region, id);

CREATE TABLE IF NOT EXISTS raw_cockpit_metric_points
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    region          LowCardinality(String),
    project_id      String,
    data_source_id  LowCardinality(String),
    metric          LowCardinality(String),
    resource_id     Nullable(String),
    resource_name   Nullable(String),
    zone            LowCardinality(Nullable(String)),
    labels          String CODEC(ZSTD(3)),
    ts              DateTime64(6, 'UTC') CODEC(Delta, ZSTD(3)),
    value           Float64 CODEC(Gorilla, ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (organization_id, metric, ifNull(resource_id, ''), ts);
