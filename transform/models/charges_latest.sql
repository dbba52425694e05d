-- charges_latest: FinOps per-resource charges of each day, from the newest run that collected that day. The
-- table `resource_charges`, kept up to date at each load (transform/sources/resource_charges.sql says how),
-- under the name queries have used.

CREATE OR REPLACE VIEW charges_latest AS
SELECT * FROM resource_charges;
