-- idle_lb_findings: the load balancers of the newest collection that forward to nothing: no backend, or no
-- server in any backend's pool. They bill by the hour all the same (idle-services and ghost-resources list them,
-- through the view idle_load_balancers). The table idle_lb_findings (recomputed whole at each load, and when
-- price_overrides changes: it is as big as the newest collection's load balancers).
--   since: the first collection of the current idle streak; the creation date when every collection that saw
--          the load balancer found it idle (nothing says it ever served);
--   monthly_cost: the price that applies to its offer (`type`, "lb-s") in its zone (applied_prices: the
--          catalog's, x 730 hours, unless overridden). Its flexible IP is billed apart.

WITH
    -- Per load balancer of the newest collection: how many backends, how many servers in their pools.
    seen AS
    (
        SELECT l.run_id AS run_id, l.id AS resource_id, countIf(b.lb_id != '') AS backends,
               sum(length(b.pool)) AS servers
        FROM raw_lb_load_balancers AS l
        LEFT JOIN raw_lb_backends AS b ON b.run_id = l.run_id AND b.lb_id = l.id
        WHERE l.run_id IN (SELECT run_id FROM newest_runs WHERE dataset = 'lb_load_balancers')
        GROUP BY run_id, resource_id
    ),
    -- When each became idle, from every collection (the table ghost_streaks, kept up to date at each load).
    streaks AS
    (
        SELECT resource_id, last_healthy, streak_start FROM ghost_streaks WHERE kind = 'idle_load_balancer'
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
        SELECT zone, match_key, monthly_price, currency FROM applied_prices WHERE price_kind = 'lb_hour'
    )
SELECT l.organization_id AS organization_id, l.resource_id AS resource_id, l.name AS name,
       l.project_id AS project_id, l.zone AS zone, l.type AS type, l.status AS status,
       -- Never seen serving: idle since its creation, as far as anyone knows.
       toDate(if(k.last_healthy = toDateTime64(0, 6, 'UTC'), coalesce(l.created_at, k.streak_start), k.streak_start))
           AS since,
       l.backends AS backends,
       if(l.backends = 0, 'no_backend', 'empty_pools') AS reason_code,
       CAST(p.monthly_price, 'Nullable(Decimal(38, 9))') AS monthly_cost,
       CAST(p.currency, 'Nullable(String)') AS currency
FROM latest AS l
INNER JOIN streaks AS k ON k.resource_id = l.resource_id
LEFT JOIN prices AS p ON p.zone = l.zone AND p.match_key = l.type
WHERE l.servers = 0
SETTINGS join_use_nulls = 1
