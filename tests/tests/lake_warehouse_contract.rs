//! The contract between the lake and the warehouse: every dataset a product writes has a raw table with the
//! same columns in the same order and compatible types. Checked twice: from the migrations' text alone (no
//! engine, so it fails first and says which file to fix), and on the real engine.

use std::collections::BTreeMap;

use costlake_ingest::dataset::{DatasetSpec, Kind, arrow_type};
use costlake_ingest::sources;
use costlake_tests::engine::chdb_library;
use costlake_transform::load::table_of;
use costlake_transform::migrate::{self, MIGRATIONS, statements};
use costlake_transform::warehouse::Warehouse;
use costlake_transform::warehouse::chdb::EmbeddedWarehouse;

fn clickhouse_type_for(kind: Kind) -> &'static str {
    match kind {
        Kind::Str | Kind::Currency | Kind::Json => "String",
        Kind::U64 => "UInt64",
        Kind::I64 => "Int64",
        Kind::Bool => "Bool",
        Kind::Timestamp => "DateTime64(6, 'UTC')",
        Kind::Decimal => "Decimal(38, 9)",
        Kind::StrList => "Array(String)",
        Kind::F64 => "Float64",
    }
}

/// `LowCardinality(Nullable(String))` → (`String`, nullable).
fn base_type(declared: &str) -> (String, bool) {
    let mut ty = declared.trim().to_string();
    let mut nullable = false;
    loop {
        if let Some(inner) = ty.strip_prefix("LowCardinality(").and_then(|t| t.strip_suffix(')')) {
            ty = inner.to_string();
        } else if let Some(inner) = ty.strip_prefix("Nullable(").and_then(|t| t.strip_suffix(')')) {
            ty = inner.to_string();
            nullable = true;
        } else {
            return (ty, nullable);
        }
    }
}

fn specs() -> Vec<DatasetSpec> {
    sources::all().iter().flat_map(|s| s.datasets()).collect()
}

/// Checks a raw table's (name, ClickHouse type) columns against its dataset.
fn assert_columns_match(spec: &DatasetSpec, table: &str, columns: &[(String, String)], origin: &str) {
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let expected: Vec<&str> = spec.columns.iter().map(|c| c.name).collect();
    assert_eq!(names, expected, "{table} ({origin}): columns differ from dataset {}", spec.name);
    for (column, (name, declared)) in spec.columns.iter().zip(columns) {
        let (ty, nullable) = base_type(declared);
        assert_eq!(
            ty,
            clickhouse_type_for(column.kind),
            "{table}.{name} ({declared}, {origin}) holds Arrow {:?}",
            arrow_type(column.kind)
        );
        if column.required {
            assert!(!nullable, "{table}.{name} ({origin}) is required in the dataset and must not be Nullable");
        } else if column.kind != Kind::StrList {
            assert!(
                nullable,
                "{table}.{name} ({origin}) is optional in the dataset: NULL must stay NULL, not become 0 or ''"
            );
        }
    }
}

