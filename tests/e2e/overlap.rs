//! Overlapping runs on one lake and one warehouse (a scheduled job retried while the first still runs): loads
//! take turns (under the load lease on a server, behind the directory lock of the embedded engine), so whatever
//! the interleaving every committed run is loaded exactly once, none is lost, and a load that cannot wait
//! refuses with a message that names the holder.
//!
//! The server is the tests' ClickHouse HTTP front over the embedded engine; costlake talks to it as to any
//! server, over real HTTP. A load is held at a point of its work with a timed failpoint
//! (`COSTLAKE_FAILPOINT=<point>~<ms>`), so the overlap is certain rather than left to timing.

mod common;

use std::time::Duration;

use common::{assert_report_is_planted, manifests, sandbox, scalar, simulator};
use costlake_tests::clickhouse_front::ClickHouseFront;
use costlake_tests::sandbox::Sandbox;
use costlake_transform::warehouse::chdb::EmbeddedWarehouse;

/// A ClickHouse server on loopback (the front over a fresh engine) and its directory.
async fn server() -> (ClickHouseFront, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        EmbeddedWarehouse::open(dir.path().join("engine"), Some(costlake_tests::engine::chdb_library())).await.unwrap();
    let front = ClickHouseFront::start(Box::new(engine), "finops", "front-password").await.unwrap();
    (front, dir)
}

fn use_server(sandbox: &mut Sandbox, front: &ClickHouseFront) {
    let url = front.url().replace("http://", "http://finops@");
    sandbox.set("COSTLAKE_WAREHOUSE", format!("{url}/costlake")).set("COSTLAKE_CLICKHOUSE_PASSWORD", "front-password");
}

/// Every committed run is in the ledger once, and every raw table holds exactly the rows its runs' manifests
/// declare: nothing lost, nothing doubled. A further load finds nothing to do.
async fn assert_each_run_loaded_once(sandbox: &Sandbox) {
    let manifests = manifests(sandbox);
    assert!(!manifests.is_empty());
    assert_eq!(scalar(sandbox, "SELECT count() FROM _load_ledger FINAL").await, manifests.len() as u64);
    assert_eq!(scalar(sandbox, "SELECT uniqExact(run_id) FROM _load_ledger").await, manifests.len() as u64);
    let mut per_dataset = std::collections::BTreeMap::<String, u64>::new();
    for manifest in &manifests {
        for dataset in manifest["datasets"].as_array().unwrap() {
            *per_dataset.entry(dataset["name"].as_str().unwrap().to_string()).or_default() +=
                dataset["rows"].as_u64().unwrap();
        }
    }
    for (dataset, rows) in per_dataset {
        let sql = format!("SELECT count() FROM raw_{dataset}");
        assert_eq!(scalar(sandbox, &sql).await, rows, "{sql}");
    }
    let again = sandbox.ok(&["load"]).await;
    assert!(again.stderr.contains("loaded 0 runs"), "{}", again.stderr);
    assert!(!again.stderr.contains("rebuilt"), "derived tables are current: {}", again.stderr);
}

