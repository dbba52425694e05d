-- cost-allocation: who spends what, by tag, and how much nobody owns
--
-- The FinOps per-resource charges (the only Scaleway cost data with resource ids) of a window, allocated by
-- the tags of each resource in the inventory, normalised like FOCUS tags: `team=checkout` and `team:checkout`
-- are key `team`, value `checkout`; a bare tag `critical` is key `critical`, value `true`. One row per
-- (tag key, tag value), and per key one row with no value (NULL): the cost of resources without that key
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
               c.sku AS sku, c.start_date AS start_date, toDate(c.start_date) AS day, c.price AS cost,
               coalesce(c.currency, 'EUR') AS currency
        FROM resource_charges AS c
        WHERE ({organization:String} = '' OR c.organization_id = {organization:String})
          -- A project by name through a set, not a join of every charge with the projects.
          AND ({project:String} = '' OR c.project_id = {project:String}
               OR c.project_id IN (SELECT id FROM projects WHERE name = {project:String}))
    ),
    -- Computed on its own: see cost-drift.sql. The day of the newest start, not the newest of every start's day:
    -- one conversion, not one per charge ever collected.
    anchor AS
    (
        SELECT if({as_of:String} = '', (SELECT toDate(max(start_date)) FROM scoped), toDate({as_of:String})) AS day
    ),
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
    -- Every charged resource once with its tags, and the keys of them all on each row (a window over the
    -- whole set): charges and tags are each read once, where a list of keys joined back read both twice.
    tagged AS
    (
        SELECT c.resource_id AS resource_id, c.cost AS resource_cost, c.currency AS currency, t.keys AS keys,
               t.tag_values AS tag_values,
               if({tag_key:String} = '', groupUniqArrayArray(t.keys) OVER (), [{tag_key:String}])
                   AS all_keys
        FROM per_resource AS c
        -- Each resource's tags as two parallel arrays, one value per key (the table resource_tag_lists, kept at
        -- load). A resource without tags gets empty lists: an array is never NULL, whatever join_use_nulls says.
        LEFT JOIN resource_tag_lists AS t ON t.organization_id = c.organization_id AND t.resource_id = c.resource_id
    )
SELECT
    tag_key,
    -- NULL: the resource has no such key.
    if(has(keys, tag_key), tag_values[indexOf(keys, tag_key)], NULL) AS tag_value,
    CAST(round(sum(resource_cost), 6), 'Decimal(38, 6)') AS cost,
    -- Nullable: no share of a total that is nothing (no charges in the window, or credits that cancel it).
    -- Each tag key holds every charged resource once (its value, or none), so a key's sum is the total.
    CAST(round(sum(resource_cost) * 100 / nullIf(sum(sum(resource_cost)) OVER (PARTITION BY tag_key), 0), 1),
         'Nullable(Decimal(38, 1))') AS share_percent,
    uniqExactIf(resource_id, resource_id != '') AS resources,
    any(currency) AS currency,
    (SELECT from_date FROM bounds) AS from_date,
    (SELECT last_day FROM bounds) AS to_date
FROM tagged
ARRAY JOIN all_keys AS tag_key
GROUP BY tag_key, tag_value
ORDER BY tag_key, tag_value IS NULL, cost DESC
-- A plain hash join: the engine's default ('direct,parallel_hash,hash') took 15-40 ms more a report, with
-- right-hand sides this small and the same rows (BENCHMARKS.md, 2026-12-05).
SETTINGS join_use_nulls = 1, join_algorithm = 'hash'
