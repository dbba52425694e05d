-- scaling-groups: how each Instance scaling group behaves: its bounds, its scaling events, whether it flaps, how
-- often it sits at its maximum or minimum, and what its replicas cost a month
--
-- Groups of the newest collection. Events: every scaling event ever collected (one per id), those of the last
-- `days` days ending at the newest collection's day. A scale event is a `scaler` event whose name says its
-- direction ("Scale up" / "Scale out", "Scale down" / "Scale in", any case); the group's other events are
-- counted apart. A flap is two consecutive scale events of opposite directions less than 3 x the cooldown apart
-- (15 minutes at least); a group is flapping when one day of the window holds 3 flaps or more (a flap belongs to
-- the day of its second event).
-- Sizes come from Autoscaling v1alpha2 where it answers: current_size is the newest, at_max_percent and
-- at_min_percent the share of the window's collections that found the group at its maximum or minimum; all
-- three are unknown without it. monthly_cost = current_size x the template's commercial type's monthly price in
-- the group's zone (730 hours).
-- CPU around scaling events: cpu_before_scale_ups_percent is, for each scale-up of the window, the group's
-- Instances' CPU seconds used over their CPU seconds available in the whole hour before the event's hour
-- (instance_cpu_hourly), averaged over the scale-ups; likewise cpu_before_scale_downs_percent. A group's
-- Instances are every member Autoscaling v1alpha2 listed for it in any collection (one that lived only between
-- two collections is not seen, so the figures lean towards long-lived members); both are unknown without
-- v1alpha2 or metrics. A group that scales up at 40 % or down at 60 % has thresholds that follow noise.
--
-- @param days UInt32 = 30  days of events judged, ending at the newest collection
-- @param organization String = ''  only this organisation ('' for all)
-- @param project String = ''  only this project, by id or name ('' for all)
-- @money monthly_cost currency
-- @totals project_name
-- @table name, zone, min_replicas, max_replicas, current_size, scale_ups, scale_downs, flaps, flapping, at_max_percent, monthly_cost
-- @dashboard utilisation

