-- applied_prices: the price that applies, per (price_kind, zone, match_key): rate_card's row of the best priority
-- (price_overrides, then the product APIs, then the catalog), its price and its currency taken together; the
-- table applied_prices (recomputed whole at each load, and when price_overrides changes: it is as big as the
-- price lists). An override written with a wildcard ('' for any zone or any key) applies to every collected
-- (zone, key) it matches, an exact override before a wildcard one (as ghost-resources ranks them); overrides also
-- stand for their own (zone, key), so an exact override prices what no API lists.

WITH
    collected AS (SELECT DISTINCT price_kind, zone, match_key FROM rate_card WHERE priority > 1),
    candidates AS
    (
        SELECT price_kind, zone, match_key, monthly_price, currency, priority, 0 AS specificity
        FROM rate_card
        UNION ALL
        SELECT o.price_kind AS price_kind, k.zone AS zone, k.match_key AS match_key, o.monthly_price AS monthly_price,
               o.currency AS currency, o.priority AS priority,
               (o.zone = '') + 2 * (o.match_key = '') AS specificity
        FROM rate_card AS o
        INNER JOIN collected AS k ON k.price_kind = o.price_kind
        WHERE o.priority = 1 AND (o.zone = '' OR o.match_key = '')
          AND (o.zone = '' OR o.zone = k.zone) AND (o.match_key = '' OR o.match_key = k.match_key)
    )
SELECT price_kind, zone, match_key, tupleElement(best, 1) AS monthly_price, tupleElement(best, 2) AS currency
FROM
(
    SELECT price_kind, zone, match_key, argMin((monthly_price, currency), (priority, specificity)) AS best
    FROM candidates
    GROUP BY price_kind, zone, match_key
)
