-- newest_runs(fold, runs): the newest committed run of each organisation that collected each dataset,
-- and its snapshot time; the table newest_runs. A load folds its runs in (fold = true, runs = the runs to add);
-- fold = false computes it from every committed run, with the same rows.

SELECT organization_id, dataset, argMax(listed_run, listed_at) AS run_id, max(listed_at) AS snapshot_at
FROM
(
    SELECT organization_id, dataset, run_id AS listed_run, snapshot_at AS listed_at
    FROM newest_runs
    WHERE {fold:Bool}
    UNION ALL
    SELECT r.organization_id, dataset, r.run_id, r.snapshot_at
    FROM runs AS r
    ARRAY JOIN r.datasets AS dataset
    WHERE NOT {fold:Bool} OR r.run_id IN {runs:Array(String)}
)
GROUP BY organization_id, dataset;
