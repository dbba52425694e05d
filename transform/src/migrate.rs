//! The warehouse schema, in two kinds of SQL file, both embedded at build time (`build.rs`):
//! - `transform/migrations/NNNN_name.sql`: tables, the schema's history. Applied in version order, once, each
//!   recorded in `_migrations` with a checksum of its text. Append-only: a change is a new file, and an applied
//!   migration whose text changed since is a clear error rather than a silent difference between warehouses.
//! - `transform/models/<name>.sql`: views, one file each holding its current definition and its explanation.
//!   They hold no data, so they are recreated whenever any model's text differs from what `_models` recorded,
//!   in dependency order (a model after the models it reads).
//!
//! A third kind, `transform/sources/<table>.sql`, is no schema object: the query a load runs to compute a
//! materialised table (`crate::models`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::warehouse::{Result, Warehouse, WarehouseError, WarehouseLocation};

pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    pub fn checksum(&self) -> String {
        checksum(self.sql)
    }

    fn label(&self) -> String {
        format!("transform/migrations/{:04}_{}.sql", self.version, self.name)
    }
}

include!(concat!(env!("OUT_DIR"), "/sql_files.rs"));

/// A view of the model: its name (the file's) and its `CREATE OR REPLACE VIEW` statement.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    pub name: &'static str,
    pub sql: &'static str,
}

/// What [`migrate`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Migrated {
    /// Versions of the migrations applied.
    pub migrations: Vec<u32>,
    /// Models (re)created, in the order they were created; empty when every one was current.
    pub models: Vec<&'static str>,
}

impl Migrated {
    pub fn is_empty(&self) -> bool {
        self.migrations.is_empty() && self.models.is_empty()
    }
}

/// The schema version this costlake writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// SHA-256 of a file's text, in hex.
pub fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// One SHA-256 over every model's and every source's text: what a materialised table was built with, beside the
/// ledger. The text is compiled in, so it is hashed once per process, not on every command's staleness check.
pub fn models_checksum() -> &'static str {
    static CHECKSUM: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let models = MODEL_FILES.iter().map(|(name, sql)| format!("{name}:{}\n", checksum(sql)));
        let sources = SOURCE_FILES.iter().map(|(table, sql)| format!("sources/{table}:{}\n", checksum(sql)));
        checksum(&models.chain(sources).collect::<String>())
    });
    &CHECKSUM
}

/// One SHA-256 over what a warehouse holds when this costlake finds it current: each migration's version and
/// checksum, each model's name and checksum. Two costlakes of one fingerprint migrate a warehouse alike.
pub fn schema_fingerprint() -> &'static str {
    static FINGERPRINT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let migrations = MIGRATIONS.iter().map(|m| format!("migration {}:{}\n", m.version, m.checksum()));
        let models = model_checksums().into_iter().map(|(name, sum)| format!("model {name}:{sum}\n"));
        checksum(&migrations.chain(models).collect::<String>())
    });
    &FINGERPRINT
}

/// The file, in an embedded warehouse, holding the [`schema_fingerprint`] of the last costlake that found the
/// warehouse current (after migrating or loading it). Where it holds this costlake's, a read can open the tables on
/// first use: it will have nothing to migrate, which needs every table open.
const SCHEMA_MARK: &str = "costlake-schema";

/// Whether the embedded warehouse in `dir` was last found current by a costlake of this one's schema.
pub fn marked_current(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(SCHEMA_MARK)).is_ok_and(|held| held.trim() == schema_fingerprint())
}

/// Notes in the embedded warehouse `location`, just found current, this costlake's schema. Best effort: without the
/// note, a read only opens every table at start.
pub fn mark_current(location: &WarehouseLocation) {
    let WarehouseLocation::Embedded { dir, .. } = location else { return };
    if marked_current(dir) {
        return;
    }
    let (path, next) = (dir.join(SCHEMA_MARK), dir.join(format!("{SCHEMA_MARK}.next")));
    let fingerprint = format!("{}\n", schema_fingerprint());
    if let Err(error) = crate::warehouse::chdb::replace_file(&path, &next, fingerprint.as_bytes()) {
        tracing::debug!(file = %path.display(), %error, "could not note the warehouse's schema");
    }
}

