-- ghost_streaks(fold, runs): when each resource entered its ghost condition, the table ghost_streaks
-- (ghost-resources' `since`, idle_load_balancers' too), from the history of committed runs: per (kind, resource), the newest run
-- that saw it healthy (last_healthy; 1970 if none) and the first run that saw it as a ghost after that
-- (streak_start; 1970 if none). Kinds: stopped_server (stopped or in standby), unattached_volume (an Instance
-- volume on no server, a Block volume `available` with no attachment in force), orphaned_ip (on no server),
-- idle_load_balancer (no server in its backends' pools).
-- A load folds its runs in (fold = true, runs = the runs to add): the table's two times and the runs'
-- observations give the same answer as all observations at once when the runs are newer than those folded
-- before (the load merges them oldest first), so an older run of the same organisation (a backfill) rebuilds
-- the table instead (fold = false: every committed run).

WITH
    -- Attachments still in force per Block volume and run (a `detached` reference no longer holds it).
    block_refs AS
    (
        SELECT run_id, volume_id, countIf(coalesce(status, '') != 'detached') AS active
        FROM raw_block_volume_references
        WHERE run_id IN (SELECT run_id FROM runs) AND (NOT {fold:Bool} OR run_id IN {runs:Array(String)})
        GROUP BY run_id, volume_id
    ),
    -- Each observation: a healthy one moves last_healthy, a ghost one is a candidate start.
    observations AS
    (
        SELECT 'stopped_server' AS kind, id AS resource_id, snapshot_at,
               coalesce(state IN ('stopped', 'stopped in place'), false) AS is_ghost
        FROM raw_instance_servers
        WHERE run_id IN (SELECT run_id FROM runs) AND (NOT {fold:Bool} OR run_id IN {runs:Array(String)})
        UNION ALL
        SELECT 'unattached_volume', id, snapshot_at, server_id IS NULL
        FROM raw_instance_volumes
        WHERE run_id IN (SELECT run_id FROM runs) AND (NOT {fold:Bool} OR run_id IN {runs:Array(String)})
        UNION ALL
        SELECT 'unattached_volume', v.id, v.snapshot_at, coalesce(v.status = 'available', false) AND coalesce(r.active, 0) = 0
        FROM raw_block_volumes AS v
        LEFT JOIN block_refs AS r ON r.run_id = v.run_id AND r.volume_id = v.id
        WHERE v.run_id IN (SELECT run_id FROM runs) AND (NOT {fold:Bool} OR v.run_id IN {runs:Array(String)})
        UNION ALL
        SELECT 'orphaned_ip', id, snapshot_at, server_id IS NULL
        FROM raw_instance_ips
        WHERE run_id IN (SELECT run_id FROM runs) AND (NOT {fold:Bool} OR run_id IN {runs:Array(String)})
        UNION ALL
        -- A load balancer is idle when no server is in any of its backends' pools.
        SELECT 'idle_load_balancer', l.id, l.snapshot_at, sum(length(b.pool)) = 0
        FROM raw_lb_load_balancers AS l
        LEFT JOIN raw_lb_backends AS b ON b.run_id = l.run_id AND b.lb_id = l.id
        WHERE l.run_id IN (SELECT run_id FROM runs) AND (NOT {fold:Bool} OR l.run_id IN {runs:Array(String)})
        GROUP BY l.run_id, l.id, l.snapshot_at
    ),
    merged AS
    (
        SELECT kind, resource_id,
               arrayMax(groupArray(healthy_at)) AS last_healthy,
               arrayMin(arrayFilter(t -> t > last_healthy, groupArray(ghost_at))) AS streak_start
        FROM
        (
            SELECT kind, resource_id, last_healthy AS healthy_at, streak_start AS ghost_at
            FROM ghost_streaks
            WHERE {fold:Bool}
            UNION ALL
            SELECT kind, resource_id,
                   if(is_ghost, toDateTime64(0, 6, 'UTC'), snapshot_at),
                   if(is_ghost, snapshot_at, toDateTime64(0, 6, 'UTC'))
            FROM observations
        )
        GROUP BY kind, resource_id
    )
SELECT kind, resource_id, last_healthy, streak_start FROM merged
SETTINGS join_use_nulls = 1;
