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
--   idle_load_balancer a load balancer with no backend, or no server in any backend's pool (idle_load_balancers)
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
    latest AS
    (
        SELECT organization_id, run_id, snapshot_at, toDate(snapshot_at) AS as_of
        FROM latest_runs
        WHERE {organization:String} = '' OR organization_id = {organization:String}
    ),
    -- Each dataset from the newest run that collected it (a run may collect only some sources).
    newest AS
    (
        SELECT dataset, run_id FROM newest_runs
        WHERE organization_id IN (SELECT organization_id FROM latest)
    ),
    servers AS (SELECT * FROM raw_instance_servers WHERE run_id IN (SELECT run_id FROM latest)),
    server_volumes AS
    (
        SELECT * FROM raw_instance_server_volumes
        WHERE run_id IN (SELECT run_id FROM newest WHERE dataset = 'instance_server_volumes')
    ),
    instance_volumes AS
    (
        SELECT * FROM raw_instance_volumes WHERE run_id IN (SELECT run_id FROM newest WHERE dataset = 'instance_volumes')
    ),
    ips AS (SELECT * FROM raw_instance_ips WHERE run_id IN (SELECT run_id FROM newest WHERE dataset = 'instance_ips')),
    instance_snapshots AS
    (
        SELECT * FROM raw_instance_snapshots
        WHERE run_id IN (SELECT run_id FROM newest WHERE dataset = 'instance_snapshots')
    ),
    block_volumes AS
    (
        SELECT * FROM raw_block_volumes WHERE run_id IN (SELECT run_id FROM newest WHERE dataset = 'block_volumes')
    ),
    block_snapshots AS
    (
        SELECT * FROM raw_block_snapshots WHERE run_id IN (SELECT run_id FROM newest WHERE dataset = 'block_snapshots')
    ),

    -- Attachments still in force per Block volume of the newest run (a `detached` reference no longer holds it).
    block_refs AS
    (
        SELECT run_id, volume_id, countIf(coalesce(status, '') != 'detached') AS active
        FROM raw_block_volume_references
        WHERE run_id IN (SELECT run_id FROM newest WHERE dataset = 'block_volumes')
        GROUP BY run_id, volume_id
    ),
    stopped AS (SELECT * FROM servers WHERE state IN ('stopped', 'stopped in place')),
    unknown_servers AS
    (
        SELECT * FROM servers
        WHERE coalesce(CAST(state, 'Nullable(String)'), '')
              NOT IN ('running', 'stopped', 'stopped in place', 'starting', 'stopping', 'locked')
    ),
    -- Block volumes with no attachment in force: `available` ones are unattached, undocumented statuses unknown.
    detached_block AS
    (
        SELECT v.*
        FROM block_volumes AS v
        LEFT JOIN block_refs AS r ON r.run_id = v.run_id AND r.volume_id = v.id
        WHERE coalesce(r.active, 0) = 0
    ),
    unattached_block AS (SELECT * FROM detached_block WHERE status = 'available'),
    unknown_block AS
    (
        SELECT * FROM detached_block
        WHERE coalesce(CAST(status, 'Nullable(String)'), '')
              NOT IN ('creating', 'available', 'in_use', 'deleting', 'deleted', 'resizing', 'error', 'snapshotting',
                      'locked', 'updating')
    ),
    live_volume_ids AS
    (
        SELECT id FROM instance_volumes
        UNION ALL SELECT id FROM block_volumes
        UNION ALL SELECT volume_id FROM server_volumes
    ),
    snapshots AS
    (
        SELECT s.organization_id AS organization_id, s.id AS id, s.name AS name, s.project_id AS project_id,
               toString(s.zone) AS zone, CAST(s.state, 'Nullable(String)') AS state, s.creation_date AS created,
               s.size AS size, s.base_volume_id AS source_volume_id,
               coalesce(CAST(s.volume_type, 'Nullable(String)'), '') AS price_key
        FROM instance_snapshots AS s
        UNION ALL
        SELECT s.organization_id, s.id, s.name, s.project_id, toString(s.zone), CAST(s.status, 'Nullable(String)'),
               s.created_at, s.size, s.parent_volume_id,
               coalesce(CAST(s.parent_volume_type, 'Nullable(String)'), CAST(s.class, 'Nullable(String)'), 'sbs')
        FROM block_snapshots AS s
    ),
    snapshot_findings AS
    (
        SELECT s.*,
               s.source_volume_id IS NULL OR s.source_volume_id NOT IN (SELECT id FROM live_volume_ids) AS orphaned,
               dateDiff('day', toDate(s.created), l.as_of) AS age
        FROM snapshots AS s
        INNER JOIN latest AS l ON l.organization_id = s.organization_id
        WHERE orphaned OR age >= {min_snapshot_age_days:UInt32}
    ),

    -- What a stopped server is billed for besides compute: its volumes (SBS volumes carry only {id, type} inside
    -- the server: size and type come from the Block API) and its flexible IPs. A part is (what, quantity,
    -- price_kind, zone, the key of its price in rate_card).
    volume_parts AS
    (
        SELECT sv.server_id AS server_id,
               groupArray((concat(if(sv.volume_type = 'sbs_volume', coalesce(CAST(bv.type, 'Nullable(String)'), 'sbs'),
                                     coalesce(CAST(sv.volume_type, 'Nullable(String)'), '?')),
                                  ' volume ', formatReadableDecimalSize(coalesce(bv.size, sv.size, 0))),
                           CAST(toDecimal128(coalesce(bv.size, sv.size), 9) / 1000000000, 'Nullable(Decimal(38, 9))'),
                           'volume_gb_hour', toString(sv.zone),
                           if(sv.volume_type = 'sbs_volume', coalesce(CAST(bv.type, 'Nullable(String)'), ''),
                              coalesce(CAST(sv.volume_type, 'Nullable(String)'), '')))) AS parts
        FROM server_volumes AS sv
        LEFT JOIN block_volumes AS bv ON bv.id = sv.volume_id
        GROUP BY sv.server_id
    ),
    ip_parts AS
    (
        SELECT assumeNotNull(ip.server_id) AS server_id,
               groupArray((concat('flexible IP ', coalesce(ip.address, ip.prefix, ip.id)),
                           CAST(toDecimal128(1, 9), 'Nullable(Decimal(38, 9))'), 'ip_hour', toString(ip.zone),
                           if(ip.type = 'routed_ipv6', 'routed_ipv6', 'routed_ipv4'))) AS parts
        FROM ips AS ip
        WHERE ip.server_id IS NOT NULL
        GROUP BY server_id
    ),

    -- One row per finding: what it is, the timestamp the API gives for the start of its state, and the parts it
    -- is billed for.
    findings AS
    (
        SELECT 'stopped_server' AS kind, s.organization_id AS organization_id, s.id AS resource_id,
               CAST(s.name, 'Nullable(String)') AS name, CAST(s.project_id, 'Nullable(String)') AS project_id,
               toString(s.zone) AS zone, CAST(s.state, 'Nullable(String)') AS state,
               s.modification_date AS api_since, CAST(NULL, 'Nullable(UInt64)') AS size_bytes,
               if(s.state = 'stopped in place', 'in standby (stopped in place), still billed for compute',
                  'powered off') AS what,
               CAST(arrayConcat(
                   if(s.state = 'stopped in place',
                      [(concat('compute ', coalesce(CAST(s.commercial_type, 'Nullable(String)'), '?')),
                        CAST(toDecimal128(1, 9), 'Nullable(Decimal(38, 9))'), 'server_hour', toString(s.zone),
                        coalesce(CAST(s.commercial_type, 'Nullable(String)'), ''))],
                      []),
                   vp.parts, ipp.parts), 'Array(Tuple(String, Nullable(Decimal(38, 9)), String, String, String))') AS parts
        FROM stopped AS s
        LEFT JOIN volume_parts AS vp ON vp.server_id = s.id
        LEFT JOIN ip_parts AS ipp ON ipp.server_id = s.id
        UNION ALL
        SELECT 'unknown_state', s.organization_id, s.id, CAST(s.name, 'Nullable(String)'),
               CAST(s.project_id, 'Nullable(String)'), toString(s.zone), CAST(s.state, 'Nullable(String)'),
               s.modification_date, CAST(NULL, 'Nullable(UInt64)'),
               concat('Instance in state "', coalesce(CAST(s.state, 'Nullable(String)'), 'null'),
                      '", unknown to costlake: it may still bill for compute, volumes and IPs; check it'),
               CAST([], 'Array(Tuple(String, Nullable(Decimal(38, 9)), String, String, String))')
        FROM unknown_servers AS s
        UNION ALL
        SELECT 'unknown_state', v.organization_id, v.id, v.name, v.project_id, toString(v.zone),
               CAST(v.status, 'Nullable(String)'), coalesce(v.last_detached_at, v.created_at), v.size,
               concat('Block Storage volume attached to nothing in status "',
                      coalesce(CAST(v.status, 'Nullable(String)'), 'null'),
                      '", unknown to costlake: it may still bill; check it'),
               CAST([], 'Array(Tuple(String, Nullable(Decimal(38, 9)), String, String, String))')
        FROM unknown_block AS v
        UNION ALL
        -- Instance volumes: local ones only; SBS volumes are listed, and judged, by the Block API below.
        SELECT 'unattached_volume', v.organization_id, v.id, v.name, v.project_id, toString(v.zone),
               CAST(v.state, 'Nullable(String)'), v.modification_date, v.size,
               concat(coalesce(CAST(v.volume_type, 'Nullable(String)'), 'Instance'), ' volume attached to no Instance'),
               CAST([(concat(coalesce(CAST(v.volume_type, 'Nullable(String)'), '?'), ' volume ',
                             formatReadableDecimalSize(coalesce(v.size, 0))),
                      CAST(toDecimal128(v.size, 9) / 1000000000, 'Nullable(Decimal(38, 9))'), 'volume_gb_hour',
                      toString(v.zone), coalesce(CAST(v.volume_type, 'Nullable(String)'), ''))], 'Array(Tuple(String, Nullable(Decimal(38, 9)), String, String, String))')
        FROM instance_volumes AS v
        WHERE v.server_id IS NULL AND coalesce(CAST(v.volume_type, 'Nullable(String)'), '') NOT IN ('sbs_volume', 'sbs_snapshot')
        UNION ALL
        SELECT 'unattached_volume', v.organization_id, v.id, v.name, v.project_id, toString(v.zone),
               CAST(v.status, 'Nullable(String)'), coalesce(v.last_detached_at, v.created_at), v.size,
               concat(coalesce(CAST(v.type, 'Nullable(String)'), 'Block Storage'), ' Block Storage volume attached to nothing'),
               CAST([(concat(coalesce(CAST(v.type, 'Nullable(String)'), '?'), ' volume ',
                             formatReadableDecimalSize(coalesce(v.size, 0))),
                      CAST(toDecimal128(v.size, 9) / 1000000000, 'Nullable(Decimal(38, 9))'), 'volume_gb_hour',
                      toString(v.zone), coalesce(CAST(v.type, 'Nullable(String)'), ''))], 'Array(Tuple(String, Nullable(Decimal(38, 9)), String, String, String))')
        FROM unattached_block AS v
        UNION ALL
        SELECT 'orphaned_ip', ip.organization_id, ip.id, coalesce(ip.address, ip.prefix), ip.project_id, toString(ip.zone),
               CAST(ip.state, 'Nullable(String)'), CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))'),
               CAST(NULL, 'Nullable(UInt64)'), 'flexible IP attached to no Instance, billed while reserved',
               CAST([(concat('flexible IP ', coalesce(ip.address, ip.prefix, ip.id)),
                      CAST(toDecimal128(1, 9), 'Nullable(Decimal(38, 9))'), 'ip_hour', toString(ip.zone),
                      if(ip.type = 'routed_ipv6', 'routed_ipv6', 'routed_ipv4'))], 'Array(Tuple(String, Nullable(Decimal(38, 9)), String, String, String))')
        FROM ips AS ip
        WHERE ip.server_id IS NULL
        UNION ALL
        SELECT if(s.orphaned, 'orphaned_snapshot', 'old_snapshot'), s.organization_id, s.id, s.name, s.project_id, s.zone,
               s.state, s.created, s.size,
               if(s.orphaned,
                  concat('snapshot of a volume that no longer exists, ', toString(s.age), ' days old'),
                  concat('snapshot ', toString(s.age), ' days old (threshold ', toString({min_snapshot_age_days:UInt32}), ')')),
               CAST([(concat(s.price_key, ' snapshot ', formatReadableDecimalSize(coalesce(s.size, 0))),
                      CAST(toDecimal128(s.size, 9) / 1000000000, 'Nullable(Decimal(38, 9))'), 'snapshot_gb_hour',
                      s.zone, s.price_key)], 'Array(Tuple(String, Nullable(Decimal(38, 9)), String, String, String))')
        FROM snapshot_findings AS s
    ),

    -- The best price of each part: overrides before APIs before the catalog, exact keys before wildcards. The
    -- findings are read once, their parts beside them (a finding with no part keeps one row, has_part false).
    priced AS
    (
        SELECT p.kind AS kind, p.resource_id AS resource_id, p.part AS part, p.quantity AS quantity,
               p.part_zone AS part_zone, any(p.has_part) AS has_part,
               any((p.organization_id, p.name, p.project_id, p.zone, p.state, p.api_since, p.size_bytes, p.what))
                   AS finding,
               countIf(rc.price_kind IS NOT NULL) > 0 AND p.quantity IS NOT NULL AS has_price,
               argMinIf(tuple(rc.monthly_price, rc.currency, rc.source), tuple(rc.priority, p.specificity),
                        rc.price_kind IS NOT NULL) AS best
        FROM
        (
            SELECT f.kind AS kind, f.resource_id AS resource_id, f.organization_id AS organization_id, f.name AS name,
                   f.project_id AS project_id, f.zone AS zone, f.state AS state, f.api_since AS api_since,
                   f.size_bytes AS size_bytes, f.what AS what, notEmpty(f.parts) AS has_part, part_no,
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
               arrayStringConcat(arraySort(groupArrayIf(concat(part, ' in ', part_zone), has_part AND NOT has_price)), ', ')
                   AS unpriced
        FROM priced
        GROUP BY kind, resource_id
    ),

    -- When each resource entered its current state, from the history of committed runs: the first run that
    -- saw it so after the last run that saw it otherwise (the table ghost_streaks, kept up to date at each load).
    streaks AS (SELECT kind, resource_id, last_healthy, streak_start FROM ghost_streaks),

    report_rows AS
    (
        SELECT c.kind AS kind, c.resource_id AS resource_id, tupleElement(c.finding, 2) AS name, tupleElement(c.finding, 3) AS project_id,
               pn.name AS project_name, tupleElement(c.finding, 4) AS zone, tupleElement(c.finding, 5) AS state, tupleElement(c.finding, 6) AS api_since,
               tupleElement(c.finding, 7) AS size_bytes, tupleElement(c.finding, 8) AS what,
               l.as_of AS as_of, c.part_count AS part_count, c.priced_parts AS priced_parts, c.known_cost AS known_cost,
               c.currency AS priced_currency, c.currencies AS currencies, c.billed AS billed, c.unpriced AS unpriced,
               toDate(multiIf(
                   kind IN ('old_snapshot', 'orphaned_snapshot', 'unknown_state'), api_since,
                   -- A load swaps the newest runs in before the streaks: for that moment, a new ghost has none yet.
                   st.streak_start IS NULL OR st.streak_start <= st.last_healthy, coalesce(api_since, l.snapshot_at),
                   api_since IS NOT NULL AND api_since > st.last_healthy AND api_since <= st.streak_start, api_since,
                   st.streak_start)) AS since
        FROM costs AS c
        INNER JOIN latest AS l ON l.organization_id = tupleElement(c.finding, 1)
        LEFT JOIN streaks AS st ON st.kind = c.kind AND st.resource_id = c.resource_id
        LEFT JOIN projects AS pn ON pn.id = tupleElement(c.finding, 3)
        WHERE {project:String} = '' OR tupleElement(c.finding, 3) = {project:String} OR pn.name = {project:String}
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
            if(unpriced != '', concat('; no known price for ', unpriced, ' (see price_overrides)'), '')
        ) AS reason
    FROM report_rows
    UNION ALL
    -- Load balancers with no server behind them (the model idle_load_balancers, shared with idle-services).
    SELECT 'idle_load_balancer' AS kind, b.resource_id AS resource_id, b.name AS name, b.project_id AS project_id,
           pn.name AS project_name, b.zone AS zone, b.status AS state, b.since AS since,
           dateDiff('day', b.since, l.as_of) AS age_days, CAST(NULL, 'Nullable(UInt64)') AS size_bytes,
           CAST(round(b.monthly_cost, 6), 'Nullable(Decimal(38, 6))') AS monthly_cost, b.currency AS currency,
           CAST(false, 'Bool') AS over_a_year,
           concat('load balancer ', coalesce(b.type, '?'),
                  if(b.reason_code = 'no_backend', ' with no backend', ' with no server in its backends'' pools'),
                  ': it forwards to nothing, billed by the hour',
                  if(b.monthly_cost IS NULL, concat('; no known price for load balancer ', coalesce(b.type, '?'), ' in ', b.zone, ' (see price_overrides)'), '')) AS reason
    FROM idle_load_balancers AS b
    INNER JOIN latest AS l ON l.organization_id = b.organization_id
    LEFT JOIN projects AS pn ON pn.id = b.project_id
    WHERE {project:String} = '' OR b.project_id = {project:String} OR pn.name = {project:String}
)
ORDER BY monthly_cost DESC NULLS LAST, kind, resource_id
SETTINGS join_use_nulls = 1
