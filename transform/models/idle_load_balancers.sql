-- idle_load_balancers: the load balancers of the newest collection that forward to nothing: no backend, or no
-- server in any backend's pool. They bill by the hour all the same (idle-services and ghost-resources list them).
--   since: the first collection of the current idle streak; the creation date when every collection that saw
--          the load balancer found it idle (nothing says it ever served);
--   monthly_cost: the catalog's price of its offer (`type`, "lb-s") in its zone, x 730 hours (rate_card). Its
--          flexible IP is billed apart.

CREATE OR REPLACE VIEW idle_load_balancers AS
WITH
    -- Per load balancer and run: how many backends, how many servers in their pools.
    seen AS
    (
        SELECT l.organization_id AS organization_id, l.run_id AS run_id, l.snapshot_at AS snapshot_at,
               l.id AS resource_id, countIf(b.lb_id != '') AS backends, sum(length(b.pool)) AS servers
        FROM raw_lb_load_balancers AS l
        LEFT JOIN raw_lb_backends AS b ON b.run_id = l.run_id AND b.lb_id = l.id
        WHERE l.run_id IN (SELECT run_id FROM runs)
        GROUP BY organization_id, run_id, snapshot_at, resource_id
    ),
    serving AS
    (
        SELECT organization_id, resource_id, maxIf(snapshot_at, servers > 0) AS last_serving,
               countIf(servers > 0) AS serving_runs
        FROM seen
        GROUP BY organization_id, resource_id
    ),
    streaks AS
    (
        SELECT s.organization_id AS organization_id, s.resource_id AS resource_id, min(s.snapshot_at) AS idle_from,
               any(v.serving_runs) AS serving_runs
        FROM seen AS s
        INNER JOIN serving AS v ON v.organization_id = s.organization_id AND v.resource_id = s.resource_id
        WHERE s.servers = 0 AND (v.serving_runs = 0 OR s.snapshot_at > v.last_serving)
        GROUP BY s.organization_id, s.resource_id
    ),
    latest AS
    (
        SELECT l.organization_id AS organization_id, l.id AS resource_id, l.name AS name, l.project_id AS project_id,
               CAST(l.zone, 'String') AS zone, l.type AS type, l.status AS status, l.created_at AS created_at,
               s.backends AS backends, s.servers AS servers
        FROM raw_lb_load_balancers AS l
        INNER JOIN seen AS s ON s.run_id = l.run_id AND s.resource_id = l.id
        WHERE l.run_id IN (SELECT run_id FROM newest_runs WHERE dataset = 'lb_load_balancers')
    ),
    prices AS
    (
        SELECT zone, match_key, monthly_price, currency FROM rate_card_best WHERE price_kind = 'lb_hour'
    )
SELECT l.organization_id AS organization_id, l.resource_id AS resource_id, l.name AS name,
       l.project_id AS project_id, l.zone AS zone, l.type AS type, l.status AS status,
       toDate(if(k.serving_runs = 0, coalesce(l.created_at, k.idle_from), k.idle_from)) AS since,
       l.backends AS backends,
       if(l.backends = 0, 'no_backend', 'empty_pools') AS reason_code,
       CAST(p.monthly_price, 'Nullable(Decimal(38, 9))') AS monthly_cost,
       CAST(p.currency, 'Nullable(String)') AS currency
FROM latest AS l
INNER JOIN streaks AS k ON k.organization_id = l.organization_id AND k.resource_id = l.resource_id
LEFT JOIN prices AS p ON p.zone = l.zone AND p.match_key = l.type
WHERE l.servers = 0
SETTINGS join_use_nulls = 1;
