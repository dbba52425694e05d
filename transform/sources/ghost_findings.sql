-- ghost_findings: the resources of the newest inventory that keep billing while doing nothing, with
-- the parts each is billed for; the table ghost_findings that ghost-resources prices (recomputed whole at each
-- load: it is as big as the newest inventory, whatever the history). Kinds as in ghost-resources, but for
-- `snapshot`: a snapshot of a volume that still exists, which the report calls old from its own
-- min_snapshot_age_days. Prices are not here: price_overrides apply when the report reads them.
--   parts: (what, quantity, price_kind, zone, the key of its price in rate_card) per part billed
--   since: when the resource entered this state, from its own timestamps and ghost_streaks (the first run that
--          saw it so, after the last run that saw it otherwise)
--   as_of: the day of the newest run of its organisation's inventory

WITH
    latest AS
    (
        SELECT organization_id, run_id, snapshot_at, toDate(snapshot_at) AS as_of FROM latest_runs
    ),
    -- Each dataset from the newest run that collected it (a run may collect only some sources).
    newest AS
    (
        SELECT dataset, run_id FROM newest_runs
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
    -- Volumes attached to nothing, from both APIs, in one shape (each billed as its volume type's GB-hours).
    unattached_volumes AS
    (
        -- Instance volumes: local ones only; SBS volumes are listed, and judged, by the Block API below.
        SELECT v.organization_id AS organization_id, v.id AS id, v.name AS name, v.project_id AS project_id,
               toString(v.zone) AS zone, CAST(v.state, 'Nullable(String)') AS state, v.modification_date AS api_since,
               v.size AS size, CAST(v.volume_type, 'Nullable(String)') AS volume_class,
               concat(coalesce(volume_class, 'Instance'), ' volume attached to no Instance') AS what
        FROM instance_volumes AS v
        WHERE v.server_id IS NULL AND coalesce(CAST(v.volume_type, 'Nullable(String)'), '') NOT IN ('sbs_volume', 'sbs_snapshot')
        UNION ALL
        SELECT v.organization_id, v.id, v.name, v.project_id, toString(v.zone), CAST(v.status, 'Nullable(String)'),
               coalesce(v.last_detached_at, v.created_at), v.size, CAST(v.type, 'Nullable(String)'),
               concat(coalesce(CAST(v.type, 'Nullable(String)'), 'Block Storage'), ' Block Storage volume attached to nothing')
        FROM unattached_block AS v
    ),
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
        SELECT 'unattached_volume', v.organization_id, v.id, v.name, v.project_id, v.zone, v.state, v.api_since,
               v.size, v.what,
               CAST([(concat(coalesce(v.volume_class, '?'), ' volume ', formatReadableDecimalSize(coalesce(v.size, 0))),
                      CAST(toDecimal128(v.size, 9) / 1000000000, 'Nullable(Decimal(38, 9))'), 'volume_gb_hour',
                      v.zone, coalesce(v.volume_class, ''))], 'Array(Tuple(String, Nullable(Decimal(38, 9)), String, String, String))')
        FROM unattached_volumes AS v
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
        SELECT if(s.orphaned, 'orphaned_snapshot', 'snapshot'), s.organization_id, s.id, s.name, s.project_id, s.zone,
               s.state, s.created, s.size,
               if(s.orphaned,
                  concat('snapshot of a volume that no longer exists, ', toString(s.age), ' days old'),
                  concat('snapshot ', toString(s.age), ' days old')),
               CAST([(concat(s.price_key, ' snapshot ', formatReadableDecimalSize(coalesce(s.size, 0))),
                      CAST(toDecimal128(s.size, 9) / 1000000000, 'Nullable(Decimal(38, 9))'), 'snapshot_gb_hour',
                      s.zone, s.price_key)], 'Array(Tuple(String, Nullable(Decimal(38, 9)), String, String, String))')
        FROM snapshot_findings AS s
    ),
    streaks AS (SELECT kind, resource_id, last_healthy, streak_start FROM ghost_streaks)
SELECT f.organization_id AS organization_id, f.kind AS kind, f.resource_id AS resource_id, f.name AS name,
       f.project_id AS project_id, f.zone AS zone, f.state AS state,
       toDate(multiIf(
           f.kind IN ('snapshot', 'orphaned_snapshot', 'unknown_state'), f.api_since,
           -- No streak yet (the streaks hold every run a load brings before this table is computed; kept safe).
           st.streak_start IS NULL OR st.streak_start <= st.last_healthy, coalesce(f.api_since, l.snapshot_at),
           f.api_since IS NOT NULL AND f.api_since > st.last_healthy AND f.api_since <= st.streak_start, f.api_since,
           st.streak_start)) AS since,
       l.as_of AS as_of, f.size_bytes AS size_bytes, f.what AS what, f.parts AS parts
FROM findings AS f
INNER JOIN latest AS l ON l.organization_id = f.organization_id
LEFT JOIN streaks AS st ON st.kind = f.kind AND st.resource_id = f.resource_id
SETTINGS join_use_nulls = 1;
