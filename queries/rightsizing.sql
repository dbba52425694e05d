-- rightsizing: running Instances that are idle or oversized, with the euros a month each change saves
--
-- Every running Instance of the newest inventory that has CPU metrics (Cockpit), Kapsule nodes aside (their
-- pool's node type is what changes: see kapsule-pools), judged on its daily p95 CPU (the 95th percentile of its
-- 5-minute utilisation each day) over the last `days` days ending at the newest day with metrics; peak = the
-- highest daily p95.
--
--   idle               peak < 5 %: the whole compute price is saved by stopping (or deleting) it
--   downsize           peak < 20 %: recommended_type is the smallest type of the same family (the commercial
--                      type's prefix, e.g. PRO2) and architecture, priced in the zone, whose vCPUs keep the peak
--                      under 80 % and, where a memory series was collected, whose RAM keeps the highest memory
--                      in use of the window under 80 % too (samples are 5 minutes apart: a spike between them is
--                      not seen), the cheaper of two with as many vCPUs, then the first by name;
--                      monthly_savings = (current - recommended hourly price) x 730
--   watch              peak < 35 %: worth a look, no change proposed (monthly_savings 0)
--   insufficient_data  fewer than 14 days with metrics (or than `days`, if shorter): a new Instance, or
--                      metrics collected recently
--   ok                 the rest, listed only with -p include_ok=true
--
-- A scaling group's member is judged like any Instance, but the group replaces its members from its template: the
-- reason names the group (from the newest collection of Autoscaling v1alpha2 memberships), whose template's type
-- (or min_replicas, for an idle one) is what to change.
--
-- Memory counts where Cockpit serves instance_server_memory_used for the Instance (a name no primary source
-- confirms: see transform/sources/instance_cpu_daily.sql); without it, the reason says memory was not
-- considered. Prices are the newest collected `products/servers` list; money is exact.
--
-- @param days UInt32 = 30  days of history judged, ending at the newest day with metrics
-- @param include_ok String = 'false' (false|true)  also list the Instances that are fine
-- @param organization String = ''  only this organisation ('' for all)
-- @param project String = ''  only this project, by id or name ('' for all)
-- @money monthly_savings currency
-- @totals recommendation
-- @table name, commercial_type, recommendation, cpu_p95_percent, recommended_type, monthly_savings, reason
-- @dashboard utilisation

WITH
    -- Computed on its own: see cost-drift.sql.
    anchor AS (SELECT max(day) AS last_day FROM instance_cpu_daily),
    group_members AS
    (
        SELECT m.organization_id AS organization_id, assumeNotNull(m.server_id) AS server_id,
               any(coalesce(g.name, m.group_id)) AS group_name
        FROM raw_autoscaling_group_servers AS m
        LEFT JOIN
        (
            SELECT organization_id, id, name FROM raw_autoscaling_instance_groups
            WHERE run_id IN (SELECT run_id FROM newest_runs WHERE dataset = 'autoscaling_instance_groups')
        ) AS g ON g.organization_id = m.organization_id AND g.id = m.group_id
        WHERE m.run_id IN (SELECT run_id FROM newest_runs WHERE dataset = 'autoscaling_group_servers')
          AND m.server_id IS NOT NULL
        GROUP BY m.organization_id, server_id
    ),
    servers AS
    (
        SELECT i.organization_id AS organization_id, i.resource_id AS resource_id, i.name AS name,
               i.project_id AS project_id, pn.name AS project_name, i.zone AS zone,
               i.resource_class AS commercial_type, gm.group_name AS group_name
        FROM resources AS i
        LEFT JOIN projects AS pn ON pn.id = i.project_id
        LEFT JOIN group_members AS gm ON gm.organization_id = i.organization_id AND gm.server_id = i.resource_id
        WHERE i.resource_type = 'instance_server' AND i.present AND i.state = 'running'
          -- Kapsule nodes: their pool's node type is what changes (kapsule-pools), not one node.
          AND (i.organization_id, i.resource_id) NOT IN
              (SELECT organization_id, instance_id FROM k8s_pool_instances)
          AND ({organization:String} = '' OR i.organization_id = {organization:String})
          AND ({project:String} = '' OR i.project_id = {project:String} OR pn.name = {project:String})
    ),
    usage AS
    (
        SELECT organization_id, resource_id, toUInt32(count()) AS days_of_data, max(cpu_p95) AS peak,
               max(memory_used_max) AS memory_peak
        FROM instance_cpu_daily
        WHERE day > (SELECT last_day FROM anchor) - {days:UInt32} AND day <= (SELECT last_day FROM anchor)
        GROUP BY organization_id, resource_id
    ),
    -- Server types of the newest price list of each organisation, with their family: the commercial type's
    -- first part (PRO2-S -> PRO2), and the second for POP2's variants (POP2-HC-8C-16G -> POP2-HC); Windows types
    -- are a family of their own (POP2-8C-32G-WIN -> POP2-WIN): a resize cannot change the operating system.
    types AS
    (
        SELECT t.organization_id AS organization_id, CAST(t.zone, 'String') AS zone,
               t.commercial_type AS commercial_type, assumeNotNull(t.hourly_price) AS hourly_price,
               t.ncpus AS ncpus, t.ram AS ram, t.arch AS arch, CAST(t.currency, 'String') AS currency,
               concat(if(match(t.commercial_type, '^[A-Z0-9]+-(HC|HM|HN)-'),
                         arrayStringConcat(arraySlice(splitByChar('-', t.commercial_type), 1, 2), '-'),
                         splitByChar('-', t.commercial_type)[1]),
                      if(endsWith(t.commercial_type, '-WIN'), '-WIN', '')) AS family
        FROM raw_instance_server_types AS t
        WHERE t.run_id IN (SELECT run_id FROM newest_runs WHERE dataset = 'instance_server_types')
          AND t.hourly_price IS NOT NULL AND t.ncpus > 0
    ),
    -- Each family's types in a zone, smallest first (vCPUs, then price, then name): what a resize can move to.
    families AS
    (
        SELECT organization_id, zone, family,
               arraySort(x -> (x.2, x.3, x.1), groupArray((commercial_type, ncpus, hourly_price, arch, ram))) AS options
        FROM types
        GROUP BY organization_id, zone, family
    ),
    -- Each Instance with its usage and, if it is to downsize, the first of its family's types in its zone and
    -- architecture, smallest first, that keeps the peak under 80 % of its vCPUs and its peak memory, where known,
    -- under 80 % of its RAM, and costs less. Picked here, not by joining `judged` again: a CTE is evaluated again
    -- wherever it is read, and this one reads every Instance's days (about 50 ms at 10,000 servers).
    judged AS
    (
        SELECT s.organization_id AS organization_id, s.resource_id AS resource_id, s.name AS name,
               s.project_id AS project_id, s.project_name AS project_name, s.zone AS zone,
               s.commercial_type AS commercial_type, s.group_name AS group_name, u.days_of_data AS days_of_data,
               u.peak AS peak,
               u.memory_peak AS memory_peak,
               t.hourly_price AS hourly_price, t.ncpus AS ncpus, t.arch AS arch, t.family AS family,
               t.currency AS currency,
               multiIf(u.days_of_data < least(14, {days:UInt32}), 'insufficient_data', u.peak < 0.05, 'idle',
                       u.peak < 0.20, 'downsize',
                       u.peak < 0.35, 'watch', 'ok') AS recommendation,
               if(recommendation = 'downsize',
                  arrayFirstIndex(x -> coalesce(x.4 = t.arch AND x.3 < t.hourly_price AND u.peak * t.ncpus < 0.8 * x.2
                                                AND (u.memory_peak IS NULL OR u.memory_peak < 0.8 * x.5), false),
                                  f.options),
                  0) AS smaller_index,
               if(smaller_index = 0, NULL, f.options[smaller_index].1) AS recommended_type,
               if(smaller_index = 0, NULL, f.options[smaller_index].3) AS recommended_hourly_price
        FROM servers AS s
        INNER JOIN usage AS u ON u.organization_id = s.organization_id AND u.resource_id = s.resource_id
        LEFT JOIN types AS t
            ON t.organization_id = s.organization_id AND t.zone = s.zone AND t.commercial_type = s.commercial_type
        LEFT JOIN families AS f ON f.organization_id = s.organization_id AND f.zone = s.zone AND f.family = t.family
    )
SELECT j.resource_id AS resource_id, j.name AS name, j.project_id AS project_id, j.project_name AS project_name,
       j.zone AS zone, j.commercial_type AS commercial_type, j.recommendation AS recommendation,
       round(j.peak * 100, 1) AS cpu_p95_percent, j.days_of_data AS days_of_data,
       j.recommended_type AS recommended_type,
       j.hourly_price * 730 AS monthly_cost,
       multiIf(j.recommendation = 'idle', j.hourly_price * 730,
               j.recommendation = 'downsize' AND j.recommended_type IS NOT NULL,
               (j.hourly_price - j.recommended_hourly_price) * 730,
               toDecimal128(0, 9)) AS monthly_savings,
       j.currency AS currency,
       concat(
           multiIf(j.recommendation = 'insufficient_data',
                   concat('only ', toString(j.days_of_data), ' days with metrics (',
                          toString(least(14, {days:UInt32})), ' needed)'),
                   concat('peak daily p95 CPU ', toString(round(j.peak * 100, 1)), ' % of ',
                          ifNull(toString(j.ncpus), '?'), ' vCPUs over ', toString(j.days_of_data), ' days')),
           multiIf(j.recommendation = 'downsize' AND j.recommended_type IS NOT NULL AND j.memory_peak IS NOT NULL,
                   concat('; ', j.recommended_type, ' keeps it and its memory under 80 %'),
                   j.recommendation = 'downsize' AND j.recommended_type IS NOT NULL,
                   concat('; ', j.recommended_type, ' keeps it under 80 %'),
                   j.recommendation = 'downsize' AND j.memory_peak IS NOT NULL,
                   '; no smaller type of its family in the zone keeps it and its memory under 80 %',
                   j.recommendation = 'downsize', '; no smaller type of its family in the zone',
                   j.recommendation = 'idle' AND j.group_name IS NULL, '; stop or delete it',
                   ''),
           if(j.hourly_price IS NULL, '; no price collected for its type', ''),
           multiIf(j.recommendation NOT IN ('idle', 'downsize'), '',
                   j.memory_peak IS NULL, '; memory not considered (no memory metric collected)',
                   concat('; peak memory ', formatReadableSize(j.memory_peak))),
           if(j.group_name IS NULL, '',
              concat('; a member of scaling group ', j.group_name,
                     multiIf(j.recommendation = 'idle', ': lower its min_replicas, or delete the group',
                             j.recommendation IN ('downsize', 'watch'), ': change its template, not this Instance',
                             '')))
       ) AS reason
FROM judged AS j
WHERE j.recommendation != 'ok' OR {include_ok:String} = 'true'
ORDER BY indexOf(['idle', 'downsize', 'watch', 'insufficient_data', 'ok'], j.recommendation),
         monthly_savings DESC NULLS LAST, j.name, j.resource_id
-- A plain hash join: the engine's default ('direct,parallel_hash,hash') took 15-40 ms more a report, with
-- right-hand sides this small and the same rows (BENCHMARKS.md, 2026-12-05).
SETTINGS join_use_nulls = 1, join_algorithm = 'hash'
