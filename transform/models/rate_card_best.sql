-- rate_card_best: the price that applies, per (price_kind, zone, match_key): rate_card's row of the best
-- priority (price_overrides, then the product APIs, then the catalog), its price and its currency taken together.

CREATE OR REPLACE VIEW rate_card_best AS
SELECT price_kind, zone, match_key, tupleElement(best, 1) AS monthly_price, tupleElement(best, 2) AS currency
FROM
(
    SELECT price_kind, zone, match_key, argMin((monthly_price, currency), priority) AS best
    FROM rate_card
    GROUP BY price_kind, zone, match_key
);
