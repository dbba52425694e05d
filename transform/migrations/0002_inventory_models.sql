-- 0002: the inventory model on top of the raw tables.
--
-- runs              committed (fully loaded) runs; everything below reads only these
-- latest_runs       the newest committed run of each organisation
-- inventory_history every resource in every committed run, one shape for all resource types
-- inventory_latest  one row per resource ever seen: its last known state, first/last seen, still present?
-- rate_card         unit prices per month (a month is 730 hours, Scaleway's own convention:
--                   products/servers monthly_price = hourly_price x 730), from the newest collected prices,
--                   with price_overrides first

CREATE OR REPLACE VIEW runs AS
SELECT run_id, organization_id, snapshot_date, snapshot_at, loaded_at, rows
FROM _load_ledger FINAL;

-- Columns are qualified: ClickHouse would otherwise read `snapshot_at` inside argMax as the alias below.
CREATE OR REPLACE VIEW latest_runs AS
SELECT r.organization_id AS organization_id, argMax(r.run_id, r.snapshot_at) AS run_id,
       max(r.snapshot_at) AS snapshot_at
FROM runs AS r
GROUP BY r.organization_id;

CREATE OR REPLACE VIEW inventory_history AS
SELECT run_id, snapshot_at, organization_id,
       'instance_server' AS resource_type, id AS resource_id,
       CAST(name, 'Nullable(String)') AS name, CAST(project_id, 'Nullable(String)') AS project_id,
       CAST(zone, 'String') AS zone, CAST(state, 'Nullable(String)') AS state,
       CAST(commercial_type, 'Nullable(String)') AS resource_class,
       CAST(NULL, 'Nullable(UInt64)') AS size_bytes, creation_date AS created_at,
       CAST(NULL, 'Nullable(String)') AS attached_to, tags
FROM raw_instance_servers WHERE run_id IN (SELECT run_id FROM runs)
UNION ALL
SELECT run_id, snapshot_at, organization_id, 'instance_volume', id, name, project_id, CAST(zone, 'String'),
       CAST(state, 'Nullable(String)'), CAST(volume_type, 'Nullable(String)'), size, creation_date, server_id, tags
FROM raw_instance_volumes WHERE run_id IN (SELECT run_id FROM runs)
UNION ALL
SELECT run_id, snapshot_at, organization_id, 'instance_ip', id, coalesce(address, prefix), project_id, CAST(zone, 'String'),
       CAST(state, 'Nullable(String)'), CAST(type, 'Nullable(String)'), CAST(NULL, 'Nullable(UInt64)'),
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))'), server_id, tags
FROM raw_instance_ips WHERE run_id IN (SELECT run_id FROM runs)
UNION ALL
SELECT run_id, snapshot_at, organization_id, 'instance_snapshot', id, name, project_id, CAST(zone, 'String'),
       CAST(state, 'Nullable(String)'), CAST(volume_type, 'Nullable(String)'), size, creation_date, base_volume_id, tags
FROM raw_instance_snapshots WHERE run_id IN (SELECT run_id FROM runs)
UNION ALL
SELECT v.run_id, v.snapshot_at, v.organization_id, 'block_volume', v.id, v.name, v.project_id, CAST(v.zone, 'String'),
       CAST(v.status, 'Nullable(String)'), CAST(v.type, 'Nullable(String)'), v.size, v.created_at,
       CAST(r.attached_to, 'Nullable(String)'), v.tags
FROM raw_block_volumes AS v
LEFT JOIN
(
    SELECT run_id, volume_id, anyIf(product_resource_id, status != 'detached') AS attached_to
    FROM raw_block_volume_references
    WHERE run_id IN (SELECT run_id FROM runs)
    GROUP BY run_id, volume_id
) AS r ON r.run_id = v.run_id AND r.volume_id = v.id
WHERE v.run_id IN (SELECT run_id FROM runs)
UNION ALL
SELECT run_id, snapshot_at, organization_id, 'block_snapshot', id, name, project_id, CAST(zone, 'String'),
       CAST(status, 'Nullable(String)'), CAST(class, 'Nullable(String)'), size, created_at, parent_volume_id, tags
FROM raw_block_snapshots WHERE run_id IN (SELECT run_id FROM runs)
SETTINGS join_use_nulls = 1;

