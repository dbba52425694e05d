-- 0014: the derived tables are maintained per loaded run instead of rebuilt whole at every load.
--
-- A load recomputes only the days (or, for billing_daily, the billing periods) that its runs brought data for,
-- partition by partition: the partition's other rows are copied into the twin table `<table>_next`, the touched
-- days recomputed beside them, and the partition swapped in with `REPLACE PARTITION`, atomic as the `EXCHANGE
-- TABLES` of a whole rebuild was. instance_cpu_hourly, the big one, is partitioned by month; the daily tables are
-- small enough to swap whole. `_refresh_runs` records which runs each table holds, and under which models (a
-- checksum of their text): a run not recorded (a load killed before its refresh) is folded in by the next load,
-- and a table built by other models is rebuilt whole. It replaces `_refresh_state`'s fingerprint of the ledger.
-- Every statement is safe to run twice, and from two processes at once.

CREATE TABLE IF NOT EXISTS _refresh_runs
(
    table_name   String,
    models       String,
    run_id       String,
    refreshed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(refreshed_at)
ORDER BY (table_name, models, run_id);

DROP TABLE IF EXISTS _refresh_state;
