-- 0004: the billing model.
--
-- consumption_pulls  each distinct month-to-date state of a billing period, as of Scaleway's `updated_at`;
--                    re-collecting the same state (a re-run) does not make a new one
-- billing_daily      daily cost per (project, SKU), from the differences between successive states (a table
--                    rebuilt by the loader after each load from the view billing_daily_source: reports read it
--                    many times over):
--                      * the difference between two states is spread evenly over the days from the earlier
--                        state's date (inclusive) to the later one's (exclusive), clamped to the period; with
--                        daily collections that is exactly one day, after a missed day it is two, and
--                        spread_days > 1 says the split is even, not observed;
--                      * a decrease (a credit, a restatement) is one row on the last of those days, with
--                        charge_class 'Correction', never spread;
--                      * a SKU that vanishes from a later state is restated to zero;
--                      * a state dated after its period's last day (late data) lands on that last day, late;
--                      * the first state of a period starts from zero at the period's first day.
--                    The daily costs of a period always add up to its newest month-to-date total.
-- charges_latest     FinOps per-resource charges of each day, from the newest run that collected that day (a
--                    filter, not an aggregation: it stays a scan at millions of charges)
-- resource_tags      inventory tags as FOCUS key/values: `k=v` and `k:v` split, a bare tag is `true`
-- focus_costs        FOCUS 1.2: FinOps charges where they were collected for the period, else billing_daily
-- project_names      the newest name of every project a loaded run has seen (a deleted project keeps its name,
--                    so its costs and ghosts still read as the project people knew); every report uses it

CREATE OR REPLACE VIEW project_names AS
SELECT p.id AS id, argMax(p.name, p.snapshot_at) AS name
FROM raw_account_projects AS p
WHERE p.run_id IN (SELECT run_id FROM runs)
GROUP BY p.id;

CREATE OR REPLACE VIEW consumption_pulls AS
SELECT c.organization_id AS organization_id,
       toDate(concat(assumeNotNull(c.billing_period), '-01')) AS period_start,
       coalesce(c.updated_at, c.snapshot_at) AS as_of,
       argMax(c.run_id, c.snapshot_at) AS run_id
FROM raw_billing_consumptions AS c
WHERE c.run_id IN (SELECT run_id FROM runs) AND c.billing_period IS NOT NULL
GROUP BY organization_id, period_start, as_of;

