-- ghost_cost_resources: the resources ghost-cost compares with the charges of its window, each with its last
-- charge for a product costlake collects (resource_charge_months: a resource charged nothing in a window ending on
-- the last day charged has its last charge before the window). The table ghost_cost_resources (recomputed whole at
-- each load, and when price_overrides changes: it is as big as the resources ever charged or present).
--   present = true: a billable resource of the newest inventory (a running or standby server, a Block Storage
--          volume, a flexible IP), with its list price (applied_prices, for a volume its size) and the currency its
--          organisation is billed in when no price is known;
--   present = false: a resource charged for a product costlake collects that the newest inventory does not hold
--          (deleted, or never seen: no type, no last sighting).

-- Each side of a join is Nullable where a missing match must read NULL: the engine's join_use_nulls would apply
-- to one branch of the UNION ALL only.
WITH
    seen AS
    (
        SELECT organization_id, resource_id, CAST(any(resource_type), 'Nullable(String)') AS resource_type,
               CAST(max(last_seen_at), 'Nullable(DateTime64(6, \'UTC\'))') AS last_seen_at,
               CAST(max(present), 'Nullable(Bool)') AS present
        FROM resources
        GROUP BY organization_id, resource_id
    ),
    charged AS
    (
        SELECT organization_id, resource_id, CAST(max(last_day), 'Nullable(Date)') AS last_charged
        FROM resource_charge_months
        GROUP BY organization_id, resource_id
    ),
    prices AS
    (
        SELECT price_kind, zone, match_key, monthly_price, CAST(currency, 'Nullable(String)') AS currency
        FROM applied_prices
    ),
    billed_currency AS
    (
        SELECT organization_id, CAST(any(currency), 'Nullable(String)') AS currency
        FROM billing_daily
        GROUP BY organization_id
    ),
    billable AS
    (
        SELECT organization_id, resource_id, project_id, name, resource_type, resource_class, state, zone, created_at,
               multiIf(resource_type = 'instance_server', 'server_hour',
                       resource_type = 'block_volume', 'volume_gb_hour', 'ip_hour') AS price_kind,
               multiIf(resource_type = 'instance_ip', if(resource_class = 'routed_ipv6', 'routed_ipv6', 'routed_ipv4'),
                       coalesce(resource_class, '')) AS price_key,
               if(resource_type = 'block_volume', toDecimal128(size_bytes, 9) / 1000000000, toDecimal128(1, 9))
                   AS quantity
        FROM resources
        WHERE present
          AND ((resource_type = 'instance_server' AND state IN ('running', 'stopped in place'))
               OR resource_type IN ('block_volume', 'instance_ip'))
    )
SELECT b.organization_id AS organization_id, b.resource_id AS resource_id, true AS present,
       b.project_id AS project_id, b.name AS name, CAST(b.resource_type, 'Nullable(String)') AS resource_type,
       b.resource_class AS resource_class, b.state AS state, CAST(b.zone, 'Nullable(String)') AS zone,
       b.created_at AS created_at, CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS last_seen_at,
       b.quantity * p.monthly_price AS expected_monthly_cost,
       coalesce(p.currency, m.currency) AS currency, c.last_charged AS last_charged
FROM billable AS b
LEFT JOIN prices AS p ON p.price_kind = b.price_kind AND p.zone = b.zone AND p.match_key = b.price_key
LEFT JOIN billed_currency AS m ON m.organization_id = b.organization_id
LEFT JOIN charged AS c ON c.organization_id = b.organization_id AND c.resource_id = b.resource_id
UNION ALL
SELECT c.organization_id, c.resource_id, false, NULL, NULL, s.resource_type, NULL, NULL, NULL, NULL, s.last_seen_at,
       NULL, NULL, c.last_charged
FROM charged AS c
LEFT JOIN seen AS s ON s.organization_id = c.organization_id AND s.resource_id = c.resource_id
WHERE NOT coalesce(s.present, false);
