-- 0023: the idle load balancers of the newest collection become a table kept at load
-- (`transform/sources/idle_lb_findings.sql`), where ghost-resources and idle-services read the view
-- idle_load_balancers: the engine analysed and planned that view (the load balancers and their backends, the
-- streaks, the prices) inside both reports, 30-65 ms of their 130 (BENCHMARKS.md, 2026-12-06, morning). A new
-- name: no statement here drops or replaces a view another process may be reading; the view idle_load_balancers
-- now reads it.

CREATE TABLE IF NOT EXISTS idle_lb_findings
(
    organization_id LowCardinality(String),
    resource_id     String,
    name            Nullable(String),
    project_id      Nullable(String),
    zone            String,
    type            LowCardinality(Nullable(String)),
    status          LowCardinality(Nullable(String)),
    since           Date,
    backends        UInt64,
    reason_code     String,
    monthly_cost    Nullable(Decimal(38, 9)),
    currency        Nullable(String)
)
ENGINE = MergeTree
ORDER BY (organization_id, resource_id);