CREATE OR REPLACE VIEW billing_daily_source AS
WITH
    pulls AS
    (
        SELECT organization_id, period_start, as_of, run_id,
               row_number() OVER w AS n,
               lagInFrame(toNullable(as_of)) OVER w AS previous_as_of
        FROM consumption_pulls
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
       i.as_of AS observed_at
FROM intervals AS i
INNER JOIN keys AS k
    ON k.organization_id = i.organization_id AND k.period_start = i.period_start
   AND k.project_id = i.project_id AND k.sku = i.sku
ARRAY JOIN range(i.spread_days) AS offset;

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

CREATE OR REPLACE VIEW charges_latest AS
WITH newest AS
(
    -- The newest loaded run holding charges of each day: every run re-collects its window whole, so that run's
    -- list is the current truth for the day (a charge it no longer lists has been restated away).
    SELECT c.organization_id AS organization_id, toDate(assumeNotNull(c.start_date)) AS day,
           argMax(c.run_id, c.snapshot_at) AS run_id
    FROM raw_billing_charges AS c
    WHERE c.run_id IN (SELECT run_id FROM runs) AND c.start_date IS NOT NULL
    GROUP BY organization_id, day
)
SELECT c.organization_id AS organization_id, coalesce(c.project_id, '') AS project_id, c.sku AS sku,
       coalesce(c.resource_id, '') AS resource_id, assumeNotNull(c.start_date) AS start_date,
       assumeNotNull(c.end_date) AS end_date, assumeNotNull(c.price) AS price, c.currency AS currency,
       c.project_name AS project_name, c.organization_name AS organization_name, c.resource_name AS resource_name,
       c.invoice_id AS invoice_id, c.snapshot_at AS collected_at
FROM raw_billing_charges AS c
WHERE (c.organization_id, toDate(assumeNotNull(c.start_date)), c.run_id) IN (SELECT organization_id, day, run_id FROM newest)
  AND c.start_date IS NOT NULL AND c.end_date IS NOT NULL AND c.price IS NOT NULL;

CREATE OR REPLACE VIEW resource_tags AS
SELECT organization_id, resource_type, resource_id, project_id, tag,
       multiIf(position(tag, '=') > 0, substring(tag, 1, position(tag, '=') - 1),
               position(tag, ':') > 0, substring(tag, 1, position(tag, ':') - 1), tag) AS tag_key,
       multiIf(position(tag, '=') > 0, substring(tag, position(tag, '=') + 1),
               position(tag, ':') > 0, substring(tag, position(tag, ':') + 1), 'true') AS tag_value,
       position(tag, '=') = 0 AND position(tag, ':') = 0 AS valueless
FROM inventory_latest
ARRAY JOIN tags AS tag
WHERE tag != '';

CREATE OR REPLACE VIEW focus_costs AS
WITH
    sku_names AS
    (
        SELECT c.sku AS sku, argMax(c.category_name, c.snapshot_at) AS category_name,
               argMax(c.product_name, c.snapshot_at) AS product_name
        FROM raw_billing_consumptions AS c
        WHERE c.run_id IN (SELECT run_id FROM runs)
        GROUP BY c.sku
    ),
    catalog_names AS
    (
        SELECT p.sku AS sku, argMax(p.service_category, p.snapshot_at) AS category_name,
               argMax(p.product, p.snapshot_at) AS product_name
        FROM raw_catalog_products AS p
        WHERE p.run_id IN (SELECT run_id FROM runs)
        GROUP BY p.sku
    ),
    organization_names AS
    (
        SELECT i.organization_id AS organization_id, argMax(i.organization_name, i.snapshot_at) AS name
        FROM raw_billing_invoices AS i
        WHERE i.run_id IN (SELECT run_id FROM runs)
        GROUP BY i.organization_id
    ),
    charged_periods AS
    (
        SELECT DISTINCT organization_id, toStartOfMonth(start_date) AS period_start FROM charges_latest
    ),
    tags_json AS
    (
        SELECT organization_id, resource_id,
               concat('{', arrayStringConcat(arrayMap((k, v, bare) -> concat(toJSONString(k), ':', if(bare, 'true', toJSONString(v))),
                                                      groupArray(tag_key), groupArray(tag_value), groupArray(valueless)), ','), '}') AS tags
        FROM
        (
            SELECT organization_id, resource_id, tag_key, any(tag_value) AS tag_value, any(valueless) AS valueless
            FROM resource_tags
            GROUP BY organization_id, resource_id, tag_key
            ORDER BY tag_key
        )
        GROUP BY organization_id, resource_id
    ),
    rows AS
    (
        -- Per resource, from the FinOps charges.
        SELECT ch.organization_id AS organization_id, ch.project_id AS project_id, ch.sku AS sku,
               nullIf(ch.resource_id, '') AS resource_id, ch.resource_name AS resource_name,
               toDateTime64(ch.start_date, 3, 'UTC') AS charge_start,
               toDateTime64(toStartOfDay(ch.end_date) + toIntervalDay(1), 3, 'UTC') AS charge_end,
               ch.price AS cost, CAST(NULL, 'Nullable(Decimal(38, 9))') AS quantity, CAST(NULL, 'Nullable(String)') AS unit,
               coalesce(ch.currency, 'EUR') AS currency, '' AS charge_class, nullIf(ch.invoice_id, '') AS invoice_id,
               toUInt32(1) AS spread_days, 'charges' AS source
        FROM charges_latest AS ch
        UNION ALL
        -- Per project and SKU, from the month-to-date consumption, for periods without charges.
        SELECT d.organization_id, d.project_id, d.sku, CAST(NULL, 'Nullable(String)'), d.resource_name,
               toDateTime64(d.day, 3, 'UTC'), toDateTime64(d.day + 1, 3, 'UTC'),
               d.cost, d.quantity, d.unit, d.currency, d.charge_class, CAST(NULL, 'Nullable(String)'),
               d.spread_days, 'consumptions'
        FROM billing_daily AS d
        WHERE (d.organization_id, d.billing_period) NOT IN (SELECT organization_id, period_start FROM charged_periods)
    )
SELECT
    r.cost AS BilledCost,
    r.organization_id AS BillingAccountId,
    o.name AS BillingAccountName,
    r.currency AS BillingCurrency,
    toDateTime64(toStartOfMonth(r.charge_start) + toIntervalMonth(1), 3, 'UTC') AS BillingPeriodEnd,
    toDateTime64(toStartOfMonth(r.charge_start), 3, 'UTC') AS BillingPeriodStart,
    'Usage' AS ChargeCategory,
    nullIf(r.charge_class, '') AS ChargeClass,
    concat(coalesce(sn.product_name, cn.product_name, r.sku), coalesce(concat(' - ', r.resource_name), '')) AS ChargeDescription,
    'Usage-Based' AS ChargeFrequency,
    r.charge_end AS ChargePeriodEnd,
    r.charge_start AS ChargePeriodStart,
    r.cost AS ContractedCost,
    r.cost AS EffectiveCost,
    'Scaleway' AS InvoiceIssuer,
    r.invoice_id AS InvoiceId,
    r.cost AS ListCost,
    r.quantity AS PricingQuantity,
    r.unit AS PricingUnit,
    'Scaleway' AS Provider,
    'Scaleway' AS Publisher,
    inv.zone AS AvailabilityZone,
    if(inv.zone IS NULL, NULL, replaceRegexpOne(assumeNotNull(inv.zone), '-[0-9]+$', '')) AS RegionId,
    r.resource_id AS ResourceId,
    coalesce(r.resource_name, inv.name) AS ResourceName,
    inv.resource_type AS ResourceType,
    -- Scaleway's billing categories onto FOCUS 1.2's allowed values.
    multiIf(x_ScalewayCategory IN ('Compute', 'BareMetal', 'Containers', 'Serverless'), 'Compute',
            x_ScalewayCategory IN ('Storage', 'Object Storage'), 'Storage',
            x_ScalewayCategory = 'Network', 'Networking',
            x_ScalewayCategory = 'Managed Databases', 'Databases',
            x_ScalewayCategory = 'Observability', 'Management and Governance',
            x_ScalewayCategory = 'Security and Identity', 'Security',
            x_ScalewayCategory = 'AI', 'AI and Machine Learning',
            'Other') AS ServiceCategory,
    coalesce(sn.product_name, cn.product_name, r.sku) AS ServiceName,
    r.sku AS SkuId,
    nullIf(r.project_id, '') AS SubAccountId,
    pn.name AS SubAccountName,
    coalesce(t.tags, '{}') AS Tags,
    coalesce(sn.category_name, cn.category_name) AS x_ScalewayCategory,
    r.spread_days AS x_SpreadDays,
    r.source AS x_Source
FROM rows AS r
LEFT JOIN sku_names AS sn ON sn.sku = r.sku
LEFT JOIN catalog_names AS cn ON cn.sku = r.sku
LEFT JOIN project_names AS pn ON pn.id = r.project_id
LEFT JOIN organization_names AS o ON o.organization_id = r.organization_id
LEFT JOIN tags_json AS t ON t.organization_id = r.organization_id AND t.resource_id = r.resource_id
LEFT JOIN
(
    SELECT organization_id, resource_id, any(zone) AS zone, any(name) AS name, any(resource_type) AS resource_type
    FROM inventory_latest
    GROUP BY organization_id, resource_id
) AS inv ON inv.organization_id = r.organization_id AND inv.resource_id = r.resource_id
SETTINGS join_use_nulls = 1;
