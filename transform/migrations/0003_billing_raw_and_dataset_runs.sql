-- 0003: raw billing tables, and which datasets each run holds.
--
-- Runs may now collect a subset of the products (`--sources billing` several times a day, say): the ledger
-- records each run's datasets (the model latest_dataset_runs reads them). Runs loaded before this migration
-- recorded none; the model runs takes theirs from the stored manifest.

ALTER TABLE _load_ledger ADD COLUMN IF NOT EXISTS datasets Array(String) AFTER rows;

CREATE TABLE IF NOT EXISTS raw_billing_consumptions
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    locality        LowCardinality(String),
    billing_period  Nullable(String),
    updated_at      Nullable(DateTime64(6, 'UTC')),
    project_id      Nullable(String),
    project_name    Nullable(String),
    consumer_id     Nullable(String),
    category_name   LowCardinality(Nullable(String)),
    product_name    Nullable(String),
    resource_name   Nullable(String),
    sku             String,
    unit            LowCardinality(Nullable(String)),
    billed_quantity Nullable(Decimal(38, 9)),
    value           Nullable(Decimal(38, 9)),
    currency        LowCardinality(Nullable(String)),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, sku);

CREATE TABLE IF NOT EXISTS raw_billing_invoices
(
    run_id            String,
    snapshot_at       DateTime64(6, 'UTC'),
    organization_id   LowCardinality(String),
    locality          LowCardinality(String),
    id                String,
    number            Nullable(Int64),
    type              LowCardinality(Nullable(String)),
    state             LowCardinality(Nullable(String)),
    organization_name Nullable(String),
    seller_name       Nullable(String),
    billing_period    Nullable(DateTime64(6, 'UTC')),
    start_date        Nullable(DateTime64(6, 'UTC')),
    stop_date         Nullable(DateTime64(6, 'UTC')),
    issued_date       Nullable(DateTime64(6, 'UTC')),
    due_date          Nullable(DateTime64(6, 'UTC')),
    total_untaxed     Nullable(Decimal(38, 9)),
    total_taxed       Nullable(Decimal(38, 9)),
    total_tax         Nullable(Decimal(38, 9)),
    total_discount    Nullable(Decimal(38, 9)),
    total_undiscount  Nullable(Decimal(38, 9)),
    currency          LowCardinality(Nullable(String)),
    raw               String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);

CREATE TABLE IF NOT EXISTS raw_billing_charges
(
    run_id            String,
    snapshot_at       DateTime64(6, 'UTC'),
    organization_id   LowCardinality(String),
    locality          LowCardinality(String),
    project_id        Nullable(String),
    project_name      Nullable(String),
    organization_name Nullable(String),
    sku               String,
    invoice_id        Nullable(String),
    resource_id       Nullable(String),
    resource_name     Nullable(String),
    price             Nullable(Decimal(38, 9)),
    currency          LowCardinality(Nullable(String)),
    start_date        Nullable(DateTime64(6, 'UTC')),
    end_date          Nullable(DateTime64(6, 'UTC')),
    updated_at        Nullable(DateTime64(6, 'UTC')),
    raw               String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, sku);

CREATE TABLE IF NOT EXISTS raw_billing_taxes
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    locality        LowCardinality(String),
    billing_period  Nullable(String),
    updated_at      Nullable(DateTime64(6, 'UTC')),
    description     Nullable(String),
    currency        LowCardinality(Nullable(String)),
    rate            Nullable(Decimal(38, 9)),
    total_tax_value Nullable(Decimal(38, 9)),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY run_id;

CREATE TABLE IF NOT EXISTS raw_billing_discounts
(
    run_id             String,
    snapshot_at        DateTime64(6, 'UTC'),
    organization_id    LowCardinality(String),
    locality           LowCardinality(String),
    id                 String,
    creation_date      Nullable(DateTime64(6, 'UTC')),
    description        Nullable(String),
    mode               LowCardinality(Nullable(String)),
    value              Nullable(Decimal(38, 9)),
    value_used         Nullable(Decimal(38, 9)),
    value_remaining    Nullable(Decimal(38, 9)),
    start_date         Nullable(DateTime64(6, 'UTC')),
    stop_date          Nullable(DateTime64(6, 'UTC')),
    coupon_description Nullable(String),
    filters            Nullable(String),
    raw                String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, id);
