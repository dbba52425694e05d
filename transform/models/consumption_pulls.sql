-- consumption_pulls: each distinct month-to-date state of a billing period, as of Scaleway's `updated_at`;
-- re-collecting the same state (a re-run) does not make a new one.

CREATE OR REPLACE VIEW consumption_pulls AS
SELECT c.organization_id AS organization_id,
       toDate(concat(assumeNotNull(c.billing_period), '-01')) AS period_start,
       coalesce(c.updated_at, c.snapshot_at) AS as_of,
       argMax(c.run_id, c.snapshot_at) AS run_id
FROM raw_billing_consumptions AS c
WHERE c.run_id IN (SELECT run_id FROM runs) AND c.billing_period IS NOT NULL
GROUP BY organization_id, period_start, as_of;
