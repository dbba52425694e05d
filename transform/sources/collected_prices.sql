-- collected_prices: unit prices per month collected from the newest run that collected each price
-- list; the table collected_prices (recomputed whole at each load: it is as big as the price lists). A month is 730 hours, Scaleway's own convention (products/servers monthly_price =
-- hourly_price x 730). priority: 2 the product APIs' own price lists, 3 the public Product Catalog (1 is
-- price_overrides, which rate_card reads as they are now).

SELECT price_kind, zone, match_key, CAST(monthly_price, 'Nullable(Decimal(38, 9))') AS monthly_price, currency, source,
       toUInt8(priority) AS priority
FROM
(
    SELECT 'server_hour' AS price_kind, CAST(zone, 'String') AS zone, commercial_type AS match_key,
           hourly_price * 730 AS monthly_price, CAST(currency, 'String') AS currency,
           'instance/v1 products/servers' AS source, 2 AS priority
    FROM raw_instance_server_types
    WHERE run_id IN (SELECT run_id FROM newest_runs WHERE dataset = 'instance_server_types')
      AND hourly_price IS NOT NULL
    UNION ALL
    SELECT 'volume_gb_hour', CAST(zone, 'String'), type, pricing * 730, CAST(pricing_currency, 'String'),
           'block/v1 volume-types', 2
    FROM raw_block_volume_types
    WHERE run_id IN (SELECT run_id FROM newest_runs WHERE dataset = 'block_volume_types')
      AND pricing IS NOT NULL AND pricing_currency IS NOT NULL
    UNION ALL
    SELECT 'snapshot_gb_hour', CAST(zone, 'String'), type, snapshot_pricing * 730,
           CAST(snapshot_pricing_currency, 'String'), 'block/v1 volume-types', 2
    FROM raw_block_volume_types
    WHERE run_id IN (SELECT run_id FROM newest_runs WHERE dataset = 'block_volume_types')
      AND snapshot_pricing IS NOT NULL AND snapshot_pricing_currency IS NOT NULL
    UNION ALL
    -- A snapshot whose volume is gone has no volume type; when every type of the zone prices snapshots the
    -- same, that price applies to the whole storage class.
    SELECT 'snapshot_gb_hour', CAST(zone, 'String'), CAST(assumeNotNull(any(class)), 'String'),
           any(snapshot_pricing) * 730, CAST(assumeNotNull(any(snapshot_pricing_currency)), 'String'),
           'block/v1 volume-types (one snapshot price for the zone)', 2
    FROM raw_block_volume_types
    WHERE run_id IN (SELECT run_id FROM newest_runs WHERE dataset = 'block_volume_types')
      AND snapshot_pricing IS NOT NULL AND snapshot_pricing_currency IS NOT NULL AND class IS NOT NULL
    GROUP BY zone, class
    HAVING uniqExact(snapshot_pricing, snapshot_pricing_currency) = 1
    UNION ALL
    -- The public catalog, in billing's SKU vocabulary: Instance offers and flexible IPs per zone, Load Balancer
    -- offers per zone and Managed Database nodes per region (the region stands in the zone column), both
    -- matched on the product's name in lower case, as their APIs write the type ("lb-s", "db-dev-s").
    SELECT price_kind, zone, match_key, monthly_price, currency, concat('product catalog ', sku), 3
    FROM
    (
        SELECT multiIf(instance_offer_id IS NOT NULL, 'server_hour',
                       startsWith(sku, '/network/flexip/'), 'ip_hour',
                       product_category = 'Load Balancer', 'lb_hour',
                       product_category = 'Managed Database', 'database_node_hour', '') AS price_kind,
               CAST(assumeNotNull(coalesce(zone, region)), 'String') AS zone,
               multiIf(instance_offer_id IS NOT NULL, assumeNotNull(instance_offer_id),
                       startsWith(sku, '/network/flexip/ipv6/'), 'routed_ipv6',
                       startsWith(sku, '/network/flexip/'), 'routed_ipv4',
                       lower(assumeNotNull(product))) AS match_key,
               multiIf(unit = 'hour', retail_price * 730 / unit_size,
                       unit = 'minute', retail_price * 43800 / unit_size,
                       unit = 'month', retail_price / unit_size,
                       NULL) AS monthly_price,
               CAST(assumeNotNull(currency), 'String') AS currency,
               sku
        FROM raw_catalog_products
        WHERE run_id IN (SELECT run_id FROM newest_runs WHERE dataset = 'catalog_products')
          AND coalesce(zone, region) IS NOT NULL AND currency IS NOT NULL AND retail_price IS NOT NULL
          AND unit_size > 0
    )
    WHERE price_kind != '' AND monthly_price IS NOT NULL
);
