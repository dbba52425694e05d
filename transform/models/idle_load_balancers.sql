-- idle_load_balancers: the load balancers of the newest collection that forward to nothing, with since when and
-- what they cost a month. The table `idle_lb_findings`, kept up to date at each load and after each `costlake sql`
-- statement that writes (transform/sources/idle_lb_findings.sql says how), under the name queries have used.

CREATE OR REPLACE VIEW idle_load_balancers AS
SELECT * FROM idle_lb_findings;
