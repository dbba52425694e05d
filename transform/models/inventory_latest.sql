-- inventory_latest: one row per resource ever seen: its last known state, first/last seen, still present? The
-- table `resources`, kept up to date at each load (transform/sources/resources.sql says how), under the
-- name queries have used.

CREATE OR REPLACE VIEW inventory_latest AS
SELECT * FROM resources;
