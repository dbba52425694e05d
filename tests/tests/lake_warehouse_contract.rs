//! The contract between the lake and the warehouse: every dataset a product writes has a raw table with the
//! same columns in the same order and compatible types. Checked twice: from the migrations' text alone (no
//! engine, so it fails first and says which file to fix), and on the real engine.

use std::collections::BTreeMap;

use bytes::Bytes;
use costlake_ingest::dataset::{DatasetSpec, Kind, arrow_type};
use costlake_ingest::sources;
use costlake_lake::{DatasetEntry, FileEntry, Lake, LakeLocation, Manifest, RunId};
use costlake_tests::engine::chdb_library;
use costlake_transform::load::{load, table_of};
use costlake_transform::migrate::{self, MIGRATIONS, statements};
use costlake_transform::warehouse::chdb::EmbeddedWarehouse;
use costlake_transform::warehouse::{Param, Warehouse};
use futures::stream::BoxStream;

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
        Kind::TimestampList => "Array(DateTime64(6, 'UTC'))",
        Kind::F64List => "Array(Float64)",
    }
}

/// A series' samples as a list in the lake, one sample a row in the warehouse.
fn element_kind(kind: Kind) -> Kind {
    match kind {
        Kind::TimestampList => Kind::Timestamp,
        Kind::F64List => Kind::F64,
        other => other,
    }
}

/// Where a dataset's files are inserted: its version's inlet (`raw_<name>_v<N>`, a materialised view turning its
/// rows into the table's), when a migration made one, else its raw table.
fn insert_table(spec: &DatasetSpec, exists: impl Fn(&str) -> bool) -> String {
    let inlet = format!("{}_v{}", table_of(spec.name), spec.schema_version);
    if exists(&inlet) { inlet } else { table_of(spec.name) }
}

/// The rows the raw table holds for a dataset with an inlet: its columns, list columns as their elements.
fn unnested(spec: &DatasetSpec) -> DatasetSpec {
    let mut rows = spec.clone();
    for column in &mut rows.columns {
        column.kind = element_kind(column.kind);
    }
    rows
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
        } else if !matches!(column.kind, Kind::StrList | Kind::TimestampList | Kind::F64List) {
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
        let inlet = insert_table(spec, |name| tables.contains_key(name));
        if inlet == table {
            assert_columns_match(spec, &table, columns, "transform/migrations");
        } else {
            assert_columns_match(spec, &inlet, &tables[&inlet], "transform/migrations");
            assert_columns_match(&unnested(spec), &table, columns, "transform/migrations");
        }
    }
    for table in tables.keys().filter(|t| t.starts_with("raw_")) {
        assert!(
            specs.iter().any(|s| &table_of(s.name) == table || insert_table(s, |name| name == table) == *table),
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
        let columns_of = |table: String| async {
            let columns = warehouse
                .query(
                    "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {table:String} ORDER BY position",
                    &[("table".into(), table)],
                    "TabSeparated",
                )
                .await
                .unwrap();
            String::from_utf8_lossy(&columns)
                .lines()
                .map(|line| {
                    let (name, ty) = line.split_once('\t').unwrap();
                    (name.to_string(), ty.replace("\\'", "'"))
                })
                .collect::<Vec<(String, String)>>()
        };
        let table = table_of(spec.name);
        let inlet = format!("{table}_v{}", spec.schema_version);
        let inlet_columns = columns_of(inlet.clone()).await;
        if inlet_columns.is_empty() {
            assert_columns_match(&spec, &table, &columns_of(table.clone()).await, "the engine");
        } else {
            assert_columns_match(&spec, &inlet, &inlet_columns, "the engine");
            assert_columns_match(&unnested(&spec), &table, &columns_of(table.clone()).await, "the engine");
        }
    }
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

/// Delegates to the engine and keeps every statement it was given: which way a load took.
struct Recording<'a> {
    engine: &'a dyn Warehouse,
    statements: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Warehouse for Recording<'_> {
    fn describe(&self) -> String {
        self.engine.describe()
    }
    fn exclusive(&self) -> bool {
        self.engine.exclusive()
    }
    fn reads_local_files(&self) -> bool {
        self.engine.reads_local_files()
    }
    async fn execute(&self, sql: &str, params: &[Param]) -> costlake_transform::warehouse::Result<()> {
        self.statements.lock().unwrap().push(sql.to_string());
        self.engine.execute(sql, params).await
    }
    async fn query(&self, sql: &str, params: &[Param], format: &str) -> costlake_transform::warehouse::Result<Bytes> {
        self.engine.query(sql, params, format).await
    }
    async fn insert(
        &self,
        table: &str,
        format: &str,
        data: BoxStream<'static, Result<Bytes, String>>,
    ) -> costlake_transform::warehouse::Result<()> {
        self.statements.lock().unwrap().push(format!("INSERT INTO {table} FORMAT {format}"));
        self.engine.insert(table, format, data).await
    }
}

