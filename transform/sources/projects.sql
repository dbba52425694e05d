-- projects(fold, runs): the newest name of every project a loaded run has seen, and when that name was
-- listed; the table projects (a deleted project keeps its name, so its costs and ghosts still read as the
-- project people knew). A load folds its runs in (fold = true, runs = the runs to add); fold = false computes
-- it from every committed run, with the same rows.

-- A listing without a name keeps the name known before (argMax skips nulls); seen_at is when that name was listed,
-- so that the merge, which compares it with the new listings, gives what all listings at once give.
SELECT id, argMax(listed_name, listed_at) AS name, maxIf(listed_at, listed_name IS NOT NULL) AS seen_at
FROM
(
    SELECT id, name AS listed_name, seen_at AS listed_at FROM projects WHERE {fold:Bool}
    UNION ALL
    SELECT p.id, p.name, p.snapshot_at
    FROM raw_account_projects AS p
    WHERE p.run_id IN (SELECT run_id FROM runs) AND (NOT {fold:Bool} OR p.run_id IN {runs:Array(String)})
)
GROUP BY id;