/// The columns of every table as the migrations leave them, read from their text: `CREATE TABLE` column lists
/// and `ALTER TABLE … ADD COLUMN [IF NOT EXISTS] name Type [AFTER other]`.
fn tables_from_migrations() -> BTreeMap<String, Vec<(String, String)>> {
    let mut tables: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for migration in MIGRATIONS {
        for statement in statements(migration.sql) {
            let code: Vec<&str> = statement.lines().map(|l| l.split_once("--").map_or(l, |(c, _)| c)).collect();
            let code = code.join("\n");
            if let Some(rest) = code.strip_prefix("CREATE TABLE IF NOT EXISTS ") {
                let (name, body) = rest.split_once('(').unwrap();
                // The column list ends at the parenthesis that closes the first one.
                let mut depth = 1;
                let end = body
                    .char_indices()
                    .find(|&(_, c)| {
                        depth += match c {
                            '(' => 1,
                            ')' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .unwrap()
                    .0;
                let columns = split_top_level(&body[..end])
                    .into_iter()
                    .map(|definition| column_definition(&definition))
                    .collect();
                tables.insert(name.trim().to_string(), columns);
            } else if let Some(rest) = code.strip_prefix("ALTER TABLE ") {
                let (table, action) = rest.split_once(' ').unwrap();
                let action = action.trim();
                let Some(column) = action.strip_prefix("ADD COLUMN ") else { continue };
                let column = column.trim_start_matches("IF NOT EXISTS ");
                let (definition, after) = match column.split_once(" AFTER ") {
                    Some((definition, after)) => (definition, Some(after.trim())),
                    None => (column, None),
                };
                let columns = tables.get_mut(table).unwrap_or_else(|| panic!("ALTER of unknown table {table}"));
                let parsed = column_definition(definition);
                match after.and_then(|a| columns.iter().position(|(n, _)| n == a)) {
                    Some(index) => columns.insert(index + 1, parsed),
                    None => columns.push(parsed),
                }
            }
        }
    }
    tables
}

/// `a Nullable(String), b Decimal(38, 9)` → the two definitions (commas inside parentheses do not split).
fn split_top_level(list: &str) -> Vec<String> {
    let (mut parts, mut current, mut depth) = (Vec::new(), String::new(), 0);
    for c in list.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
}

/// `size Nullable(UInt64) CODEC(ZSTD(3))` → (`size`, `Nullable(UInt64)`).
fn column_definition(definition: &str) -> (String, String) {
    let (name, ty) = definition.trim().split_once(char::is_whitespace).unwrap();
    let ty = ty.trim();
    let ty = ty.split_once(" CODEC(").map_or(ty, |(t, _)| t);
    let ty = ty.split_once(" DEFAULT ").map_or(ty, |(t, _)| t);
    (name.to_string(), ty.trim().to_string())
}

#[test]
fn raw_tables_match_datasets() {
    let tables = tables_from_migrations();
    let specs = specs();
    assert!(specs.len() >= 17, "the registry lists every product's datasets");
    for spec in &specs {
        let table = table_of(spec.name);
        let columns = tables.get(&table).unwrap_or_else(|| {
            panic!(
                "dataset {} has no raw table: add `CREATE TABLE IF NOT EXISTS {table}` in a new migration",
                spec.name
            )
        });
        assert_columns_match(spec, &table, columns, "transform/migrations");
    }
    for table in tables.keys().filter(|t| t.starts_with("raw_")) {
        assert!(
            specs.iter().any(|s| &table_of(s.name) == table),
            "{table} is a raw table of no dataset that a product declares"
        );
    }
}

#[test]
fn the_ddl_reader_sees_a_wrong_type() {
    // The check above must be able to fail: a column typed unlike its dataset is caught.
    let spec = sources::instance::ips();
    let mut columns = tables_from_migrations()[&table_of(spec.name)].clone();
    columns[5].1 = "Nullable(UInt64)".into();
    let caught = std::panic::catch_unwind(|| assert_columns_match(&spec, "raw_instance_ips", &columns, "edited"));
    assert!(caught.is_err(), "a wrong column type must fail the contract");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dataset_has_a_matching_raw_table() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    migrate::migrate(&warehouse).await.unwrap();

    let known = sources::known_datasets();
    for spec in specs() {
        assert!(
            known.iter().any(|k| k.name == spec.name && k.schema_version == spec.schema_version),
            "{}: the loader must know its schema version",
            spec.name
        );
        let table = table_of(spec.name);
        let columns = warehouse
            .query(
                "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {table:String} ORDER BY position",
                &[("table".into(), table.clone())],
                "TabSeparated",
            )
            .await
            .unwrap();
        let columns: Vec<(String, String)> = String::from_utf8_lossy(&columns)
            .lines()
            .map(|line| {
                let (name, ty) = line.split_once('\t').unwrap();
                (name.to_string(), ty.replace("\\'", "'"))
            })
            .collect();
        assert_columns_match(&spec, &table, &columns, "the engine");
    }
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}