/// A local lake both ways it reaches the embedded engine: the same files through an object store, streamed to
/// it (as from a bucket), and read by the engine itself.
fn both_ways(lake_dir: &std::path::Path) -> [(&'static str, Lake); 2] {
    let store = object_store::local::LocalFileSystem::new_with_prefix(lake_dir).unwrap();
    let in_a_bucket = Lake::from_store(std::sync::Arc::new(store), "", "the same files through the store");
    let local = Lake::open(&LakeLocation::Local(lake_dir.to_path_buf())).unwrap();
    [("streamed", in_a_bucket), ("read by the engine", local)]
}

/// Loads `lake` into `engine`: the runs loaded, and every statement the load gave the engine.
async fn load_recorded(lake: &Lake, engine: &dyn Warehouse) -> (usize, Vec<String>) {
    let recording = Recording { engine, statements: Default::default() };
    let report = load(lake, &recording, &sources::known_datasets()).await.unwrap();
    (report.loaded.len(), recording.statements.into_inner().unwrap())
}

/// The two ways a run's files reach the embedded engine, read by the engine itself from a local lake, or each
/// streamed to it (a lake in a bucket, a server), load the same rows, columns matched by name: a column the files
/// lack is NULL or empty, one the table lacks is left out. A damaged file among several is named, and nothing of
/// the run is loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_loads_the_same_rows_read_by_the_engine_or_streamed_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let engine = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    migrate::migrate(&engine).await.unwrap();
    let lake_dir = dir.path().join("lake");
    let lake = Lake::open(&LakeLocation::Local(lake_dir.clone())).unwrap();

    // Three files of an older (no `prefix`, no `raw`) and newer (`future_field`) shape, written by the engine.
    let started_at = "2026-12-05T12:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let run_id = RunId::new(started_at);
    let snapshot_date = started_at.date_naive();
    let folder = costlake_lake::layout::run_dataset_dir("instance_ips", snapshot_date, &run_id);
    std::fs::create_dir_all(lake_dir.join(folder.as_ref())).unwrap();
    let mut files = Vec::new();
    for part in 0..3u64 {
        let path = format!("{folder}/part-{part:05}.parquet");
        engine
            .execute(
                "INSERT INTO FUNCTION file({path:String}, Parquet) \
                 SELECT {run:String} AS run_id, toDateTime64('2026-12-05 12:00:00', 6, 'UTC') AS snapshot_at, \
                        'org' AS organization_id, 'fr-par-1' AS zone, concat('ip-', toString({part:UInt64} * 1000 + number)) AS id, \
                        if(number % 3 = 0, NULL, concat('51.15.0.', toString(number % 250))) AS address, \
                        ['env=prod'] AS tags, 'tomorrow' AS future_field \
                 FROM numbers(1000)",
                &[
                    ("path".into(), lake_dir.join(&path).display().to_string()),
                    ("run".into(), run_id.to_string()),
                    ("part".into(), part.to_string()),
                ],
            )
            .await
            .unwrap();
        let bytes = std::fs::metadata(lake_dir.join(&path)).unwrap().len();
        files.push(FileEntry { path, rows: 1000, bytes });
    }
    let dataset = DatasetEntry {
        name: "instance_ips".into(),
        schema_version: sources::instance::ips().schema_version,
        rows: 3000,
        files: files.clone(),
    };
    let manifest = manifest_of(&run_id, started_at, dataset);
    lake.commit(&manifest).await.unwrap();

    let known = sources::known_datasets();
    let rows = "SELECT * FROM raw_instance_ips ORDER BY id FORMAT TSV";
    let forget = || async {
        for table in ["raw_instance_ips", "_load_ledger"] {
            engine.execute(&format!("TRUNCATE TABLE {table}"), &[]).await.unwrap();
        }
    };
    let mut loaded = Vec::new();
    for (way, lake) in both_ways(&lake_dir) {
        let (runs, statements) = load_recorded(&lake, &engine).await;
        assert_eq!(runs, 1, "{way}");
        let by_file = statements.iter().filter(|s| s.contains("FROM file(")).count();
        let streamed = statements.iter().filter(|s| s.ends_with("FORMAT Parquet")).count();
        match way {
            "streamed" => assert_eq!((by_file, streamed), (0, 3), "{way}: {statements:?}"),
            _ => assert_eq!((by_file, streamed), (1, 0), "{way}: all three in one statement: {statements:?}"),
        }
        loaded.push(engine.query(rows, &[], "TSV").await.unwrap());
        forget().await;
    }
    assert_eq!(loaded[0], loaded[1], "both ways load the same rows");
    let text = String::from_utf8_lossy(&loaded[1]);
    assert_eq!(text.lines().count(), 3000);
    let first = text.lines().next().unwrap();
    assert!(first.contains("\tip-0\t\\N\t\\N\t\\N\t") && first.ends_with("\t['env=prod']\t"), "{first}");
    assert!(!text.contains("tomorrow"), "a column the table lacks is left out");

    // The middle file damaged inside (its size and footer intact): the error names it, and nothing is loaded.
    let damaged = lake_dir.join(&files[1].path);
    let original = std::fs::read(&damaged).unwrap();
    let mut bytes = original.clone();
    let end = bytes.len() - 8;
    bytes[4..end].fill(0);
    std::fs::write(&damaged, bytes).unwrap();
    let error = load(&lake, &engine, &known).await.unwrap_err().to_string();
    assert!(
        error.contains(&format!("the lake file {} could not be loaded into raw_instance_ips", files[1].path)),
        "{error}"
    );
    let ledger = engine.query("SELECT count() FROM _load_ledger", &[], "TSV").await.unwrap();
    assert_eq!(String::from_utf8_lossy(&ledger).trim(), "0", "{error}");

    // The file restored, the next load removes what the refused one left and loads the run whole, once.
    std::fs::write(&damaged, original).unwrap();
    load(&lake, &engine, &known).await.unwrap();
    assert_eq!(engine.query(rows, &[], "TSV").await.unwrap(), loaded[1], "the run loaded whole, once");
    drop(engine);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

/// A run's manifest of one dataset, its files at `folder` of the lake.
fn manifest_of(run_id: &RunId, started_at: chrono::DateTime<chrono::Utc>, dataset: DatasetEntry) -> Manifest {
    Manifest {
        manifest_version: costlake_lake::manifest::MANIFEST_VERSION,
        run_id: run_id.clone(),
        snapshot_date: started_at.date_naive(),
        started_at,
        finished_at: started_at,
        organization_id: Some("org".into()),
        costlake_version: "test".into(),
        api_url: "http://127.0.0.1:1".into(),
        sources: vec![],
        datasets: vec![dataset],
        stats: Default::default(),
        warnings: vec![],
        orphans_removed: Default::default(),
        failed_sources: vec![],
        cursors: Default::default(),
    }
}

/// Cockpit points in both shapes of the lake: version 1, a row per sample, and version 2, a row per series
/// holding its samples as lists, which the inlet table's view unnests. The same samples load as the same rows,
/// whether the engine reads the files or they are streamed to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_load_the_same_rows_from_a_row_per_sample_or_a_row_per_series_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let engine = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    migrate::migrate(&engine).await.unwrap();
    let lake_dir = dir.path().join("lake");
    let lake = Lake::open(&LakeLocation::Local(lake_dir.clone())).unwrap();

    // 100 series of 10 samples each, five minutes apart; every third series without a zone.
    let series = "'org' AS organization_id, 'fr-par' AS region, 'p' AS project_id, 'ds' AS data_source_id, \
                  'instance_server_cpu_seconds_total' AS metric, concat('srv-', toString(s)) AS resource_id, \
                  NULL::Nullable(String) AS resource_name, if(s % 3 = 0, NULL, 'fr-par-1') AS zone, \
                  concat('{\"resource_id\":\"srv-', toString(s), '\"}') AS labels";
    let sample_time = "toDateTime64('2026-12-01 00:00:00', 6, 'UTC') + toIntervalSecond(300 * i)";
    let sample_value = "(s * 10 + i) / 7";
    let shapes = [
        (
            1,
            "2026-12-05T12:00:00Z",
            format!(
                "SELECT {{run:String}} AS run_id, toDateTime64('2026-12-05 12:00:00', 6, 'UTC') AS snapshot_at, {series}, \
                 {sample_time} AS ts, toFloat64({sample_value}) AS value \
                 FROM (SELECT intDiv(number, 10) AS s, number % 10 AS i FROM numbers(1000))"
            ),
        ),
        (
            2,
            "2026-12-05T13:00:00Z",
            format!(
                "SELECT {{run:String}} AS run_id, toDateTime64('2026-12-05 13:00:00', 6, 'UTC') AS snapshot_at, {series}, \
                 arrayMap(i -> {sample_time}, range(10)) AS ts, arrayMap(i -> toFloat64({sample_value}), range(10)) AS value \
                 FROM (SELECT number AS s FROM numbers(100))"
            ),
        ),
    ];
    let mut runs = Vec::new();
    for (version, started, select) in &shapes {
        let started_at = started.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let run_id = RunId::new(started_at);
        let folder = costlake_lake::layout::run_dataset_dir("cockpit_metric_points", started_at.date_naive(), &run_id);
        std::fs::create_dir_all(lake_dir.join(folder.as_ref())).unwrap();
        let path = format!("{folder}/part-00000.parquet");
        engine
            .execute(
                &format!("INSERT INTO FUNCTION file({{path:String}}, Parquet) {select}"),
                &[("path".into(), lake_dir.join(&path).display().to_string()), ("run".into(), run_id.to_string())],
            )
            .await
            .unwrap();
        let bytes = std::fs::metadata(lake_dir.join(&path)).unwrap().len();
        let files = vec![FileEntry { path, rows: 1000, bytes }];
        let dataset =
            DatasetEntry { name: "cockpit_metric_points".into(), schema_version: *version, rows: 1000, files };
        lake.commit(&manifest_of(&run_id, started_at, dataset)).await.unwrap();
        runs.push(run_id.to_string());
    }
    assert_eq!(sources::cockpit::metric_points().schema_version, 2, "the newest shape is the one tested here");

    // A third run, as the collector decodes it: a recorded answer's batches in the dataset's schema (their run_id
    // set to the run's), written with the Parquet writer's defaults (the e2e suites load the sink's own files).
    let started_at = "2026-12-05T14:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let run_id = RunId::new(started_at);
    let body = include_bytes!("../fixtures/scaleway/cockpit/prometheus_query_range_instance_cpu.SYNTHETIC.json");
    let spec = sources::cockpit::metric_points();
    let folder = costlake_lake::layout::run_dataset_dir("cockpit_metric_points", started_at.date_naive(), &run_id);
    std::fs::create_dir_all(lake_dir.join(folder.as_ref())).unwrap();
    let path = format!("{folder}/part-00000.parquet");
    let file = std::fs::File::create(lake_dir.join(&path)).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, spec.schema(), None).unwrap();
    let mut samples = 0;
    for batch in sources::cockpit::decode_query_range(body).unwrap() {
        let mut columns = batch.columns().to_vec();
        columns[0] = std::sync::Arc::new(arrow::array::StringArray::from(vec![run_id.to_string(); batch.num_rows()]));
        let batch = arrow::array::RecordBatch::try_new(spec.schema(), columns).unwrap();
        samples += spec.warehouse_rows(&batch);
        writer.write(&batch).unwrap();
    }
    writer.close().unwrap();
    let bytes = std::fs::metadata(lake_dir.join(&path)).unwrap().len();
    let files = vec![FileEntry { path, rows: samples, bytes }];
    let dataset = DatasetEntry { name: spec.name.into(), schema_version: 2, rows: samples, files };
    lake.commit(&manifest_of(&run_id, started_at, dataset)).await.unwrap();
    let collected = run_id.to_string();

    let engine_ref = &engine;
    let rows_of = |run: &str| {
        let sql = format!(
            "SELECT * EXCEPT (run_id, snapshot_at) FROM raw_cockpit_metric_points WHERE run_id = '{run}' \
             ORDER BY resource_id, ts FORMAT TSV"
        );
        async move { String::from_utf8_lossy(&engine_ref.query(&sql, &[], "TSV").await.unwrap()).into_owned() }
    };
    let mut loaded = Vec::new();
    for (way, lake) in both_ways(&lake_dir) {
        let (loaded_runs, statements) = load_recorded(&lake, &engine).await;
        assert_eq!(loaded_runs, 3, "{way}");
        let into = |table: &str| statements.iter().filter(|s| s.starts_with(&format!("INSERT INTO {table} "))).count();
        assert_eq!((into("raw_cockpit_metric_points"), into("raw_cockpit_metric_points_v2")), (1, 2), "{way}");
        let answer = rows_of(&collected).await;
        let values: Vec<&str> = answer.lines().map(|line| line.rsplit('\t').next().unwrap()).collect();
        assert_eq!(values, ["0.0312", "0.0408", "0.9951"], "{way}: the recorded answer's samples: {answer}");
        let (v1, v2) = (rows_of(&runs[0]).await, rows_of(&runs[1]).await);
        assert_eq!(v1.lines().count(), 1000, "{way}: {v1}");
        assert_eq!(v1, v2, "{way}: a row per sample from either shape");
        assert!(v1.starts_with("org\tfr-par\tp\tds\tinstance_server_cpu_seconds_total\tsrv-0\t\\N\t\\N\t"), "{v1}");
        loaded.push(v2);
        for table in ["raw_cockpit_metric_points", "_load_ledger"] {
            engine.execute(&format!("TRUNCATE TABLE {table}"), &[]).await.unwrap();
        }
    }
    assert_eq!(loaded[0], loaded[1], "both ways load the same rows");

    // Without the inlet's view, a version 2 run is refused before anything of it is loaded (the version 1
    // run, the oldest, loads).
    engine.execute("DROP VIEW raw_cockpit_metric_points_v2_unnest", &[]).await.unwrap();
    let error = load(&lake, &engine, &sources::known_datasets()).await.unwrap_err().to_string();
    assert!(error.contains("loads through the table raw_cockpit_metric_points_v2 and its view"), "{error}");
    let ledger = engine.query("SELECT run_id FROM _load_ledger", &[], "TSV").await.unwrap();
    assert_eq!(String::from_utf8_lossy(&ledger).trim(), runs[0], "{error}");
    let others = format!("SELECT count() FROM raw_cockpit_metric_points WHERE run_id != '{}'", runs[0]);
    let others = engine.query(&others, &[], "TSV").await.unwrap();
    assert_eq!(String::from_utf8_lossy(&others).trim(), "0", "{error}");
    drop(engine);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}
