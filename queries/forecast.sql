-- forecast: where this month's bill is heading, against last month and against a budget
--
-- For each project and for the organisation ('*'): the month-to-date cost (billing_daily, corrections
-- included), two end-of-month projections, last month's total, and when a budget is given, the day it is
-- (or will be) crossed.
--   run_rate_forecast  month to date / elapsed days x days in the month
--   weekday_forecast   month to date + each remaining day at the mean cost of its weekday over the 28 days to
--                      as_of (a weekday-aware run rate: weekends cost what weekends cost)
-- Budgets are per project id or name ('*' for the organisation): `--budget web-shop=500 --budget '*=2000'`
-- (or `-p "budgets={'web-shop':500}"`). budget_crossed_on uses actual days up to as_of and the weekday
-- projection after it; it is empty when the month ends under budget.
--
-- @param as_of String = ''  the last complete day, YYYY-MM-DD ('' for the newest day with data)
-- @param budgets Map(String, Decimal(38, 9)) = {}  budget per project id or name, '*' for the organisation (or --budget web-shop=500)
-- @param organization String = ''  only this organisation ('' for all)
-- @param project String = ''  only this project, by id or name ('' for all)
-- @money month_to_date currency
-- @money weekday_forecast currency
-- @dashboard costs

WITH
    daily AS
    (
        SELECT d.organization_id AS organization_id, d.project_id AS project_id, d.day AS day,
               sum(d.cost) AS cost, any(d.currency) AS currency
        FROM billing_daily AS d
        LEFT JOIN projects AS pn ON pn.id = d.project_id
        WHERE ({organization:String} = '' OR d.organization_id = {organization:String})
          AND ({project:String} = '' OR d.project_id = {project:String} OR pn.name = {project:String})
        GROUP BY d.organization_id, d.project_id, d.day
    ),
    -- Computed on its own: see cost-drift.sql.
    anchor AS (SELECT if({as_of:String} = '', (SELECT max(day) FROM daily), toDate({as_of:String})) AS day),
    calendar AS
    (
        SELECT a.day AS last_day,
               toStartOfMonth(last_day) AS month_start,
               toLastDayOfMonth(last_day) AS month_end,
               toDayOfMonth(last_day) AS elapsed,
               toDayOfMonth(month_end) AS month_days,
               arrayMap(i -> last_day + i, range(1, toUInt32(month_days - elapsed + 1))) AS remaining_days
        FROM anchor AS a
    ),
    -- Each project, and the organisation as a whole under '*'.
    scoped AS
    (
        SELECT organization_id, project_id AS scope, day, cost, currency FROM daily
        UNION ALL
        SELECT organization_id, '*', day, cost, currency FROM daily
    ),
    figures AS
    (
        SELECT s.organization_id AS organization_id, s.scope AS scope, any(s.currency) AS currency,
               sumIf(s.cost, s.day BETWEEN c.month_start AND c.last_day) AS month_to_date,
               sumIf(s.cost, s.day >= c.month_start - toIntervalMonth(1) AND s.day < c.month_start) AS last_month,
               -- Mean cost of each weekday (1 = Monday) over the 28 days to last_day: exactly four of each.
               [
                sumIf(s.cost, s.day > c.last_day - 28 AND s.day <= c.last_day AND toDayOfWeek(s.day) = 1) / 4,
                sumIf(s.cost, s.day > c.last_day - 28 AND s.day <= c.last_day AND toDayOfWeek(s.day) = 2) / 4,
                sumIf(s.cost, s.day > c.last_day - 28 AND s.day <= c.last_day AND toDayOfWeek(s.day) = 3) / 4,
                sumIf(s.cost, s.day > c.last_day - 28 AND s.day <= c.last_day AND toDayOfWeek(s.day) = 4) / 4,
                sumIf(s.cost, s.day > c.last_day - 28 AND s.day <= c.last_day AND toDayOfWeek(s.day) = 5) / 4,
                sumIf(s.cost, s.day > c.last_day - 28 AND s.day <= c.last_day AND toDayOfWeek(s.day) = 6) / 4,
                sumIf(s.cost, s.day > c.last_day - 28 AND s.day <= c.last_day AND toDayOfWeek(s.day) = 7) / 4
               ] AS weekday_means,
               arraySort(x -> x.1, groupArrayIf((s.day, s.cost), s.day BETWEEN c.month_start AND c.last_day)) AS actual_days
        FROM scoped AS s
        CROSS JOIN calendar AS c
        GROUP BY s.organization_id, s.scope
    ),
    projected AS
    (
        SELECT f.*, c.last_day AS last_day, c.month_start AS month_start, c.elapsed AS elapsed, c.month_days AS month_days,
               c.remaining_days AS remaining_days,
               arrayMap(d -> assumeNotNull(f.weekday_means[toDayOfWeek(d)]), c.remaining_days) AS remaining_costs,
               if(f.scope = '*', '*', coalesce(pn.name, f.scope)) AS project_name,
               multiIf(mapContains({budgets:Map(String, Decimal(38, 9))}, f.scope), {budgets:Map(String, Decimal(38, 9))}[f.scope],
                       pn.name IS NOT NULL AND mapContains({budgets:Map(String, Decimal(38, 9))}, assumeNotNull(pn.name)),
                       {budgets:Map(String, Decimal(38, 9))}[assumeNotNull(pn.name)],
                       NULL) AS budget
        FROM figures AS f
        CROSS JOIN calendar AS c
        LEFT JOIN projects AS pn ON pn.id = f.scope
    )
SELECT
    if(scope = '*', 'organisation', 'project') AS level,
    if(scope = '*', NULL, scope) AS project_id,
    project_name,
    formatDateTime(month_start, '%Y-%m') AS month,
    last_day,
    elapsed AS elapsed_days,
    CAST(round(month_to_date, 6), 'Decimal(38, 6)') AS month_to_date,
    CAST(round(month_to_date / elapsed * month_days, 2), 'Decimal(38, 2)') AS run_rate_forecast,
    CAST(round(month_to_date + arraySum(remaining_costs), 2), 'Decimal(38, 2)') AS weekday_forecast,
    CAST(round(last_month, 2), 'Decimal(38, 2)') AS last_month,
    CAST(round(month_to_date + arraySum(remaining_costs) - last_month, 2), 'Decimal(38, 2)') AS weekday_forecast_vs_last_month,
    CAST(budget, 'Nullable(Decimal(38, 2))') AS budget,
    multiIf(budget IS NULL, NULL,
            arrayExists(x -> x >= budget, arrayCumSum(arrayMap(x -> x.2, actual_days))),
            arrayFirst((d, total) -> total >= budget, arrayMap(x -> x.1, actual_days),
                       arrayCumSum(arrayMap(x -> x.2, actual_days))),
            arrayExists(x -> month_to_date + x >= budget, arrayCumSum(remaining_costs)),
            arrayFirst((d, total) -> month_to_date + total >= budget, remaining_days, arrayCumSum(remaining_costs)),
            NULL) AS budget_crossed_on,
    multiIf(budget IS NULL, NULL, month_to_date >= budget, 'over', budget_crossed_on IS NOT NULL, 'will cross',
            'within') AS budget_status,
    currency
FROM projected
ORDER BY scope = '*' DESC, weekday_forecast DESC
-- A plain hash join: the engine's default ('direct,parallel_hash,hash') took 15-40 ms more a report, with
-- right-hand sides this small and the same rows (BENCHMARKS.md, 2026-12-05).
SETTINGS join_use_nulls = 1, join_algorithm = 'hash'
