-- latest_dataset_runs: the newest committed run of each organisation that collected each dataset. Runs may
-- collect a subset of the products (`--sources billing` several times a day, say), so "the newest run" is always
-- "the newest run that collected X".

CREATE OR REPLACE VIEW latest_dataset_runs AS
SELECT r.organization_id AS organization_id, dataset, argMax(r.run_id, r.snapshot_at) AS run_id,
       max(r.snapshot_at) AS snapshot_at
FROM runs AS r
ARRAY JOIN r.datasets AS dataset
GROUP BY r.organization_id, dataset;
