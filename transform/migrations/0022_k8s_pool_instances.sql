-- 0022: every Instance that has been a Kapsule node, with each pool it was a node of, becomes a table kept at load
-- (`transform/sources/k8s_pool_instances.sql`), where kapsule-pools and rightsizing read the view
-- k8s_node_instances: the engine analysed and planned that view (every run's nodes, their provider ids parsed,
-- the committed runs) inside both reports, 50-65 ms of their 180-190 (BENCHMARKS.md, 2026-12-06, morning). A new
-- name: no statement here drops or replaces a view another process may be reading.

CREATE TABLE IF NOT EXISTS k8s_pool_instances
(
    organization_id LowCardinality(String),
    instance_id     String,
    -- '' for a node that named no pool
    pool_id         String
)
ENGINE = MergeTree
ORDER BY (organization_id, instance_id, pool_id);
