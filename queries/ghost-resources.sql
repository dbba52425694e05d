-- ghost-resources: resources that keep billing while doing nothing
--
-- Which stopped Instances, unattached volumes, orphaned flexible IPs and old or orphaned snapshots keep
-- billing, where, since when, and how many euros a month each one costs. One row per resource, from the
-- newest committed run of each organisation.
--
--   stopped_server     powered off (`stopped`): still pays for its volumes and flexible IPs; in standby
--                      (`stopped in place`): still pays for compute too (Scaleway Instance FAQ)
--   unattached_volume  an Instance volume or a Block Storage volume attached to nothing
--   orphaned_ip        a flexible IP attached to no Instance: billed while reserved
--   old_snapshot       at least min_snapshot_age_days old; over_a_year marks those past 365 days
--   orphaned_snapshot  the volume it was taken from no longer exists (takes precedence over old)
--   idle_load_balancer a load balancer with no backend, or no server in any backend's pool (idle_lb_findings)
--   unknown_state      an Instance, or a Block volume attached to nothing, in a state or status costlake does
--                      not know (the API added one): it may still bill, so it is shown, never silently dropped;
--                      monthly_cost is unknown
--
-- since: when the resource entered this state, from its own timestamps and from costlake's history of
-- snapshots (the first run that saw it so, after the last run that saw it otherwise). monthly_cost: 730 hours
-- a month at the newest collected prices, price_overrides first; NULL when no part has a known price, and the
-- reason names the parts without one. Money is exact, rounded to 6 decimals.
--
-- @param min_snapshot_age_days UInt32 = 90  a snapshot at least this many days old is old
-- @param organization String = ''  only this organisation ('' for every organisation in the warehouse)
-- @param project String = ''  only this project, by id or name ('' for all)
-- @money monthly_cost currency
-- @totals kind, project_name
-- @table kind, name, project_name, zone, since, monthly_cost, reason
-- @dashboard waste

WITH
    -- The findings of the newest inventory, with the parts each is billed for and since when (the table
    -- ghost_findings, computed at load): a snapshot of a live volume is a finding once old enough.
    findings AS
    (
        -- (The table's kind is g.kind: `kind` is the report's name for it, which a WHERE here would read.)
        SELECT if(g.kind = 'snapshot', 'old_snapshot', g.kind) AS kind, g.organization_id AS organization_id,
               g.resource_id AS resource_id, g.name AS name, g.project_id AS project_id, g.zone AS zone,
               g.state AS state, g.since AS since, g.as_of AS as_of, g.size_bytes AS size_bytes,
               if(g.kind = 'snapshot',
                  concat(g.what, ' (threshold ', toString({min_snapshot_age_days:UInt32}), ')'), g.what) AS what,
               g.parts AS parts
        FROM ghost_findings AS g
        WHERE ({organization:String} = '' OR g.organization_id = {organization:String})
          AND (g.kind != 'snapshot' OR dateDiff('day', g.since, g.as_of) >= {min_snapshot_age_days:UInt32})
    ),

    -- The best price of each part: overrides before APIs before the catalog, exact keys before wildcards. The
    -- findings are read once, their parts beside them (a finding with no part keeps one row, has_part false).
    priced AS
    (
        SELECT p.kind AS kind, p.resource_id AS resource_id, p.part AS part, p.quantity AS quantity,
               p.part_zone AS part_zone, any(p.has_part) AS has_part, any(p.price_kind) AS price_kind,
               any(p.match_key) AS match_key,
               any((p.name, p.project_id, p.zone, p.state, p.since, p.as_of, p.size_bytes, p.what))
                   AS finding,
               countIf(rc.price_kind IS NOT NULL) > 0 AND p.quantity IS NOT NULL AS has_price,
               argMinIf(tuple(rc.monthly_price, rc.currency, rc.source), tuple(rc.priority, p.specificity),
                        rc.price_kind IS NOT NULL) AS best
        FROM
        (
            SELECT f.kind AS kind, f.resource_id AS resource_id, f.name AS name, f.project_id AS project_id,
                   f.zone AS zone, f.state AS state, f.since AS since, f.as_of AS as_of, f.size_bytes AS size_bytes, f.what AS what, notEmpty(f.parts) AS has_part, part_no,
                   tupleElement(part_tuple, 1) AS part, tupleElement(part_tuple, 2) AS quantity,
                   tupleElement(part_tuple, 3) AS price_kind,
                   tupleElement(part_tuple, 4) AS part_zone, tupleElement(part_tuple, 5) AS match_key,
                   arrayJoin([(part_zone, match_key, 0), ('', match_key, 1), (part_zone, '', 2), ('', '', 3)]) AS candidate,
                   tupleElement(candidate, 1) AS candidate_zone, tupleElement(candidate, 2) AS candidate_key,
                   tupleElement(candidate, 3) AS specificity
            FROM findings AS f
            LEFT ARRAY JOIN f.parts AS part_tuple, arrayEnumerate(f.parts) AS part_no
        ) AS p
        LEFT JOIN rate_card AS rc
            ON rc.price_kind = p.price_kind AND rc.zone = p.candidate_zone AND rc.match_key = p.candidate_key
        -- Per part, by its place in the list: two identical volumes of one server are billed twice.
        GROUP BY p.kind, p.resource_id, p.part_no, p.part, p.quantity, p.part_zone
    ),
    costs AS
    (
        SELECT kind, resource_id, any(finding) AS finding,
               countIf(has_part) AS part_count,
               countIf(has_part AND has_price) AS priced_parts,
               sumIf(quantity * tupleElement(best, 1), has_part AND has_price) AS known_cost,
               if(part_count = 0, CAST(NULL, 'Nullable(String)'), anyIf(tupleElement(best, 2), has_part AND has_price))
                   AS currency,
               uniqExactIf(tupleElement(best, 2), has_part AND has_price) AS currencies,
               arrayStringConcat(arraySort(groupArrayIf(part, has_part)), ', ') AS billed,
               -- Each with the price_overrides row that would price it: its price_kind and key.
               arrayStringConcat(arraySort(groupArrayIf(concat(part, ' in ', part_zone, ' (price_overrides: ', price_kind,
                                                               ' ', if(match_key = '', '\'\'', match_key), ')'),
                                                        has_part AND NOT has_price)), ', ')
                   AS unpriced
        FROM priced
        GROUP BY kind, resource_id
    ),

    report_rows AS
    (
        SELECT c.kind AS kind, c.resource_id AS resource_id, tupleElement(c.finding, 1) AS name,
               tupleElement(c.finding, 2) AS project_id, pn.name AS project_name, tupleElement(c.finding, 3) AS zone,
               tupleElement(c.finding, 4) AS state, tupleElement(c.finding, 5) AS since,
               tupleElement(c.finding, 6) AS as_of, tupleElement(c.finding, 7) AS size_bytes,
               tupleElement(c.finding, 8) AS what, c.part_count AS part_count, c.priced_parts AS priced_parts,
               c.known_cost AS known_cost, c.currency AS priced_currency, c.currencies AS currencies,
               c.billed AS billed, c.unpriced AS unpriced
        FROM costs AS c
        LEFT JOIN projects AS pn ON pn.id = tupleElement(c.finding, 2)
        WHERE {project:String} = '' OR tupleElement(c.finding, 2) = {project:String} OR pn.name = {project:String}
    )
