-- 0025: scaling-groups' events per group and day become a table kept at load
-- (`transform/sources/scaling_event_days.sql`): the report ordered every event, judged the flaps and looked up the
-- members' CPU hours at each read, about 85 ms of its 180 in the engine (BENCHMARKS.md, 2026-12-06, afternoon).
-- Filled at once after migrating (models::fill_new), then recomputed at each load.

CREATE TABLE IF NOT EXISTS scaling_event_days
(
    organization_id String,
    group_id        String,
    day             Date,
    ups             UInt64,
    downs           UInt64,
    others          UInt64,
    flaps           UInt64,
    up_cpu          Float64,
    up_measured     UInt64,
    down_cpu        Float64,
    down_measured   UInt64
)
ENGINE = MergeTree
ORDER BY (organization_id, group_id, day);
