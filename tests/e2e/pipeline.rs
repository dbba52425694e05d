//! The whole pipeline, through the real binary: simulator (real HTTP on loopback) → collect → lake (a local
//! directory, or a real S3 server on loopback) → load into the embedded engine → ghost-resources report.

mod common;

use common::{assert_report_is_planted, dataset_files, manifests, sandbox, scalar, simulator};
use costlake_tests::s3::S3Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_finds_exactly_the_planted_ghosts_with_their_euros() {
    let simulator = simulator("").await;
    // Every product, metrics included: the one full run of this suite.
    let mut sandbox = common::sandbox_with_metrics(&simulator);

    let run = sandbox.ok(&["run"]).await;
    assert!(run.stderr.contains("loaded 1 run"), "{}", run.stderr);
    let manifests = manifests(&sandbox);
    assert_eq!(manifests.len(), 1);
    // 200 healthy servers, 2 planted stopped ones, the one in an unknown future state, the 6 planted for the
    // utilisation reports, the 11 Kapsule nodes and the 8 scaling groups' members: walked over pages.
    let datasets = manifests[0]["datasets"].as_array().unwrap();
    let servers = datasets.iter().find(|d| d["name"] == "instance_servers").unwrap();
    assert_eq!(servers["rows"], 228);
    let points = datasets.iter().find(|d| d["name"] == "cockpit_metric_points").expect("metrics are collected");
    assert!(points["rows"].as_u64().unwrap() > 205 * 2 * 8000, "{points}");
    assert!(
        manifests[0]["stats"]["pages"].as_u64().unwrap() > manifests[0]["stats"]["api_calls"].as_u64().unwrap() / 2
    );

    let json = sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await;
    assert_report_is_planted(&json.json(), simulator.config());

    // The table ends with totals per kind and per project.
    let table = sandbox.ok(&["report", "ghost-resources"]).await.stdout;
    assert!(
        table.contains("Total monthly_cost per kind:") && table.contains("Total monthly_cost per project_name:"),
        "{table}"
    );
    // 11 ghosts, the server in a state costlake does not know (its cost unknown too) and the idle load
    // balancers: 263.7417 EUR a month and theirs.
    let balancers = costlake_simulator::services(simulator.config()).idle_load_balancers;
    let total = rust_decimal::Decimal::new(2637417, 4)
        + balancers.iter().map(|b| b.monthly_cost).sum::<rust_decimal::Decimal>();
    let line = format!("All {} rows: {:.2} EUR, plus 3 without a known price", 12 + balancers.len(), total.round_dp(2));
    assert!(table.contains(&line), "{line}\n{table}");
    let stopped = table.lines().find(|l| l.starts_with("│ stopped_server ") && l.contains(" 2 ┆")).unwrap_or_default();
    assert!(stopped.contains("┆   177.26 EUR ┆"), "{table}");

    // On a 120-column terminal the table fits: ids shortened, the columns of @table, long reasons wrapped;
    // --wide has everything, JSON and CSV too.
    sandbox.set("COLUMNS", "120");
    let fitted = sandbox.ok(&["report", "ghost-resources"]).await.stdout;
    let widest = fitted.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 120, "{widest} columns:\n{fitted}");
    assert!(fitted.lines().count() < 100, "{} lines:\n{fitted}", fitted.lines().count());
    let wide = sandbox.ok(&["report", "ghost-resources", "--wide"]).await.stdout;
    let ghost = simulator.config();
    let stopped = costlake_simulator::organization(ghost).ghosts.stopped_server;
    assert!(wide.contains(&stopped) && !fitted.contains(&stopped), "whole ids only with --wide");
    sandbox.unset("COLUMNS");

    // CSV: a header and one line per finding.
    let csv = sandbox.ok(&["report", "ghost-resources", "--format", "csv"]).await.stdout;
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with(
        "kind,resource_id,name,project_id,project_name,zone,state,since,age_days,size_bytes,monthly_cost,currency"
    ));
    assert_eq!(lines.count(), 12 + balancers.len());

    // A price override fills a gap the APIs leave: local SSD storage.
    sandbox
        .ok(&[
            "sql",
            "INSERT INTO price_overrides VALUES ('volume_gb_hour', '', 'l_ssd', 0.0001, 'EUR', 'test contract')",
        ])
        .await;
    let json = sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await.json();
    let scratch = json.as_array().unwrap().iter().find(|r| r["name"] == "scratch-leftover").unwrap();
    assert_eq!(scratch["monthly_cost"], "1.46", "20 GB x 0.0001 x 730");

    // A project by name works in every report; one the warehouse does not know is an error naming those it does.
    let by_name = sandbox.ok(&["-q", "report", "ghost-resources", "-p", "project=web-shop", "--format", "json"]).await;
    let rows = by_name.json();
    assert!(
        !rows.as_array().unwrap().is_empty()
            && rows.as_array().unwrap().iter().all(|r| r["project_name"] == "web-shop")
    );
    for args in [
        &["report", "ghost-resources", "-p", "project=web-shopp"][..],
        &["report", "forecast", "--budget", "nosuchproject=100"],
    ] {
        let outcome = sandbox.run(args).await;
        assert_eq!(outcome.code, Some(1), "{args:?}: {}", outcome.stderr);
        let error = outcome.error_line().unwrap();
        assert!(
            error.contains("in the warehouse (by id or by name); projects: ") && error.contains("web-shop"),
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_lake_on_loopback_gives_the_same_report() {
    let simulator = simulator("").await;
    let s3 = S3Server::start("SCWLAKEACCESSKEY0000", "lake-secret-key-1234").await.unwrap();
    s3.create_bucket("costlake-lake");
    let mut sandbox = sandbox(&simulator);
    sandbox
        .set("COSTLAKE_LAKE", "s3://costlake-lake/prod/finops")
        .set("COSTLAKE_S3_ENDPOINT", s3.endpoint())
        .set("COSTLAKE_S3_ACCESS_KEY", "SCWLAKEACCESSKEY0000")
        .set("COSTLAKE_S3_SECRET_KEY", "lake-secret-key-1234");

    let run = sandbox.ok(&["run"]).await;
    assert!(run.stderr.contains("committed to s3://costlake-lake/prod/finops"), "{}", run.stderr);
    let json = sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await;
    assert_report_is_planted(&json.json(), simulator.config());

    // The objects are where the documented layout says, in the bucket.
    let mut keys = Vec::new();
    let mut stack = vec![s3.root().join("costlake-lake")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                keys.push(path.strip_prefix(s3.root()).unwrap().display().to_string());
            }
        }
    }
    assert!(
        keys.iter()
            .any(|k| k.starts_with("costlake-lake/prod/finops/manifests/snapshot_date=") && k.ends_with(".json")),
        "{keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.starts_with("costlake-lake/prod/finops/datasets/instance_servers/snapshot_date=")
            && k.ends_with("/part-00000.parquet")),
        "{keys:?}"
    );
    assert!(!keys.iter().any(|k| k.contains("_probe")), "the write probe is removed: {keys:?}");

    // A wrong S3 key is refused by the server (SigV4 is checked) before any Scaleway call.
    let requests_before = simulator.stats().requests;
    sandbox.set("COSTLAKE_S3_SECRET_KEY", "not-the-lake-secret");
    let refused = sandbox.run(&["collect"]).await;
    assert!(!refused.success());
    let error = refused.error_line().expect("an error line");
    assert!(error.contains("s3://costlake-lake/prod/finops") && error.contains("refuses writes"), "{error}");
    assert!(!refused.stderr.contains("not-the-lake-secret") && !refused.stderr.contains("lake-secret-key-1234"));
    assert_eq!(simulator.stats().requests, requests_before, "no Scaleway call before the lake is known to work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_and_change_nothing() {
    let simulator = simulator("rate_429=0.15,rate_5xx=0.05,burst_429=1,latency_ms=1").await;
    let mut sandbox = sandbox(&simulator);
    // One request in five fails: with 10 attempts, a request failing them all is a one-in-ten-million event.
    sandbox.set("COSTLAKE_MAX_ATTEMPTS", "10");
    sandbox.ok(&["run"]).await;
    let json = sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await;
    assert_report_is_planted(&json.json(), simulator.config());

    let stats = &manifests(&sandbox)[0]["stats"];
    let served = simulator.stats();
    assert!(served.rate_limited > 0 && served.server_errors > 0, "{served:?}");
    assert_eq!(stats["rate_limited"], served.rate_limited, "{stats}");
    assert_eq!(stats["server_errors"], served.server_errors, "{stats}");
    assert_eq!(stats["retries"].as_u64().unwrap(), served.rate_limited + served.server_errors, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_twice_and_loading_again_adds_no_duplicates() {
    let simulator = simulator("").await;
    let sandbox = sandbox(&simulator);
    sandbox.ok(&["run"]).await;
    let first = sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await.json();
    sandbox.ok(&["run"]).await;
    let second = sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await.json();
    assert_eq!(first, second);
    assert_report_is_planted(&second, simulator.config());

    let again = sandbox.ok(&["load"]).await;
    assert!(
        again.stderr.contains("loaded 0 runs (0 rows)") && again.stderr.contains("2 already loaded"),
        "{}",
        again.stderr
    );
    assert_eq!(scalar(&sandbox, "SELECT count() FROM runs").await, 2);
    // Each run's rows are in the warehouse exactly once.
    for manifest in manifests(&sandbox) {
        let run_id = manifest["run_id"].as_str().unwrap();
        for dataset in manifest["datasets"].as_array().unwrap() {
            let sql =
                format!("SELECT count() FROM raw_{} WHERE run_id = '{run_id}'", dataset["name"].as_str().unwrap());
            assert_eq!(scalar(&sandbox, &sql).await, dataset["rows"].as_u64().unwrap(), "{sql}");
        }
    }
    // The inventory model sees every resource once, with its history.
    assert_eq!(
        scalar(&sandbox, "SELECT count() FROM inventory_latest WHERE resource_type = 'instance_server'").await,
        228
    );
    assert_eq!(
        scalar(&sandbox, "SELECT count() FROM inventory_history WHERE resource_type = 'instance_server'").await,
        456
    );
}

/// A read opens only the tables it uses (the engine's start was mostly opening all fifty) where a costlake of the
/// same schema last found the warehouse current; a write, and a read that may have to migrate, open them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_opens_only_the_tables_it_uses_and_a_write_opens_them_all() {
    let simulator = simulator("").await;
    let sandbox = sandbox(&simulator);
    sandbox.ok(&["run"]).await;
    let report = sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await.json();
    let engine_of_servers = || {
        let sandbox = &sandbox;
        async move {
            let sql = "SELECT engine FROM system.tables WHERE database = currentDatabase() \
                       AND name = 'raw_instance_servers' FORMAT TSV";
            sandbox.ok(&["sql", sql]).await.stdout.trim().to_string()
        }
    };
    assert_eq!(engine_of_servers().await, "TableProxy");
    // At rest the database is as any ClickHouse (or an earlier costlake) expects it: every table opened at start.
    let database = std::fs::read_to_string(sandbox.path("warehouse/metadata/costlake.sql")).unwrap();
    assert!(database.contains("ENGINE = Atomic") && !database.contains("lazy_load_tables"), "{database}");

    // A statement that writes gets every table open (the engine's stand-in for an unopened table refuses it), and
    // the next read checks the schema with every table open, since the statement may have changed it.
    let mark = sandbox.path("warehouse/costlake-schema");
    let fingerprint = std::fs::read_to_string(&mark).unwrap();
    sandbox.ok(&["sql", "DELETE FROM price_overrides WHERE note = 'none such'"]).await;
    sandbox
        .ok(&["sql", "ALTER TABLE price_overrides DELETE WHERE note = 'none such' SETTINGS mutations_sync = 2"])
        .await;
    assert!(!mark.exists());
    assert_eq!(engine_of_servers().await, "MergeTree");
    assert_eq!(std::fs::read_to_string(&mark).unwrap(), fingerprint);
    assert_eq!(engine_of_servers().await, "TableProxy");

    // Noted as current but changed since (as another costlake's load would): the read stops with what to do, and
    // the command run again migrates and answers as before.
    sandbox.ok(&["sql", "DELETE FROM _models WHERE name = 'rate_card'"]).await;
    std::fs::write(&mark, &fingerprint).unwrap();
    let changed = sandbox.run(&["report", "ghost-resources", "--format", "json"]).await;
    assert_eq!(changed.code, Some(1), "{}", changed.stderr);
    assert!(changed.stderr.contains("run the command again"), "{}", changed.stderr);
    assert_eq!(sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await.json(), report);
    assert_eq!(engine_of_servers().await, "TableProxy");

    // A read killed while the engine started leaves the setting in the file: the next write takes it out first.
    let metadata = sandbox.path("warehouse/metadata/costlake.sql");
    std::fs::write(&metadata, format!("{database}SETTINGS lazy_load_tables = 1\n")).unwrap();
    sandbox.ok(&["sql", "DELETE FROM price_overrides WHERE note = 'none such'"]).await;
    assert_eq!(std::fs::read_to_string(&metadata).unwrap(), database);

    // Loading after reads: deletes, merges and swaps as ever.
    sandbox.ok(&["run"]).await;
    assert_eq!(scalar(&sandbox, "SELECT count() FROM runs").await, 2);
    assert_eq!(sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await.json(), report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_killed_halfway_is_finished_by_the_next_load() {
    let simulator = simulator("").await;
    let mut sandbox = sandbox(&simulator);
    sandbox.ok(&["collect"]).await;

    sandbox.set("COSTLAKE_FAILPOINT", "load.pause_after_dataset=4");
    let mut paused = sandbox.start_until(&["load"], "failpoint load.pause_after_dataset=4 reached").await;
    paused.kill().await.expect("kill -9 the paused load");
    sandbox.unset("COSTLAKE_FAILPOINT");

    // Rows of the killed load are in the raw tables, but the run is not committed: models do not see it.
    assert!(scalar(&sandbox, "SELECT count() FROM raw_instance_servers").await > 0);
    assert_eq!(scalar(&sandbox, "SELECT count() FROM runs").await, 0);
    let empty = sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await;
    assert_eq!(empty.json(), serde_json::json!([]));
    assert!(empty.stderr.contains("no loaded run yet"), "{}", empty.stderr);

    let resumed = sandbox.ok(&["load"]).await;
    assert!(resumed.stderr.contains("rows of an interrupted earlier load first"), "{}", resumed.stderr);
    let json = sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await;
    assert_report_is_planted(&json.json(), simulator.config());
    let manifest = &manifests(&sandbox)[0];
    for dataset in manifest["datasets"].as_array().unwrap() {
        let sql = format!("SELECT count() FROM raw_{}", dataset["name"].as_str().unwrap());
        assert_eq!(scalar(&sandbox, &sql).await, dataset["rows"].as_u64().unwrap(), "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_warehouse_runs_the_same_pipeline_over_http() {
    use costlake_transform::warehouse::chdb::EmbeddedWarehouse;
    let engine_dir = tempfile::tempdir().unwrap();
    let engine =
        EmbeddedWarehouse::open(engine_dir.path().join("engine"), Some(costlake_tests::engine::chdb_library()))
            .await
            .unwrap();
    let front = costlake_tests::clickhouse_front::ClickHouseFront::start(Box::new(engine), "finops", "front-password")
        .await
        .unwrap();

    let simulator = simulator("").await;
    let mut sandbox = sandbox(&simulator);
    let url = front.url().replace("http://", "http://finops@");
    sandbox.set("COSTLAKE_WAREHOUSE", format!("{url}/costlake")).set("COSTLAKE_CLICKHOUSE_PASSWORD", "front-password");
    let run = sandbox.ok(&["run"]).await;
    assert!(run.stderr.contains("into ClickHouse server http://127.0.0.1:"), "{}", run.stderr);
    let json = sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await;
    assert_report_is_planted(&json.json(), simulator.config());
    // A price override written through `costlake sql` applies at once on a server too (under the load lease).
    sandbox.ok(&["sql", "INSERT INTO price_overrides VALUES ('server_hour', '', '', 0.5, 'EUR', 'flat rate')"]).await;
    let flat = "SELECT toString(monthly_price) FROM rate_card_best \
                WHERE price_kind = 'server_hour' AND zone = '' AND match_key = '' FORMAT TSV";
    assert_eq!(sandbox.ok(&["sql", flat]).await.stdout.trim(), "365");
    let after = sandbox.ok(&["report", "scaling-groups", "--format", "json"]).await;
    assert!(!after.stderr.contains("behind"), "{}", after.stderr);
    assert!(front.requests() > 30, "everything went over HTTP: {} requests", front.requests());
    drop(front);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_killed_before_its_derived_tables_are_rebuilt_is_repaired_by_the_next_load() {
    // Before the fix, billing_daily stayed empty after such a crash and `load` ("0 runs loaded") left it so.
    for point in ["load.pause_before_models", "models.pause_before_exchange"] {
        let simulator = simulator("").await;
        let mut sandbox = sandbox(&simulator);
        sandbox.ok(&["collect"]).await;
        sandbox.set("COSTLAKE_FAILPOINT", point);
        let mut paused = sandbox.start_until(&["load"], &format!("failpoint {point} reached")).await;
        paused.kill().await.expect("kill -9 the paused load");
        sandbox.unset("COSTLAKE_FAILPOINT");

        assert_eq!(scalar(&sandbox, "SELECT count() FROM runs").await, 1, "{point}: the run is in the ledger");
        assert_eq!(scalar(&sandbox, "SELECT count() FROM billing_daily").await, 0, "{point}: not rebuilt yet");
        let daily = costlake_transform::models::MATERIALISED.iter().find(|m| m.table == "billing_daily").unwrap();
        let (source, bounds) = daily.whole();
        let mut count = vec!["-q".to_string(), "sql".into(), format!("SELECT count() FROM {source}"), "-f".into()];
        count.push("csv".into());
        for (name, value) in bounds {
            count.extend(["--param".to_string(), format!("{name}={value}")]);
        }
        let count: Vec<&str> = count.iter().map(String::as_str).collect();
        let out = sandbox.ok(&count).await.stdout;
        let expected: u64 = out.lines().nth(1).and_then(|l| l.trim().parse().ok()).unwrap_or_default();
        assert!(expected > 0, "{point}: the simulator bills something: {out}");

        let repaired = sandbox.ok(&["load"]).await;
        assert!(repaired.stderr.contains("loaded 0 runs"), "{point}: {}", repaired.stderr);
        let rebuilt = repaired.stderr.lines().find(|line| line.contains("rebuilt ")).unwrap_or_default();
        assert!(rebuilt.contains("billing_daily") && rebuilt.contains("resources"), "{point}: {}", repaired.stderr);
        assert_eq!(scalar(&sandbox, "SELECT count() FROM billing_daily").await, expected, "{point}");
        let again = sandbox.ok(&["load"]).await;
        assert!(!again.stderr.contains("rebuilt"), "{point}: a current table is left alone: {}", again.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_a_killed_collection_are_removed_by_a_later_run_once_past_the_grace() {
    // Before the fix, a collection killed before its commit left its files (empty staged parts mid-upload) for good.
    for point in ["collect.pause_mid_upload", "collect.pause_before_commit"] {
        let simulator = simulator("").await;
        let mut sandbox = sandbox(&simulator);
        sandbox.set("COSTLAKE_FAILPOINT", point);
        let mut paused = sandbox.start_until(&["collect"], &format!("failpoint {point} reached")).await;
        paused.kill().await.expect("kill -9 the paused collection");
        sandbox.unset("COSTLAKE_FAILPOINT");
        let lake = sandbox.lake_dir();
        let orphans = dataset_files(&lake);
        assert!(!orphans.is_empty(), "{point}: the killed run left files");
        assert!(manifests(&sandbox).is_empty(), "{point}: and no manifest");

        // Within the grace (6 hours by default) the files stay: a run that wrote them may still be running.
        let within = sandbox.ok(&["collect"]).await;
        assert!(!within.stderr.contains("never committed"), "{point}: {}", within.stderr);
        assert!(orphans.iter().all(|f| dataset_files(&lake).contains(f)), "{point}");

        sandbox.set("COSTLAKE_ORPHAN_GRACE_MINUTES", "0");
        let swept = sandbox.ok(&["collect"]).await;
        let said = format!(
            "removed {} file{} left by 1 earlier run that never committed",
            orphans.len(),
            if orphans.len() == 1 { "" } else { "s" }
        );
        assert!(swept.stderr.contains(&said), "{point}: {said}\n{}", swept.stderr);
        let committed: Vec<String> =
            manifests(&sandbox).iter().map(|m| m["run_id"].as_str().unwrap().to_string()).collect();
        assert_eq!(committed.len(), 2, "{point}");
        let left = dataset_files(&lake);
        assert!(
            left.iter().all(|f| committed.iter().any(|run| f.contains(&format!("run_id={run}/")))),
            "{point}: only committed runs' files remain: {left:#?}"
        );
        assert!(!lake.join("_probe").exists(), "{point}: no empty probe folder");
        let recorded: u64 = manifests(&sandbox).iter().map(|m| m["orphans_removed"]["files"].as_u64().unwrap()).sum();
        assert_eq!(recorded, orphans.len() as u64, "{point}: the manifest says it too");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_runtime_never_stalls_while_collecting_and_loading() {
    // COSTLAKE_HEARTBEAT_MS runs costlake on one async thread with a task waking every 5 ms: any future that
    // blocks (a page decoded, Parquet encoded or an engine call made on the reactor) makes it late by as long.
    // The simulator's default organisation, metrics included (1.4 M rows): the test has the machine to itself.
    let config = costlake_simulator::SimConfig::default();
    let simulator = costlake_simulator::Simulator::start(config, None).await.unwrap();
    let mut sandbox = common::sandbox_with_metrics(&simulator);
    sandbox.set("COSTLAKE_HEARTBEAT_MS", "5");
    for args in [&["run"][..], &["load"], &["report", "rightsizing", "--format", "json"]] {
        let outcome = sandbox.ok(args).await;
        let line = outcome.stderr.lines().find(|l| l.starts_with("heartbeat: ")).expect("the heartbeat line");
        eprintln!("costlake {args:?}: {line}");
        let ticks: u64 = line["heartbeat: ".len()..].split(' ').next().unwrap().parse().unwrap();
        let worst: f64 = line.rsplit("worst lag ").next().unwrap().trim_end_matches(" ms").parse().unwrap();
        assert!(ticks > 0, "{line}");
        assert!(worst < 50.0, "costlake {args:?}: the runtime stalled: {line}");
    }
    assert!(
        sandbox
            .ok(&["report", "rightsizing", "--format", "json"])
            .await
            .json()
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
}

/// The largest peak resident memory of any child process this test has waited for, in KiB.
fn children_peak_rss_kib() -> i64 {
    // SAFETY: getrusage writes into the struct it is given; an all-zero rusage is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
    usage.ru_maxrss
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_memory_stays_flat_from_1x_to_10x_the_organisation() {
    // The simulator's default organisation (60 servers in 3 projects), then ten times it (600 in 30), every
    // product collected, metrics included (at a 15-minute step, to keep the test short: a query's points are
    // bounded either way). Pages stream into row groups, so the peak must not follow the organisation's size.
    let mut peaks = Vec::new();
    for knobs in ["servers=60,projects=3", "servers=600,projects=30"] {
        let config = costlake_simulator::SimConfig::default().with_knobs(knobs).unwrap();
        let simulator = costlake_simulator::Simulator::start(config, None).await.unwrap();
        let mut sandbox = common::sandbox_with_metrics(&simulator);
        sandbox.set("COSTLAKE_COCKPIT_STEP_SECONDS", "900");
        let collected = sandbox.ok(&["collect"]).await;
        let rows: u64 =
            manifests(&sandbox)[0]["datasets"].as_array().unwrap().iter().map(|d| d["rows"].as_u64().unwrap()).sum();
        // The children's peak so far: at 10x, the larger of both collections.
        peaks.push((knobs, rows, children_peak_rss_kib()));
        drop(collected);
    }
    eprintln!("{peaks:?}");
    let (_, rows_1x, peak_1x) = peaks[0];
    let (_, rows_10x, peak_10x) = peaks[1];
    assert!(rows_10x > 5 * rows_1x, "ten times the organisation: {rows_1x} then {rows_10x} rows");
    // The goal: 1.5x (BENCHMARKS.md: 1.42-1.45 at 100x, release). Measured here 1.15 to 1.21 (debug, 2 cores,
    // 4 runs); row groups of 8 MiB and Cockpit batches of 2,048 points measured 1.37 to 1.58, one unbounded
    // Cockpit answer per batch 2.26. It runs alone (.config/nextest.toml).
    assert!(
        peak_10x as f64 <= 1.5 * peak_1x as f64,
        "collect's peak RSS grew from {} MiB at 1x to {} MiB at 10x (the ceiling is 1.5x)",
        peak_1x / 1024,
        peak_10x / 1024
    );
}
