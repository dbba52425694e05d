-- efficiency: per project, what a vCPU-hour of real work costs, and how much of the Instance capacity paid for
-- sits idle
--
-- Over the days, among the last `days` complete days before the newest day with metrics (a partial day would
-- compare a partial bill with partial metrics), that have both metrics and a collected bill (from_day, to_day,
-- days_judged):
--   compute_cost          the Instance compute billed to the project on those days (billing_daily, SKUs under
--                         /compute/), whatever the Instance did, metrics or not
--   vcpu_hours_paid       the vCPU-hours of the project's Instances that have CPU metrics (vCPUs x hours measured;
--                         an Instance billed without metrics, stopped in standby say, adds euros, not hours)
--   vcpu_hours_used       the CPU seconds they really used, in hours (Cockpit's instance_server_cpu_seconds_total)
--   idle_percent          the share of vcpu_hours_paid not used
--   cost_per_used_vcpu_hour  compute_cost / vcpu_hours_used, in `currency` to the millionth: what useful work
--                         costs; it grows with idle capacity and with Instances billed but not measured (stopped in
--                         standby, no metrics)
-- Instances are those the Instance API lists (Kapsule nodes included, as the API lists them).
--
-- @param days UInt32 = 30  complete days judged, ending the day before the newest day with metrics
-- @param organization String = ''  only this organisation ('' for all)
-- @param project String = ''  only this project, by id or name ('' for all)
-- @money compute_cost currency
-- @totals currency
-- @table project_name, instances_measured, vcpu_hours_paid, vcpu_hours_used, idle_percent, compute_cost, cost_per_used_vcpu_hour
-- @dashboard utilisation

WITH
    -- Computed on its own: see cost-drift.sql.
    anchor AS (SELECT max(day) - 1 AS last_day FROM instance_cpu_daily),
    -- Days with both metrics and a bill: a day with one only would count euros without work or work without
    -- euros (billing collected for this month only, metrics kept for 31 days).
    judged_days AS
    (
        SELECT DISTINCT organization_id, day FROM instance_cpu_daily
        WHERE day > (SELECT last_day FROM anchor) - {days:UInt32} AND day <= (SELECT last_day FROM anchor)
        INTERSECT
        SELECT DISTINCT organization_id, day FROM billing_daily
        WHERE day > (SELECT last_day FROM anchor) - {days:UInt32} AND day <= (SELECT last_day FROM anchor)
    ),
    instances AS
    (
        -- Every Instance ever listed (resources holds each one once, whatever the history kept).
        SELECT organization_id, resource_id FROM resources WHERE resource_type = 'instance_server'
    ),
    measured AS
    (
        SELECT d.organization_id AS organization_id, d.project_id AS project_id,
               toUInt64(uniqExact(d.resource_id)) AS instances_measured,
               sum(d.vcpu_hours_available) AS vcpu_hours_paid, sum(d.vcpu_hours_used) AS vcpu_hours_used
        FROM instance_cpu_daily AS d
        INNER JOIN instances AS i ON i.organization_id = d.organization_id AND i.resource_id = d.resource_id
        WHERE (d.organization_id, d.day) IN (SELECT organization_id, day FROM judged_days)
        GROUP BY organization_id, project_id
    ),
    billed AS
    (
        SELECT organization_id, project_id, currency, sum(cost) AS compute_cost
        FROM billing_daily
        WHERE startsWith(sku, '/compute/') AND (organization_id, day) IN (SELECT organization_id, day FROM judged_days)
        GROUP BY organization_id, project_id, currency
    ),
    spans AS
    (
        SELECT organization_id, min(day) AS from_day, max(day) AS to_day, toUInt32(count()) AS days_judged
        FROM judged_days
        GROUP BY organization_id
    ),
    -- Each project measured, billed, or both: the two joined once (a CTE is evaluated again wherever it is read).
    judged AS
    (
        -- Either side is there: the ids are never NULL, and their type stays String.
        SELECT assumeNotNull(coalesce(m.organization_id, b.organization_id)) AS organization_id,
               assumeNotNull(coalesce(m.project_id, b.project_id)) AS project_id,
               m.instances_measured AS instances_measured,
               m.vcpu_hours_paid AS vcpu_hours_paid, m.vcpu_hours_used AS vcpu_hours_used,
               b.compute_cost AS compute_cost, b.currency AS currency
        FROM measured AS m
        FULL OUTER JOIN billed AS b ON b.organization_id = m.organization_id AND b.project_id = m.project_id
    )
SELECT p.project_id AS project_id, coalesce(pn.name, p.project_id) AS project_name,
       coalesce(p.instances_measured, 0) AS instances_measured,
       round(coalesce(p.vcpu_hours_paid, 0), 1) AS vcpu_hours_paid,
       round(coalesce(p.vcpu_hours_used, 0), 1) AS vcpu_hours_used,
       round((1 - p.vcpu_hours_used / nullIf(p.vcpu_hours_paid, 0)) * 100, 1) AS idle_percent,
       p.compute_cost AS compute_cost,
       -- Decimal over the hours rounded to the microsecond-hour: exact division, no float in the euros.
       CAST(if(coalesce(p.vcpu_hours_used, 0) > 0,
               round(p.compute_cost / nullIf(toDecimal128(round(p.vcpu_hours_used, 6), 6), 0), 6), NULL),
            'Nullable(Decimal(38, 6))') AS cost_per_used_vcpu_hour,
       p.currency AS currency, sp.from_day AS from_day, sp.to_day AS to_day, sp.days_judged AS days_judged
FROM judged AS p
LEFT JOIN spans AS sp ON sp.organization_id = p.organization_id
LEFT JOIN projects AS pn ON pn.id = p.project_id
WHERE ({organization:String} = '' OR p.organization_id = {organization:String})
  AND ({project:String} = '' OR p.project_id = {project:String} OR pn.name = {project:String})
ORDER BY compute_cost DESC NULLS LAST, project_name
-- A plain hash join: the engine's default ('direct,parallel_hash,hash') took 15-40 ms more a report, with
-- right-hand sides this small and the same rows (BENCHMARKS.md, 2026-12-05).
SETTINGS join_use_nulls = 1, join_algorithm = 'hash'
