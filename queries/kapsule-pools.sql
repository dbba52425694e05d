-- kapsule-pools: each Kubernetes Kapsule pool's nodes against its bounds and its load, the nodes it could do
-- without, and their euros a month
--
-- Pools of the newest collection. A node is the Instance its provider_id names (scaleway://instance/<zone>/<id>),
-- measured by that Instance's Cockpit CPU series; every node a pool ever had counts, so nodes the autoscaler
-- replaced still carry their days. Over the last `days` days ending at the newest day with metrics:
--   used vCPUs of a day   the sum over the pool's nodes of (its daily p95 CPU x its vCPUs)
--   peak_vcpus            the highest day
--   nodes_needed          max(1, ceil(peak_vcpus / (vCPUs of the node type x 0.8))): the nodes that keep the peak
--                         under 80 %
--   spare_nodes           the nodes that could go: max(0, size - nodes_needed)
--   recommendation        shrink (some could go), ok, or insufficient_data (fewer than 14 days with metrics, or
--                         than `days` if shorter)
-- monthly_cost = size x the node type's monthly price in the pool's zone (730 hours; applied_prices:
-- price_overrides, then the products/servers list); monthly_savings = spare_nodes x that price. The cluster's
-- control plane and the nodes' volumes are billed apart.
--
-- @param days UInt32 = 30  days of history judged, ending at the newest day with metrics
-- @param organization String = ''  only this organisation ('' for all)
-- @param project String = ''  only this project, by id or name ('' for all)
-- @money monthly_savings currency
-- @totals recommendation
-- @table cluster_name, pool_name, commercial_type, size, cpu_peak_percent, spare_nodes, recommendation, monthly_savings, reason
-- @dashboard utilisation

WITH
    -- Computed on its own: see cost-drift.sql.
    anchor AS (SELECT max(day) AS last_day FROM instance_cpu_daily),
    newest AS
    (
        SELECT organization_id, run_id FROM newest_runs
        WHERE dataset = 'k8s_pools' AND ({organization:String} = '' OR organization_id = {organization:String})
    ),
    pools AS
    (
        SELECT p.organization_id AS organization_id, p.id AS pool_id, p.name AS pool_name,
               p.cluster_id AS cluster_id, c.name AS cluster_name, c.project_id AS project_id,
               CAST(coalesce(p.zone, p.region), 'String') AS zone, p.node_type AS node_type,
               upper(replaceAll(coalesce(p.node_type, ''), '_', '-')) AS commercial_type,
               p.autoscaling AS autoscaling, p.size AS size, p.min_size AS min_size, p.max_size AS max_size
        FROM raw_k8s_pools AS p
        INNER JOIN newest AS n ON n.run_id = p.run_id
        LEFT JOIN raw_k8s_clusters AS c ON c.run_id = p.run_id AND c.id = p.cluster_id
    ),
    -- Every node each pool ever had, as the Instance it runs on (pool_id '' is a node that named no pool).
    members AS
    (
        SELECT organization_id, pool_id AS member_pool_id, instance_id
        FROM k8s_pool_instances
        WHERE pool_id != ''
    ),
    listed AS
    (
        SELECT n.run_id AS run_id, assumeNotNull(n.pool_id) AS listed_pool_id, toUInt64(count()) AS nodes
        FROM raw_k8s_nodes AS n
        WHERE n.run_id IN (SELECT run_id FROM newest) AND n.pool_id IS NOT NULL
        GROUP BY n.run_id, listed_pool_id
    ),
    pool_days AS
    (
        SELECT m.organization_id AS organization_id, m.member_pool_id AS pool_id, d.day AS day,
               sum(d.cpu_p95 * d.vcpus) AS used_vcpus, sum(d.vcpu_hours_used) AS vcpu_hours_used,
               sum(d.vcpu_hours_available) AS vcpu_hours_measured, max(d.vcpus) AS node_vcpus
        FROM instance_cpu_daily AS d
        INNER JOIN members AS m ON m.organization_id = d.organization_id AND m.instance_id = d.resource_id
        WHERE d.day > (SELECT last_day FROM anchor) - {days:UInt32} AND d.day <= (SELECT last_day FROM anchor)
        GROUP BY organization_id, pool_id, day
    ),
    usage AS
    (
        SELECT organization_id, pool_id, toUInt32(count()) AS days_of_data, max(used_vcpus) AS peak_vcpus,
               sum(vcpu_hours_used) / nullIf(sum(vcpu_hours_measured), 0) AS cpu_mean,
               max(node_vcpus) AS node_vcpus
        FROM pool_days
        GROUP BY organization_id, pool_id
    ),
    types AS
    (
        SELECT t.organization_id AS organization_id, CAST(t.zone, 'String') AS zone,
               t.commercial_type AS commercial_type, any(t.ncpus) AS ncpus
        FROM raw_instance_server_types AS t
        WHERE t.run_id IN (SELECT run_id FROM newest_runs WHERE dataset = 'instance_server_types')
          AND t.ncpus > 0
        GROUP BY organization_id, zone, commercial_type
    ),
    prices AS
    (
        SELECT zone, match_key, monthly_price, currency FROM applied_prices WHERE price_kind = 'server_hour'
    ),
    judged AS
    (
        SELECT p.organization_id AS organization_id, p.pool_id AS pool_id, p.pool_name AS pool_name,
               p.cluster_id AS cluster_id, p.cluster_name AS cluster_name, p.project_id AS project_id,
               p.zone AS zone, p.commercial_type AS commercial_type, p.autoscaling AS autoscaling, p.size AS size,
               p.min_size AS min_size, p.max_size AS max_size, coalesce(u.days_of_data, 0) AS days_of_data, u.peak_vcpus AS peak_vcpus, u.cpu_mean AS cpu_mean,
               coalesce(toFloat64(t.ncpus), u.node_vcpus) AS ncpus, pr.monthly_price AS node_monthly_price, pr.currency AS currency,
               coalesce(l.nodes, 0) AS nodes,
               if(coalesce(toFloat64(t.ncpus), u.node_vcpus) IS NULL OR u.peak_vcpus IS NULL, NULL,
                  toUInt64(greatest(1, ceil(u.peak_vcpus / (coalesce(toFloat64(t.ncpus), u.node_vcpus) * 0.8)))))
                   AS nodes_needed
        FROM pools AS p
        LEFT JOIN usage AS u ON u.organization_id = p.organization_id AND u.pool_id = p.pool_id
        LEFT JOIN types AS t
            ON t.organization_id = p.organization_id AND t.zone = p.zone AND t.commercial_type = p.commercial_type
        LEFT JOIN prices AS pr ON pr.zone = p.zone AND pr.match_key = p.commercial_type
        LEFT JOIN listed AS l ON l.listed_pool_id = p.pool_id
    ),
    decided AS
    (
        SELECT j.*,
               multiIf(j.days_of_data < least(14, {days:UInt32}) OR j.nodes_needed IS NULL, 'insufficient_data',
                       coalesce(j.size, 0) > j.nodes_needed, 'shrink', 'ok') AS recommendation,
               if(recommendation = 'shrink', toUInt64(coalesce(j.size, 0) - j.nodes_needed), toUInt64(0))
                   AS could_go
        FROM judged AS j
    )
SELECT d.cluster_name AS cluster_name, d.pool_name AS pool_name, d.pool_id AS pool_id, d.cluster_id AS cluster_id,
       d.project_id AS project_id, coalesce(pn.name, d.project_id) AS project_name, d.zone AS zone,
       d.commercial_type AS commercial_type, d.autoscaling AS autoscaling, d.size AS size, d.min_size AS min_size,
       d.max_size AS max_size, d.nodes AS nodes, d.days_of_data AS days_of_data,
       round(d.peak_vcpus, 2) AS peak_vcpus,
       round(d.peak_vcpus / nullIf(coalesce(d.size, 0) * d.ncpus, 0) * 100, 1) AS cpu_peak_percent,
       round(d.cpu_mean * 100, 1) AS cpu_mean_percent,
       d.nodes_needed AS nodes_needed, d.could_go AS spare_nodes, d.recommendation AS recommendation,
       CAST(d.node_monthly_price * coalesce(d.size, 0), 'Nullable(Decimal(38, 9))') AS monthly_cost,
       CAST(if(d.recommendation = 'shrink', d.node_monthly_price * d.could_go, toDecimal128(0, 9)),
            'Nullable(Decimal(38, 9))') AS monthly_savings,
       d.currency AS currency,
       concat(
           multiIf(d.days_of_data = 0, 'no CPU metrics for its nodes',
                   d.recommendation = 'insufficient_data' AND d.ncpus IS NULL,
                   concat('node type ', d.commercial_type, ' not in the zone''s server types'),
                   d.recommendation = 'insufficient_data',
                   concat('only ', toString(d.days_of_data), ' days with metrics (',
                          toString(least(14, {days:UInt32})), ' needed)'),
                   concat('peak ', toString(round(d.peak_vcpus, 1)), ' of ',
                          toString(coalesce(d.size, 0) * d.ncpus), ' vCPUs (daily p95, ', toString(d.days_of_data),
                          ' days): ', toString(d.nodes_needed), if(d.nodes_needed = 1, ' node keeps', ' nodes keep'),
                          ' it under 80 %')),
           multiIf(d.recommendation = 'ok' AND d.nodes_needed > coalesce(d.size, 0),
                   if(coalesce(d.autoscaling, false),
                      concat('; above 80 % at its peak: the autoscaler can grow it to max_size ',
                             toString(d.max_size)),
                      '; above 80 % at its peak: grow it or enable autoscaling'),
                   d.recommendation != 'shrink', '',
                   coalesce(d.autoscaling, false) AND coalesce(d.min_size, 0) > d.nodes_needed,
                   concat('; min_size ', toString(d.min_size), ' holds them: lower it to ',
                          toString(d.nodes_needed)),
                   coalesce(d.autoscaling, false),
                   '; the autoscaler has not scaled it down: check its scale-down settings',
                   concat('; fixed size ', toString(d.size), ': resize to ', toString(d.nodes_needed),
                          ' or autoscale')),
           if(d.node_monthly_price IS NULL, '; no price collected for its node type', ''),
           if(d.recommendation = 'shrink', '; pod requests, memory unchecked', '')
       ) AS reason
FROM decided AS d
LEFT JOIN projects AS pn ON pn.id = d.project_id
WHERE {project:String} = '' OR d.project_id = {project:String} OR pn.name = {project:String}
ORDER BY indexOf(['shrink', 'insufficient_data', 'ok'], d.recommendation), monthly_savings DESC NULLS LAST,
         d.cluster_name, d.pool_name, d.pool_id
-- A plain hash join: the engine's default ('direct,parallel_hash,hash') took 15-40 ms more a report, with
-- right-hand sides this small and the same rows (BENCHMARKS.md, 2026-12-05).
SETTINGS join_use_nulls = 1, join_algorithm = 'hash'
