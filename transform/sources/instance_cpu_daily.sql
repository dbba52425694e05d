-- instance_cpu_daily(from, to): per Instance and day, the distribution of its CPU utilisation over 5-minute
-- intervals, merged from its hours (instance_cpu_hourly, see transform/sources/instance_cpu_hourly.sql for how an interval
-- is measured), for the days from `from` up to `to` (excluded). The loader materialises it into the table
-- instance_cpu_daily for the days each load brings points for (transform/src/models.rs): the utilisation reports
-- read days.
--   * cpu_p95: the exact 95th percentile of the day's intervals (the hours' quantilesExact states merged);
--   * cpu_mean: CPU seconds used / available, over the day; vcpu_hours_used and vcpu_hours_available: CPU
--     seconds used, and available (intervals' lengths x vCPUs), in hours;
--   * memory_used_max: the day's highest sample of instance_server_memory_used (bytes in use), NULL where Cockpit
--     serves no such series. No primary source confirms that name (a third-party runbook lists it); the
--     collector keeps whatever `instance_server_*` names Cockpit has, so a differently named series is in the lake
--     and only this line would change.

WITH
    memory AS
    (
        SELECT p.organization_id AS organization_id, assumeNotNull(p.resource_id) AS resource_id,
               toDate(p.ts) AS day, toNullable(max(p.value)) AS memory_used_max
        FROM raw_cockpit_metric_points AS p
        WHERE p.metric = 'instance_server_memory_used' AND p.resource_id IS NOT NULL AND isFinite(p.value)
          AND p.run_id IN (SELECT run_id FROM runs)
          AND p.ts >= toDateTime64({from:Date}, 6, 'UTC') AND p.ts < toDateTime64({to:Date}, 6, 'UTC')
        GROUP BY organization_id, resource_id, day
    ),
    days AS
    (
        SELECT h.organization_id AS organization_id, h.resource_id AS resource_id, toDate(h.hour) AS day,
               argMax(h.resource_name, h.hour) AS resource_name, any(h.project_id) AS project_id, any(h.zone) AS zone,
               toUInt32(sum(h.intervals)) AS intervals, max(h.vcpus) AS vcpus,
               quantilesExactMerge(0.5, 0.95)(h.utilisation)[2] AS cpu_p95,
               max(h.utilisation_max) AS cpu_max,
               sum(h.cpu_seconds) / sum(h.capacity_seconds) AS cpu_mean,
               sum(h.cpu_seconds) / 3600 AS vcpu_hours_used,
               sum(h.capacity_seconds) / 3600 AS vcpu_hours_available
        FROM instance_cpu_hourly AS h
        WHERE h.hour >= toDateTime({from:Date}, 'UTC') AND h.hour < toDateTime({to:Date}, 'UTC')
        GROUP BY h.organization_id, h.resource_id, day
    )
SELECT d.*, m.memory_used_max AS memory_used_max
FROM days AS d
-- A Nullable column: a day without memory samples gets NULL, whatever join_use_nulls says.
LEFT JOIN memory AS m ON m.organization_id = d.organization_id AND m.resource_id = d.resource_id AND m.day = d.day;
