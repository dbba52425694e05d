-- inventory_history: every resource in every committed run, one shape for all resource types, with the dataset
-- (the lake's, and the raw table's name without raw_) that lists it.

CREATE OR REPLACE VIEW inventory_history AS
SELECT run_id, snapshot_at, organization_id,
       'instance_server' AS resource_type, id AS resource_id, 'instance_servers' AS dataset,
       CAST(name, 'Nullable(String)') AS name, CAST(project_id, 'Nullable(String)') AS project_id,
       CAST(zone, 'String') AS zone, CAST(state, 'Nullable(String)') AS state,
       CAST(commercial_type, 'Nullable(String)') AS resource_class,
       CAST(NULL, 'Nullable(UInt64)') AS size_bytes, creation_date AS created_at,
       CAST(NULL, 'Nullable(String)') AS attached_to, tags
FROM raw_instance_servers WHERE run_id IN (SELECT run_id FROM runs)
UNION ALL
SELECT run_id, snapshot_at, organization_id, 'instance_volume', id, 'instance_volumes', name, project_id, CAST(zone, 'String'),
       CAST(state, 'Nullable(String)'), CAST(volume_type, 'Nullable(String)'), size, creation_date, server_id, tags
FROM raw_instance_volumes WHERE run_id IN (SELECT run_id FROM runs)
UNION ALL
SELECT run_id, snapshot_at, organization_id, 'instance_ip', id, 'instance_ips', coalesce(address, prefix), project_id, CAST(zone, 'String'),
       CAST(state, 'Nullable(String)'), CAST(type, 'Nullable(String)'), CAST(NULL, 'Nullable(UInt64)'),
       CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))'), server_id, tags
FROM raw_instance_ips WHERE run_id IN (SELECT run_id FROM runs)
UNION ALL
SELECT run_id, snapshot_at, organization_id, 'instance_snapshot', id, 'instance_snapshots', name, project_id, CAST(zone, 'String'),
       CAST(state, 'Nullable(String)'), CAST(volume_type, 'Nullable(String)'), size, creation_date, base_volume_id, tags
FROM raw_instance_snapshots WHERE run_id IN (SELECT run_id FROM runs)
UNION ALL
SELECT v.run_id, v.snapshot_at, v.organization_id, 'block_volume', v.id, 'block_volumes', v.name, v.project_id, CAST(v.zone, 'String'),
       CAST(v.status, 'Nullable(String)'), CAST(v.type, 'Nullable(String)'), v.size, v.created_at,
       CAST(r.attached_to, 'Nullable(String)'), v.tags
FROM raw_block_volumes AS v
LEFT JOIN
(
    SELECT run_id, volume_id, anyIf(product_resource_id, status != 'detached') AS attached_to
    FROM raw_block_volume_references
    WHERE run_id IN (SELECT run_id FROM runs)
    GROUP BY run_id, volume_id
) AS r ON r.run_id = v.run_id AND r.volume_id = v.id
WHERE v.run_id IN (SELECT run_id FROM runs)
UNION ALL
SELECT run_id, snapshot_at, organization_id, 'block_snapshot', id, 'block_snapshots', name, project_id, CAST(zone, 'String'),
       CAST(status, 'Nullable(String)'), CAST(class, 'Nullable(String)'), size, created_at, parent_volume_id, tags
FROM raw_block_snapshots WHERE run_id IN (SELECT run_id FROM runs)
UNION ALL
SELECT run_id, snapshot_at, organization_id, 'lb_load_balancer', id, 'lb_load_balancers', name, project_id, CAST(zone, 'String'),
       CAST(status, 'Nullable(String)'), CAST(type, 'Nullable(String)'), CAST(NULL, 'Nullable(UInt64)'), created_at,
       CAST(NULL, 'Nullable(String)'), tags
FROM raw_lb_load_balancers WHERE run_id IN (SELECT run_id FROM runs)
UNION ALL
-- A database is regional: its region stands in the zone column.
SELECT run_id, snapshot_at, organization_id, 'rdb_instance', id, 'rdb_instances', name, project_id, CAST(region, 'String'),
       CAST(status, 'Nullable(String)'), CAST(node_type, 'Nullable(String)'), volume_size, created_at,
       CAST(NULL, 'Nullable(String)'), tags
FROM raw_rdb_instances WHERE run_id IN (SELECT run_id FROM runs)
UNION ALL
-- A Kapsule cluster is regional (its region stands in the zone column); its pools are zonal, with the cluster's
-- project, and attached to their cluster. Their nodes are Instances, listed as such by the Instance API.
SELECT run_id, snapshot_at, organization_id, 'k8s_cluster', id, 'k8s_clusters', name, project_id, CAST(region, 'String'),
       CAST(status, 'Nullable(String)'), CAST(type, 'Nullable(String)'), CAST(NULL, 'Nullable(UInt64)'), created_at,
       CAST(NULL, 'Nullable(String)'), tags
FROM raw_k8s_clusters WHERE run_id IN (SELECT run_id FROM runs)
UNION ALL
SELECT p.run_id, p.snapshot_at, p.organization_id, 'k8s_pool', p.id, 'k8s_pools', p.name, c.project_id,
       CAST(coalesce(p.zone, p.region), 'String'), CAST(p.status, 'Nullable(String)'),
       CAST(upper(replaceAll(p.node_type, '_', '-')), 'Nullable(String)'), CAST(NULL, 'Nullable(UInt64)'),
       p.created_at, p.cluster_id, p.tags
FROM raw_k8s_pools AS p
LEFT JOIN raw_k8s_clusters AS c ON c.run_id = p.run_id AND c.id = p.cluster_id
WHERE p.run_id IN (SELECT run_id FROM runs)
SETTINGS join_use_nulls = 1;
