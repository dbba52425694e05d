//! Crash anywhere: `kill -9` of `costlake run` at points spread over collection and loading, each followed by a
//! plain re-run. Every time:
//! - while the killed run lies there, no report sees part of it (a run in the ledger is complete; before its
//!   ledger row, reports answer as they did before it started);
//! - the re-run succeeds, and leaves in the lake only the files of committed runs, each committed run whole;
//! - every committed run is loaded exactly once, and the warehouse holds, table by table, exactly the rows of
//!   an uninterrupted load of the same lake into a fresh warehouse.
//!
//! Points are the binary's failpoints (`COSTLAKE_FAILPOINT=<point>@<n>`: the n-th time it gets there), never
//! sleeps. Each case starts from a copy of one clean run, so the killed run is the second: reports have
//! something to keep showing. The loading points run on the embedded warehouse and, three of them, on a ClickHouse
//! server over HTTP.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{dataset_files, manifests, sandbox, simulator};
use costlake_simulator::Simulator;
use costlake_tests::clickhouse_front::ClickHouseFront;
use costlake_tests::sandbox::Sandbox;

/// Columns that record when something happened on this warehouse, not what it holds.
const WALL_CLOCK_COLUMNS: &[(&str, &str)] = &[
    ("_load_ledger", "loaded_at"),
    ("_migrations", "applied_at"),
    ("_models", "created_at"),
    ("_refresh_runs", "refreshed_at"),
];

/// One clean run: lake and warehouse copied into every case.
struct Template {
    sandbox: Sandbox,
    ghosts: serde_json::Value,
}

async fn template(simulator: &Simulator) -> Template {
    let sandbox = sandbox(simulator);
    sandbox.ok(&["run"]).await;
    let ghosts = sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await.json();
    Template { sandbox, ghosts }
}

async fn tsv(sandbox: &Sandbox, sql: &str) -> String {
    sandbox.ok(&["sql", &format!("{sql} FORMAT TSV")]).await.stdout
}

/// Per table of the warehouse (scratch twins included): rows and an order-free checksum of their values. Tables,
/// not views: the engine shows a table a process has not read yet as `TableProxy`, not as its MergeTree engine;
/// nor the inlets (`raw_<dataset>_v<N>`, `Null` tables), which hold nothing.
async fn checksum_sql(sandbox: &Sandbox) -> String {
    let columns = tsv(
        sandbox,
        "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() \
         AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT LIKE '%View') \
         AND table NOT IN ('_load_lease') AND NOT match(table, '^raw_.+_v[0-9]+$') ORDER BY table, position",
    )
    .await;
    let mut per_table: Vec<(String, Vec<String>)> = Vec::new();
    for line in columns.lines() {
        let mut fields = line.split('\t');
        let (table, name, kind) = (fields.next().unwrap(), fields.next().unwrap(), fields.next().unwrap());
        if WALL_CLOCK_COLUMNS.contains(&(table, name)) {
            continue;
        }
        // Sums of floats depend on the order the engine's threads add them in: compare them to 1e-6.
        let value = if kind.starts_with("AggregateFunction") {
            format!("toString(finalizeAggregation(`{name}`))")
        } else if kind.contains("Float") {
            format!("round(`{name}`, 6)")
        } else {
            format!("`{name}`")
        };
        match per_table.last_mut() {
            Some((last, values)) if last == table => values.push(value),
            _ => per_table.push((table.to_string(), vec![value])),
        }
    }
    assert!(per_table.len() > 20, "the warehouse has its tables: {columns}");
    let parts: Vec<String> = per_table
        .iter()
        .map(|(table, values)| {
            format!(
                "SELECT '{table}' AS t, count() AS n, sum(cityHash64(toString(tuple({})))) AS h FROM `{table}`",
                values.join(", ")
            )
        })
        .collect();
    format!("SELECT t, n, h FROM ({}) ORDER BY t", parts.join(" UNION ALL "))
}

fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp").arg("-a").arg(from).arg(to).status().expect("cp");
    assert!(status.success(), "cp -a {} {}", from.display(), to.display());
}

