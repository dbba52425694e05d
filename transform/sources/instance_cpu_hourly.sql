-- instance_cpu_hourly(from, to): per Instance and hour, its CPU utilisation over 5-minute (the collection
-- step) intervals, as aggregate states, for the days from `from` (a Date) up to `to` (excluded). The loader
-- materialises it into the table instance_cpu_hourly for the days each load brings points for
-- (transform/src/models.rs), and instance_cpu_daily merges its hours: reports read rollups, never raw samples.
-- All days: from = 1970-01-01, to = 2100-01-01.
--   * utilisation of an interval = CPU seconds used in it / (its length x vCPUs), from the counter
--     instance_server_cpu_seconds_total and the gauge instance_server_vcpu_count (the day's highest);
--   * a counter that drops is a restart (as Prometheus' rate treats it): the interval used the new value, never
--     a negative amount;
--   * samples collected twice (overlapping runs) count once; an interval longer than an hour (a gap in the
--     series) is left out rather than averaged over;
--   * an interval belongs to the hour (and the day) of its end;
--   * names, projects and zones are each Instance's newest of the day, joined once per hour: per sample, only
--     numbers travel (the series' labels as a hash);
--   * a window's first interval needs the sample before it: samples are read from an hour before `from` (a longer
--     interval is left out anyway), so computing day by day gives exactly what computing all days at once does.

WITH
    -- One value per series and time (a sample collected twice counts once), then the Instance's series summed.
    -- Scaleway's own alert rule, rate(instance_server_cpu_seconds_total[1m]) / instance_server_vcpu_count,
    -- implies one counter series per Instance (labels matching the gauge's); should it come per CPU, the sum is
    -- still the Instance's total.
    samples AS
    (
        SELECT p.organization_id AS organization_id, assumeNotNull(p.resource_id) AS resource_id,
               sipHash64(p.labels) AS series, p.ts AS ts, any(p.value) AS value
        FROM raw_cockpit_metric_points AS p
        WHERE p.metric = 'instance_server_cpu_seconds_total' AND p.resource_id IS NOT NULL
          AND p.run_id IN (SELECT run_id FROM runs)
          AND p.ts >= toDateTime64({from:Date}, 6, 'UTC') - INTERVAL 1 HOUR
          AND p.ts < toDateTime64({to:Date}, 6, 'UTC')
        GROUP BY organization_id, resource_id, series, ts
    ),
    counters AS
    (
        SELECT organization_id, resource_id, ts, sum(value) AS counter
        FROM samples
        GROUP BY organization_id, resource_id, ts
    ),
    vcpus AS
    (
        SELECT p.organization_id AS organization_id, assumeNotNull(p.resource_id) AS resource_id,
               toDate(p.ts) AS day, max(p.value) AS vcpus
        FROM raw_cockpit_metric_points AS p
        WHERE p.metric = 'instance_server_vcpu_count' AND p.resource_id IS NOT NULL AND p.value > 0
          AND p.run_id IN (SELECT run_id FROM runs)
          AND p.ts >= toDateTime64({from:Date}, 6, 'UTC') AND p.ts < toDateTime64({to:Date}, 6, 'UTC')
        GROUP BY organization_id, resource_id, day
    ),
    names AS
    (
        SELECT p.organization_id AS organization_id, assumeNotNull(p.resource_id) AS resource_id,
               argMax(p.resource_name, p.ts) AS resource_name, argMax(p.project_id, p.ts) AS project_id,
               argMax(p.zone, p.ts) AS zone, toDate(p.ts) AS day
        FROM raw_cockpit_metric_points AS p
        WHERE p.metric = 'instance_server_cpu_seconds_total' AND p.resource_id IS NOT NULL
          AND p.run_id IN (SELECT run_id FROM runs)
          AND p.ts >= toDateTime64({from:Date}, 6, 'UTC') AND p.ts < toDateTime64({to:Date}, 6, 'UTC')
        GROUP BY organization_id, resource_id, day
    ),
    intervals AS
    (
        SELECT c.organization_id AS organization_id, c.resource_id AS resource_id, c.ts AS ts, c.counter AS counter,
               lagInFrame(c.counter) OVER w AS previous_counter,
               lagInFrame(c.ts) OVER w AS previous_ts,
               row_number() OVER w AS n
        FROM counters AS c
        WINDOW w AS (PARTITION BY c.organization_id, c.resource_id ORDER BY c.ts
                     ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
    ),
    used AS
    (
        SELECT i.organization_id AS organization_id, i.resource_id AS resource_id, toDate(i.ts) AS day,
               toStartOfHour(i.ts) AS hour,
               if(i.counter >= i.previous_counter, i.counter - i.previous_counter, i.counter) AS cpu_seconds,
               dateDiff('millisecond', i.previous_ts, i.ts) / 1000 AS seconds
        FROM intervals AS i
        WHERE i.n > 1 AND i.ts > i.previous_ts AND dateDiff('second', i.previous_ts, i.ts) <= 3600
          AND i.ts >= toDateTime64({from:Date}, 6, 'UTC')
    ),
    hours AS
    (
        SELECT u.organization_id AS organization_id, u.resource_id AS resource_id, toDateTime(u.hour, 'UTC') AS hour,
               toUInt64(count()) AS intervals, max(v.vcpus) AS vcpus,
               sum(u.cpu_seconds) AS cpu_seconds, sum(u.seconds * v.vcpus) AS capacity_seconds,
               max(u.cpu_seconds / (u.seconds * v.vcpus)) AS utilisation_max,
               quantilesExactState(0.5, 0.95)(u.cpu_seconds / (u.seconds * v.vcpus)) AS utilisation
        FROM used AS u
        INNER JOIN vcpus AS v
            ON v.organization_id = u.organization_id AND v.resource_id = u.resource_id AND v.day = u.day
        GROUP BY u.organization_id, u.resource_id, u.hour
    )
SELECT h.organization_id AS organization_id, h.resource_id AS resource_id, h.hour AS hour,
       n.resource_name AS resource_name, n.project_id AS project_id, n.zone AS zone,
       h.intervals AS intervals, h.vcpus AS vcpus, h.cpu_seconds AS cpu_seconds,
       h.capacity_seconds AS capacity_seconds, h.utilisation_max AS utilisation_max, h.utilisation AS utilisation
FROM hours AS h
INNER JOIN names AS n
    ON n.organization_id = h.organization_id AND n.resource_id = h.resource_id AND n.day = toDate(h.hour);
