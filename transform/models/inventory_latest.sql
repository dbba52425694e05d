-- inventory_latest: one row per resource ever seen: its last known state, first/last seen, still present?

CREATE OR REPLACE VIEW inventory_latest AS
SELECT h.organization_id AS organization_id, h.resource_type AS resource_type, h.resource_id AS resource_id,
       argMax(h.name, h.snapshot_at) AS name,
       argMax(h.project_id, h.snapshot_at) AS project_id,
       argMax(h.zone, h.snapshot_at) AS zone,
       argMax(h.state, h.snapshot_at) AS state,
       argMax(h.resource_class, h.snapshot_at) AS resource_class,
       argMax(h.size_bytes, h.snapshot_at) AS size_bytes,
       argMax(h.created_at, h.snapshot_at) AS created_at,
       argMax(h.attached_to, h.snapshot_at) AS attached_to,
       argMax(h.tags, h.snapshot_at) AS tags,
       min(h.snapshot_at) AS first_seen_at,
       max(h.snapshot_at) AS last_seen_at,
       max(h.run_id = l.run_id) = 1 AS present
FROM inventory_history AS h
INNER JOIN latest_runs AS l ON l.organization_id = h.organization_id
GROUP BY h.organization_id, h.resource_type, h.resource_id;
