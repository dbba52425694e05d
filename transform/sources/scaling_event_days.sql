-- scaling_event_days: per Instance scaling group of the newest collection and day, its scaling events of that
-- day, for scaling-groups (queries/scaling-groups.sql says what each figure means): scale-ups, scale-downs and the
-- group's other events, the flaps whose second event fell that day, and the CPU of the group's members in the hour
-- before each scale event (summed, with how many were measured). Every event ever collected counts once; a flap is
-- judged over the whole history (its first event may fall on an earlier day), with the cooldown of the newest
-- collection. The loader recomputes it whole at each load (transform/src/models.rs): a row per group and day with
-- events. The report then reads the days of its window, where computing them itself (every event ordered, its
-- flaps judged, its members' CPU hours looked up) took about 85 ms of its 180 in the engine (BENCHMARKS.md,
-- 2026-12-06, afternoon).

WITH
    groups AS
    (
        SELECT g.organization_id AS organization_id, g.id AS group_id,
               toUInt64(round(coalesce(toFloat64OrNull(replaceRegexpOne(coalesce(g.cooldown_delay, ''), 's$', '')), 0)))
                   AS cooldown_seconds
        FROM raw_autoscaling_instance_groups AS g
        INNER JOIN newest_runs AS n ON n.run_id = g.run_id AND n.dataset = 'autoscaling_instance_groups'
    ),
    -- Every event once, whichever runs saw it.
    events AS
    (
        SELECT e.organization_id AS organization_id, e.instance_group_id AS group_id, assumeNotNull(e.id) AS id,
               any(e.source) AS source, any(e.name) AS name, any(e.created_at) AS created_at
        FROM raw_autoscaling_instance_group_events AS e
        WHERE e.run_id IN (SELECT run_id FROM runs) AND e.id IS NOT NULL AND e.created_at IS NOT NULL
        GROUP BY organization_id, group_id, id
    ),
    -- Every event of the groups, with its direction: a whole word "scale up"/"scale out" or "scale down"/"scale in"
    -- ("Scale instance ..." is not one).
    classified AS
    (
        SELECT e.organization_id AS organization_id, e.group_id AS group_id, e.id AS id,
               assumeNotNull(e.created_at) AS created_at,
               multiIf(e.source = 'scaler' AND match(lower(coalesce(e.name, '')), '(^|[^a-z])scale[ _-]?(up|out)([^a-z]|$)'), 'up',
                       e.source = 'scaler' AND match(lower(coalesce(e.name, '')), '(^|[^a-z])scale[ _-]?(down|in)([^a-z]|$)'), 'down',
                       'other') AS direction,
               g.cooldown_seconds AS cooldown_seconds
        FROM events AS e
        INNER JOIN groups AS g ON g.organization_id = e.organization_id AND g.group_id = e.group_id
    ),
    -- Each event with the one before it. The other events are partitioned apart and never flap.
    steps AS
    (
        SELECT organization_id, group_id, created_at, direction,
               direction != 'other' AND n > 1 AND direction != previous_direction
                 -- Elapsed microseconds: dateDiff counts second boundaries crossed, off by up to one at the
                 -- threshold.
                 AND toUnixTimestamp64Micro(created_at) - toUnixTimestamp64Micro(previous_at)
                     < greatest(3 * cooldown_seconds, 900) * 1000000 AS is_flap,
               -- The hour before the event's own.
               toDateTime(toStartOfHour(created_at), 'UTC') - INTERVAL 1 HOUR AS hour_before
        FROM
        (
            SELECT organization_id, group_id, created_at, direction, cooldown_seconds,
                   lagInFrame(direction) OVER w AS previous_direction,
                   lagInFrame(created_at) OVER w AS previous_at,
                   row_number() OVER w AS n
            FROM classified
            WINDOW w AS (PARTITION BY group_id, direction = 'other' ORDER BY created_at, id
                         ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
        )
    ),
    -- Every Instance v1alpha2 listed as a member of a group, in any collection.
    members AS
    (
        SELECT DISTINCT organization_id, group_id, assumeNotNull(server_id) AS server_id
        FROM raw_autoscaling_group_servers
        WHERE run_id IN (SELECT run_id FROM runs) AND server_id IS NOT NULL
    ),
    -- Each group's members' CPU in the hours before its scale events. The join alone would read every Instance's
    -- hours; the filters read the members' rows by the sort key, and only the hours some event looks at.
    group_hours AS
    (
        SELECT m.organization_id AS organization_id, m.group_id AS group_id, h.hour AS hour,
               sum(h.cpu_seconds) AS cpu_seconds, sum(h.capacity_seconds) AS capacity_seconds
        FROM instance_cpu_hourly AS h
        INNER JOIN members AS m ON m.organization_id = h.organization_id AND m.server_id = h.resource_id
        WHERE (h.organization_id, h.resource_id) IN (SELECT organization_id, server_id FROM members)
          AND h.hour IN (SELECT hour_before FROM steps WHERE direction != 'other')
        GROUP BY organization_id, group_id, hour
    )
SELECT s.organization_id AS organization_id, s.group_id AS group_id, toDate(s.created_at) AS day,
       countIf(s.direction = 'up') AS ups, countIf(s.direction = 'down') AS downs,
       countIf(s.direction = 'other') AS others, countIf(s.is_flap) AS flaps,
       sumIf(u.cpu_seconds / u.capacity_seconds, s.direction = 'up' AND u.capacity_seconds > 0) AS up_cpu,
       countIf(s.direction = 'up' AND u.capacity_seconds > 0) AS up_measured,
       sumIf(u.cpu_seconds / u.capacity_seconds, s.direction = 'down' AND u.capacity_seconds > 0) AS down_cpu,
       countIf(s.direction = 'down' AND u.capacity_seconds > 0) AS down_measured
FROM steps AS s
LEFT JOIN group_hours AS u ON u.organization_id = s.organization_id AND u.group_id = s.group_id AND u.hour = s.hour_before
-- Without join_use_nulls: an event whose hour was not measured has capacity 0, and is not counted.
GROUP BY organization_id, group_id, day
