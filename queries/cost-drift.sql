-- cost-drift: what changed in the bill, period over period, and by how many euros
--
-- Daily cost (billing_daily, from month-to-date consumption snapshots) of the current window against the
-- previous one of the same length, per project, category, product or SKU: the top movers in euros and percent,
-- SKUs that are new or have vanished. Windows end on as_of (default: the newest day with billing data):
--   month  this month to date vs the same days of last month (clamped to its length)
--   week   the 7 days to as_of vs the 7 days before
--   day    as_of vs the day before
-- Floors keep noise out of the news: a change is listed when |delta| >= min_delta euros and, unless the row
-- is new or vanished, |delta| >= min_percent % of the previous window.
--
-- @param period String = 'month' (month|week|day)  the length of the windows
-- @param group_by String = 'sku' (project|category|product|sku)  the level of the rows
-- @param as_of String = ''  last day of the current window, YYYY-MM-DD ('' for the newest day with data)
-- @param min_delta Decimal(38, 9) = 10  smallest change in euros worth listing
-- @param min_percent Decimal(38, 9) = 20  smallest change in percent worth listing (not for new or vanished)
-- @param organization String = ''  only this organisation ('' for all)
-- @param project String = ''  only this project, by id or name ('' for all)
-- @money delta currency
-- @totals status, project_name
-- @table rank, status, project_name, product, sku, current_cost, previous_cost, delta, delta_percent
-- @dashboard costs

WITH
    daily AS
    (
        SELECT d.organization_id AS organization_id, d.day AS day, d.project_id AS project_id,
               coalesce(pn.name, d.project_id) AS project_name, coalesce(d.category_name, '') AS category,
               coalesce(d.product_name, '') AS product, d.sku AS sku, d.cost AS cost, d.currency AS currency
        FROM billing_daily AS d
        LEFT JOIN projects AS pn ON pn.id = d.project_id
        WHERE ({organization:String} = '' OR d.organization_id = {organization:String})
          AND ({project:String} = '' OR d.project_id = {project:String} OR pn.name = {project:String})
    ),
    -- The anchor day is computed on its own: a query parameter and a scalar subquery in one expression whose
    -- alias other expressions of the same SELECT use is something the engine cannot resolve.
    anchor AS (SELECT if({as_of:String} = '', (SELECT max(day) FROM daily), toDate({as_of:String})) AS day),
    bounds AS
    (
        SELECT a.day AS last_day,
               multiIf({period:String} = 'month', toStartOfMonth(last_day),
                       {period:String} = 'week', last_day - 6, last_day) AS current_from,
               multiIf({period:String} = 'month', toStartOfMonth(last_day) - toIntervalMonth(1),
                       {period:String} = 'week', last_day - 13, last_day - 1) AS previous_from,
               multiIf({period:String} = 'month',
                       least(previous_from + dateDiff('day', current_from, last_day), toLastDayOfMonth(previous_from)),
                       current_from - 1) AS previous_to
        FROM anchor AS a
    ),
    keyed AS
    (
        SELECT d.*,
               multiIf({group_by:String} = 'sku', concat(d.project_id, '|', d.sku),
                       {group_by:String} = 'product', concat(d.project_id, '|', d.product),
                       {group_by:String} = 'category', concat(d.project_id, '|', d.category),
                       d.project_id) AS group_key,
               d.day BETWEEN b.current_from AND b.last_day AS in_current,
               d.day BETWEEN b.previous_from AND b.previous_to AS in_previous
        FROM daily AS d
        CROSS JOIN bounds AS b
    ),
    moves AS
    (
        SELECT group_key,
               any(project_id) AS project_id, any(project_name) AS project_name,
               if({group_by:String} IN ('category', 'product', 'sku'), any(category), NULL) AS category,
               if({group_by:String} IN ('product', 'sku'), any(product), NULL) AS product,
               if({group_by:String} = 'sku', any(sku), NULL) AS sku,
               sumIf(cost, in_current) AS current_cost,
               sumIf(cost, in_previous) AS previous_cost,
               current_cost - previous_cost AS delta,
               any(currency) AS currency
        FROM keyed
        WHERE in_current OR in_previous
        GROUP BY group_key
    )
SELECT
    row_number() OVER (ORDER BY abs(delta) DESC, group_key) AS rank,
    multiIf(previous_cost = 0 AND current_cost != 0, 'new',
            current_cost = 0 AND previous_cost != 0, 'vanished',
            delta > 0, 'up', 'down') AS status,
    project_id, project_name, category, product, sku,
    CAST(round(current_cost, 2), 'Decimal(38, 2)') AS current_cost,
    CAST(round(previous_cost, 2), 'Decimal(38, 2)') AS previous_cost,
    CAST(round(delta, 6), 'Decimal(38, 6)') AS delta,
    if(previous_cost = 0, NULL, CAST(round(delta * 100 / previous_cost, 1), 'Decimal(38, 1)')) AS delta_percent,
    currency,
    (SELECT current_from FROM bounds) AS current_from,
    (SELECT last_day FROM bounds) AS current_to,
    (SELECT previous_from FROM bounds) AS previous_from,
    (SELECT previous_to FROM bounds) AS previous_to
FROM moves
WHERE abs(delta) >= {min_delta:Decimal(38, 9)}
  AND (previous_cost = 0 OR current_cost = 0 OR abs(delta) * 100 >= {min_percent:Decimal(38, 9)} * abs(previous_cost))
ORDER BY rank
-- A plain hash join: the engine's default ('direct,parallel_hash,hash') took 15-40 ms more a report, with
-- right-hand sides this small and the same rows (BENCHMARKS.md, 2026-12-05).
SETTINGS join_use_nulls = 1, join_algorithm = 'hash'
