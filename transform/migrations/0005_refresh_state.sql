-- 0005: which loads each materialised table was built from.
--
-- The loader rebuilds the materialised tables (billing_daily) after it writes a run's ledger row. A crash
-- between the two would leave a table older than the ledger; recording the ledger each table was built from
-- lets every later load see that and rebuild, even a load that finds no new run.

CREATE TABLE IF NOT EXISTS _refresh_state
(
    table_name   String,
    ledger       String,
    refreshed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(refreshed_at)
ORDER BY table_name;
