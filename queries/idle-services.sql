-- idle-services: load balancers and managed databases that bill while serving nothing, with their euros a month
--
--   load_balancer  in the newest collection, no backend, or no server in any backend's pool (idle_lb_findings)
--   database       every day of the last `days` (ending at the newest day with metrics) had a daily maximum
--                  CPU at most `max_cpu_percent`, or no connection at all (Cockpit: node_cpu_seconds_total,
--                  numbackends / threads_connected); a database with fewer days of metrics is not judged
--
-- since: when the idleness began, as far as the collected history shows (the creation date when it never
-- served). monthly_cost: the catalog's hourly price x 730: the offer of a load balancer in its zone (its flexible
-- IP is billed apart), a database's node type in its region, twice for a high-availability cluster (its volume
-- and backups are billed apart); unknown when the catalog has no such product.
--
-- @param days UInt32 = 30  days of metrics a database is judged on
-- @param max_cpu_percent Decimal(38, 9) = 25  a database whose daily maximum CPU never exceeded this is idle
-- @param organization String = ''  only this organisation ('' for all)
-- @param project String = ''  only this project, by id or name ('' for all)
-- @money monthly_cost currency
-- @totals kind, project_name
-- @table kind, name, project_name, zone, since, monthly_cost, reason
-- @dashboard waste

WITH
    -- Computed on its own: see cost-drift.sql.
    anchor AS (SELECT max(day) AS last_day FROM rdb_usage_daily),
    load_balancers AS
    (
        SELECT 'load_balancer' AS kind, organization_id, resource_id, name, project_id, zone, since,
               monthly_cost, currency,
               if(reason_code = 'no_backend',
                  concat('load balancer ', coalesce(type, '?'), ' with no backend: it forwards to nothing'),
                  concat('load balancer ', coalesce(type, '?'), ': ',
                         if(backends = 1, 'its backend has no server in its pool',
                            concat('its ', toString(backends), ' backends have no server in their pools')))) AS reason
        FROM idle_lb_findings
    ),
    databases AS
    (
        SELECT i.organization_id AS organization_id, i.id AS resource_id, i.name AS name, i.project_id AS project_id,
               CAST(i.region, 'String') AS zone, i.node_type AS node_type, coalesce(i.is_ha_cluster, false) AS ha,
               i.created_at AS created_at
        FROM raw_rdb_instances AS i
        WHERE i.run_id IN (SELECT run_id FROM newest_runs WHERE dataset = 'rdb_instances')
    ),
    usage AS
    (
        SELECT organization_id, resource_id, toUInt32(count()) AS days_of_data, max(cpu_max) AS peak,
               countIf(connections_max IS NOT NULL) AS days_with_connections,
               max(connections_max) AS connections_peak,
               min(day) AS first_day
        FROM rdb_usage_daily
        WHERE day > (SELECT last_day FROM anchor) - {days:UInt32} AND day <= (SELECT last_day FROM anchor)
        GROUP BY organization_id, resource_id
    ),
    -- The last day each database did something (CPU over the threshold, a connection): idleness began after it.
    last_busy AS
    (
        SELECT organization_id, resource_id,
               maxIf(day, cpu_max * 100 > {max_cpu_percent:Decimal(38, 9)}) AS last_cpu_busy,
               countIf(cpu_max * 100 > {max_cpu_percent:Decimal(38, 9)}) AS cpu_busy_days,
               maxIf(day, connections_max > 0) AS last_connected,
               countIf(connections_max > 0) AS connected_days
        FROM rdb_usage_daily
        GROUP BY organization_id, resource_id
    ),
    node_prices AS
    (
        SELECT zone, match_key, monthly_price, currency FROM applied_prices WHERE price_kind = 'database_node_hour'
    ),
    judged AS
    (
        SELECT d.organization_id AS organization_id, d.resource_id AS resource_id, d.name AS name,
               d.project_id AS project_id, d.zone AS zone, d.node_type AS node_type, d.ha AS ha,
               d.created_at AS created_at, u.peak AS peak,
               u.peak * 100 <= {max_cpu_percent:Decimal(38, 9)} AS low_cpu,
               u.days_with_connections >= {days:UInt32} AND u.connections_peak = 0 AS no_connection,
               b.last_cpu_busy AS last_cpu_busy, b.cpu_busy_days AS cpu_busy_days,
               b.last_connected AS last_connected, b.connected_days AS connected_days
        FROM databases AS d
        INNER JOIN usage AS u ON u.organization_id = d.organization_id AND u.resource_id = d.resource_id
        INNER JOIN last_busy AS b ON b.organization_id = d.organization_id AND b.resource_id = d.resource_id
        WHERE u.days_of_data >= {days:UInt32}
    ),
    idle_databases AS
    (
        SELECT 'database' AS kind, j.organization_id AS organization_id, j.resource_id AS resource_id, j.name AS name,
               j.project_id AS project_id, j.zone AS zone,
               -- Idle since the day after it last did what makes it useful; since its creation if it never did.
               least(if(j.low_cpu, if(j.cpu_busy_days = 0, toDate(j.created_at), j.last_cpu_busy + 1), toDate('2149-06-06')),
                     if(j.no_connection, if(j.connected_days = 0, toDate(j.created_at), j.last_connected + 1), toDate('2149-06-06'))) AS since,
               CAST(p.monthly_price * if(j.ha, 2, 1), 'Nullable(Decimal(38, 9))') AS monthly_cost,
               CAST(p.currency, 'Nullable(String)') AS currency,
               concat('database ', coalesce(j.node_type, '?'), if(j.ha, ' (2 nodes)', ''), ': ',
                      arrayStringConcat(arrayFilter(x -> x != '', [
                          if(j.no_connection, concat('no connection in ', toString({days:UInt32}), ' days'), ''),
                          if(j.low_cpu, concat('daily max CPU at most ', toString(round(j.peak * 100, 1)), ' % over ',
                                               toString({days:UInt32}), ' days (threshold ',
                                               toString({max_cpu_percent:Decimal(38, 9)}), ' %)'), '')]), '; ')) AS reason
        FROM judged AS j
        LEFT JOIN node_prices AS p ON p.zone = j.zone AND p.match_key = j.node_type
        WHERE j.low_cpu OR j.no_connection
    ),
    found AS
    (
        SELECT kind, organization_id, resource_id, name, project_id, zone, since, monthly_cost, currency, reason
        FROM load_balancers
        UNION ALL
        SELECT kind, organization_id, resource_id, name, project_id, zone, since, monthly_cost, currency, reason
        FROM idle_databases
    )
SELECT f.kind AS kind, f.resource_id AS resource_id, f.name AS name, f.project_id AS project_id,
       coalesce(pn.name, f.project_id) AS project_name, f.zone AS zone, f.since AS since,
       CAST(round(f.monthly_cost, 6), 'Nullable(Decimal(38, 6))') AS monthly_cost, f.currency AS currency, f.reason AS reason
FROM found AS f
LEFT JOIN projects AS pn ON pn.id = f.project_id
WHERE ({organization:String} = '' OR f.organization_id = {organization:String})
  AND ({project:String} = '' OR f.project_id = {project:String} OR pn.name = {project:String})
ORDER BY f.monthly_cost DESC NULLS LAST, f.kind, f.name
-- A plain hash join: the engine's default ('direct,parallel_hash,hash') took 15-40 ms more a report, with
-- right-hand sides this small and the same rows (BENCHMARKS.md, 2026-12-05).
SETTINGS join_use_nulls = 1, join_algorithm = 'hash';
