//! The contract between the lake and the warehouse, on the real engine: every dataset a collector writes has a
//! raw table with the same columns in the same order and compatible types, and the loader knows it.

use costlake_ingest::dataset::{Kind, arrow_type};
use costlake_ingest::sources;
use costlake_tests::engine::chdb_library;
use costlake_transform::load::{DATASETS, table_of};
use costlake_transform::migrate;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dataset_has_a_matching_raw_table() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    migrate(&warehouse).await.unwrap();

    let specs: Vec<_> = sources::all().iter().flat_map(|s| s.datasets()).collect();
    assert_eq!(specs.len(), DATASETS.len(), "the loader and the collectors disagree on the datasets");
    for spec in specs {
        let known = DATASETS.iter().find(|(name, _)| *name == spec.name);
        assert_eq!(
            known.map(|(_, v)| *v),
            Some(spec.schema_version),
            "{}: the loader must read its schema version",
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
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        let expected: Vec<&str> = spec.columns.iter().map(|c| c.name).collect();
        assert_eq!(names, expected, "{table}: columns differ from dataset {}", spec.name);

        for (column, (name, declared)) in spec.columns.iter().zip(&columns) {
            let (ty, nullable) = base_type(declared);
            assert_eq!(
                ty,
                clickhouse_type_for(column.kind),
                "{table}.{name} ({declared}) holds Arrow {:?}",
                arrow_type(column.kind)
            );
            if column.required {
                assert!(!nullable, "{table}.{name} is required in the dataset and must not be Nullable");
            } else if column.kind != Kind::StrList {
                assert!(nullable, "{table}.{name} is optional in the dataset: NULL must stay NULL, not become 0 or ''");
            }
        }
    }
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}