/// Where a case's warehouse is: a copy of the template's embedded one, or a ClickHouse server (the tests' HTTP
/// front; one engine per test process), emptied and loaded with the template's run.
enum Backend<'a> {
    Embedded,
    Server(&'a ClickHouseFront),
}

/// Kills `costlake run` at `point`, re-runs it, and checks everything this suite promises.
async fn crash_and_rerun(template: &Template, simulator: &Simulator, point: &str, backend: &Backend<'_>) {
    let mut case = sandbox(simulator);
    copy_dir(&template.sandbox.lake_dir(), &case.lake_dir());
    match backend {
        Backend::Embedded => copy_dir(&template.sandbox.path("warehouse"), &case.path("warehouse")),
        Backend::Server(front) => {
            // The server starts each case empty: the previous case's tables are dropped.
            use costlake_transform::warehouse::Warehouse;
            let password = Some("front-password".to_string().into());
            let server = costlake_transform::warehouse::http::ServerWarehouse::connect(
                &front.url(),
                "finops",
                password,
                "costlake",
            )
            .await
            .unwrap();
            let tables = server
                .query("SELECT name FROM system.tables WHERE database = currentDatabase()", &[], "TabSeparated")
                .await
                .unwrap();
            for table in String::from_utf8_lossy(&tables).lines() {
                server.execute(&format!("DROP TABLE IF EXISTS `{table}`"), &[]).await.unwrap();
            }
            let url = front.url().replace("http://", "http://finops@");
            case.set("COSTLAKE_WAREHOUSE", format!("{url}/costlake"))
                .set("COSTLAKE_CLICKHOUSE_PASSWORD", "front-password")
                // The killed load's lease expires soon after it: the re-run waits that long for it. Not sooner:
                // the front serves statements one at a time on the embedded engine, so a renewal waits behind the
                // load's own statements, and on a busy machine 2 s lost the lease in the middle of the models.
                .set("COSTLAKE_LOAD_LEASE_SECONDS", "6");
            case.ok(&["load"]).await;
        }
    }

    case.set("COSTLAKE_FAILPOINT", point);
    let (mut paused, _, _) = case.start_reading(&["run"], &format!("failpoint {point} reached")).await;
    paused.kill().await.expect("kill -9 the paused run");
    case.unset("COSTLAKE_FAILPOINT");

    // Nothing partial is visible: a run in the ledger is whole, and without the killed run's ledger row the
    // reports answer as before it started.
    let ledgered: Vec<String> =
        tsv(&case, "SELECT run_id FROM _load_ledger FINAL").await.lines().map(String::from).collect();
    let mut counts = Vec::new();
    for manifest in manifests(&case) {
        let run_id = manifest["run_id"].as_str().unwrap().to_string();
        if ledgered.contains(&run_id) {
            for dataset in manifest["datasets"].as_array().unwrap() {
                let name = dataset["name"].as_str().unwrap();
                let label = format!("{run_id} {name}");
                let sql = format!("SELECT '{label}', count() FROM raw_{name} WHERE run_id = '{run_id}'");
                counts.push((label, sql, dataset["rows"].as_u64().unwrap()));
            }
        }
    }
    let sql: Vec<&str> = counts.iter().map(|(_, sql, _)| sql.as_str()).collect();
    let loaded = tsv(&case, &sql.join(" UNION ALL ")).await;
    for (label, _, rows) in &counts {
        assert!(
            loaded.lines().any(|l| l == format!("{label}\t{rows}")),
            "{point}: ledgered run whole: {label} has {rows} rows\n{loaded}"
        );
    }
    if ledgered.len() == 1 {
        let ghosts = case.ok(&["report", "ghost-resources", "--format", "json"]).await.json();
        assert_eq!(ghosts, template.ghosts, "{point}: the killed run is invisible to reports");
    }

    // A plain re-run, the cleanup's grace over (the killed process is gone).
    case.set("COSTLAKE_ORPHAN_GRACE_MINUTES", "0");
    let rerun = case.run(&["run"]).await;
    assert!(rerun.success(), "{point}: the re-run succeeds:\n{}", rerun.stderr);

    // The lake: committed runs whole, nothing else.
    let lake = case.lake_dir();
    let committed = manifests(&case);
    let listed: BTreeSet<String> = committed
        .iter()
        .flat_map(|m| m["datasets"].as_array().unwrap().iter())
        .flat_map(|d| d["files"].as_array().unwrap().iter())
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(dataset_files(&lake), listed, "{point}: the lake holds exactly the committed runs' files");

    // The warehouse: every committed run loaded once, models current, and the same rows as a clean load.
    let ledger_rows = tsv(&case, "SELECT count() FROM _load_ledger").await;
    assert_eq!(ledger_rows.trim(), committed.len().to_string(), "{point}: each committed run loaded exactly once");
    let again = case.ok(&["load"]).await;
    assert!(
        again.stderr.contains("loaded 0 runs") && !again.stderr.contains("rebuilt"),
        "{point}: nothing left to load or rebuild: {}",
        again.stderr
    );
    let checksums = checksum_sql(&case).await;
    let crashed = tsv(&case, &checksums).await;
    // The reference is an embedded warehouse whatever the backend: both run the same engine and SQL.
    case.set("COSTLAKE_WAREHOUSE", case.path("reference").display().to_string());
    case.ok(&["load"]).await;
    let clean = tsv(&case, &checksums).await;
    assert_eq!(crashed, clean, "{point}: table by table, the rows of an uninterrupted load of the same lake");
    eprintln!(
        "kill point {point}: killed, re-run; {} committed runs, each loaded once; {} tables equal to a clean load",
        committed.len(),
        clean.lines().count()
    );
}