/// Takes back the note of [`mark_current`], before something that may change the schema (a statement of anyone's).
pub fn forget_current(location: &WarehouseLocation) {
    if let WarehouseLocation::Embedded { dir, .. } = location {
        let _ = std::fs::remove_file(dir.join(SCHEMA_MARK));
    }
}

/// Applies the migrations the warehouse lacks, then recreates the models if any changed.
pub async fn migrate(warehouse: &dyn Warehouse) -> Result<Migrated> {
    if current(warehouse).await {
        return Ok(Migrated::default());
    }
    let migrations = apply_migrations(warehouse).await?;
    let models = refresh_models(warehouse).await?;
    if !migrations.is_empty() {
        crate::models::fill_new(warehouse).await?;
    }
    Ok(Migrated { migrations, models })
}

/// Each model's name and the checksum of its text, as `_models` records them.
fn model_checksums() -> BTreeMap<String, String> {
    MODEL_FILES.iter().map(|(name, sql)| (name.to_string(), checksum(sql))).collect()
}

/// Whether the warehouse holds exactly this costlake's migrations and models, asked in one read: every command
/// checks, and the full check's five statements (two of them writes) were a tenth of a report's start. Anything
/// else (a table missing, a migration to apply, an edited one, another costlake's) takes the full path, which
/// applies what is missing or says what is wrong.
pub async fn current(warehouse: &dyn Warehouse) -> bool {
    let sql = "SELECT 'migration', toString(version), checksum FROM _migrations FINAL \
               UNION ALL SELECT 'model', name, checksum FROM _models FINAL";
    let Ok(out) = warehouse.query(sql, &[], "TabSeparated").await else { return false };
    let mut migrations = BTreeMap::new();
    let mut models = BTreeMap::new();
    for row in tsv_rows(&out) {
        if let [kind, name, checksum] = row.as_slice() {
            let held = if kind == "migration" { &mut migrations } else { &mut models };
            held.insert(name.clone(), checksum.clone());
        }
    }
    let expected_migrations: BTreeMap<String, String> =
        MIGRATIONS.iter().map(|m| (m.version.to_string(), m.checksum())).collect();
    migrations == expected_migrations && models == model_checksums()
}

/// The migrations `_migrations` records as applied (versions), and those applied before checksums were recorded;
/// an error if one is unknown to this costlake, newer, or was edited after it was applied.
async fn applied(warehouse: &dyn Warehouse) -> Result<(Vec<u32>, Vec<&'static Migration>)> {
    let applied = warehouse
        .query("SELECT version, name, checksum FROM _migrations FINAL ORDER BY version", &[], "TabSeparated")
        .await?;
    let refuse = |reason: String| WarehouseError::Open { warehouse: warehouse.describe(), reason };

    let mut applied_versions = Vec::new();
    let mut unrecorded = Vec::new();
    for row in tsv_rows(&applied) {
        let (Some(version), Some(name), checksum) =
            (row.first().and_then(|v| v.parse::<u32>().ok()), row.get(1), row.get(2).map_or("", String::as_str))
        else {
            continue;
        };
        applied_versions.push(version);
        let Some(migration) = MIGRATIONS.iter().find(|m| m.version == version) else {
            return Err(refuse(if version > latest_version() {
                format!(
                    "its schema is at version {version}, newer than this costlake's {}; upgrade costlake",
                    latest_version()
                )
            } else {
                format!("it has migration {version} ({name}) applied, which this costlake does not have")
            }));
        };
        if checksum.is_empty() {
            // Applied before checksums were recorded: what ran is not known, so record today's text.
            unrecorded.push(migration);
        } else if checksum != migration.checksum() {
            return Err(refuse(format!(
                "migration {} was edited after it was applied here (checksum {} applied, {} now): an applied \
                 migration is history; restore its text and put the change in a new migration file",
                migration.label(),
                &checksum[..checksum.len().min(12)],
                &migration.checksum()[..12],
            )));
        }
    }
    Ok((applied_versions, unrecorded))
}

