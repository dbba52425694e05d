-- k8s_pool_instances(fold, runs): every Instance a loaded run listed as a Kapsule node, once per pool it was a node
-- of ('' for a node that named none), as k8s_node_instances reads it from the node's provider_id; the table
-- k8s_pool_instances, which kapsule-pools (each pool's members) and rightsizing (the Instances it leaves to
-- kapsule-pools) read. A load folds its runs in (fold = true, runs = the runs to add); fold = false computes it
-- from every committed run, with the same rows.

SELECT DISTINCT organization_id, instance_id, pool_id
FROM
(
    SELECT organization_id, instance_id, pool_id FROM k8s_pool_instances WHERE {fold:Bool}
    UNION ALL
    SELECT organization_id, instance_id, coalesce(pool_id, '') AS pool_id
    FROM k8s_node_instances
    WHERE NOT {fold:Bool} OR run_id IN {runs:Array(String)}
)
