-- billing_daily(from, to): daily cost per (project, SKU), from the differences between successive
-- month-to-date states, for the billing periods (months) starting from `from` up to `to` (excluded). The loader
-- materialises it into the table billing_daily for the periods each load brings states of
-- (transform/src/models.rs): reports read it many times over. Periods are independent of each other.
--   * the difference between two states is spread evenly over the days from the earlier state's date
--     (inclusive) to the later one's (exclusive), clamped to the period; with daily collections that is exactly
--     one day, after a missed day it is two, and spread_days > 1 says the split is even, not observed;
--   * a decrease (a credit, a restatement) is one row on the last of those days, with charge_class
--     'Correction', never spread;
--   * a SKU that vanishes from a later state is restated to zero;
--   * a state dated after its period's last day (late data) lands on that last day, late; when the state before
--     it was taken more than 3 days after the period (once the period is settled and invoiced: Scaleway issues
--     the invoice in the first days of the next month), the row restates a closed period
--     (restates_closed_period); the usual tail of the last day, seen on the 1st or 2nd, does not;
--   * the first state of a period starts from zero at the period's first day.
-- The daily costs of a period always add up to its newest month-to-date total.

WITH
    pulls AS
    (
        SELECT organization_id, period_start, as_of, run_id,
               row_number() OVER w AS n,
               lagInFrame(toNullable(as_of)) OVER w AS previous_as_of
        FROM consumption_pulls
        WHERE period_start >= {from:Date} AND period_start < {to:Date}
        WINDOW w AS (PARTITION BY organization_id, period_start ORDER BY as_of
                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    ),
    observed AS
    (
        SELECT c.organization_id AS organization_id, p.period_start AS period_start, p.n AS n,
               coalesce(c.project_id, '') AS project_id, c.sku AS sku,
               sum(coalesce(c.value, toDecimal128(0, 9))) AS value,
               sum(coalesce(c.billed_quantity, toDecimal128(0, 9))) AS quantity,
               any(c.category_name) AS category_name, any(c.product_name) AS product_name,
               any(c.resource_name) AS resource_name, any(c.unit) AS unit, any(c.currency) AS currency
        FROM raw_billing_consumptions AS c
        INNER JOIN pulls AS p
            ON p.run_id = c.run_id AND p.organization_id = c.organization_id
           AND p.period_start = toDate(concat(assumeNotNull(c.billing_period), '-01'))
        -- Up to the month of the window's last day: a load computing from a bounded number of rows per statement
        -- may end a window mid-month (the month's period then belongs to the window holding its first day).
        WHERE c.billing_period >= formatDateTime({from:Date}, '%Y-%m')
          AND c.billing_period <= formatDateTime({to:Date} - 1, '%Y-%m')
        GROUP BY organization_id, period_start, n, project_id, sku
    ),
    keys AS
    (
        SELECT o.organization_id AS organization_id, o.period_start AS period_start, o.project_id AS project_id,
               o.sku AS sku, min(o.n) AS first_n,
               argMax(o.category_name, o.n) AS category_name, argMax(o.product_name, o.n) AS product_name,
               argMax(o.resource_name, o.n) AS resource_name, argMax(o.unit, o.n) AS unit,
               argMax(o.currency, o.n) AS currency
        FROM observed AS o
        GROUP BY o.organization_id, o.period_start, o.project_id, o.sku
    ),
    states AS
    (
        SELECT k.organization_id AS organization_id, k.period_start AS period_start, k.project_id AS project_id,
               k.sku AS sku, p.n AS n, p.as_of AS as_of, p.previous_as_of AS previous_as_of,
               coalesce(o.value, toDecimal128(0, 9)) AS value, coalesce(o.quantity, toDecimal128(0, 9)) AS quantity
        FROM keys AS k
        INNER JOIN pulls AS p ON p.organization_id = k.organization_id AND p.period_start = k.period_start
        LEFT JOIN observed AS o
            ON o.organization_id = k.organization_id AND o.period_start = k.period_start
           AND o.project_id = k.project_id AND o.sku = k.sku AND o.n = p.n
        WHERE p.n >= k.first_n
    ),
    deltas AS
    (
        SELECT s.*,
               s.value - lagInFrame(s.value, 1, toDecimal128(0, 9)) OVER w AS delta,
               s.quantity - lagInFrame(s.quantity, 1, toDecimal128(0, 9)) OVER w AS quantity_delta
        FROM states AS s
        WINDOW w AS (PARTITION BY s.organization_id, s.period_start, s.project_id, s.sku ORDER BY s.n
                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    ),
    intervals AS
    (
        SELECT d.*, toLastDayOfMonth(d.period_start) AS period_end,
               greatest(d.period_start,
                        least(if(d.previous_as_of IS NULL, d.period_start, toDate(assumeNotNull(d.previous_as_of))),
                              period_end)) AS lo,
               greatest(d.period_start, least(toDate(d.as_of), period_end + 1)) AS hi,
               if(d.delta < 0, toUInt32(1), toUInt32(greatest(dateDiff('day', lo, hi), 1))) AS spread_days
        FROM deltas AS d
        WHERE d.delta != 0 OR d.quantity_delta != 0
    )
SELECT i.organization_id AS organization_id, i.period_start AS billing_period,
       if(i.delta < 0, if(i.hi > i.lo, i.hi - 1, i.lo), i.lo + offset) AS day,
       i.project_id AS project_id, i.sku AS sku, k.category_name AS category_name, k.product_name AS product_name,
       k.resource_name AS resource_name, k.unit AS unit, coalesce(k.currency, 'EUR') AS currency,
       if(offset + 1 < i.spread_days, i.delta / i.spread_days,
          i.delta - (i.delta / i.spread_days) * (i.spread_days - 1)) AS cost,
       if(offset + 1 < i.spread_days, i.quantity_delta / i.spread_days,
          i.quantity_delta - (i.quantity_delta / i.spread_days) * (i.spread_days - 1)) AS quantity,
       if(i.delta < 0, 'Correction', '') AS charge_class,
       i.spread_days AS spread_days,
       CAST(toDate(i.as_of) > i.period_end + 1, 'Bool') AS late,
       i.as_of AS observed_at,
       CAST(i.previous_as_of IS NOT NULL AND toDate(assumeNotNull(i.previous_as_of)) > i.period_end + 3, 'Bool')
           AS restates_closed_period
FROM intervals AS i
INNER JOIN keys AS k
    ON k.organization_id = i.organization_id AND k.period_start = i.period_start
   AND k.project_id = i.project_id AND k.sku = i.sku
ARRAY JOIN range(i.spread_days) AS offset;