SELECT * FROM
(
    SELECT
        kind,
        resource_id,
        name,
        project_id,
        project_name,
        zone,
        state,
        since,
        dateDiff('day', since, as_of) AS age_days,
        size_bytes,
        multiIf(kind = 'unknown_state', CAST(NULL, 'Nullable(Decimal(38, 6))'),
                coalesce(part_count, 0) = 0, toDecimal128(0, 6),
                priced_parts = 0 OR currencies > 1, CAST(NULL, 'Nullable(Decimal(38, 6))'),
                CAST(round(known_cost, 6), 'Decimal(38, 6)')) AS monthly_cost,
        if(monthly_cost IS NULL, CAST(NULL, 'Nullable(String)'), coalesce(priced_currency, 'EUR')) AS currency,
        CAST(kind IN ('old_snapshot', 'orphaned_snapshot') AND age_days > 365, 'Bool') AS over_a_year,
        concat(
            what,
            if(kind = 'stopped_server', if(coalesce(part_count, 0) = 0, '; nothing else billed', concat('; billed for: ', billed)), ''),
            if(kind IN ('old_snapshot', 'orphaned_snapshot') AND age_days > 365, '; over a year old', ''),
            if(currencies > 1, '; parts priced in different currencies', ''),
            if(unpriced != '', concat('; no known price for ', unpriced), '')
        ) AS reason
    FROM report_rows
    UNION ALL
    -- Load balancers with no server behind them (the table idle_lb_findings, shared with idle-services).
    SELECT 'idle_load_balancer' AS kind, b.resource_id AS resource_id, b.name AS name, b.project_id AS project_id,
           pn.name AS project_name, b.zone AS zone, b.status AS state, b.since AS since,
           dateDiff('day', b.since, toDate(l.snapshot_at)) AS age_days, CAST(NULL, 'Nullable(UInt64)') AS size_bytes,
           CAST(round(b.monthly_cost, 6), 'Nullable(Decimal(38, 6))') AS monthly_cost, b.currency AS currency,
           CAST(false, 'Bool') AS over_a_year,
           concat('load balancer ', coalesce(b.type, '?'),
                  if(b.reason_code = 'no_backend', ' with no backend', ' with no server in its backends'' pools'),
                  ': it forwards to nothing, billed by the hour',
                  if(b.monthly_cost IS NULL, concat('; no known price for load balancer ', coalesce(b.type, '?'), ' in ', b.zone, ' (see price_overrides)'), '')) AS reason
    FROM idle_lb_findings AS b
    INNER JOIN latest_runs AS l ON l.organization_id = b.organization_id
    LEFT JOIN projects AS pn ON pn.id = b.project_id
    WHERE ({organization:String} = '' OR b.organization_id = {organization:String})
      AND ({project:String} = '' OR b.project_id = {project:String} OR pn.name = {project:String})
)
ORDER BY monthly_cost DESC NULLS LAST, kind, resource_id
-- A plain hash join: the engine's default ('direct,parallel_hash,hash') took 15-40 ms more a report, with
-- right-hand sides this small and the same rows (BENCHMARKS.md, 2026-12-05).
SETTINGS join_use_nulls = 1, join_algorithm = 'hash'
