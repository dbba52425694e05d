-- 0018: each Instance's highest memory in use per day, where Cockpit serves a memory series for it
-- (instance_server_memory_used, bytes; NULL without one), so that rightsizing recommends no type whose RAM would
-- not hold it; and the members of each scaling group (Autoscaling v1alpha2 `…/servers?group_id=`), so that
-- scaling-groups can read its Instances' CPU around its scaling events. The next load recomputes every day of
-- instance_cpu_daily (its model's text changed).

ALTER TABLE instance_cpu_daily ADD COLUMN IF NOT EXISTS memory_used_max Nullable(Float64);

CREATE TABLE IF NOT EXISTS raw_autoscaling_group_servers
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    zone            LowCardinality(String),
    group_id        String,
    server_id       Nullable(String),
    raw             String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(snapshot_at)
ORDER BY (run_id, group_id);
