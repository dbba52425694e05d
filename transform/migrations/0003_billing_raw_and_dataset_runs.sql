-- 0003: raw billing tables, and which datasets each run holds.
--
-- Runs may now collect a subset of the sources (`--sources billing` several times a day, say): the ledger
-- records each run's datasets, and "the newest run" becomes "the newest run that collected X". Runs loaded
-- before this migration recorded no datasets; they held every inventory dataset.

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

CREATE OR REPLACE VIEW runs AS
SELECT run_id, organization_id, snapshot_date, snapshot_at, loaded_at, rows,
       if(empty(datasets),
          ['account_projects', 'instance_servers', 'instance_server_volumes', 'instance_volumes', 'instance_ips',
           'instance_snapshots', 'instance_server_types', 'block_volumes', 'block_volume_references',
           'block_snapshots', 'block_volume_types', 'catalog_products'],
          datasets) AS datasets
FROM _load_ledger FINAL;

-- The newest committed run of each organisation that collected each dataset.
CREATE OR REPLACE VIEW latest_dataset_runs AS
SELECT r.organization_id AS organization_id, dataset, argMax(r.run_id, r.snapshot_at) AS run_id,
       max(r.snapshot_at) AS snapshot_at
FROM runs AS r
ARRAY JOIN r.datasets AS dataset
GROUP BY r.organization_id, dataset;

-- The inventory's newest run: the newest run that collected the Instance servers.
CREATE OR REPLACE VIEW latest_runs AS
SELECT organization_id, run_id, snapshot_at
FROM latest_dataset_runs
WHERE dataset = 'instance_servers';

CREATE OR REPLACE VIEW rate_card AS
SELECT price_kind, zone, match_key, monthly_price, currency, source, priority
FROM
(
    SELECT price_kind, zone, match_key, unit_price * 730 AS monthly_price, currency,
           concat('price_overrides: ', note) AS source, 1 AS priority
    FROM price_overrides
    UNION ALL
    SELECT 'server_hour', CAST(zone, 'String'), commercial_type, hourly_price * 730, CAST(currency, 'String'),
           'instance/v1 products/servers', 2
    FROM raw_instance_server_types
    WHERE run_id IN (SELECT run_id FROM latest_dataset_runs WHERE dataset = 'instance_server_types')
      AND hourly_price IS NOT NULL
    UNION ALL
    SELECT 'volume_gb_hour', CAST(zone, 'String'), type, pricing * 730, CAST(pricing_currency, 'String'),
           'block/v1 volume-types', 2
    FROM raw_block_volume_types
    WHERE run_id IN (SELECT run_id FROM latest_dataset_runs WHERE dataset = 'block_volume_types')
      AND pricing IS NOT NULL AND pricing_currency IS NOT NULL
    UNION ALL
    SELECT 'snapshot_gb_hour', CAST(zone, 'String'), type, snapshot_pricing * 730,
           CAST(snapshot_pricing_currency, 'String'), 'block/v1 volume-types', 2
    FROM raw_block_volume_types
    WHERE run_id IN (SELECT run_id FROM latest_dataset_runs WHERE dataset = 'block_volume_types')
      AND snapshot_pricing IS NOT NULL AND snapshot_pricing_currency IS NOT NULL
    UNION ALL
    SELECT 'snapshot_gb_hour', CAST(zone, 'String'), CAST(assumeNotNull(any(class)), 'String'),
           any(snapshot_pricing) * 730, CAST(assumeNotNull(any(snapshot_pricing_currency)), 'String'),
           'block/v1 volume-types (one snapshot price for the zone)', 2
    FROM raw_block_volume_types
    WHERE run_id IN (SELECT run_id FROM latest_dataset_runs WHERE dataset = 'block_volume_types')
      AND snapshot_pricing IS NOT NULL AND snapshot_pricing_currency IS NOT NULL AND class IS NOT NULL
    GROUP BY zone, class
    HAVING uniqExact(snapshot_pricing, snapshot_pricing_currency) = 1
    UNION ALL
    SELECT price_kind, zone, match_key, monthly_price, currency, concat('product catalog ', sku), 3
    FROM
    (
        SELECT multiIf(instance_offer_id IS NOT NULL, 'server_hour',
                       startsWith(sku, '/network/flexip/'), 'ip_hour', '') AS price_kind,
               CAST(assumeNotNull(zone), 'String') AS zone,
               multiIf(instance_offer_id IS NOT NULL, assumeNotNull(instance_offer_id),
                       startsWith(sku, '/network/flexip/ipv6/'), 'routed_ipv6', 'routed_ipv4') AS match_key,
               multiIf(unit = 'hour', retail_price * 730 / unit_size,
                       unit = 'minute', retail_price * 43800 / unit_size,
                       unit = 'month', retail_price / unit_size,
                       NULL) AS monthly_price,
               CAST(assumeNotNull(currency), 'String') AS currency,
               sku
        FROM raw_catalog_products
        WHERE run_id IN (SELECT run_id FROM latest_dataset_runs WHERE dataset = 'catalog_products')
          AND zone IS NOT NULL AND currency IS NOT NULL AND retail_price IS NOT NULL AND unit_size > 0
    )
    WHERE price_kind != '' AND monthly_price IS NOT NULL
);
