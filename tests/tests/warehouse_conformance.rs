//! One conformance suite, run against both warehouse backends: the embedded engine (chDB in-process) and
//! the server backend (the `clickhouse` crate over real HTTP, to the ClickHouse HTTP front of
//! `costlake_tests::clickhouse_front`, which executes on chDB).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Decimal128Array, ListBuilder, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondArray,
    UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use bytes::Bytes;
use costlake_tests::clickhouse_front::ClickHouseFront;
use costlake_tests::engine::chdb_library;
use costlake_transform::migrate::{MIGRATIONS, migrate};
use costlake_transform::warehouse::chdb::EmbeddedWarehouse;
use costlake_transform::warehouse::http::ServerWarehouse;
use costlake_transform::warehouse::{Warehouse, WarehouseError};
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use serde_json::Value;

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn rows(bytes: &Bytes) -> Vec<Value> {
    String::from_utf8_lossy(bytes).lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

fn sample_parquet(n: u64) -> Bytes {
    let schema = Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("snapshot_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("size", DataType::UInt64, true),
        Field::new("price", DataType::Decimal128(38, 9), true),
        Field::new("tags", DataType::List(Arc::new(Field::new("item", DataType::Utf8, false))), true),
    ]));
    let mut tags = ListBuilder::new(StringBuilder::new()).with_field(Field::new("item", DataType::Utf8, false));
    for i in 0..n {
        tags.values().append_value(format!("team=t{i}"));
        tags.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values((0..n).map(|_| "run-1"))),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values((0..n).map(|i| 1_795_000_000_000_000 + i as i64))
                .with_timezone("UTC"),
        ),
        Arc::new(UInt64Array::from_iter((0..n).map(|i| if i == 0 { None } else { Some(i * 1_000_000_000) }))),
        Arc::new(
            Decimal128Array::from_iter_values((0..n).map(|i| 118_000 + i as i128))
                .with_precision_and_scale(38, 9)
                .unwrap(),
        ),
        Arc::new(tags.finish()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    Bytes::from(out)
}

fn chunks(data: Bytes, size: usize) -> futures::stream::BoxStream<'static, Result<Bytes, String>> {
    let parts: Vec<Result<Bytes, String>> =
        (0..data.len()).step_by(size).map(|start| Ok(data.slice(start..(start + size).min(data.len())))).collect();
    futures::stream::iter(parts).boxed()
}

/// The load lease's statements and rules, on each backend: the oldest live row holds it, a waiter refuses after
/// its bound naming the holder, a released or expired lease passes to the next in line, and a holder whose lease
/// expired learns it lost it. (The embedded loader does not take one, but the SQL must hold on both.)
async fn lease_conformance(warehouse: &dyn Warehouse) {
    use costlake_transform::lease::{Lease, LeaseError, LeaseOptions};
    use std::time::{Duration, Instant};
    let options = |ttl_ms: u64, wait_ms: u64| LeaseOptions {
        ttl: Duration::from_millis(ttl_ms),
        wait: Duration::from_millis(wait_ms),
    };
    let first = Lease::acquire(warehouse, options(30_000, 0)).await.expect("a free lease is taken at once");
    let busy = Lease::acquire(warehouse, options(30_000, 600)).await.expect_err("a held lease is not");
    let text = busy.to_string();
    assert!(
        matches!(busy, LeaseError::Busy { .. }) && text.contains(&format!("pid {}", std::process::id())),
        "the refusal names the holder: {text}"
    );
    first.release(warehouse).await.unwrap();

    // Released: the next one takes it; then it expires unrenewed (a killed load) and a waiter takes it over.
    let second = Lease::acquire(warehouse, options(1_500, 0)).await.expect("a released lease is free");
    let clock = Instant::now();
    let third = Lease::acquire(warehouse, options(1_500, 20_000)).await.expect("an expired lease passes on");
    assert!(
        clock.elapsed() >= Duration::from_millis(1_000),
        "not before the holder's row expired: {:?}",
        clock.elapsed()
    );
    // The second learns it lost the lease at its next renewal, and to whom.
    let lost = tokio::time::timeout(Duration::from_secs(10), second.keep(warehouse)).await.expect("keep returns");
    assert!(matches!(lost, LeaseError::Lost { .. }) && lost.to_string().contains("holds it now"), "{lost}");
    // While the holder keeps renewing, a waiter waits past the lease's length and then refuses.
    let waiter = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Lease::acquire(warehouse, options(1_500, 3_000)).await
    };
    tokio::select! {
        lost = third.keep(warehouse) => panic!("a renewed lease is kept: {lost}"),
        waited = waiter => assert!(matches!(waited, Err(LeaseError::Busy { .. })), "{waited:?}"),
    }
    third.release(warehouse).await.unwrap();
    Lease::acquire(warehouse, options(1_500, 0)).await.unwrap().release(warehouse).await.unwrap();
}

