-- latest_dataset_runs: the newest committed run of each organisation that collected each dataset. Runs may
-- collect a subset of the products (`--sources billing` several times a day, say), so "the newest run" is always
-- "the newest run that collected X". The table `newest_runs`, kept up to date at each load
-- (transform/sources/newest_runs.sql says how), under the name queries have used.

CREATE OR REPLACE VIEW latest_dataset_runs AS
SELECT organization_id, dataset, run_id, snapshot_at FROM newest_runs;
