-- ghost-cost: where billing and inventory disagree
--
-- Over the last `days` days charged:
--   billed_without_resource   charged to a resource the newest inventory does not hold: deleted but still
--                             billed, or billed for something costlake never saw
--   resource_without_billing  a billable resource of the newest inventory (a running or standby server, a Block
--                             Storage volume, a flexible IP) existing before the window, charged nothing in it;
--                             expected_monthly_cost says what it should cost at list price
-- From the FinOps per-resource charges, restricted to the products costlake collects (SKUs under /compute/,
-- /storage/block/, /network/flexip/, /ip/). An organisation without charges (no FinOps permission) is compared
-- at SKU level instead, from the month-to-date consumption: compute SKUs billed in a project that has no
-- server of that type, and servers whose type is not billed in their project.
--
-- @param days UInt32 = 3  the window: the last N days with charges (or consumption)
-- @param organization String = ''  only this organisation ('' for all)
-- @param project String = ''  only this project, by id or name ('' for all)
-- @money billed currency
-- @totals finding
-- @dashboard waste

-- Each CTE is computed for every organisation asked for ('' for all), and only those with an inventory are kept
-- at the end: a filter in each place a CTE is read would run the query of the organisations each time.
WITH
    -- The window's last day per organisation with charges, as a scalar subquery: that is computed once per query,
    -- where a CTE is computed again wherever it is read: the windows are read six times, and each read was a scan
    -- of every charge collected (about a quarter of the report's time at 10,000 servers: 400 → 300 ms).
    (
        SELECT groupArray((organization_id, as_of))
        FROM
        (
            SELECT organization_id, toDate(max(start_date)) AS as_of
            FROM resource_charges
            WHERE {organization:String} = '' OR organization_id = {organization:String}
            GROUP BY organization_id
        )
    ) AS charge_windows,
    -- The currency each organisation is billed in and its last day of consumption: (organisation, currency, last
    -- day), once per query like the charge windows.
    (
        SELECT groupArray((organization_id, currency, as_of))
        FROM
        (
            SELECT organization_id, any(currency) AS currency, max(day) AS as_of
            FROM billing_daily
            WHERE {organization:String} = '' OR organization_id = {organization:String}
            GROUP BY organization_id
        )
    ) AS consumption_windows,
    -- The organisations compared at SKU level (consumption, no charges). The SKU-level branch reads only these
    -- organisations' rows, by the tables' sort key (sku_organizations), so none at all when every organisation has
    -- charges.
    arrayFilter(w -> NOT has(arrayMap(c -> c.1, charge_windows), w.1), consumption_windows) AS sku_windows,
    arrayMap(w -> w.1, sku_windows) AS sku_organizations,
    -- The window: the last `days` days with charges, per organisation with charges.
    charge_window AS
    (
        SELECT w.1 AS organization_id, w.2 AS as_of, as_of - {days:UInt32} + 1 AS from_day
        FROM (SELECT arrayJoin(charge_windows) AS w)
    ),
    -- The window's charges for the products costlake collects, one row per charge: they are grouped per resource
    -- and SKU only once the few without a resource in the inventory are picked out (grouping all of them first
    -- cost about 40 ms more at 10,000 servers).
    charged AS
    (
        SELECT c.organization_id AS organization_id, c.project_id AS project_id, c.resource_id AS resource_id,
               c.sku AS sku, c.resource_name AS name, c.price AS price, toDate(c.start_date) AS day,
               c.currency AS currency
        FROM resource_charges AS c
        INNER JOIN charge_window AS w ON w.organization_id = c.organization_id
        -- The earliest window's first day as a constant too: the table is partitioned by month and sorted by
        -- organisation then day, so only those days are read.
        WHERE c.start_date >= (SELECT min(from_day) FROM charge_window)
          AND toDate(c.start_date) BETWEEN w.from_day AND w.as_of
          AND (startsWith(c.sku, '/compute/') OR startsWith(c.sku, '/storage/block/')
               OR startsWith(c.sku, '/network/flexip/') OR startsWith(c.sku, '/ip/'))
    ),
    -- The resources charged in the window that the newest inventory does not hold (the table
    -- ghost_cost_resources, kept at load, a row per resource: last charged on or after the earliest window's first
    -- day), and when each was last seen: the window's charges are looked up in these few, not in the inventory.
    absent AS
    (
        SELECT organization_id, resource_id, resource_type, last_seen_at
        FROM ghost_cost_resources
        WHERE NOT present AND last_charged >= (SELECT min(from_day) FROM charge_window)
    ),
    billed_without_resource AS
    (
        SELECT 'billed_without_resource' AS finding, c.organization_id AS organization_id, c.project_id AS project_id,
               c.resource_id AS resource_id, any(c.name) AS name, any(e.resource_type) AS resource_type, c.sku AS sku,
               sum(c.price) AS billed, toUInt64(uniqExact(c.day)) AS days_billed, min(c.day) AS first_day,
               max(c.day) AS last_day, CAST(NULL, 'Nullable(Decimal(38, 9))') AS expected_monthly_cost,
               any(coalesce(c.currency, 'EUR')) AS currency, 'charges' AS method,
               if(any(e.last_seen_at) IS NULL, 'never seen in the inventory',
                  concat('last seen in the inventory on ', toString(toDate(any(e.last_seen_at))))) AS detail
        FROM charged AS c
        LEFT JOIN absent AS e ON e.organization_id = c.organization_id AND e.resource_id = c.resource_id
        WHERE (c.organization_id, c.resource_id) IN (SELECT organization_id, resource_id FROM absent)
        GROUP BY c.organization_id, c.project_id, c.resource_id, c.sku
    ),
    -- The newest inventory's billable resources (ghost_cost_resources, with their list price and their last charge
    -- for a product costlake collects): none charged since the window's first day.
    resource_without_billing AS
    (
        SELECT 'resource_without_billing' AS finding, b.organization_id AS organization_id,
               coalesce(b.project_id, '') AS project_id, b.resource_id AS resource_id, b.name AS name,
               coalesce(b.resource_type, '') AS resource_type, CAST(NULL, 'Nullable(String)') AS sku,
               toDecimal128(0, 9) AS billed, toUInt64(0) AS days_billed,
               CAST(NULL, 'Nullable(Date)') AS first_day, CAST(NULL, 'Nullable(Date)') AS last_day,
               b.expected_monthly_cost AS expected_monthly_cost, b.currency AS currency, 'charges' AS method,
               concat(coalesce(b.resource_class, b.resource_type, ''), ' ', coalesce(b.state, ''), ' in ',
                      coalesce(b.zone, ''), ', no charge in the window') AS detail
        FROM ghost_cost_resources AS b
        INNER JOIN charge_window AS w ON w.organization_id = b.organization_id
        WHERE b.present AND ({organization:String} = '' OR b.organization_id = {organization:String})
          AND (b.created_at IS NULL OR toDate(b.created_at) < w.from_day)
          AND (b.last_charged IS NULL OR b.last_charged < w.from_day)
    ),
    -- Without charges (no FinOps permission): SKU level, compute only (the SKU names the commercial type), over
    -- the consumption's last `days` days. Compute SKUs billed against the types of the servers running, per project.
    -- The commercial type is the SKU's second segment, split out: a regular expression with a capture group took
    -- 10-20 ms to prepare at each read.
    compute_billed AS
    (
        SELECT d.organization_id AS organization_id, d.project_id AS project_id, d.sku AS sku,
               upper(replaceAll(if(length(splitByChar('/', d.sku)) > 3, splitByChar('/', d.sku)[3], ''), '_', '-')) AS commercial_type,
               sum(d.cost) AS cost, toUInt64(uniqExactIf(d.day, d.cost > 0)) AS days, min(d.day) AS first_day,
               max(d.day) AS last_day, any(d.currency) AS currency
        FROM billing_daily AS d
        ARRAY JOIN sku_windows AS w
        WHERE has(sku_organizations, d.organization_id) AND d.organization_id = w.1
          AND d.day BETWEEN w.3 - {days:UInt32} + 1 AND w.3 AND startsWith(d.sku, '/compute/')
        GROUP BY d.organization_id, d.project_id, d.sku
        HAVING cost > 0
    ),
    running_types AS
    (
        SELECT i.organization_id AS organization_id, coalesce(i.project_id, '') AS project_id,
               upper(coalesce(i.resource_class, '')) AS commercial_type, groupArray(i.resource_id) AS ids,
               groupArray(i.name) AS names, any(w.2) AS currency
        FROM resources AS i
        ARRAY JOIN sku_windows AS w
        WHERE has(sku_organizations, i.organization_id) AND i.organization_id = w.1
          AND i.present AND i.resource_type = 'instance_server'
          AND i.state IN ('running', 'stopped in place')
        GROUP BY organization_id, project_id, commercial_type
    ),
    -- One join for both findings: a SKU with no server of its type, a type running with no SKU billed.
    sku_level AS
    (
        SELECT if(c.sku IS NOT NULL, 'billed_without_resource', 'resource_without_billing') AS finding,
               coalesce(c.organization_id, r.organization_id) AS organization_id,
               coalesce(c.project_id, r.project_id) AS project_id, CAST(NULL, 'Nullable(String)') AS resource_id,
               if(c.sku IS NOT NULL, CAST(NULL, 'Nullable(String)'),
                  CAST(arrayStringConcat(arraySort(arrayMap(x -> coalesce(x, ''), r.names)), ', '), 'Nullable(String)')) AS name,
               'instance_server' AS resource_type, c.sku AS sku, coalesce(c.cost, toDecimal128(0, 9)) AS billed,
               coalesce(c.days, toUInt64(0)) AS days_billed, c.first_day AS first_day, c.last_day AS last_day,
               CAST(NULL, 'Nullable(Decimal(38, 9))') AS expected_monthly_cost,
               if(c.sku IS NOT NULL, c.currency, r.currency) AS currency, 'sku' AS method,
               if(c.sku IS NOT NULL, concat('no ', c.commercial_type, ' server in the project'),
                  concat(toString(length(r.ids)), ' ', r.commercial_type, ' server(s) running, the type is not billed'))
                   AS detail
        FROM compute_billed AS c
        FULL OUTER JOIN running_types AS r
            ON r.organization_id = c.organization_id AND r.project_id = c.project_id AND r.commercial_type = c.commercial_type
        WHERE c.sku IS NULL OR r.commercial_type IS NULL
    ),
    findings AS
    (
        SELECT * FROM billed_without_resource
        UNION ALL SELECT * FROM resource_without_billing
        UNION ALL SELECT * FROM sku_level
    )
