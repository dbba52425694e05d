//! Derived tables: models too costly to recompute on every read are materialised after each load.
//!
//! Each is rebuilt whole from its `*_source` view into a twin table, then swapped in with `EXCHANGE TABLES`
//! (atomic on ClickHouse's default Atomic database engine): a reader sees the old table or the new one, never a
//! half-built one, and a crash mid-rebuild leaves the old one in place. Each rebuild records the ledger it was
//! built from (`_refresh_state`), so a table that fell behind the ledger (a crash after a run's ledger row,
//! before its rebuild) is found stale and rebuilt by the next load, whatever that load finds to load. The record
//! also holds a checksum of the models' text: a costlake whose models changed finds the table stale too, so an
//! upgrade never leaves a table computed by the old definition.

use crate::warehouse::{Result, Warehouse};

/// (table, source view) pairs, rebuilt in this order.
pub const MATERIALISED: &[(&str, &str)] = &[
    ("billing_daily", "billing_daily_source"),
    // Hours first: the days merge them.
    ("instance_cpu_hourly", "instance_cpu_hourly_source"),
    ("instance_cpu_daily", "instance_cpu_daily_source"),
    ("rdb_usage_daily", "rdb_usage_daily_source"),
];

/// A fingerprint of the loaded runs: their count and a hash of their ids (order-free).
const LEDGER_FINGERPRINT: &str =
    "SELECT concat(toString(count()), ':', toString(groupBitXor(sipHash64(run_id)))) FROM _load_ledger FINAL";

/// What a materialised table is built from: the loaded runs and the models' definitions.
async fn fingerprint(warehouse: &dyn Warehouse) -> Result<String> {
    let ledger = scalar(warehouse, LEDGER_FINGERPRINT, &[]).await?;
    Ok(format!("{ledger}:{}", crate::migrate::models_checksum()))
}

async fn scalar(warehouse: &dyn Warehouse, sql: &str, params: &[crate::warehouse::Param]) -> Result<String> {
    let out = warehouse.query(sql, params, "TabSeparated").await?;
    Ok(String::from_utf8_lossy(&out).trim().to_string())
}

/// The materialised tables built from another ledger, or other models, than the current ones.
pub async fn stale(warehouse: &dyn Warehouse) -> Result<Vec<&'static str>> {
    let ledger = fingerprint(warehouse).await?;
    let mut stale = Vec::new();
    for (table, _) in MATERIALISED {
        let built_from = scalar(
            warehouse,
            "SELECT argMax(ledger, refreshed_at) FROM _refresh_state WHERE table_name = {table:String}",
            &[("table".into(), table.to_string())],
        )
        .await?;
        if built_from != ledger {
            stale.push(*table);
        }
    }
    Ok(stale)
}

/// Rebuilds every materialised table; returns the tables rebuilt.
pub async fn refresh(warehouse: &dyn Warehouse) -> Result<Vec<&'static str>> {
    let ledger = fingerprint(warehouse).await?;
    let mut rebuilt = Vec::new();
    for (table, source) in MATERIALISED {
        let clock = std::time::Instant::now();
        let next = format!("{table}_next");
        warehouse.execute(&format!("CREATE TABLE IF NOT EXISTS {next} AS {table}"), &[]).await?;
        warehouse.execute(&format!("TRUNCATE TABLE {next}"), &[]).await?;
        crate::load::failpoint("models.mid_rebuild").await;
        warehouse.execute(&format!("INSERT INTO {next} SELECT * FROM {source}"), &[]).await?;
        crate::load::failpoint("models.pause_before_exchange").await;
        warehouse.execute(&format!("EXCHANGE TABLES {next} AND {table}"), &[]).await?;
        crate::load::failpoint("models.after_exchange").await;
        warehouse.execute(&format!("TRUNCATE TABLE {next}"), &[]).await?;
        warehouse
            .execute(
                "INSERT INTO _refresh_state (table_name, ledger, refreshed_at) \
                 SELECT {table:String}, {ledger:String}, now64(3)",
                &[("table".into(), table.to_string()), ("ledger".into(), ledger.clone())],
            )
            .await?;
        tracing::info!(table, ms = clock.elapsed().as_millis() as u64, "model refreshed");
        rebuilt.push(*table);
    }
    Ok(rebuilt)
}
