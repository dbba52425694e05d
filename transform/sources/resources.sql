-- resources(fold, runs): one row per resource ever seen, the table resources: its state in the newest
-- run that listed it (every column from that one listing, nulls included: a detached volume's attached_to is
-- null again), when it was first and last seen, and whether the newest run that collected its dataset listed it
-- (present). A load folds its runs in: the table's rows and the runs' listings, merged per resource
-- (fold = true, runs = the runs to add); fold = false computes it from every committed run. Both give the same
-- rows, as the newest listing of a resource is the newest of the newest ones.

WITH merged AS
(
    SELECT organization_id, resource_type, resource_id,
           argMax((dataset, name, project_id, zone, state, resource_class, size_bytes, created_at, attached_to, tags),
                  listed_last) AS newest,
           min(listed_first) AS first_seen_at, max(listed_last) AS last_seen_at
    FROM
    (
        SELECT organization_id, resource_type, resource_id, dataset, name, project_id, zone, state, resource_class,
               size_bytes, created_at, attached_to, tags, first_seen_at AS listed_first, last_seen_at AS listed_last
        FROM resources
        WHERE {fold:Bool}
        UNION ALL
        SELECT organization_id, resource_type, resource_id, dataset, name, project_id, zone, state, resource_class,
               size_bytes, created_at, attached_to, tags, snapshot_at, snapshot_at
        FROM inventory_history
        WHERE NOT {fold:Bool} OR run_id IN {runs:Array(String)}
    )
    GROUP BY organization_id, resource_type, resource_id
)
SELECT m.organization_id AS organization_id, m.resource_type AS resource_type, m.resource_id AS resource_id,
       m.newest.1 AS dataset, m.newest.2 AS name, m.newest.3 AS project_id, m.newest.4 AS zone, m.newest.5 AS state,
       m.newest.6 AS resource_class, m.newest.7 AS size_bytes, m.newest.8 AS created_at, m.newest.9 AS attached_to,
       m.newest.10 AS tags, m.first_seen_at AS first_seen_at, m.last_seen_at AS last_seen_at,
       -- Seen in (or after) the newest run that collected its kind: a run collecting some products only, or
       -- one where a product failed, leaves the others' resources as they were.
       coalesce(m.last_seen_at >= l.snapshot_at, false) AS present
FROM merged AS m
LEFT JOIN newest_runs AS l ON l.organization_id = m.organization_id AND l.dataset = m.newest.1
SETTINGS join_use_nulls = 1;
