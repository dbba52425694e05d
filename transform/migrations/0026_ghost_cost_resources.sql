-- 0026: ghost-cost's comparison of billing with the inventory becomes two tables kept at load: each resource's
-- last charge per month (`transform/sources/resource_charge_months.sql`) and, from it, the resources the report
-- compares with the window's charges, priced, with their last charge (`transform/sources/ghost_cost_resources.sql`).
-- The report hashed every charge of its window (one per resource and day) against the inventory at each read,
-- twice: about 140 ms of its 320 at 10,000 servers (BENCHMARKS.md, 2026-12-06, late afternoon). Filled at once
-- from resource_charges and the newest inventory after migrating (models::fill_new), then kept by each load.

CREATE TABLE IF NOT EXISTS resource_charge_months
(
    organization_id LowCardinality(String),
    resource_id     String,
    month           Date,
    last_day        Date
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(month)
ORDER BY (organization_id, resource_id, month);

CREATE TABLE IF NOT EXISTS ghost_cost_resources
(
    organization_id       LowCardinality(String),
    resource_id           String,
    present               Bool,
    project_id            Nullable(String),
    name                  Nullable(String),
    resource_type         Nullable(String),
    resource_class        Nullable(String),
    state                 Nullable(String),
    zone                  Nullable(String),
    created_at            Nullable(DateTime64(6, 'UTC')),
    last_seen_at          Nullable(DateTime64(6, 'UTC')),
    expected_monthly_cost Nullable(Decimal(38, 18)),
    currency              Nullable(String),
    last_charged          Nullable(Date)
)
ENGINE = MergeTree
ORDER BY (organization_id, resource_id);
