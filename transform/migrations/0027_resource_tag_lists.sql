-- 0027: each resource's tags as FOCUS keys and values become a table kept at load
-- (`transform/sources/resource_tag_lists.sql`), where cost-allocation split every tag of every resource ever seen
-- (the view resource_tags) and grouped them per resource at each read: about 40 ms of its 220 at 10,000 servers
-- (BENCHMARKS.md, 2026-12-06, late afternoon). Filled at once after migrating (models::fill_new), then recomputed
-- at each load.

CREATE TABLE IF NOT EXISTS resource_tag_lists
(
    organization_id LowCardinality(String),
    resource_id     String,
    keys            Array(String),
    tag_values      Array(String)
)
ENGINE = MergeTree
ORDER BY (organization_id, resource_id);
