-- runs: committed (fully loaded) runs, with the datasets each holds; every model reads only these.
-- Runs loaded before the ledger recorded datasets (an empty array) take them from their stored manifest.

CREATE OR REPLACE VIEW runs AS
SELECT run_id, organization_id, snapshot_date, snapshot_at, loaded_at, rows,
       if(empty(datasets),
          arrayMap(d -> JSONExtractString(d, 'name'), JSONExtractArrayRaw(manifest, 'datasets')),
          datasets) AS datasets
FROM _load_ledger FINAL;
