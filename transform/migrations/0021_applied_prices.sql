-- 0021: the price that applies to each (price_kind, zone, match_key) becomes a table computed at load
-- (`transform/sources/applied_prices.sql`), where reports read the view rate_card_best: the engine analysed and
-- planned that view (the rate card read three times, a join and an aggregation) inside every report that priced
-- anything, about 55 ms of scaling-groups' and ghost-cost's 225-250 (BENCHMARKS.md, 2026-12-06, morning). A new
-- name, so that no statement here drops or replaces a view another process may be reading; the view
-- rate_card_best now reads it.

CREATE TABLE IF NOT EXISTS applied_prices
(
    price_kind    String,
    zone          String,
    match_key     String,
    monthly_price Nullable(Decimal(38, 9)),
    currency      String
)
ENGINE = MergeTree
ORDER BY (price_kind, zone, match_key);
