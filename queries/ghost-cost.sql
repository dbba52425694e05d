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

WITH
    organizations AS
    (
        SELECT organization_id FROM latest_runs
        WHERE {organization:String} = '' OR organization_id = {organization:String}
    ),
    inventory AS
    (
        SELECT * FROM resources
        WHERE present AND organization_id IN (SELECT organization_id FROM organizations)
    ),
    charges AS
    (
        SELECT c.organization_id AS organization_id, c.project_id AS project_id, c.resource_id AS resource_id,
               c.resource_name AS resource_name, c.sku AS sku, toDate(c.start_date) AS day, c.price AS cost,
               coalesce(c.currency, 'EUR') AS currency
        FROM resource_charges AS c
        WHERE c.organization_id IN (SELECT organization_id FROM organizations)
    ),
    charge_window AS
    (
        SELECT organization_id, max(day) AS as_of, as_of - {days:UInt32} + 1 AS from_day
        FROM charges
        GROUP BY organization_id
    ),
    charged AS
    (
        SELECT c.* FROM charges AS c
        INNER JOIN charge_window AS w ON w.organization_id = c.organization_id
        WHERE c.day BETWEEN w.from_day AND w.as_of
          AND (startsWith(c.sku, '/compute/') OR startsWith(c.sku, '/storage/block/')
               OR startsWith(c.sku, '/network/flexip/') OR startsWith(c.sku, '/ip/'))
    ),
    ever_seen AS
    (
        SELECT organization_id, resource_id, any(resource_type) AS resource_type, max(last_seen_at) AS last_seen_at
        FROM resources
        GROUP BY organization_id, resource_id
    ),
    billed_without_resource AS
    (
        SELECT 'billed_without_resource' AS finding, c.organization_id AS organization_id, c.project_id AS project_id,
               c.resource_id AS resource_id, any(c.resource_name) AS name, any(e.resource_type) AS resource_type,
               c.sku AS sku, sum(c.cost) AS billed, toUInt64(uniqExact(c.day)) AS days_billed,
               min(c.day) AS first_day, max(c.day) AS last_day, CAST(NULL, 'Nullable(Decimal(38, 9))') AS expected_monthly_cost,
               any(c.currency) AS currency, 'charges' AS method,
               if(any(e.last_seen_at) IS NULL, 'never seen in the inventory',
                  concat('last seen in the inventory on ', toString(toDate(any(e.last_seen_at))))) AS detail
        FROM charged AS c
        LEFT JOIN inventory AS i ON i.organization_id = c.organization_id AND i.resource_id = c.resource_id
        LEFT JOIN ever_seen AS e ON e.organization_id = c.organization_id AND e.resource_id = c.resource_id
        WHERE c.resource_id != '' AND i.resource_id IS NULL
        GROUP BY c.organization_id, c.project_id, c.resource_id, c.sku
    ),
    prices AS
    (
        SELECT price_kind, zone, match_key, monthly_price, currency FROM rate_card_best
    ),
    -- The currency an organisation is billed in, for rows that carry no amount of their own.
    billing_currency AS
    (
        SELECT organization_id, any(currency) AS currency FROM billing_daily GROUP BY organization_id
    ),
    billable AS
    (
        SELECT i.*, multiIf(i.resource_type = 'instance_server', 'server_hour',
                            i.resource_type = 'block_volume', 'volume_gb_hour', 'ip_hour') AS price_kind,
               multiIf(i.resource_type = 'instance_ip', if(i.resource_class = 'routed_ipv6', 'routed_ipv6', 'routed_ipv4'),
                       coalesce(i.resource_class, '')) AS price_key,
               if(i.resource_type = 'block_volume', toDecimal128(i.size_bytes, 9) / 1000000000, toDecimal128(1, 9)) AS quantity
        FROM inventory AS i
        WHERE (i.resource_type = 'instance_server' AND i.state IN ('running', 'stopped in place'))
           OR i.resource_type IN ('block_volume', 'instance_ip')
    ),
    resource_without_billing AS
    (
        SELECT 'resource_without_billing' AS finding, b.organization_id AS organization_id,
               coalesce(b.project_id, '') AS project_id, b.resource_id AS resource_id, b.name AS name,
               b.resource_type AS resource_type, CAST(NULL, 'Nullable(String)') AS sku,
               toDecimal128(0, 9) AS billed, toUInt64(0) AS days_billed,
               CAST(NULL, 'Nullable(Date)') AS first_day, CAST(NULL, 'Nullable(Date)') AS last_day,
               b.quantity * p.monthly_price AS expected_monthly_cost, coalesce(p.currency, bc.currency) AS currency,
               'charges' AS method,
               concat(coalesce(b.resource_class, b.resource_type), ' ', coalesce(b.state, ''), ' in ', b.zone,
                      ', no charge in the window') AS detail
        FROM billable AS b
        INNER JOIN charge_window AS w ON w.organization_id = b.organization_id
        LEFT JOIN prices AS p ON p.price_kind = b.price_kind AND p.zone = b.zone AND p.match_key = b.price_key
        LEFT JOIN billing_currency AS bc ON bc.organization_id = b.organization_id
        LEFT JOIN (SELECT DISTINCT organization_id, resource_id FROM charged) AS c
            ON c.organization_id = b.organization_id AND c.resource_id = b.resource_id
        WHERE (b.created_at IS NULL OR toDate(b.created_at) < w.from_day)
          AND c.resource_id IS NULL
    ),
    -- Without charges: SKU level, compute only (the SKU names the commercial type).
    consumption_window AS
    (
        SELECT organization_id, max(day) AS as_of, as_of - {days:UInt32} + 1 AS from_day
        FROM billing_daily
        WHERE organization_id IN (SELECT organization_id FROM organizations)
          AND organization_id NOT IN (SELECT organization_id FROM charge_window)
        GROUP BY organization_id
    ),
    compute_billed AS
    (
        SELECT d.organization_id AS organization_id, d.project_id AS project_id, d.sku AS sku,
               upper(replaceAll(extract(d.sku, '^/compute/([^/]+)/'), '_', '-')) AS commercial_type,
               sum(d.cost) AS cost, toUInt64(uniqExactIf(d.day, d.cost > 0)) AS days, min(d.day) AS first_day,
               max(d.day) AS last_day, any(d.currency) AS currency
        FROM billing_daily AS d
        INNER JOIN consumption_window AS w ON w.organization_id = d.organization_id
        WHERE d.day BETWEEN w.from_day AND w.as_of AND startsWith(d.sku, '/compute/')
        GROUP BY d.organization_id, d.project_id, d.sku
        HAVING cost > 0
    ),
    running_types AS
    (
        SELECT organization_id, coalesce(project_id, '') AS project_id, upper(coalesce(resource_class, '')) AS commercial_type,
               groupArray(resource_id) AS ids, groupArray(name) AS names, any(zone) AS zone
        FROM inventory
        WHERE resource_type = 'instance_server' AND state IN ('running', 'stopped in place')
        GROUP BY organization_id, project_id, commercial_type
    ),
    sku_level AS
    (
        SELECT 'billed_without_resource' AS finding, c.organization_id AS organization_id, c.project_id AS project_id,
               CAST(NULL, 'Nullable(String)') AS resource_id, CAST(NULL, 'Nullable(String)') AS name,
               'instance_server' AS resource_type, c.sku AS sku, c.cost AS billed, c.days AS days_billed,
               c.first_day AS first_day, c.last_day AS last_day, CAST(NULL, 'Nullable(Decimal(38, 9))') AS expected_monthly_cost,
               c.currency AS currency, 'sku' AS method,
               concat('no ', c.commercial_type, ' server in the project') AS detail
        FROM compute_billed AS c
        LEFT JOIN running_types AS r
            ON r.organization_id = c.organization_id AND r.project_id = c.project_id AND r.commercial_type = c.commercial_type
        WHERE r.commercial_type IS NULL
        UNION ALL
        SELECT 'resource_without_billing', r.organization_id, r.project_id, CAST(NULL, 'Nullable(String)'),
               CAST(arrayStringConcat(arrayMap(x -> coalesce(x, ''), r.names), ', '), 'Nullable(String)'), 'instance_server',
               CAST(NULL, 'Nullable(String)'), toDecimal128(0, 9), toUInt64(0), CAST(NULL, 'Nullable(Date)'),
               CAST(NULL, 'Nullable(Date)'), CAST(NULL, 'Nullable(Decimal(38, 9))'), bc.currency, 'sku',
               concat(toString(length(r.ids)), ' ', r.commercial_type, ' server(s) running, the type is not billed')
        FROM running_types AS r
        INNER JOIN consumption_window AS w ON w.organization_id = r.organization_id
        LEFT JOIN billing_currency AS bc ON bc.organization_id = r.organization_id
        LEFT JOIN compute_billed AS c
            ON c.organization_id = r.organization_id AND c.project_id = r.project_id AND c.commercial_type = r.commercial_type
        WHERE c.sku IS NULL
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
WHERE {project:String} = '' OR f.project_id = {project:String} OR pn.name = {project:String}
ORDER BY finding, billed DESC, expected_monthly_cost DESC NULLS LAST, resource_id
SETTINGS join_use_nulls = 1