WITH
    newest AS
    (
        SELECT organization_id, run_id, snapshot_at, toDate(snapshot_at) AS as_of
        FROM newest_runs
        WHERE dataset = 'autoscaling_instance_groups'
          AND ({organization:String} = '' OR organization_id = {organization:String})
    ),
    groups AS
    (
        SELECT g.organization_id AS organization_id, g.id AS group_id, g.name AS name, CAST(g.zone, 'String') AS zone,
               g.project_id AS project_id, g.min_replicas AS min_replicas, g.max_replicas AS max_replicas,
               toUInt64(round(coalesce(toFloat64OrNull(replaceRegexpOne(coalesce(g.cooldown_delay, ''), 's$', '')), 0)))
                   AS cooldown_seconds,
               g.instance_template_id AS template_id, n.as_of AS as_of
        FROM raw_autoscaling_instance_groups AS g
        INNER JOIN newest AS n ON n.run_id = g.run_id
    ),
    templates AS
    (
        SELECT id, argMax(commercial_type, snapshot_at) AS commercial_type
        FROM raw_autoscaling_instance_templates
        WHERE run_id IN (SELECT run_id FROM runs)
        GROUP BY id
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
               g.cooldown_seconds AS cooldown_seconds,
               toDate(e.created_at) > g.as_of - {days:UInt32} AND toDate(e.created_at) <= g.as_of AS in_window
        FROM events AS e
        INNER JOIN groups AS g ON g.organization_id = e.organization_id AND g.group_id = e.group_id
    ),
    -- Every Instance v1alpha2 listed as a member of a group, in any collection, as one list read once (a scalar
    -- subquery is computed once per query; a CTE is analysed and read again wherever it is read).
    (
        SELECT groupArray((organization_id, group_id, server_id))
        FROM
        (
            SELECT DISTINCT organization_id, group_id, assumeNotNull(server_id) AS server_id
            FROM raw_autoscaling_group_servers
            WHERE run_id IN (SELECT run_id FROM runs) AND server_id IS NOT NULL
              AND ({organization:String} = '' OR organization_id = {organization:String})
        )
    ) AS member_list,
    -- Each group's members' CPU per hour, from the first hour an event of the window can look at. The join alone
    -- would read every Instance's hours; the filter reads the members' by the sort key.
    group_hours AS
    (
        SELECT ms.organization_id AS organization_id, ms.group_id AS group_id, h.hour AS hour,
               sum(h.cpu_seconds) AS cpu_seconds, sum(h.capacity_seconds) AS capacity_seconds
        FROM instance_cpu_hourly AS h
        INNER JOIN
        (
            SELECT m.1 AS organization_id, m.2 AS group_id, m.3 AS server_id FROM (SELECT arrayJoin(member_list) AS m)
        ) AS ms ON ms.organization_id = h.organization_id AND ms.server_id = h.resource_id
        WHERE (h.organization_id, h.resource_id) IN (SELECT m.1, m.3 FROM (SELECT arrayJoin(member_list) AS m))
          AND h.hour >= toDateTime((SELECT min(as_of) FROM newest) - {days:UInt32}, 'UTC')
        GROUP BY organization_id, group_id, hour
    ),
    -- Each event with the one before it, over the whole history, so that a flap whose first event falls just
    -- before the window still counts on the day of its second. The other events are partitioned apart and never
    -- flap. One pass over the events for every figure below (counts, flaps, CPU before): a CTE is evaluated again
    -- wherever it is read.
    steps AS
    (
        SELECT organization_id, group_id, created_at, direction, in_window,
               direction != 'other' AND n > 1 AND direction != previous_direction
                 -- Elapsed microseconds: dateDiff counts second boundaries crossed, off by up to one at the
                 -- threshold.
                 AND toUnixTimestamp64Micro(created_at) - toUnixTimestamp64Micro(previous_at)
                     < greatest(3 * cooldown_seconds, 900) * 1000000 AS is_flap,
               -- The hour before the event's own.
               toDateTime(toStartOfHour(created_at), 'UTC') - INTERVAL 1 HOUR AS hour_before
        FROM
        (
            SELECT organization_id, group_id, created_at, direction, cooldown_seconds, in_window,
                   lagInFrame(direction) OVER w AS previous_direction,
                   lagInFrame(created_at) OVER w AS previous_at,
                   row_number() OVER w AS n
            FROM classified
            WINDOW w AS (PARTITION BY group_id, direction = 'other' ORDER BY created_at, id
                         ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
        )
    ),
    -- The window's events per group and day, then per group; a flap belongs to the day of its second event. The
    -- CPU before each scale event is its group's members' in the hour before it (none measured: not counted).
    event_days AS
    (
        SELECT s.group_id AS group_id, toDate(s.created_at) AS day, countIf(s.direction = 'up') AS ups,
               countIf(s.direction = 'down') AS downs, countIf(s.direction = 'other') AS others,
               countIf(s.is_flap) AS day_flaps,
               sumIf(u.cpu_seconds / u.capacity_seconds, s.direction = 'up' AND u.capacity_seconds > 0) AS up_cpu,
               countIf(s.direction = 'up' AND u.capacity_seconds > 0) AS up_measured,
               sumIf(u.cpu_seconds / u.capacity_seconds, s.direction = 'down' AND u.capacity_seconds > 0) AS down_cpu,
               countIf(s.direction = 'down' AND u.capacity_seconds > 0) AS down_measured
        FROM steps AS s
        LEFT JOIN group_hours AS u
            ON u.organization_id = s.organization_id AND u.group_id = s.group_id AND u.hour = s.hour_before
        WHERE s.in_window
        GROUP BY group_id, day
    ),
    event_counts AS
    (
        SELECT group_id, sum(ups) AS scale_ups, sum(downs) AS scale_downs, sum(others) AS other_events,
               sum(day_flaps) AS total_flaps, max(day_flaps) >= 3 AS flapping,
               if(sum(up_measured) = 0, NULL, round(100 * sum(up_cpu) / sum(up_measured), 1))
                   AS cpu_before_scale_ups_percent,
               if(sum(down_measured) = 0, NULL, round(100 * sum(down_cpu) / sum(down_measured), 1))
                   AS cpu_before_scale_downs_percent
        FROM event_days
        GROUP BY group_id
    ),
    sizes AS
    (
        SELECT s.id AS group_id, argMax(s.current_size, s.snapshot_at) AS current_size,
               round(100 * countIf(s.current_size = s.maximum_size) / count(), 1) AS at_max_percent,
               round(100 * countIf(s.current_size = s.minimum_size) / count(), 1) AS at_min_percent
        FROM raw_autoscaling_group_sizes AS s
        INNER JOIN groups AS g ON g.group_id = s.id
        WHERE s.run_id IN (SELECT run_id FROM runs) AND s.current_size IS NOT NULL
          AND toDate(s.snapshot_at) > g.as_of - {days:UInt32} AND toDate(s.snapshot_at) <= g.as_of
        GROUP BY s.id
    ),
    prices AS
    (
        SELECT zone, match_key, monthly_price, currency FROM applied_prices WHERE price_kind = 'server_hour'
    )
SELECT g.group_id AS group_id, g.name AS name, g.zone AS zone, g.project_id AS project_id,
       coalesce(pn.name, g.project_id) AS project_name,
       g.min_replicas AS min_replicas, g.max_replicas AS max_replicas, g.cooldown_seconds AS cooldown_seconds,
       sz.current_size AS current_size,
       coalesce(ec.scale_ups, 0) AS scale_ups, coalesce(ec.scale_downs, 0) AS scale_downs,
       coalesce(ec.other_events, 0) AS other_events,
       coalesce(ec.total_flaps, 0) AS flaps, CAST(coalesce(ec.flapping, false), 'Bool') AS flapping,
       sz.at_max_percent AS at_max_percent, sz.at_min_percent AS at_min_percent,
       ec.cpu_before_scale_ups_percent AS cpu_before_scale_ups_percent,
       ec.cpu_before_scale_downs_percent AS cpu_before_scale_downs_percent,
       t.commercial_type AS commercial_type,
       CAST(round(sz.current_size * p.monthly_price, 6), 'Nullable(Decimal(38, 6))') AS monthly_cost,
       if(monthly_cost IS NULL, CAST(NULL, 'Nullable(String)'), CAST(p.currency, 'Nullable(String)')) AS currency
FROM groups AS g
LEFT JOIN templates AS t ON t.id = g.template_id
LEFT JOIN event_counts AS ec ON ec.group_id = g.group_id
LEFT JOIN sizes AS sz ON sz.group_id = g.group_id
LEFT JOIN prices AS p ON p.zone = g.zone AND p.match_key = t.commercial_type
LEFT JOIN projects AS pn ON pn.id = g.project_id
WHERE {project:String} = '' OR g.project_id = {project:String} OR pn.name = {project:String}
ORDER BY flapping DESC, flaps DESC, monthly_cost DESC NULLS LAST, g.name
-- A plain hash join: the engine's default ('direct,parallel_hash,hash') took 15-40 ms more a report, with
-- right-hand sides this small and the same rows (BENCHMARKS.md, 2026-12-05).
SETTINGS join_use_nulls = 1, join_algorithm = 'hash';
