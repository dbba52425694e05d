-- cost-anomalies: which project's service started costing more than usual, since when, and by how much
--
-- Daily usage cost per (project, service), corrections left out, against a trailing 28-day baseline with a
-- weekday profile: the expected cost of a day is the mean of the same weekday over the 28 days before it, and
-- the spread is the standard deviation of those 28 days around their weekday means. A day is anomalous when
--   actual - expected >= min_delta euros, >= min_percent % of expected, and z = (actual - expected) / spread >= min_z.
-- Euros are exact decimals throughout, and so is the decision: z >= min_z is tested as
-- excess^2 >= min_z^2 x variance in Decimal256; only the z shown, rounded to 0.1, goes through a square root in
-- floating point. Consecutive anomalous days make one anomaly, reported with its start date, expected and actual
-- euros, and the SKUs behind the excess (up to three: each SKU's cost over the anomaly's days against its own
-- daily mean of the 28 days before, observed or spread, so their sum need not equal the weekday-based excess).
-- Only observed days count: a day whose cost was spread evenly over several days (spread_days > 1 in
-- billing_daily: the first collection of a month spreads its month to date, a missed collection its two days) says
-- nothing of that day, so it is neither examined nor part of a baseline. A series with under 21 observed days in
-- the 28 before as_of (a young one, or one collected daily for under three weeks) is compared as a normalised month
-- instead (month to date / elapsed days x days of last month, against last month's total), on the as_of day.
--
-- @param as_of String = ''  the last day examined, YYYY-MM-DD ('' for the newest day with data)
-- @param days UInt32 = 30  how many days before as_of to examine
-- @param min_z Decimal(38, 9) = 3  smallest z-score that is an anomaly
-- @param min_delta Decimal(38, 9) = 10  smallest excess in euros
-- @param min_percent Decimal(38, 9) = 20  smallest excess in percent of the expected cost
-- @param organization String = ''  only this organisation ('' for all)
-- @param project String = ''  only this project, by id or name ('' for all)
-- @money excess currency
-- @totals project_name
-- @table project_name, service, start_date, days, expected, actual, excess, z, skus
-- @dashboard costs

WITH
    -- The usage of the series asked for, read by the SKUs behind each anomaly.
    usage AS
    (
        SELECT d.organization_id AS organization_id, d.project_id AS project_id,
               coalesce(d.product_name, d.sku) AS service, d.sku AS sku, d.day AS day, d.cost AS cost,
               d.currency AS currency
        FROM billing_daily AS d
        WHERE d.charge_class = ''
          AND ({organization:String} = '' OR d.organization_id = {organization:String})
          AND ({project:String} = '' OR d.project_id = {project:String}
               OR d.project_id IN (SELECT id FROM projects WHERE name = {project:String}))
    ),
    -- Each day with usage of each series asked for, its cost and baseline, from the table cost_baselines
    -- (transform/sources/cost_baselines.sql, kept at load): computing the baselines here, lists and lambdas over
    -- each series' days, took about half the report's time in the engine.
    baselines AS
    (
        SELECT b.organization_id AS organization_id, b.project_id AS project_id, b.service AS service, b.day AS day,
               b.cost AS cost, b.estimated AS estimated, b.history_days AS history_days,
               b.same_weekdays AS same_weekdays, b.expected AS expected, b.variance AS variance
        FROM cost_baselines AS b
        WHERE ({organization:String} = '' OR b.organization_id = {organization:String})
          AND ({project:String} = '' OR b.project_id = {project:String}
               OR b.project_id IN (SELECT id FROM projects WHERE name = {project:String}))
    ),
    -- The last day examined, as a scalar: computed once per query, where a CTE is computed wherever it is read.
    (SELECT if({as_of:String} = '', (SELECT max(day) FROM baselines), toDate({as_of:String}))) AS anchor_day,
    flagged AS
    (
        SELECT organization_id, project_id, service, day, cost AS actual, expected, actual - expected AS excess,
               if(variance > 0, toFloat64(actual - expected) / sqrt(toFloat64(variance)), NULL) AS z
        FROM baselines
        WHERE day <= anchor_day AND day > anchor_day - {days:UInt32}
          AND NOT estimated AND history_days >= 21 AND same_weekdays >= 2
          AND actual - expected >= {min_delta:Decimal(38, 9)}
          AND (expected = 0 OR (actual - expected) * 100 >= {min_percent:Decimal(38, 9)} * expected)
          AND actual > expected
          AND toDecimal256(actual - expected, 9) * toDecimal256(actual - expected, 9)
              >= toDecimal256({min_z:Decimal(38, 9)}, 9) * toDecimal256({min_z:Decimal(38, 9)}, 9) * variance
    ),
    -- Consecutive anomalous days are one anomaly (islands: day minus its rank is constant along a run).
    anomaly_runs AS
    (
        SELECT organization_id, project_id, service, min(day) AS start_date, max(day) AS end_date,
               toUInt32(count()) AS days, sum(expected) AS expected, sum(actual) AS actual, max(z) AS z,
               'weekday_baseline' AS method
        FROM
        (
            SELECT *, day - toIntervalDay(row_number() OVER (PARTITION BY organization_id, project_id, service ORDER BY day)) AS island
            FROM flagged
        )
        GROUP BY organization_id, project_id, service, island
    ),
    -- Short observed histories: this month normalised to last month's length, against last month's total.
    normalised AS
    (
        SELECT b.organization_id AS organization_id, b.project_id AS project_id, b.service AS service,
               toStartOfMonth(anchor_day) AS start_date, anchor_day AS end_date,
               toUInt32(toDayOfMonth(anchor_day)) AS days,
               sumIf(b.cost, b.day >= toStartOfMonth(anchor_day) - toIntervalMonth(1) AND b.day < toStartOfMonth(anchor_day))
                   AS expected,
               sumIf(b.cost, b.day >= toStartOfMonth(anchor_day)) / toDayOfMonth(anchor_day)
                   * toDayOfMonth(toLastDayOfMonth(toStartOfMonth(anchor_day) - toIntervalMonth(1))) AS actual,
               CAST(NULL, 'Nullable(Float64)') AS z, 'normalized_month' AS method
        FROM baselines AS b
        WHERE b.day <= anchor_day
        GROUP BY b.organization_id, b.project_id, b.service
        HAVING least(28, dateDiff('day', min(b.day), anchor_day))
                   - countIf(b.estimated AND b.day >= anchor_day - 28 AND b.day < anchor_day) < 21
           AND expected > 0
           AND actual - expected >= {min_delta:Decimal(38, 9)}
           AND (actual - expected) * 100 >= {min_percent:Decimal(38, 9)} * expected
    ),
    anomalies AS
    (
        SELECT * FROM anomaly_runs
        UNION ALL
        SELECT * FROM normalised
    ),
    -- Each anomaly once, with the SKUs behind it (each SKU's cost over the anomaly's days against its own daily
    -- mean of the 28 days before): every anomaly's series has usage, so every anomaly is here, and nothing below
    -- names the anomalies again (a CTE named twice is computed twice).
    behind AS
    (
        SELECT a.organization_id AS organization_id, a.project_id AS project_id, a.service AS service,
               a.start_date AS start_date, u.sku AS sku,
               any((a.end_date, a.days, a.expected, a.actual, a.z, a.method)) AS anomaly, any(u.currency) AS currency,
               sumIf(u.cost, u.day BETWEEN a.start_date AND a.end_date)
                   - sumIf(u.cost, u.day BETWEEN a.start_date - 28 AND a.start_date - 1) / 28 * a.days AS excess
        FROM anomalies AS a
        INNER JOIN usage AS u
            ON u.organization_id = a.organization_id AND u.project_id = a.project_id AND u.service = a.service
        WHERE a.end_date > anchor_day - {days:UInt32}
        GROUP BY a.organization_id, a.project_id, a.service, a.start_date, u.sku, a.days
    ),
    described AS
    (
        SELECT organization_id, project_id, service, start_date, any(anomaly) AS anomaly, any(currency) AS currency,
               arrayStringConcat(arrayMap(x -> concat(x.1, ' (+', toString(CAST(round(x.2, 2), 'Decimal(38, 2)')), ')'),
                                          arraySlice(arrayReverseSort(x -> x.2, groupArrayIf((sku, excess), excess > 0)), 1, 3)),
                                 ', ') AS skus
        FROM behind
        GROUP BY organization_id, project_id, service, start_date
    ),
    found AS
    (
        SELECT organization_id, project_id, service, start_date, tupleElement(anomaly, 1) AS end_date,
               tupleElement(anomaly, 2) AS days, tupleElement(anomaly, 3) AS expected,
               tupleElement(anomaly, 4) AS actual, tupleElement(anomaly, 5) AS z, tupleElement(anomaly, 6) AS method,
               skus, currency
        FROM described
    )
SELECT
    a.project_id AS project_id,
    coalesce(pn.name, a.project_id) AS project_name,
    a.service AS service,
    a.start_date AS start_date,
    a.end_date AS end_date,
    a.days AS days,
    CAST(round(a.expected, 6), 'Decimal(38, 6)') AS expected,
    CAST(round(a.actual, 6), 'Decimal(38, 6)') AS actual,
    CAST(round(a.actual - a.expected, 6), 'Decimal(38, 6)') AS excess,
    if(a.expected = 0, NULL, CAST(round((a.actual - a.expected) * 100 / a.expected, 1), 'Decimal(38, 1)')) AS excess_percent,
    round(a.z, 1) AS z,
    a.method AS method,
    a.skus AS skus,
    a.currency AS currency
FROM found AS a
LEFT JOIN projects AS pn ON pn.id = a.project_id
ORDER BY a.start_date DESC, excess DESC
-- A plain hash join: the engine's default ('direct,parallel_hash,hash') took 15-40 ms more a report, with
-- right-hand sides this small and the same rows (BENCHMARKS.md, 2026-12-05).
SETTINGS join_use_nulls = 1, join_algorithm = 'hash'