CREATE OR REPLACE VIEW inventory_latest AS
SELECT h.organization_id AS organization_id, h.resource_type AS resource_type, h.resource_id AS resource_id,
       argMax(h.name, h.snapshot_at) AS name,
       argMax(h.project_id, h.snapshot_at) AS project_id,
       argMax(h.zone, h.snapshot_at) AS zone,
       argMax(h.state, h.snapshot_at) AS state,
       argMax(h.resource_class, h.snapshot_at) AS resource_class,
       argMax(h.size_bytes, h.snapshot_at) AS size_bytes,
       argMax(h.created_at, h.snapshot_at) AS created_at,
       argMax(h.attached_to, h.snapshot_at) AS attached_to,
       argMax(h.tags, h.snapshot_at) AS tags,
       min(h.snapshot_at) AS first_seen_at,
       max(h.snapshot_at) AS last_seen_at,
       max(h.run_id = l.run_id) = 1 AS present
FROM inventory_history AS h
INNER JOIN latest_runs AS l ON l.organization_id = h.organization_id
GROUP BY h.organization_id, h.resource_type, h.resource_id;

CREATE OR REPLACE VIEW rate_card AS
SELECT price_kind, zone, match_key, monthly_price, currency, source, priority
FROM
(
    -- Overrides first: a price a person wrote down beats any collected one.
    SELECT price_kind, zone, match_key, unit_price * 730 AS monthly_price, currency,
           concat('price_overrides: ', note) AS source, 1 AS priority
    FROM price_overrides
    UNION ALL
    SELECT 'server_hour', CAST(zone, 'String'), commercial_type, hourly_price * 730, CAST(currency, 'String'),
           'instance/v1 products/servers', 2
    FROM raw_instance_server_types
    WHERE run_id IN (SELECT run_id FROM latest_runs) AND hourly_price IS NOT NULL
    UNION ALL
    SELECT 'volume_gb_hour', CAST(zone, 'String'), type, pricing * 730, CAST(pricing_currency, 'String'),
           'block/v1 volume-types', 2
    FROM raw_block_volume_types
    WHERE run_id IN (SELECT run_id FROM latest_runs) AND pricing IS NOT NULL AND pricing_currency IS NOT NULL
    UNION ALL
    SELECT 'snapshot_gb_hour', CAST(zone, 'String'), type, snapshot_pricing * 730,
           CAST(snapshot_pricing_currency, 'String'), 'block/v1 volume-types', 2
    FROM raw_block_volume_types
    WHERE run_id IN (SELECT run_id FROM latest_runs) AND snapshot_pricing IS NOT NULL
      AND snapshot_pricing_currency IS NOT NULL
    UNION ALL
    -- A snapshot whose volume is gone has no volume type; when every type of the zone prices snapshots the
    -- same, that price applies to the whole storage class.
    SELECT 'snapshot_gb_hour', CAST(zone, 'String'), CAST(assumeNotNull(any(class)), 'String'),
           any(snapshot_pricing) * 730, CAST(assumeNotNull(any(snapshot_pricing_currency)), 'String'),
           'block/v1 volume-types (one snapshot price for the zone)', 2
    FROM raw_block_volume_types
    WHERE run_id IN (SELECT run_id FROM latest_runs) AND snapshot_pricing IS NOT NULL
      AND snapshot_pricing_currency IS NOT NULL AND class IS NOT NULL
    GROUP BY zone, class
    HAVING uniqExact(snapshot_pricing, snapshot_pricing_currency) = 1
    UNION ALL
    -- The public catalog, in billing's SKU vocabulary: Instance offers and flexible IPs per zone.
    SELECT price_kind, zone, match_key, monthly_price, currency, concat('product catalog ', sku), 3
    FROM
    (
        SELECT multiIf(instance_offer_id IS NOT NULL, 'server_hour',
                       startsWith(sku, '/network/flexip/'), 'ip_hour', '') AS price_kind,
               CAST(assumeNotNull(zone), 'String') AS zone,
               multiIf(instance_offer_id IS NOT NULL, assumeNotNull(instance_offer_id),
                       startsWith(sku, '/network/flexip/ipv6/'), 'routed_ipv6', 'routed_ipv4') AS match_key,
               multiIf(unit = 'hour', retail_price * 730 / unit_size,
                       unit = 'minute', retail_price * 43800 / unit_size,
                       unit = 'month', retail_price / unit_size,
                       NULL) AS monthly_price,
               CAST(assumeNotNull(currency), 'String') AS currency,
               sku
        FROM raw_catalog_products
        WHERE run_id IN (SELECT run_id FROM latest_runs) AND zone IS NOT NULL AND currency IS NOT NULL
          AND retail_price IS NOT NULL AND unit_size > 0
    )
    WHERE price_kind != '' AND monthly_price IS NOT NULL
);
