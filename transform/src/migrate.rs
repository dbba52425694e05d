//! Versioned schema migrations: SQL files in `transform/migrations/`, applied in order, each recorded in
//! `_migrations`. Files are append-only history: a change to the schema is a new file.

use crate::warehouse::{Result, Warehouse, WarehouseError};

pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "ledger_and_raw_inventory",
        sql: include_str!("../migrations/0001_ledger_and_raw_inventory.sql"),
    },
    Migration { version: 2, name: "inventory_models", sql: include_str!("../migrations/0002_inventory_models.sql") },
    Migration {
        version: 3,
        name: "billing_raw_and_dataset_runs",
        sql: include_str!("../migrations/0003_billing_raw_and_dataset_runs.sql"),
    },
    Migration { version: 4, name: "billing_models", sql: include_str!("../migrations/0004_billing_models.sql") },
];

/// The schema version this costlake writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Applies the migrations the warehouse lacks; returns the versions applied.
pub async fn migrate(warehouse: &dyn Warehouse) -> Result<Vec<u32>> {
    warehouse
        .execute(
            "CREATE TABLE IF NOT EXISTS _migrations (version UInt32, name String, applied_at DateTime64(3, 'UTC')) \
             ENGINE = ReplacingMergeTree(applied_at) ORDER BY version",
            &[],
        )
        .await?;
    let applied =
        warehouse.query("SELECT version FROM _migrations FINAL ORDER BY version", &[], "TabSeparated").await?;
    let applied: Vec<u32> = String::from_utf8_lossy(&applied).lines().filter_map(|l| l.trim().parse().ok()).collect();
    if let Some(&newest) = applied.iter().max()
        && newest > latest_version()
    {
        return Err(WarehouseError::Open {
            warehouse: warehouse.describe(),
            reason: format!(
                "its schema is at version {newest}, newer than this costlake's {}; upgrade costlake",
                latest_version()
            ),
        });
    }
    let mut done = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        for statement in statements(migration.sql) {
            warehouse.execute(&statement, &[]).await?;
        }
        warehouse
            .execute(
                "INSERT INTO _migrations SELECT {version:UInt32}, {name:String}, now64(3)",
                &[("version".into(), migration.version.to_string()), ("name".into(), migration.name.into())],
            )
            .await?;
        tracing::info!(version = migration.version, name = migration.name, "migration applied");
        done.push(migration.version);
    }
    Ok(done)
}

/// Splits a migration file into statements: a statement ends with a line ending in `;`.
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let is_comment = line.trim_start().starts_with("--");
        if is_comment && current.trim().is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if !is_comment && line.trim_end().ends_with(';') {
            let statement = current.trim().trim_end_matches(';').trim().to_string();
            if !statement.is_empty() {
                out.push(statement);
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements_and_skips_leading_comments() {
        let parts = statements(
            "-- header\n\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n-- note; with semicolon\nSELECT 1\nFROM b;\n",
        );
        assert_eq!(parts, vec!["CREATE TABLE a (x UInt8) ENGINE = Memory", "SELECT 1\nFROM b"]);
    }

    #[test]
    fn migrations_are_numbered_in_order() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1);
            assert!(!statements(migration.sql).is_empty());
        }
    }
}
