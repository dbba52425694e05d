-- 0024: cost-anomalies' baselines become a table kept at load (`transform/sources/cost_baselines.sql`): the
-- report computed each examined day's 28-day weekday baseline itself, lists and lambdas the engine analysed at
-- every read, about 100 ms of its 230 (BENCHMARKS.md, 2026-12-06, afternoon). Filled at once from billing_daily
-- after migrating (models::fill_new), then kept by each load.

CREATE TABLE IF NOT EXISTS cost_baselines
(
    organization_id String,
    project_id      String,
    service         String,
    day             Date,
    cost            Decimal(38, 9),
    estimated       Bool,
    history_days    UInt32,
    same_weekdays   UInt32,
    expected        Decimal(38, 9),
    variance        Decimal(76, 18)
)
ENGINE = MergeTree
ORDER BY (organization_id, day, project_id, service);
