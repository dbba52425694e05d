-- rate_card_best: the price that applies, per (price_kind, zone, match_key), from the rate card's best row. The
-- table `applied_prices`, kept up to date at each load and after each `costlake sql` statement that writes
-- (transform/sources/applied_prices.sql says how), under the name queries have used.

CREATE OR REPLACE VIEW rate_card_best AS
SELECT price_kind, zone, match_key, monthly_price, currency FROM applied_prices;
