-- 0002: prices that a person writes down.

-- Prices that no collected API publishes (or that differ for you): rows here win over every collected
-- price. price_kind is one of server_hour, volume_gb_hour, snapshot_gb_hour, ip_hour; zone and match_key
-- may be '' to match any. Example:
--   INSERT INTO price_overrides VALUES ('volume_gb_hour', '', 'l_ssd', 0.00012, 'EUR', 'local SSD, our contract')
CREATE TABLE IF NOT EXISTS price_overrides
(
    price_kind LowCardinality(String),
    zone       String,
    match_key  String,
    unit_price Decimal(38, 9),
    currency   LowCardinality(String),
    note       String
)
ENGINE = MergeTree
ORDER BY (price_kind, zone, match_key);