SELECT
    f.finding AS finding,
    nullIf(f.project_id, '') AS project_id,
    pn.name AS project_name,
    f.resource_id AS resource_id,
    f.name AS name,
    f.resource_type AS resource_type,
    f.sku AS sku,
    CAST(round(f.billed, 6), 'Decimal(38, 6)') AS billed,
    f.days_billed AS days_billed,
    f.first_day AS first_day,
    f.last_day AS last_day,
    CAST(round(f.expected_monthly_cost, 6), 'Nullable(Decimal(38, 6))') AS expected_monthly_cost,
    f.currency AS currency,
    f.method AS method,
    f.detail AS detail
FROM findings AS f
LEFT JOIN projects AS pn ON pn.id = f.project_id
WHERE f.organization_id IN (SELECT organization_id FROM latest_runs)
  AND ({project:String} = '' OR f.project_id = {project:String} OR pn.name = {project:String})
ORDER BY finding, billed DESC, expected_monthly_cost DESC NULLS LAST, resource_id, project_id, sku, name, detail
-- A plain hash join: the engine's default ('direct,parallel_hash,hash') took 15-40 ms more a report, with
-- right-hand sides this small and the same rows (BENCHMARKS.md, 2026-12-05).
SETTINGS join_use_nulls = 1, join_algorithm = 'hash'