async fn conformance(warehouse: &dyn Warehouse) {
    // Migrations apply once and are then a no-op.
    let applied = migrate(warehouse).await.unwrap();
    assert_eq!(applied.migrations, MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>());
    assert!(migrate(warehouse).await.unwrap().is_empty());
    let tables = warehouse
        .query("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name", &[], "TabSeparated")
        .await
        .unwrap();
    let tables = String::from_utf8_lossy(&tables);
    for expected in
        ["_load_ledger", "_migrations", "raw_instance_servers", "raw_block_volumes", "rate_card", "inventory_latest"]
    {
        assert!(tables.lines().any(|t| t == expected), "{expected} missing from {tables}");
    }
    lease_conformance(warehouse).await;

    // Parameters are values, never SQL: quotes, tabs, newlines and backslashes round-trip exactly.
    let hostile = "x'; DROP TABLE _migrations; --\tand\\ a\nnewline";
    let out = warehouse
        .query(
            "SELECT {n:UInt32} + 1 AS next, {s:String} AS echoed, toDate({d:String}) AS day",
            &params(&[("n", "41"), ("s", hostile), ("d", "2026-11-22")]),
            "JSONEachRow",
        )
        .await
        .unwrap();
    let row = &rows(&out)[0];
    assert_eq!(row["next"], Value::from(42));
    assert_eq!(row["echoed"].as_str().unwrap(), hostile);
    assert_eq!(row["day"].as_str().unwrap(), "2026-11-22");
    assert!(tables.contains("_migrations"));

    // Decimals leave the engine as exact strings.
    let out = warehouse
        .query(
            "SELECT toDecimal128('0.000118', 9) * 730 AS monthly, toUInt64(40000000000) AS bytes",
            &[],
            "JSONEachRow",
        )
        .await
        .unwrap();
    let row = &rows(&out)[0];
    assert_eq!(row["monthly"], Value::from("0.08614"));
    assert_eq!(row["bytes"].to_string(), "40000000000");

    // Parquet streams in, in chunks, with exact types.
    warehouse
        .execute(
            "CREATE TABLE conformance_parquet (run_id String, snapshot_at DateTime64(6, 'UTC'), size Nullable(UInt64), \
             price Nullable(Decimal(38, 9)), tags Array(String)) ENGINE = MergeTree ORDER BY run_id",
            &[],
        )
        .await
        .unwrap();
    warehouse.insert("conformance_parquet", "Parquet", chunks(sample_parquet(1000), 4096)).await.unwrap();
    let out = warehouse
        .query(
            "SELECT count() AS n, countIf(size IS NULL) AS null_sizes, sum(price) AS total, max(snapshot_at) AS last, \
             anyIf(tags, size = 1000000000) AS tags FROM conformance_parquet WHERE run_id = {run:String}",
            &params(&[("run", "run-1")]),
            "JSONEachRow",
        )
        .await
        .unwrap();
    let row = &rows(&out)[0];
    assert_eq!(row["n"], Value::from(1000));
    assert_eq!(row["null_sizes"], Value::from(1));
    // sum of 0.000118000 + i·1e-9 for i in 0..1000 = 0.118 + 0.0004995
    assert_eq!(row["total"], Value::from("0.1184995"));
    assert_eq!(row["last"], Value::from("2026-11-18T11:06:40.000999Z"));
    assert_eq!(row["tags"], serde_json::json!(["team=t1"]));

    // A broken Parquet body is an insert error and leaves nothing behind.
    let error = warehouse
        .insert("conformance_parquet", "Parquet", chunks(Bytes::from_static(b"PAR1 this is not parquet"), 8))
        .await
        .unwrap_err();
    assert!(matches!(error, WarehouseError::Insert { .. } | WarehouseError::Query { .. }), "{error}");
    let out = warehouse.query("SELECT count() FROM conformance_parquet", &[], "TabSeparated").await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out).trim(), "1000");

    // A stream that fails midway aborts the insert.
    let failing =
        futures::stream::iter(vec![Ok(sample_parquet(10).slice(0..100)), Err("lake read failed".to_string())]).boxed();
    assert!(warehouse.insert("conformance_parquet", "Parquet", failing).await.is_err());

    // Errors carry ClickHouse's code and a one-line message.
    match warehouse.query("SELEC 1", &[], "TabSeparated").await.unwrap_err() {
        WarehouseError::Query { code: Some(62), message, .. } => assert!(message.contains("Syntax error"), "{message}"),
        other => panic!("expected a syntax error, got {other}"),
    }
    match warehouse.query("SELECT * FROM no_such_table", &[], "TabSeparated").await.unwrap_err() {
        WarehouseError::Query { code: Some(60), .. } => {}
        other => panic!("expected UNKNOWN_TABLE, got {other}"),
    }
    // ... and the session survives them.
    let out = warehouse.query("SELECT 1", &[], "TabSeparated").await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out).trim(), "1");

    // Lightweight deletes (the loader's clean-up of interrupted loads) are synchronous.
    warehouse
        .execute("DELETE FROM conformance_parquet WHERE size > {cut:UInt64}", &params(&[("cut", "500000000000")]))
        .await
        .unwrap();
    let out = warehouse.query("SELECT count() FROM conformance_parquet", &[], "TabSeparated").await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out).trim(), "501");

    // Every shipped report runs on this backend with its defaults, and its money is exact: each `@money`
    // column is a Decimal and its currency column a string.
    for report in costlake_queries::reports() {
        let result = costlake_queries::run(warehouse, &report, &[])
            .await
            .unwrap_or_else(|e| panic!("report {} fails on {}: {e}", report.name, warehouse.describe()));
        let type_of = |column: &str| {
            let at = result.column(column).unwrap_or_else(|| panic!("{}: no column {column}", report.name));
            result.columns[at].1.clone()
        };
        for (money, currency) in &report.money {
            let money_type = type_of(money);
            let inner = money_type.strip_prefix("Nullable(").unwrap_or(&money_type);
            assert!(inner.starts_with("Decimal("), "{}: {money} is {money_type}, not a Decimal", report.name);
            let currency_type = type_of(currency);
            assert!(currency_type.contains("String"), "{}: {currency} is {currency_type}", report.name);
        }
        for total in &report.totals {
            type_of(total);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_backend_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    assert!(warehouse.describe().contains("chDB"), "{}", warehouse.describe());
    conformance(&warehouse).await;
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

/// A merge's source parts leave the disk while a short process still runs, not 30 s after its start: no costlake
/// process lived that long but the biggest loads, so outdated parts piled up across runs, loaded at every start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_engine_removes_outdated_parts_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    warehouse.execute("CREATE TABLE parts_kept (n UInt64) ENGINE = MergeTree ORDER BY n", &[]).await.unwrap();
    // The engine backs its cleanup off while there is nothing to remove (to minutes, by default): a load's
    // merges come after seconds of inserts, and their sources were left for the next process to load.
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    for n in 0..3 {
        warehouse.execute(&format!("INSERT INTO parts_kept VALUES ({n})"), &[]).await.unwrap();
    }
    warehouse.execute("OPTIMIZE TABLE parts_kept FINAL", &[]).await.unwrap();
    let outdated =
        "SELECT countIf(NOT active) FROM system.parts WHERE database = currentDatabase() AND table = 'parts_kept'";
    let count = |bytes: Bytes| String::from_utf8_lossy(&bytes).trim().to_string();
    assert_eq!(count(warehouse.query(outdated, &[], "TabSeparated").await.unwrap()), "3", "the merge's sources");
    let mut left = String::new();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = count(warehouse.query(outdated, &[], "TabSeparated").await.unwrap());
        if left == "0" {
            break;
        }
    }
    assert_eq!(left, "0", "outdated parts are still on disk 5 s after the merge");
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_backend_conforms_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let engine = EmbeddedWarehouse::open(dir.path().join("engine"), Some(chdb_library())).await.unwrap();
    let front = ClickHouseFront::start(Box::new(engine), "costlake", "front-secret").await.unwrap();

    let warehouse = front.connect().await.unwrap();
    conformance(&warehouse).await;
    assert!(front.requests() > 20, "the suite must have gone over HTTP ({} requests)", front.requests());

    // A wrong password is refused with a message that names the fix and never the password.
    let error =
        ServerWarehouse::connect(&front.url(), "costlake", Some("wrong-password".to_string().into()), "costlake")
            .await
            .err()
            .expect("must be refused");
    let text = error.to_string();
    assert!(text.contains("authentication failed") && !text.contains("wrong-password"), "{text}");
    drop(front);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}