/// Runs each point; `CRASH_POINTS=<substring>` narrows a suite to the points holding it (to retry one by hand).
async fn suite(points: &[&str]) {
    suite_on(points, &Backend::Embedded).await;
}

async fn suite_on(points: &[&str], backend: &Backend<'_>) {
    let only = std::env::var("CRASH_POINTS").unwrap_or_default();
    let points: Vec<&str> = points.iter().copied().filter(|p| p.contains(only.as_str())).collect();
    let simulator = simulator("").await;
    let template = template(&simulator).await;
    for point in &points {
        crash_and_rerun(&template, &simulator, point, backend).await;
    }
    eprintln!("{} kill points: nothing lost, nothing doubled", points.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_anywhere_in_collection_a_rerun_ends_as_a_clean_run() {
    suite(&[
        "collect.mid_page@1",
        // Late in the run on any day: a run makes 127 page requests on the 6th of a month (its charges window
        // then holds 5 days, the fewest: on the 1st to the 5th it holds the previous month too), more on any
        // other day. 150 was beyond the run from the 6th to about the 9th.
        "collect.mid_page@100",
        "collect.mid_row_group@25",
        "collect.pause_mid_upload@9",
        "collect.mid_upload_part@12",
        "collect.pause_before_commit",
        "collect.after_commit",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_anywhere_in_loading_a_rerun_ends_as_a_clean_run() {
    suite(&[
        "load.mid_files@1",
        "load.pause_after_dataset=8",
        "load.pause_after_dataset=17",
        "load.before_ledger",
        "load.after_ledger",
        "load.pause_before_models",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_anywhere_in_a_model_rebuild_a_rerun_ends_as_a_clean_run() {
    suite(&[
        "models.mid_rebuild@1",
        "models.pause_before_exchange@1",
        "models.after_exchange@5",
        "models.after_record@1",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_loading_into_a_server_a_rerun_ends_as_a_clean_run() {
    // The same promises over HTTP, where the killed load also leaves its lease behind.
    let dir = tempfile::tempdir().unwrap();
    let engine = costlake_transform::warehouse::chdb::EmbeddedWarehouse::open(
        dir.path().join("engine"),
        Some(costlake_tests::engine::chdb_library()),
    )
    .await
    .unwrap();
    let front = ClickHouseFront::start(Box::new(engine), "finops", "front-password").await.unwrap();
    suite_on(&["load.mid_insert@5", "load.after_ledger", "models.mid_rebuild@1"], &Backend::Server(&front)).await;
    drop(front);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}
