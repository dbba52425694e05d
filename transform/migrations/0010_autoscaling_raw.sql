-- 0010: Instance scaling groups (Autoscaling v1alpha1 groups, templates, policies, events; v1alpha2 sizes), raw.

CREATE TABLE IF NOT EXISTS raw_autoscaling_instance_groups
(
    run_id               String,
    snapshot_at          DateTime64(6, 'UTC'),
    organization_id      LowCardinality(String),
    zone                 LowCardinality(String),
    id                   String,
    project_id           Nullable(String),
    name                 Nullable(String),
    instance_template_id Nullable(String),
    min_replicas         Nullable(UInt64),
    max_replicas         Nullable(UInt64),
    cooldown_delay       Nullable(String),
    loadbalancer_id      Nullable(String),
    created_at           Nullable(DateTime64(6, 'UTC')),
    updated_at           Nullable(DateTime64(6, 'UTC')),
    tags                 Array(String),
    raw                  String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_autoscaling_instance_templates
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    zone            LowCardinality(String),
    id              String,
    project_id      Nullable(String),
    name            Nullable(String),
    commercial_type LowCardinality(Nullable(String)),
    status          LowCardinality(Nullable(String)),
    created_at      Nullable(DateTime64(6, 'UTC')),
    updated_at      Nullable(DateTime64(6, 'UTC')),
    tags            Array(String),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_autoscaling_instance_policies
(
    run_id              String,
    snapshot_at         DateTime64(6, 'UTC'),
    organization_id     LowCardinality(String),
    zone                LowCardinality(String),
    id                  String,
    instance_group_id   Nullable(String),
    name                Nullable(String),
    action              LowCardinality(Nullable(String)),
    type                LowCardinality(Nullable(String)),
    value               Nullable(Int64),
    priority            Nullable(Int64),
    metric_name         Nullable(String),
    managed_metric      LowCardinality(Nullable(String)),
    cockpit_metric_name Nullable(String),
    operator            LowCardinality(Nullable(String)),
    aggregate           LowCardinality(Nullable(String)),
    sampling_range_min  Nullable(UInt64),
    threshold           Nullable(Float64),
    raw                 String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_autoscaling_instance_group_events
(
    run_id            String,
    snapshot_at       DateTime64(6, 'UTC'),
    organization_id   LowCardinality(String),
    zone              LowCardinality(String),
    instance_group_id String,
    id                Nullable(String),
    source            LowCardinality(Nullable(String)),
    level             LowCardinality(Nullable(String)),
    name              Nullable(String),
    created_at        Nullable(DateTime64(6, 'UTC')),
    details           Nullable(String),
    raw               String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, instance_group_id);

CREATE TABLE IF NOT EXISTS raw_autoscaling_group_sizes
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    zone            LowCardinality(String),
    id              String,
    name            Nullable(String),
    project_id      Nullable(String),
    status          LowCardinality(Nullable(String)),
    current_size    Nullable(UInt64),
    minimum_size    Nullable(UInt64),
    maximum_size    Nullable(UInt64),
    template_id     Nullable(String),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);
