-- project_names: the newest name of every project a loaded run has seen (a deleted project keeps its name, so
-- its costs and ghosts still read as the project people knew); every report uses it.

CREATE OR REPLACE VIEW project_names AS
SELECT p.id AS id, argMax(p.name, p.snapshot_at) AS name
FROM raw_account_projects AS p
WHERE p.run_id IN (SELECT run_id FROM runs)
GROUP BY p.id;
