-- 0009: Load Balancers (with their backends) and Managed Databases, raw; and rdb_usage_daily, each database's
-- CPU utilisation and connections per day, which the loader rebuilds from the model rdb_usage_daily_source
-- (transform/models/rdb_usage_daily_source.sql says how) after each load.

CREATE TABLE IF NOT EXISTS raw_lb_load_balancers
(
    run_id                String,
    snapshot_at           DateTime64(6, 'UTC'),
    organization_id       LowCardinality(String),
    zone                  LowCardinality(String),
    id                    String,
    name                  Nullable(String),
    description           Nullable(String),
    project_id            Nullable(String),
    status                LowCardinality(Nullable(String)),
    type                  LowCardinality(Nullable(String)),
    frontend_count        Nullable(UInt64),
    backend_count         Nullable(UInt64),
    private_network_count Nullable(UInt64),
    created_at            Nullable(DateTime64(6, 'UTC')),
    updated_at            Nullable(DateTime64(6, 'UTC')),
    tags                  Array(String),
    raw                   String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_lb_backends
(
    run_id           String,
    snapshot_at      DateTime64(6, 'UTC'),
    organization_id  LowCardinality(String),
    zone             LowCardinality(String),
    lb_id            String,
    id               Nullable(String),
    name             Nullable(String),
    forward_protocol LowCardinality(Nullable(String)),
    forward_port     Nullable(UInt64),
    pool             Array(String),
    created_at       Nullable(DateTime64(6, 'UTC')),
    updated_at       Nullable(DateTime64(6, 'UTC')),
    raw              String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, lb_id);

CREATE TABLE IF NOT EXISTS raw_rdb_instances
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    region          LowCardinality(String),
    id              String,
    name            Nullable(String),
    project_id      Nullable(String),
    status          LowCardinality(Nullable(String)),
    engine          LowCardinality(Nullable(String)),
    node_type       LowCardinality(Nullable(String)),
    is_ha_cluster   Nullable(Bool),
    volume_type     LowCardinality(Nullable(String)),
    volume_size     Nullable(UInt64),
    created_at      Nullable(DateTime64(6, 'UTC')),
    tags            Array(String),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS rdb_usage_daily
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
ORDER BY (organization_id, resource_id, day);
