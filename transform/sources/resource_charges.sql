-- resource_charges(from, to): FinOps per-resource charges of each day in [from, to), from the newest run
-- that collected that day; the table resource_charges (a filter, not an aggregation: it stays a scan at
-- millions of charges). A load recomputes the days its runs collected.

WITH newest AS
(
    -- The newest loaded run holding charges of each day: every run re-collects its window whole, so that run's
    -- list is the current truth for the day (a charge it no longer lists has been restated away).
    SELECT c.organization_id AS organization_id, toDate(assumeNotNull(c.start_date)) AS day,
           argMax(c.run_id, c.snapshot_at) AS run_id
    FROM raw_billing_charges AS c
    WHERE c.run_id IN (SELECT run_id FROM runs) AND c.start_date IS NOT NULL
      AND toDate(c.start_date) >= {from:Date} AND toDate(c.start_date) < {to:Date}
    GROUP BY organization_id, day
)
SELECT c.organization_id AS organization_id, coalesce(c.project_id, '') AS project_id, c.sku AS sku,
       coalesce(c.resource_id, '') AS resource_id, assumeNotNull(c.start_date) AS start_date,
       assumeNotNull(c.end_date) AS end_date, assumeNotNull(c.price) AS price, c.currency AS currency,
       c.project_name AS project_name, c.organization_name AS organization_name, c.resource_name AS resource_name,
       c.invoice_id AS invoice_id, c.snapshot_at AS collected_at
FROM raw_billing_charges AS c
WHERE (c.organization_id, toDate(assumeNotNull(c.start_date)), c.run_id) IN (SELECT organization_id, day, run_id FROM newest)
  AND c.start_date IS NOT NULL AND c.end_date IS NOT NULL AND c.price IS NOT NULL;
