-- 0011: Kubernetes Kapsule (clusters, pools, nodes) and IPAM (every IP address), raw. A node's provider_id names
-- the Instance it runs on ("scaleway://instance/fr-par-1/<server id>"), the key the kapsule-pools report joins
-- to the Instances' Cockpit series.

CREATE TABLE IF NOT EXISTS raw_k8s_clusters
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    region          LowCardinality(String),
    id              String,
    name            Nullable(String),
    project_id      Nullable(String),
    type            LowCardinality(Nullable(String)),
    status          LowCardinality(Nullable(String)),
    version         LowCardinality(Nullable(String)),
    cni             LowCardinality(Nullable(String)),
    created_at      Nullable(DateTime64(6, 'UTC')),
    updated_at      Nullable(DateTime64(6, 'UTC')),
    tags            Array(String),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_k8s_pools
(
    run_id           String,
    snapshot_at      DateTime64(6, 'UTC'),
    organization_id  LowCardinality(String),
    region           LowCardinality(String),
    id               String,
    cluster_id       Nullable(String),
    name             Nullable(String),
    status           LowCardinality(Nullable(String)),
    node_type        LowCardinality(Nullable(String)),
    zone             LowCardinality(Nullable(String)),
    autoscaling      Nullable(Bool),
    size             Nullable(UInt64),
    min_size         Nullable(UInt64),
    max_size         Nullable(UInt64),
    root_volume_type LowCardinality(Nullable(String)),
    root_volume_size Nullable(UInt64),
    created_at       Nullable(DateTime64(6, 'UTC')),
    updated_at       Nullable(DateTime64(6, 'UTC')),
    tags             Array(String),
    raw              String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_k8s_nodes
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    region          LowCardinality(String),
    id              String,
    cluster_id      Nullable(String),
    pool_id         Nullable(String),
    name            Nullable(String),
    status          LowCardinality(Nullable(String)),
    provider_id     Nullable(String),
    public_ip_v4    Nullable(String),
    created_at      Nullable(DateTime64(6, 'UTC')),
    updated_at      Nullable(DateTime64(6, 'UTC')),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_ipam_ips
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    region          LowCardinality(String),
    id              String,
    address         Nullable(String),
    project_id      Nullable(String),
    is_ipv6         Nullable(Bool),
    zone            LowCardinality(Nullable(String)),
    source          Nullable(String),
    resource_type   LowCardinality(Nullable(String)),
    resource_id     Nullable(String),
    resource_name   Nullable(String),
    created_at      Nullable(DateTime64(6, 'UTC')),
    updated_at      Nullable(DateTime64(6, 'UTC')),
    tags            Array(String),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);
