-- rate_card: unit prices per month, price_overrides first, then the prices collected from the newest run that
-- collected each price list (the table `collected_prices`, kept up to date at each load:
-- transform/sources/collected_prices.sql says how). A month is 730 hours, Scaleway's own convention.
-- priority: 1 price_overrides, 2 the product APIs' own price lists, 3 the public Product Catalog. Overrides are
-- read as they are here; the prices reports apply (rate_card_best, the table applied_prices) take them in at the
-- next load, or at once when `costlake sql` writes them.

CREATE OR REPLACE VIEW rate_card AS
-- Overrides first: a price a person wrote down beats any collected one.
SELECT price_kind, zone, match_key, CAST(unit_price * 730, 'Nullable(Decimal(38, 9))') AS monthly_price,
       CAST(currency, 'String') AS currency, concat('price_overrides: ', note) AS source, toUInt8(1) AS priority
FROM price_overrides
UNION ALL
SELECT price_kind, zone, match_key, monthly_price, currency, source, priority
FROM collected_prices;