/// Where a warehouse's schema stands, read without changing anything (`costlake doctor`).
#[derive(Debug, PartialEq, Eq)]
pub struct SchemaStatus {
    pub applied: usize,
    /// Migrations the next load or run applies.
    pub pending: usize,
}

/// The schema's status: `_migrations` checked as [`migrate`] checks it, nothing applied or recorded.
pub async fn status(warehouse: &dyn Warehouse) -> Result<SchemaStatus> {
    let exists = warehouse.query("EXISTS TABLE _migrations", &[], "TabSeparated").await?;
    if String::from_utf8_lossy(&exists).trim() != "1" {
        return Ok(SchemaStatus { applied: 0, pending: MIGRATIONS.len() });
    }
    let (applied, _) = applied(warehouse).await?;
    let pending = MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)).count();
    Ok(SchemaStatus { applied: applied.len(), pending })
}

pub(crate) fn tsv_rows(out: &[u8]) -> Vec<Vec<String>> {
    String::from_utf8_lossy(out).lines().map(|line| line.split('\t').map(str::to_string).collect()).collect()
}

async fn apply_migrations(warehouse: &dyn Warehouse) -> Result<Vec<u32>> {
    warehouse
        .execute(
            "CREATE TABLE IF NOT EXISTS _migrations (version UInt32, name String, applied_at DateTime64(3, 'UTC'), \
             checksum String) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version",
            &[],
        )
        .await?;
    // Warehouses created before checksums were recorded.
    warehouse.execute("ALTER TABLE _migrations ADD COLUMN IF NOT EXISTS checksum String", &[]).await?;
    let (applied_versions, unrecorded) = applied(warehouse).await?;
    for migration in unrecorded {
        record(warehouse, migration).await?;
    }

    let mut done = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !applied_versions.contains(&m.version)) {
        for statement in statements(migration.sql) {
            warehouse.execute(&statement, &[]).await?;
        }
        record(warehouse, migration).await?;
        tracing::info!(version = migration.version, name = migration.name, "migration applied");
        done.push(migration.version);
    }
    Ok(done)
}

async fn record(warehouse: &dyn Warehouse, migration: &Migration) -> Result<()> {
    warehouse
        .execute(
            "INSERT INTO _migrations (version, name, applied_at, checksum) \
             SELECT {version:UInt32}, {name:String}, now64(3), {checksum:String}",
            &[
                ("version".into(), migration.version.to_string()),
                ("name".into(), migration.name.into()),
                ("checksum".into(), migration.checksum()),
            ],
        )
        .await
}

/// Every model, each after the models it reads.
pub fn models() -> std::result::Result<Vec<Model>, String> {
    let names: BTreeSet<&str> = MODEL_FILES.iter().map(|(name, _)| *name).collect();
    let mut pending: BTreeMap<&str, (&str, BTreeSet<&str>)> = MODEL_FILES
        .iter()
        .map(|(name, sql)| {
            let reads = identifiers(sql).filter(|id| id != name && names.contains(id)).collect();
            (*name, (*sql, reads))
        })
        .collect();
    let mut ordered = Vec::new();
    while !pending.is_empty() {
        let ready: Vec<&str> = pending
            .iter()
            .filter(|(_, (_, reads))| reads.iter().all(|r| !pending.contains_key(r)))
            .map(|(name, _)| *name)
            .collect();
        if ready.is_empty() {
            let stuck: Vec<&str> = pending.keys().copied().collect();
            return Err(format!("transform/models: these models read each other in a cycle: {}", stuck.join(", ")));
        }
        for name in ready {
            let (sql, _) = pending.remove(name).expect("ready models are pending");
            ordered.push(Model { name, sql });
        }
    }
    Ok(ordered)
}

