-- 0001: the load ledger and one raw table per inventory dataset of the lake.
--
-- Raw tables mirror the Parquet datasets column for column (ingest/src/sources/*.rs declare them; the test
-- raw_tables_match_datasets checks they agree, with no engine). Rows of a run become visible to the models
-- only once the run is in _load_ledger, which the loader writes last; a load that crashed is deleted and
-- redone, so no run is ever counted twice.

CREATE TABLE IF NOT EXISTS _load_ledger
(
    run_id          String,
    organization_id String,
    snapshot_date   Date,
    snapshot_at     DateTime64(6, 'UTC'),
    loaded_at       DateTime64(3, 'UTC'),
    rows            UInt64,
    manifest        String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY run_id;

CREATE TABLE IF NOT EXISTS raw_account_projects
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    locality        LowCardinality(String),
    id              String,
    name            Nullable(String),
    description     Nullable(String),
    status          LowCardinality(Nullable(String)),
    created_at      Nullable(DateTime64(6, 'UTC')),
    updated_at      Nullable(DateTime64(6, 'UTC')),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_instance_servers
(
    run_id            String,
    snapshot_at       DateTime64(6, 'UTC'),
    organization_id   LowCardinality(String),
    zone              LowCardinality(String),
    id                String,
    name              Nullable(String),
    project_id        Nullable(String),
    commercial_type   LowCardinality(Nullable(String)),
    state             LowCardinality(Nullable(String)),
    state_detail      Nullable(String),
    arch              LowCardinality(Nullable(String)),
    boot_type         LowCardinality(Nullable(String)),
    image_id          Nullable(String),
    image_name        Nullable(String),
    protected         Nullable(Bool),
    creation_date     Nullable(DateTime64(6, 'UTC')),
    modification_date Nullable(DateTime64(6, 'UTC')),
    tags              Array(String),
    raw               String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_instance_server_volumes
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    zone            LowCardinality(String),
    server_id       String,
    slot            Nullable(String),
    volume_id       String,
    volume_type     LowCardinality(Nullable(String)),
    boot            Nullable(Bool),
    name            Nullable(String),
    size            Nullable(UInt64),
    state           LowCardinality(Nullable(String)),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, server_id, volume_id);

CREATE TABLE IF NOT EXISTS raw_instance_volumes
(
    run_id            String,
    snapshot_at       DateTime64(6, 'UTC'),
    organization_id   LowCardinality(String),
    zone              LowCardinality(String),
    id                String,
    name              Nullable(String),
    project_id        Nullable(String),
    volume_type       LowCardinality(Nullable(String)),
    size              Nullable(UInt64),
    state             LowCardinality(Nullable(String)),
    server_id         Nullable(String),
    server_name       Nullable(String),
    creation_date     Nullable(DateTime64(6, 'UTC')),
    modification_date Nullable(DateTime64(6, 'UTC')),
    tags              Array(String),
    raw               String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_instance_ips
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    zone            LowCardinality(String),
    id              String,
    address         Nullable(String),
    prefix          Nullable(String),
    reverse         Nullable(String),
    project_id      Nullable(String),
    type            LowCardinality(Nullable(String)),
    state           LowCardinality(Nullable(String)),
    server_id       Nullable(String),
    server_name     Nullable(String),
    ipam_id         Nullable(String),
    tags            Array(String),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_instance_snapshots
(
    run_id            String,
    snapshot_at       DateTime64(6, 'UTC'),
    organization_id   LowCardinality(String),
    zone              LowCardinality(String),
    id                String,
    name              Nullable(String),
    project_id        Nullable(String),
    volume_type       LowCardinality(Nullable(String)),
    size              Nullable(UInt64),
    state             LowCardinality(Nullable(String)),
    base_volume_id    Nullable(String),
    base_volume_name  Nullable(String),
    creation_date     Nullable(DateTime64(6, 'UTC')),
    modification_date Nullable(DateTime64(6, 'UTC')),
    tags              Array(String),
    raw               String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_instance_server_types
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    zone            LowCardinality(String),
    commercial_type String,
    hourly_price    Nullable(Decimal(38, 9)),
    monthly_price   Nullable(Decimal(38, 9)),
    currency        LowCardinality(String),
    ncpus           Nullable(UInt64),
    ram             Nullable(UInt64),
    gpu             Nullable(UInt64),
    arch            LowCardinality(Nullable(String)),
    end_of_service  Nullable(Bool),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, zone, commercial_type);

CREATE TABLE IF NOT EXISTS raw_block_volumes
(
    run_id             String,
    snapshot_at        DateTime64(6, 'UTC'),
    organization_id    LowCardinality(String),
    zone               LowCardinality(String),
    id                 String,
    name               Nullable(String),
    project_id         Nullable(String),
    type               LowCardinality(Nullable(String)),
    size               Nullable(UInt64),
    status             LowCardinality(Nullable(String)),
    perf_iops          Nullable(UInt64),
    class              LowCardinality(Nullable(String)),
    parent_snapshot_id Nullable(String),
    created_at         Nullable(DateTime64(6, 'UTC')),
    updated_at         Nullable(DateTime64(6, 'UTC')),
    last_detached_at   Nullable(DateTime64(6, 'UTC')),
    tags               Array(String),
    raw                String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_block_volume_references
(
    run_id                String,
    snapshot_at           DateTime64(6, 'UTC'),
    organization_id       LowCardinality(String),
    zone                  LowCardinality(String),
    volume_id             String,
    id                    Nullable(String),
    product_resource_type LowCardinality(Nullable(String)),
    product_resource_id   Nullable(String),
    type                  LowCardinality(Nullable(String)),
    status                LowCardinality(Nullable(String)),
    created_at            Nullable(DateTime64(6, 'UTC')),
    raw                   String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, volume_id);

CREATE TABLE IF NOT EXISTS raw_block_snapshots
(
    run_id               String,
    snapshot_at          DateTime64(6, 'UTC'),
    organization_id      LowCardinality(String),
    zone                 LowCardinality(String),
    id                   String,
    name                 Nullable(String),
    project_id           Nullable(String),
    size                 Nullable(UInt64),
    status               LowCardinality(Nullable(String)),
    class                LowCardinality(Nullable(String)),
    parent_volume_id     Nullable(String),
    parent_volume_name   Nullable(String),
    parent_volume_type   LowCardinality(Nullable(String)),
    parent_volume_status LowCardinality(Nullable(String)),
    created_at           Nullable(DateTime64(6, 'UTC')),
    updated_at           Nullable(DateTime64(6, 'UTC')),
    tags                 Array(String),
    raw                  String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_block_volume_types
(
    run_id                    String,
    snapshot_at               DateTime64(6, 'UTC'),
    organization_id           LowCardinality(String),
    zone                      LowCardinality(String),
    type                      String,
    pricing                   Nullable(Decimal(38, 9)),
    pricing_currency          LowCardinality(Nullable(String)),
    snapshot_pricing          Nullable(Decimal(38, 9)),
    snapshot_pricing_currency LowCardinality(Nullable(String)),
    perf_iops                 Nullable(UInt64),
    class                     LowCardinality(Nullable(String)),
    raw                       String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, zone, type);

CREATE TABLE IF NOT EXISTS raw_catalog_products
(
    run_id            String,
    snapshot_at       DateTime64(6, 'UTC'),
    organization_id   LowCardinality(String),
    locality          LowCardinality(String),
    sku               String,
    service_category  LowCardinality(Nullable(String)),
    product_category  LowCardinality(Nullable(String)),
    product           Nullable(String),
    variant           Nullable(String),
    description       Nullable(String),
    zone              LowCardinality(Nullable(String)),
    region            LowCardinality(Nullable(String)),
    datacenter        LowCardinality(Nullable(String)),
    is_global         Nullable(Bool),
    retail_price      Nullable(Decimal(38, 9)),
    currency          LowCardinality(Nullable(String)),
    unit              LowCardinality(Nullable(String)),
    unit_size         Nullable(UInt64),
    status            LowCardinality(Nullable(String)),
    end_of_life_at    Nullable(DateTime64(6, 'UTC')),
    instance_offer_id Nullable(String),
    raw               String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, sku);
