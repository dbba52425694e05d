-- rdb_usage_daily(from, to): per Managed Database and day, its CPU utilisation over 5-minute intervals and
-- the most connections it held, for the days from `from` up to `to` (excluded). The loader materialises it into
-- the table rdb_usage_daily for the days each load brings points for (transform/src/models.rs): the idle-services
-- report reads days, never raw samples.
--   * CPU: the node exporter's counters node_cpu_seconds_total, one per mode (idle, user, system, ...); an
--     interval's utilisation = the seconds spent outside idle / the seconds of every mode, so no vCPU count is
--     needed. A counter that drops is a restart: the interval used the new value, never a negative amount;
--   * connections: PostgreSQL's pg_stat_database_numbackends, summed over the user's databases (the system
--     ones, where the exporter and the platform keep their own sessions, left out), or MySQL's
--     threads_connected, the most seen in the day;
--   * samples collected twice (overlapping runs) count once; an interval longer than an hour is left out, so CPU
--     samples are read from an hour before `from`: day by day gives what all days at once does.

WITH
    cpu_samples AS
    (
        SELECT p.organization_id AS organization_id, assumeNotNull(p.resource_id) AS resource_id,
               p.labels AS labels, JSONExtractString(p.labels, 'mode') AS mode, p.ts AS ts, any(p.value) AS value,
               any(p.resource_name) AS resource_name, any(p.project_id) AS project_id, any(p.region) AS region
        FROM raw_cockpit_metric_points AS p
        WHERE p.metric IN ('rdb_instance_postgresql_node_cpu_seconds_total', 'rdb_instance_mysql_node_cpu_seconds_total')
          AND p.resource_id IS NOT NULL
          AND p.run_id IN (SELECT run_id FROM runs)
          AND p.ts >= toDateTime64({from:Date}, 6, 'UTC') - INTERVAL 1 HOUR
          AND p.ts < toDateTime64({to:Date}, 6, 'UTC')
        GROUP BY organization_id, resource_id, labels, ts
    ),
    cpu_deltas AS
    (
        SELECT s.organization_id AS organization_id, s.resource_id AS resource_id, s.mode AS mode, s.ts AS ts,
               s.resource_name AS resource_name, s.project_id AS project_id, s.region AS region,
               s.value AS value,
               lagInFrame(s.value) OVER w AS previous_value,
               lagInFrame(s.ts) OVER w AS previous_ts,
               row_number() OVER w AS n
        FROM cpu_samples AS s
        WINDOW w AS (PARTITION BY s.organization_id, s.resource_id, s.labels ORDER BY s.ts
                     ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
    ),
    cpu_intervals AS
    (
        SELECT d.organization_id AS organization_id, d.resource_id AS resource_id, d.ts AS ts,
               any(d.resource_name) AS resource_name, any(d.project_id) AS project_id, any(d.region) AS region,
               sumIf(if(d.value >= d.previous_value, d.value - d.previous_value, d.value), d.mode != 'idle') AS busy,
               sum(if(d.value >= d.previous_value, d.value - d.previous_value, d.value)) AS total
        FROM cpu_deltas AS d
        WHERE d.n > 1 AND d.ts > d.previous_ts AND dateDiff('second', d.previous_ts, d.ts) <= 3600
          AND d.ts >= toDateTime64({from:Date}, 6, 'UTC')
        GROUP BY d.organization_id, d.resource_id, d.ts
    ),
    cpu_daily AS
    (
        SELECT organization_id, resource_id, toDate(ts) AS day, any(resource_name) AS resource_name,
               any(project_id) AS project_id, any(region) AS region, toUInt32(count()) AS intervals,
               max(busy / total) AS cpu_max, sum(busy) / sum(total) AS cpu_mean
        FROM cpu_intervals
        WHERE total > 0
        GROUP BY organization_id, resource_id, day
    ),
    connection_samples AS
    (
        SELECT p.organization_id AS organization_id, assumeNotNull(p.resource_id) AS resource_id, p.ts AS ts,
               p.labels AS labels, any(p.value) AS value
        FROM raw_cockpit_metric_points AS p
        WHERE p.metric IN ('rdb_instance_postgresql_pg_stat_database_numbackends',
                           'rdb_instance_mysql_mysql_global_status_threads_connected')
          AND JSONExtractString(p.labels, 'datname') NOT IN ('postgres', 'template0', 'template1', 'rdb')
          AND p.resource_id IS NOT NULL
          AND p.run_id IN (SELECT run_id FROM runs)
          AND p.ts >= toDateTime64({from:Date}, 6, 'UTC') AND p.ts < toDateTime64({to:Date}, 6, 'UTC')
        GROUP BY organization_id, resource_id, labels, ts
    ),
    connections_daily AS
    (
        SELECT organization_id, resource_id, toDate(ts) AS day, max(connections) AS connections_max
        FROM
        (
            SELECT organization_id, resource_id, ts, sum(value) AS connections
            FROM connection_samples
            GROUP BY organization_id, resource_id, ts
        )
        GROUP BY organization_id, resource_id, day
    )
SELECT c.organization_id AS organization_id, c.resource_id AS resource_id, c.day AS day,
       c.resource_name AS resource_name, c.project_id AS project_id, c.region AS region, c.intervals AS intervals,
       c.cpu_max AS cpu_max, c.cpu_mean AS cpu_mean,
       -- No connection metric for the day: unknown, never taken for "no connection".
       if(k.resource_id = '', NULL, k.connections_max) AS connections_max
FROM cpu_daily AS c
LEFT JOIN connections_daily AS k
    ON k.organization_id = c.organization_id AND k.resource_id = c.resource_id AND k.day = c.day;
