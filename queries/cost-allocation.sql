-- cost-allocation: who spends what, by tag, and how much nobody owns
--
-- The FinOps per-resource charges (the only Scaleway cost data with resource ids) of a window, allocated by
-- the tags of each resource in the inventory, normalised like FOCUS tags: `team=checkout` and `team:checkout`
-- are key `team`, value `checkout`; a bare tag `critical` is key `critical`, value `true`. One row per
-- (tag key, tag value), and per key one row with an empty value: the cost of resources without that key
-- (project-level charges such as bandwidth included), with its share of the total. Needs FinOps charges: a key
-- without permission to read them gets no rows (see the collection's warnings).
--
-- @param tag_key String = ''  only this tag key ('' for every key found)
-- @param from_date String = ''  first day, YYYY-MM-DD ('' for the first day of as_of's month)
-- @param as_of String = ''  last day, YYYY-MM-DD ('' for the newest day charged)
-- @param organization String = ''  only this organisation ('' for all)
-- @param project String = ''  only this project, by id or name ('' for all)
-- @money cost currency
-- @partitions tag_key
-- @dashboard costs

WITH
    scoped AS
    (
        SELECT c.organization_id AS organization_id, c.project_id AS project_id, c.resource_id AS resource_id,
               c.sku AS sku, toDate(c.start_date) AS day, c.price AS cost, coalesce(c.currency, 'EUR') AS currency
        FROM resource_charges AS c
        WHERE ({organization:String} = '' OR c.organization_id = {organization:String})
          -- A project by name through a set, not a join of every charge with the projects.
          AND ({project:String} = '' OR c.project_id = {project:String}
               OR c.project_id IN (SELECT id FROM projects WHERE name = {project:String}))
    ),
    -- Computed on its own: see cost-drift.sql.
    anchor AS (SELECT if({as_of:String} = '', (SELECT max(day) FROM scoped), toDate({as_of:String})) AS day),
    bounds AS
    (
        SELECT a.day AS last_day,
               if({from_date:String} = '', toStartOfMonth(a.day), toDate({from_date:String})) AS from_date
        FROM anchor AS a
    ),
    -- The bounds as scalar subqueries, so constants: the engine then reads only the window's days of the table
    -- (sorted by organisation then day, partitioned by month). Joined, they were compared with every charge
    -- ever collected: 260-360 ms at 10,000 servers, 165-215 ms as constants.
    charged AS
    (
        SELECT * FROM scoped WHERE day BETWEEN (SELECT from_date FROM bounds) AND (SELECT last_day FROM bounds)
    ),
    -- One row per charged resource (and one per organisation for the charges without a resource): the joins
    -- below then grow with resources, not with resources x days.
    per_resource AS
    (
        SELECT organization_id, resource_id, sum(cost) AS cost, any(currency) AS currency
        FROM charged
        GROUP BY organization_id, resource_id
    ),
    tags AS
    (
        SELECT organization_id, resource_id, tag_key, any(tag_value) AS tag_value
        FROM resource_tags
        GROUP BY organization_id, resource_id, tag_key
    ),
    tag_keys AS
    (
        SELECT DISTINCT t.tag_key AS tag_key
        FROM per_resource AS c
        INNER JOIN tags AS t ON t.organization_id = c.organization_id AND t.resource_id = c.resource_id
        WHERE {tag_key:String} = '' OR t.tag_key = {tag_key:String}
        UNION DISTINCT
        SELECT {tag_key:String} WHERE {tag_key:String} != ''
    )
SELECT
    k.tag_key AS tag_key,
    t.tag_value AS tag_value,
    CAST(round(sum(c.cost), 6), 'Decimal(38, 6)') AS cost,
    -- Nullable: no share of a total that is nothing (no charges in the window, or credits that cancel it).
    -- Each tag key holds every charged resource once (its value, or none), so a key's sum is the total.
    CAST(round(sum(c.cost) * 100 / nullIf(sum(sum(c.cost)) OVER (PARTITION BY k.tag_key), 0), 1),
         'Nullable(Decimal(38, 1))') AS share_percent,
    uniqExactIf(c.resource_id, c.resource_id != '') AS resources,
    any(c.currency) AS currency,
    (SELECT from_date FROM bounds) AS from_date,
    (SELECT last_day FROM bounds) AS to_date
FROM per_resource AS c
CROSS JOIN tag_keys AS k
LEFT JOIN tags AS t
    ON t.organization_id = c.organization_id AND t.resource_id = c.resource_id AND t.tag_key = k.tag_key
GROUP BY k.tag_key, t.tag_value
ORDER BY tag_key, tag_value IS NULL, cost DESC
-- A plain hash join: the engine's default ('direct,parallel_hash,hash') took 15-40 ms more a report, with
-- right-hand sides this small and the same rows (BENCHMARKS.md, 2026-12-05).
SETTINGS join_use_nulls = 1, join_algorithm = 'hash'
