-- instance_cpu_daily_source: per Instance and day, the distribution of its CPU utilisation over 5-minute (the
-- collection step) intervals. The loader materialises it into the table instance_cpu_daily after each load
-- (transform/src/models.rs): the utilisation reports read days, never raw samples.
--   * utilisation of an interval = CPU seconds used in it / (its length x vCPUs), from the counter
--     instance_server_cpu_seconds_total and the gauge instance_server_vcpu_count;
--   * a counter that drops is a restart (as Prometheus' rate treats it): the interval used the new value, never
--     a negative amount;
--   * samples collected twice (overlapping runs) count once; an interval longer than an hour (a gap in the
--     series) is left out rather than averaged over;
--   * an interval belongs to the day of its end.

CREATE OR REPLACE VIEW instance_cpu_daily_source AS
WITH
    -- One value per series and time (a sample collected twice counts once), then the Instance's series summed.
    -- Scaleway's own alert rule, rate(instance_server_cpu_seconds_total[1m]) / instance_server_vcpu_count,
    -- implies one counter series per Instance (labels matching the gauge's); should it come per CPU, the sum is
    -- still the Instance's total.
    samples AS
    (
        SELECT p.organization_id AS organization_id, assumeNotNull(p.resource_id) AS resource_id, p.labels AS labels,
               p.ts AS ts, any(p.value) AS value, any(p.resource_name) AS resource_name,
               any(p.project_id) AS project_id, any(p.zone) AS zone
        FROM raw_cockpit_metric_points AS p
        WHERE p.metric = 'instance_server_cpu_seconds_total' AND p.resource_id IS NOT NULL
          AND p.run_id IN (SELECT run_id FROM runs)
        GROUP BY organization_id, resource_id, labels, ts
    ),
    counters AS
    (
        SELECT organization_id, resource_id, ts, sum(value) AS counter, any(resource_name) AS resource_name,
               any(project_id) AS project_id, any(zone) AS zone
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
        GROUP BY organization_id, resource_id, day
    ),
    intervals AS
    (
        SELECT c.organization_id AS organization_id, c.resource_id AS resource_id, c.ts AS ts,
               c.resource_name AS resource_name, c.project_id AS project_id, c.zone AS zone,
               c.counter AS counter,
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
               i.resource_name AS resource_name, i.project_id AS project_id, i.zone AS zone,
               if(i.counter >= i.previous_counter, i.counter - i.previous_counter, i.counter) AS cpu_seconds,
               dateDiff('millisecond', i.previous_ts, i.ts) / 1000 AS seconds
        FROM intervals AS i
        WHERE i.n > 1 AND i.ts > i.previous_ts AND dateDiff('second', i.previous_ts, i.ts) <= 3600
    )
SELECT u.organization_id AS organization_id, u.resource_id AS resource_id, u.day AS day,
       argMax(u.resource_name, u.seconds) AS resource_name, any(u.project_id) AS project_id, any(u.zone) AS zone,
       toUInt32(count()) AS intervals, max(v.vcpus) AS vcpus,
       quantileExact(0.95)(u.cpu_seconds / (u.seconds * v.vcpus)) AS cpu_p95,
       max(u.cpu_seconds / (u.seconds * v.vcpus)) AS cpu_max,
       sum(u.cpu_seconds) / sum(u.seconds * v.vcpus) AS cpu_mean,
       sum(u.cpu_seconds) / 3600 AS vcpu_hours_used
FROM used AS u
INNER JOIN vcpus AS v ON v.organization_id = u.organization_id AND v.resource_id = u.resource_id AND v.day = u.day
GROUP BY u.organization_id, u.resource_id, u.day;
