-- 0004: the table billing_daily, the materialised daily cost series. The loader rebuilds it from the model
-- billing_daily_source (transform/models/billing_daily_source.sql says how) after each load.

CREATE TABLE IF NOT EXISTS billing_daily
(
    organization_id String,
    billing_period  Date,
    day             Date,
    project_id      String,
    sku             String,
    category_name   Nullable(String),
    product_name    Nullable(String),
    resource_name   Nullable(String),
    unit            Nullable(String),
    currency        String,
    cost            Decimal(38, 9),
    quantity        Decimal(38, 9),
    charge_class    LowCardinality(String),
    spread_days     UInt32,
    late            Bool,
    observed_at     DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY (organization_id, day, project_id, sku);
