-- k8s_node_instances: every Kapsule node of every committed run with the Instance it runs on, read from its
-- provider_id ("scaleway://instance/fr-par-1/<server id>"). A node is billed and measured as that Instance:
-- kapsule-pools judges a pool on its nodes' Instance series, and rightsizing leaves those Instances to it (a
-- pool's node type, not one node, is what can change).

CREATE OR REPLACE VIEW k8s_node_instances AS
SELECT run_id, snapshot_at, organization_id, CAST(region, 'String') AS region, id AS node_id,
       cluster_id, pool_id, name, status, provider_id,
       extract(assumeNotNull(provider_id), '^scaleway://instance/[^/]+/([^/?#]+)$') AS instance_id
FROM raw_k8s_nodes
WHERE run_id IN (SELECT run_id FROM runs) AND provider_id IS NOT NULL
  AND extract(assumeNotNull(provider_id), '^scaleway://instance/[^/]+/([^/?#]+)$') != '';
