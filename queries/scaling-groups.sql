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
    -- The window's events per group, from the table scaling_event_days (transform/sources/scaling_event_days.sql,
    -- recomputed at load: a row per group of the newest collection and day; a flap belongs to the day of its second
    -- event): ordering every event and looking up its members' CPU here took about half the report's time.
    event_counts AS
    (
        SELECT d.group_id AS group_id, sum(d.ups) AS scale_ups, sum(d.downs) AS scale_downs,
               sum(d.others) AS other_events, sum(d.flaps) AS total_flaps, max(d.flaps) >= 3 AS flapping,
               if(sum(d.up_measured) = 0, NULL, round(100 * sum(d.up_cpu) / sum(d.up_measured), 1))
                   AS cpu_before_scale_ups_percent,
               if(sum(d.down_measured) = 0, NULL, round(100 * sum(d.down_cpu) / sum(d.down_measured), 1))
                   AS cpu_before_scale_downs_percent
        FROM scaling_event_days AS d
        INNER JOIN newest AS n ON n.organization_id = d.organization_id
        WHERE d.day > n.as_of - {days:UInt32} AND d.day <= n.as_of
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
