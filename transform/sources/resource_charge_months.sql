-- resource_charge_months(from, to): per resource and month, the last day in [from, to) it was charged for a
-- product costlake collects (SKUs under /compute/, /storage/block/, /network/flexip/, /ip/: what ghost-cost
-- compares with the inventory); the table resource_charge_months, computed from resource_charges. A load
-- recomputes the months its runs brought charges for: a restated day can take a charge away, and the month's last
-- day with it. A row per resource and month, so that a resource's last charge costs its months, not its days.

SELECT organization_id, resource_id, toStartOfMonth(toDate(start_date)) AS month,
       max(toDate(start_date)) AS last_day
FROM resource_charges
WHERE start_date >= toDateTime64({from:Date}, 6, 'UTC') AND start_date < toDateTime64({to:Date}, 6, 'UTC')
  AND resource_id != ''
  AND (startsWith(sku, '/compute/') OR startsWith(sku, '/storage/block/') OR startsWith(sku, '/network/flexip/')
       OR startsWith(sku, '/ip/'))
GROUP BY organization_id, resource_id, month;
