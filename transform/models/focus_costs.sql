-- focus_costs: FOCUS 1.2, one row per resource (or project), SKU and day: the FinOps charges where they were
-- collected for the period, else billing_daily. Every billing period's rows add up to its bill (the newest
-- month-to-date consumption total, which is the invoice's untaxed total once issued), to the nano:
--   * a period with charges (and collected consumptions) gets one more row per project and SKU whose consumption differs from its charges
--     (x_Source 'reconciliation'): a credit or restatement the per-resource charges do not carry. A decrease is
--     ChargeCategory 'Credit', an increase 'Adjustment'; it is dated on the day billing_daily books the drop
--     (else the key's last day);
--   * from the consumptions, a decrease between two month-to-date states is a 'Credit';
--   * ChargeClass is 'Correction' only where FOCUS says so: a restatement of an earlier billing period, i.e. a
--     change to a period's total seen after a state that already covered the whole period
--     (billing_daily.restates_closed_period).

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
        SELECT DISTINCT organization_id, toStartOfMonth(start_date) AS period_start FROM resource_charges
    ),
    period_invoices AS
    (
        -- The periodic invoice of each period, once issued: its id goes on the rows that carry none.
        SELECT i.organization_id AS organization_id, toStartOfMonth(toDate(assumeNotNull(i.billing_period))) AS period_start,
               argMax(i.id, i.snapshot_at) AS invoice_id
        FROM raw_billing_invoices AS i
        WHERE i.run_id IN (SELECT run_id FROM runs) AND i.billing_period IS NOT NULL AND i.type = 'periodic'
        GROUP BY organization_id, period_start
    ),
    reconciliation AS
    (
        -- Per project and SKU of a period with charges: what the bill holds minus what the charges hold.
        SELECT organization_id, period_start, project_id, sku,
               sum(billed) - sum(charged) AS difference,
               if(countIf(billed < 0) > 0, maxIf(day, billed < 0), max(day)) AS booked_on,
               max(restates_closed_period) AS restates, argMax(resource_name, day) AS name, any(currency) AS money
        FROM
        (
            SELECT d.organization_id AS organization_id, d.billing_period AS period_start, d.project_id AS project_id,
                   d.sku AS sku, d.cost AS billed, toDecimal128(0, 9) AS charged, d.day AS day,
                   d.restates_closed_period AS restates_closed_period,
                   d.resource_name AS resource_name, d.currency AS currency
            FROM billing_daily AS d
            WHERE (d.organization_id, d.billing_period) IN (SELECT organization_id, period_start FROM charged_periods)
            UNION ALL
            SELECT ch.organization_id, toStartOfMonth(ch.start_date), ch.project_id, ch.sku, toDecimal128(0, 9),
                   toDecimal128(ch.price, 9), toDate(ch.start_date), false, CAST(NULL, 'Nullable(String)'),
                   coalesce(ch.currency, 'EUR')
            FROM resource_charges AS ch
            -- A period whose consumption was never collected has no known bill: its charges stand alone.
            WHERE (ch.organization_id, toStartOfMonth(ch.start_date))
                  IN (SELECT DISTINCT organization_id, billing_period FROM billing_daily)
        )
        GROUP BY organization_id, period_start, project_id, sku
        HAVING difference != 0
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
               coalesce(ch.currency, 'EUR') AS currency, false AS restates, nullIf(ch.invoice_id, '') AS invoice_id,
               toUInt32(1) AS spread_days, 'charges' AS source
        FROM resource_charges AS ch
        UNION ALL
        -- Per project and SKU, what the bill of a period with charges holds beyond them.
        SELECT rc.organization_id, rc.project_id, rc.sku, CAST(NULL, 'Nullable(String)'), rc.name,
               toDateTime64(rc.booked_on, 3, 'UTC'), toDateTime64(rc.booked_on + 1, 3, 'UTC'),
               rc.difference, CAST(NULL, 'Nullable(Decimal(38, 9))'), CAST(NULL, 'Nullable(String)'), rc.money,
               rc.restates, CAST(NULL, 'Nullable(String)'), toUInt32(1), 'reconciliation'
        FROM reconciliation AS rc
        UNION ALL
        -- Per project and SKU, from the month-to-date consumption, for periods without charges.
        SELECT d.organization_id, d.project_id, d.sku, CAST(NULL, 'Nullable(String)'), d.resource_name,
               toDateTime64(d.day, 3, 'UTC'), toDateTime64(d.day + 1, 3, 'UTC'),
               d.cost, d.quantity, d.unit, d.currency, d.restates_closed_period, CAST(NULL, 'Nullable(String)'),
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
    multiIf(r.cost < 0 AND r.source != 'charges', 'Credit', r.source = 'reconciliation', 'Adjustment', 'Usage') AS ChargeCategory,
    if(r.restates, 'Correction', NULL) AS ChargeClass,
    concat(coalesce(sn.product_name, cn.product_name, r.sku), coalesce(concat(' - ', r.resource_name), '')) AS ChargeDescription,
    'Usage-Based' AS ChargeFrequency,
    r.charge_end AS ChargePeriodEnd,
    r.charge_start AS ChargePeriodStart,
    r.cost AS ContractedCost,
    r.cost AS EffectiveCost,
    'Scaleway' AS InvoiceIssuer,
    coalesce(r.invoice_id, pi.invoice_id) AS InvoiceId,
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
LEFT JOIN projects AS pn ON pn.id = r.project_id
LEFT JOIN organization_names AS o ON o.organization_id = r.organization_id
LEFT JOIN period_invoices AS pi ON pi.organization_id = r.organization_id AND pi.period_start = toStartOfMonth(r.charge_start)
LEFT JOIN tags_json AS t ON t.organization_id = r.organization_id AND t.resource_id = r.resource_id
LEFT JOIN
(
    SELECT organization_id, resource_id, any(zone) AS zone, any(name) AS name, any(resource_type) AS resource_type
    FROM resources
    GROUP BY organization_id, resource_id
) AS inv ON inv.organization_id = r.organization_id AND inv.resource_id = r.resource_id
SETTINGS join_use_nulls = 1;