/// Two loads at once: the first is held for 4 s after its first run's third dataset; the second, started then,
/// waits for it and finds both runs loaded.
async fn two_loads_take_turns(front: Option<&ClickHouseFront>) {
    let simulator = simulator("").await;
    let mut sandbox = sandbox(&simulator);
    if let Some(front) = front {
        use_server(&mut sandbox, front);
    }
    sandbox.ok(&["collect"]).await;
    sandbox.ok(&["collect"]).await;

    sandbox.set("COSTLAKE_FAILPOINT", "load.pause_after_dataset=3~4000");
    let (mut first, _, first_stderr) = sandbox.start_reading(&["load"], "failpoint").await;
    sandbox.unset("COSTLAKE_FAILPOINT");
    let pid = first.id().expect("the first load runs");
    // Without the lease, this one would delete the first's rows as an interrupted load's and load both runs
    // while the first goes on: doubled rows, or a failed count.
    let second = sandbox.ok(&["load"]).await;
    let status = tokio::time::timeout(Duration::from_secs(120), first.wait()).await.expect("ends").unwrap();
    let first_stderr = first_stderr.lock().unwrap().clone();
    assert!(status.success(), "the first load finishes: {first_stderr}");
    assert!(first_stderr.contains("loaded 2 runs"), "{first_stderr}");
    assert!(
        second.stderr.contains(&format!("pid {pid}")) && second.stderr.contains("waiting for it"),
        "the second says whom it waits for: {}",
        second.stderr
    );
    assert!(second.stderr.contains("loaded 0 runs (0 rows)"), "then finds both runs loaded: {}", second.stderr);
    assert_each_run_loaded_once(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_loads_racing_on_a_server_take_turns() {
    let (front, _dir) = server().await;
    two_loads_take_turns(Some(&front)).await;
    drop(front);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_loads_on_one_embedded_warehouse_take_turns() {
    two_loads_take_turns(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_load_holds_the_server_only_until_its_lease_expires() {
    let (front, _dir) = server().await;
    let simulator = simulator("").await;
    let mut sandbox = sandbox(&simulator);
    use_server(&mut sandbox, &front);
    sandbox.ok(&["collect"]).await;

    sandbox.set("COSTLAKE_LOAD_LEASE_SECONDS", "5").set("COSTLAKE_FAILPOINT", "load.pause_after_dataset=2");
    let mut killed = sandbox.start_until(&["load"], "failpoint").await;
    let pid = killed.id().unwrap();
    killed.kill().await.expect("kill -9 the load");
    sandbox.unset("COSTLAKE_FAILPOINT");

    // A load that will not wait refuses at once, naming the holder and what to do.
    sandbox.set("COSTLAKE_LOAD_WAIT_SECONDS", "0");
    let refused = sandbox.run(&["load"]).await;
    assert!(!refused.success(), "{}", refused.stderr);
    let line = refused.error_line().unwrap_or_default().to_string();
    assert!(line.contains(&format!("another costlake load (pid {pid} on ")), "{}", refused.stderr);
    assert!(line.contains("COSTLAKE_LOAD_WAIT_SECONDS") && line.contains("expires at"), "{line}");
    assert_eq!(scalar(&sandbox, "SELECT count() FROM _load_ledger").await, 0, "the refused load wrote nothing");

    // One that waits takes over once the dead holder's lease expires, and repairs what it left.
    sandbox.unset("COSTLAKE_LOAD_WAIT_SECONDS");
    let taken = sandbox.ok(&["load"]).await;
    assert!(taken.stderr.contains("loaded 1 run "), "{}", taken.stderr);
    assert!(taken.stderr.contains("rows of an interrupted earlier load first"), "{}", taken.stderr);
    assert_each_run_loaded_once(&sandbox).await;
    drop(front);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

/// Two `costlake run` at once on one lake and one warehouse: both finish, each run is loaded by one of them.
async fn two_runs_both_land(front: Option<&ClickHouseFront>) {
    let simulator = simulator("").await;
    let mut sandbox = sandbox(&simulator);
    if let Some(front) = front {
        use_server(&mut sandbox, front);
    }
    let (one, two) = tokio::join!(sandbox.run(&["run"]), sandbox.run(&["run"]));
    for outcome in [&one, &two] {
        assert!(outcome.success(), "both runs finish: {}", outcome.stderr);
    }
    let loaded = |stderr: &str| -> u64 {
        let line = stderr.lines().find_map(|l| l.strip_prefix("loaded "));
        let line = line.unwrap_or_else(|| panic!("no load line: {stderr}"));
        line.split(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(loaded(&one.stderr) + loaded(&two.stderr), 2, "each run is loaded by one of them");
    assert_eq!(manifests(&sandbox).len(), 2);
    assert_each_run_loaded_once(&sandbox).await;
    let json = sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await;
    assert_report_is_planted(&json.json(), simulator.config());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_on_one_lake_and_server_both_land() {
    let (front, _dir) = server().await;
    two_runs_both_land(Some(&front)).await;
    drop(front);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_on_one_embedded_warehouse_both_land() {
    two_runs_both_land(None).await;
}
