//! Derived tables: models too costly to recompute on every read are materialised after each load.
//!
//! Each is rebuilt whole from its `*_source` view into a twin table, then swapped in with `EXCHANGE TABLES`
//! (atomic on ClickHouse's default Atomic database engine): a reader sees the old table or the new one, never a
//! half-built one, and a crash mid-rebuild leaves the old one in place.

use crate::warehouse::{Result, Warehouse};

/// (table, source view) pairs, rebuilt in this order.
pub const MATERIALISED: &[(&str, &str)] = &[("billing_daily", "billing_daily_source")];

pub async fn refresh(warehouse: &dyn Warehouse) -> Result<()> {
    for (table, source) in MATERIALISED {
        let next = format!("{table}_next");
        warehouse.execute(&format!("CREATE TABLE IF NOT EXISTS {next} AS {table}"), &[]).await?;
        warehouse.execute(&format!("TRUNCATE TABLE {next}"), &[]).await?;
        warehouse.execute(&format!("INSERT INTO {next} SELECT * FROM {source}"), &[]).await?;
        warehouse.execute(&format!("EXCHANGE TABLES {next} AND {table}"), &[]).await?;
        warehouse.execute(&format!("TRUNCATE TABLE {next}"), &[]).await?;
        tracing::debug!(table, "model refreshed");
    }
    Ok(())
}