/// The identifiers of a statement outside its comments (`FROM runs AS r` → `FROM`, `runs`, `AS`, `r`).
pub(crate) fn identifiers(sql: &str) -> impl Iterator<Item = &str> {
    sql.lines()
        .map(|line| line.split_once("--").map_or(line, |(code, _)| code))
        .flat_map(|code| code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|word| !word.is_empty())
}

async fn refresh_models(warehouse: &dyn Warehouse) -> Result<Vec<&'static str>> {
    let models = models().map_err(|reason| WarehouseError::Open { warehouse: warehouse.describe(), reason })?;
    warehouse
        .execute(
            // No version column: the row inserted last wins, whatever the clocks of the machines that wrote them.
            "CREATE TABLE IF NOT EXISTS _models (name String, checksum String, created_at DateTime64(3, 'UTC')) \
             ENGINE = ReplacingMergeTree ORDER BY name",
            &[],
        )
        .await?;
    let recorded = warehouse.query("SELECT name, checksum FROM _models FINAL", &[], "TabSeparated").await?;
    let recorded: BTreeMap<String, String> =
        tsv_rows(&recorded).into_iter().filter_map(|row| Some((row.first()?.clone(), row.get(1)?.clone()))).collect();
    let current = model_checksums();
    if recorded == current {
        return Ok(Vec::new());
    }
    // A model whose file is gone is dropped: nothing may keep reading a definition nobody maintains.
    for name in recorded.keys().filter(|name| !current.contains_key(*name)) {
        warehouse.execute(&format!("DROP VIEW IF EXISTS `{}`", name.replace('`', "")), &[]).await?;
        warehouse.execute("DELETE FROM _models WHERE name = {name:String}", &[("name".into(), name.clone())]).await?;
    }
    let mut created = Vec::new();
    for model in &models {
        for statement in statements(model.sql) {
            warehouse.execute(&statement, &[]).await?;
        }
        warehouse
            .execute(
                "INSERT INTO _models (name, checksum, created_at) SELECT {name:String}, {checksum:String}, now64(3)",
                &[("name".into(), model.name.into()), ("checksum".into(), checksum(model.sql))],
            )
            .await?;
        created.push(model.name);
    }
    tracing::info!(models = created.len(), "models created");
    Ok(created)
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
    fn migrations_are_numbered_in_order_and_hold_no_view() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1, "{}: versions follow each other", migration.label());
            let statements = statements(migration.sql);
            assert!(!statements.is_empty(), "{} is empty", migration.label());
            for statement in statements {
                assert!(
                    !statement.to_uppercase().contains("CREATE OR REPLACE VIEW"),
                    "{}: a view is a model, one file in transform/models/",
                    migration.label()
                );
            }
        }
    }

    #[test]
    fn each_model_file_is_one_view_named_as_the_file() {
        assert!(!MODEL_FILES.is_empty());
        for (name, sql) in MODEL_FILES {
            let statements = statements(sql);
            assert_eq!(statements.len(), 1, "transform/models/{name}.sql holds one statement");
            let expected = format!("CREATE OR REPLACE VIEW {name} AS");
            assert!(statements[0].starts_with(&expected), "transform/models/{name}.sql must start with `{expected}`");
        }
    }

    #[test]
    fn models_come_after_the_models_they_read() {
        let ordered = models().unwrap();
        let position = |name: &str| ordered.iter().position(|m| m.name == name).unwrap();
        assert_eq!(ordered.len(), MODEL_FILES.len());
        assert!(position("runs") < position("inventory_history"));
        assert!(position("runs") < position("consumption_pulls"));
        assert!(position("charges_latest") < position("focus_costs"));
    }

    #[test]
    fn identifiers_skip_comments() {
        let words: Vec<&str> = identifiers("SELECT a.b -- from runs\nFROM latest_runs").collect();
        assert_eq!(words, ["SELECT", "a", "b", "FROM", "latest_runs"]);
    }
}
