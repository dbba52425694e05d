//! Bad input, through the real binary: each case gives a clear one-line error naming what failed and what to
//! do, a non-zero exit, no secret in any output, and nothing half-written (no manifest, no Parquet left).

mod common;

use common::{BIN, sandbox, simulator};
use costlake_tests::sandbox::{Outcome, Sandbox};

/// The error line, checked for the shape every error must have.
fn error_of(outcome: &Outcome) -> String {
    error_with_code(outcome, 1)
}

/// The error of a command line that cannot run as typed: exit code 2, as clap's own usage errors.
fn usage_error_of(outcome: &Outcome) -> String {
    error_with_code(outcome, 2)
}

fn error_with_code(outcome: &Outcome, code: i32) -> String {
    assert!(!outcome.success(), "expected a failure; stdout:\n{}\nstderr:\n{}", outcome.stdout, outcome.stderr);
    assert_eq!(outcome.code, Some(code), "{}", outcome.stderr);
    let line = outcome.error_line().unwrap_or_else(|| panic!("no `error:` line in:\n{}", outcome.stderr)).to_string();
    assert_eq!(outcome.stderr.lines().last(), Some(line.as_str()), "the error is the last line of stderr");
    line
}

fn assert_nothing_committed(sandbox: &Sandbox) {
    let files = sandbox.files_under("lake");
    assert!(files.iter().all(|f| !f.to_string_lossy().contains("/manifests/")), "no manifest may exist: {files:?}");
    assert!(files.iter().all(|f| f.extension().is_none_or(|e| e != "parquet")), "no Parquet may be left: {files:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_key_is_named_and_never_printed() {
    let simulator = simulator("").await;
    let mut sandbox = sandbox(&simulator);
    let wrong = "0badc0de-0000-4000-8000-00000000dead";
    sandbox.set("SCW_SECRET_KEY", wrong);
    let outcome = sandbox.run(&["collect"]).await;
    let error = error_of(&outcome);
    assert!(error.contains("Scaleway rejected the API key (401 Unauthorized denied_authentication"), "{error}");
    assert!(error.contains("check SCW_SECRET_KEY"), "{error}");
    assert!(!outcome.stderr.contains(wrong) && !outcome.stdout.contains(wrong));
    assert_nothing_committed(&sandbox);

    // The same key from an scw profile names the profile instead.
    sandbox.unset("SCW_SECRET_KEY");
    let config_dir = sandbox.path("home/.config/scw");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.yaml"),
        format!("active_profile: prod\nprofiles:\n  prod:\n    secret_key: {wrong}\n"),
    )
    .unwrap();
    let outcome = sandbox.run(&["collect"]).await;
    let error = error_of(&outcome);
    assert!(error.contains("the secret_key of scw profile 'prod'"), "{error}");
    assert!(!outcome.stderr.contains(wrong));
}

/// The error of a run that committed without some products: exit code 3, the error last.
fn partial_error_of(outcome: &Outcome) -> String {
    assert_eq!(outcome.code, Some(3), "a partial run exits 3; stderr:\n{}", outcome.stderr);
    let line = outcome.error_line().unwrap_or_else(|| panic!("no `error:` line in:\n{}", outcome.stderr)).to_string();
    assert!(line.contains("the run committed the other products"), "{line}");
    line
}

/// The one manifest of the sandbox's lake.
fn only_manifest(sandbox: &Sandbox) -> serde_json::Value {
    let manifests = common::manifests(sandbox);
    assert_eq!(manifests.len(), 1, "{manifests:#?}");
    manifests.into_iter().next().unwrap()
}

fn dataset_names(manifest: &serde_json::Value) -> Vec<String> {
    manifest["datasets"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_names_the_permission_set_and_the_run_goes_on_without_that_product() {
    let simulator = simulator("deny=block").await;
    let sandbox = sandbox(&simulator);
    let error = partial_error_of(&sandbox.run(&["collect"]).await);
    assert!(
        error.contains("lacks permission `read` on `volume`")
            || error.contains("lacks permission `read` on `snapshot`")
            || error.contains("`read` on `volume_type`"),
        "{error}"
    );
    assert!(error.contains("BlockStorageReadOnly"), "{error}");
    let manifest = only_manifest(&sandbox);
    assert_eq!(manifest["failed_sources"][0]["name"], "block", "{manifest:#}");
    let datasets = dataset_names(&manifest);
    assert!(datasets.iter().all(|d| !d.starts_with("block_")), "{datasets:?}");
    assert!(datasets.iter().any(|d| d == "instance_servers"), "{datasets:?}");
    let files = sandbox.files_under("lake/datasets");
    assert!(files.iter().all(|f| !f.to_string_lossy().contains("/block_")), "no file of the failed product: {files:?}");
}

/// As a Serverless Job runs it (`COSTLAKE_LOG_FORMAT=json`): one JSON object per line on stdout, each source,
/// dataset and run with its run id, rows, bytes, calls and times; a product left out is an event and exit code 3;
/// commands whose stdout is their answer keep it clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_tell_a_scheduler_what_the_run_did_on_stdout() {
    let simulator = simulator("deny=block").await;
    let mut sandbox = sandbox(&simulator);
    sandbox.set("COSTLAKE_LOG_FORMAT", "json").unset("COSTLAKE_LOG");
    let outcome = sandbox.run(&["run"]).await;
    partial_error_of(&outcome);
    let events: Vec<serde_json::Value> = outcome
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let manifest = only_manifest(&sandbox);
    let run_id = manifest["run_id"].as_str().unwrap();
    let find = |message: &str| -> Vec<&serde_json::Value> {
        events.iter().filter(|e| e["message"] == message && e["run_id"] == run_id).collect()
    };
    let committed = find("run committed");
    assert_eq!(committed.len(), 1, "{}", outcome.stdout);
    let rows: u64 = manifest["datasets"].as_array().unwrap().iter().map(|d| d["rows"].as_u64().unwrap()).sum();
    assert_eq!(committed[0]["rows"], rows);
    assert_eq!(committed[0]["failed_sources"], 1);
    assert_eq!(committed[0]["api_calls"], manifest["stats"]["api_calls"]);
    assert!(committed[0]["bytes"].as_u64().unwrap() > 0 && committed[0]["ms"].is_u64());
    let failed = find("product not collected; the run goes on without it");
    assert_eq!(
        (failed.len(), failed[0]["source"].as_str(), failed[0]["level"].as_str()),
        (1, Some("block"), Some("WARN"))
    );
    let sources = find("source collected");
    assert!(sources.iter().any(|e| e["source"] == "instance" && e["api_calls"].as_u64() > Some(0)), "{sources:?}");
    assert_eq!(find("dataset collected").len(), manifest["datasets"].as_array().unwrap().len());
    assert_eq!(find("dataset loaded").len(), manifest["datasets"].as_array().unwrap().len());
    assert_eq!(find("run loaded").len(), 1);
    assert!(!outcome.stdout.contains(&simulator.config().secret_key));
    // A report's stdout is the report, whatever the log format.
    let report = sandbox.ok(&["report", "ghost-resources", "-f", "json"]).await;
    assert!(report.json().is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_billing_access_fails_clearly_or_leaves_billing_out() {
    let simulator = simulator("deny=billing").await;
    let mut sandbox = sandbox(&simulator);
    let outcome = sandbox.run(&["collect"]).await;
    let error = partial_error_of(&outcome);
    assert!(error.contains("/billing/v2beta1/consumptions"), "{error}");
    // The charges are asked for beside the consumptions; their own refusal adds nothing to the bill's error.
    assert!(!outcome.stderr.contains("charges not collected"), "{}", outcome.stderr);
    assert!(error.contains("BillingReadOnly"), "{error}");
    assert!(error.contains("--sources"), "{error}");
    assert_eq!(only_manifest(&sandbox)["failed_sources"][0]["name"], "billing");
    // Leaving billing out, as the error says, collects the rest with no error.
    sandbox.set("COSTLAKE_SOURCES", "account,instance,block,catalog");
    let outcome = sandbox.ok(&["collect"]).await;
    assert!(!outcome.stderr.contains("warning"), "{}", outcome.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_or_down_product_leaves_the_others_loaded_and_a_later_run_completes_them() {
    // Before the fix, one price source answering 404 aborted the whole run.
    for (knob, says) in [("withdrawn=catalog", "404"), ("down=billing", "503")] {
        let broken = simulator(knob).await;
        let mut sandbox = sandbox(&broken);
        sandbox.set("COSTLAKE_MAX_ATTEMPTS", "2").set("COSTLAKE_RETRY_BASE_MS", "10");
        let outcome = sandbox.run(&["run"]).await;
        let error = partial_error_of(&outcome);
        let product = knob.split('=').nth(1).unwrap();
        assert!(error.contains(&format!("{product}: ")) && error.contains(says), "{knob}: {error}");
        assert!(outcome.stderr.contains(&format!("not collected: {product}: ")), "{knob}: {}", outcome.stderr);
        assert!(outcome.stderr.contains("loaded 1 run"), "{knob}: the rest is loaded: {}", outcome.stderr);
        let inventory = common::scalar(&sandbox, "SELECT count() FROM inventory_latest").await;
        assert!(inventory > 200, "{knob}: the inventory is there ({inventory} resources)");
        let failed_datasets = common::scalar(
            &sandbox,
            &format!("SELECT count() FROM runs ARRAY JOIN datasets AS d WHERE d LIKE '{product}%'"),
        )
        .await;
        assert_eq!(failed_datasets, 0, "{knob}: no dataset of the failed product is loaded");

        // The product is back: the next run collects everything, exit 0.
        let healthy = simulator("").await;
        sandbox.use_simulator(&healthy);
        sandbox.ok(&["run"]).await;
        let loaded = common::scalar(
            &sandbox,
            &format!("SELECT count() FROM runs ARRAY JOIN datasets AS d WHERE d LIKE '{product}%'"),
        )
        .await;
        assert!(loaded > 0, "{knob}: the product's datasets arrive with the next run");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_finops_charges_collects_the_bill_and_says_what_is_missing() {
    let simulator = simulator("deny=charges").await;
    let sandbox = sandbox(&simulator);
    let outcome = sandbox.ok(&["run"]).await;
    let warning = outcome.stderr.lines().find(|l| l.contains("warning: FinOps charges not collected"));
    let warning = warning.unwrap_or_else(|| panic!("no warning about charges in:\n{}", outcome.stderr));
    assert!(warning.contains("BillingReadOnly"), "{warning}");
    // The manifest keeps the warning, the consumption-based reports work, the per-resource ones are empty.
    let manifest =
        sandbox.files_under("lake").into_iter().find(|f| f.to_string_lossy().contains("/manifests/")).unwrap();
    let manifest = std::fs::read_to_string(manifest).unwrap();
    assert!(manifest.contains("FinOps charges not collected"), "{manifest}");
    let consumption =
        sandbox.ok(&["-q", "sql", "SELECT count() AS n FROM consumption_pulls", "--format", "json"]).await;
    assert!(consumption.json()[0]["n"].as_u64().unwrap() > 0);
    sandbox.ok(&["report", "cost-drift"]).await;
    let allocation = sandbox.ok(&["-q", "report", "cost-allocation", "--format", "json"]).await;
    assert_eq!(allocation.json(), serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_api_page_names_the_request_and_the_field() {
    let simulator = simulator("malformed=instance-servers").await;
    let sandbox = sandbox(&simulator);
    let error = partial_error_of(&sandbox.run(&["collect"]).await);
    assert!(error.contains("malformed response from GET /instance/v1/zones/fr-par-1/servers?"), "{error}");
    assert!(
        error.contains("servers[1] (page 1).creation_date: expected an RFC 3339 timestamp, got \"yesterday\""),
        "{error}"
    );
    assert!(error.contains("this product was not collected"), "{error}");
    let datasets = dataset_names(&only_manifest(&sandbox));
    assert!(datasets.iter().all(|d| !d.starts_with("instance_")), "nothing of a half-read product: {datasets:?}");

    let truncating = common::simulator("malformed=block-volumes").await;
    let sandbox = common::sandbox(&truncating);
    let error = partial_error_of(&sandbox.run(&["collect"]).await);
    assert!(error.contains("GET /block/v1/zones/fr-par-1/volumes?") && error.contains("not valid JSON"), "{error}");
    let datasets = dataset_names(&only_manifest(&sandbox));
    assert!(datasets.iter().all(|d| !d.starts_with("block_")), "{datasets:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_lake_fails_before_any_api_call() {
    let simulator = simulator("").await;
    let mut sandbox = sandbox(&simulator);
    sandbox.set("COSTLAKE_LAKE", "s3://bills/costlake").set("COSTLAKE_S3_ENDPOINT", "http://127.0.0.1:9");
    let error = error_of(&sandbox.run(&["collect"]).await);
    assert!(
        error.contains("lake s3://bills/costlake (endpoint http://127.0.0.1:9) is unreachable or refuses writes"),
        "{error}"
    );
    assert!(error.contains("check the lake location, its endpoint and its credentials"), "{error}");
    assert_eq!(simulator.stats().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_engine_library_says_how_to_install_it() {
    let mut sandbox = Sandbox::new(BIN);
    sandbox.set("COSTLAKE_CHDB_LIB", "/nonexistent/libchdb.so");
    // A warehouse there (chDB's metadata/), so that the report gets as far as loading the engine.
    std::fs::create_dir_all(sandbox.path("warehouse/metadata")).unwrap();
    let error = error_of(&sandbox.run(&["report", "ghost-resources"]).await);
    assert!(error.contains("libchdb.so) could not be loaded from /nonexistent/libchdb.so: no such file"), "{error}");
    assert!(error.contains("make deps") && error.contains("COSTLAKE_CHDB_LIB"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_warehouse_that_does_not_exist_names_the_path_and_creates_nothing() {
    // Before the fix, a mistyped --warehouse created an empty warehouse there and every report answered no rows.
    let mut sandbox = Sandbox::new(BIN);
    let missing = sandbox.path("warehuose");
    let at = missing.display().to_string();
    for command in [
        &["report", "ghost-resources"][..],
        &["report", "all", "--format", "html", "--output", "page.html"],
        &["sql", "SELECT 1"],
        &["export", "focus"],
        &["serve", "--listen", "127.0.0.1:0"],
    ] {
        let args: Vec<&str> = ["--warehouse", at.as_str()].iter().chain(command).copied().collect();
        let error = error_of(&sandbox.run(&args).await);
        assert!(error.contains(&format!("there is no warehouse at {at} yet: check the path (`")), "{error}");
        assert!(error.contains(" config` shows where it comes from)"), "{error}");
        assert!(error.contains(&format!(" --warehouse {at} run`")) && error.contains(" demo`"), "{error}");
        assert!(!missing.exists(), "{command:?} created {at}");
    }
    assert!(!sandbox.path("page.html").exists());
    // From the environment and relative to the current directory, the same, with the path made absolute.
    sandbox.set("COSTLAKE_WAREHOUSE", "warehuose");
    let error = error_of(&sandbox.run(&["report", "forecast"]).await);
    assert!(error.contains(&format!("there is no warehouse at {at} yet")), "{error}");
    // Set but blank (`export COSTLAKE_WAREHOUSE=`) is unset, not the current directory: the config file's value,
    // else the default.
    std::fs::write(sandbox.path("costlake.toml"), "warehouse = \"from-file\"\n").unwrap();
    let config = sandbox.path("costlake.toml").display().to_string();
    sandbox.set("COSTLAKE_CONFIG", config).set("COSTLAKE_WAREHOUSE", " ").set("COSTLAKE_CONCURRENCY", "");
    let error = error_of(&sandbox.run(&["report", "forecast"]).await);
    let from_file = sandbox.path("from-file").display().to_string();
    assert!(error.contains(&format!("there is no warehouse at {from_file} yet")), "{error}");
    sandbox.set("COSTLAKE_CONFIG", "");
    let error = error_of(&sandbox.run(&["report", "forecast"]).await);
    let default = sandbox.path("costlake-data/warehouse").display().to_string();
    assert!(error.contains(&format!("there is no warehouse at {default} yet")), "{error}");
    sandbox.unset("COSTLAKE_CONFIG").unset("COSTLAKE_CONCURRENCY");
    // A file, or a directory of something else, is not taken for a warehouse, nor turned into one.
    std::fs::write(sandbox.path("notes.txt"), "not a warehouse").unwrap();
    sandbox.set("COSTLAKE_WAREHOUSE", sandbox.path("notes.txt").display().to_string());
    let error = error_of(&sandbox.run(&["sql", "SELECT 1"]).await);
    assert!(error.contains("notes.txt is a file, not a warehouse: check the path"), "{error}");
    std::fs::create_dir_all(sandbox.path("photos/2026")).unwrap();
    sandbox.set("COSTLAKE_WAREHOUSE", sandbox.path("photos").display().to_string());
    let error = error_of(&sandbox.run(&["report", "forecast"]).await);
    assert!(error.contains("photos is a directory of something else, not a warehouse: check the path"), "{error}");
    assert!(error.ends_with("give a warehouse's directory, or a new one"), "{error}");
    // Nor does a load write the engine's files among them.
    let error = error_of(&sandbox.run(&["load"]).await);
    assert!(error.contains("photos is a directory of something else, not a warehouse"), "{error}");
    assert_eq!(std::fs::read_dir(sandbox.path("photos")).unwrap().count(), 1, "nothing added to photos/");
    sandbox.set("COSTLAKE_WAREHOUSE", at.clone());

    // Beside a demo's warehouse, the error shows how to read that one.
    std::fs::create_dir_all(sandbox.path("costlake-data/demo/warehouse/metadata")).unwrap();
    let error = error_of(&sandbox.run(&["report", "forecast"]).await);
    assert!(
        error.contains("or read the demo's: `")
            && error.contains(" --warehouse costlake-data/demo/warehouse report forecast`"),
        "{error}"
    );
    // A directory with nothing of anyone's (a new volume's lost+found, a hidden file, the lock of a start that
    // stopped early) is not one yet either; a load makes it one, and reading it then works, and says it holds
    // nothing yet, with a hint for this warehouse.
    std::fs::create_dir_all(missing.join("lost+found")).unwrap();
    for nothing in [".keep", "costlake.lock"] {
        std::fs::write(missing.join(nothing), "").unwrap();
    }
    let error = error_of(&sandbox.run(&["report", "forecast"]).await);
    assert!(error.contains(&format!("there is no warehouse at {at} yet")), "{error}");
    sandbox.unset("COSTLAKE_WAREHOUSE");
    let loaded = sandbox.ok(&["--warehouse", &at, "load"]).await;
    assert!(loaded.stderr.contains("holds no committed run yet: collect one with `"), "{}", loaded.stderr);
    let empty = sandbox.ok(&["--warehouse", &at, "report", "ghost-resources", "--format", "json"]).await;
    assert_eq!(empty.json(), serde_json::json!([]));
    assert!(empty.stderr.contains("no loaded run yet: load one with `"), "{}", empty.stderr);
    assert!(empty.stderr.contains(&format!(" --warehouse {at} run`")), "{}", empty.stderr);
    // A misspelt table in an ad-hoc query: the one it most likely means, and where the list is.
    let error = error_of(&sandbox.run(&["--warehouse", &at, "sql", "SELECT count() FROM biling_daily"]).await);
    assert!(error.contains("did you mean billing_daily? (`") && error.contains(" sql --help` lists"), "{error}");
    // Where only flags say where things are (no variable for the library or the lake), the hint repeats them all,
    // quoted for the shell, and works as printed: it collects and loads, and the report then reads the run.
    let simulator = common::simulator("servers=20").await;
    sandbox.use_simulator(&simulator);
    sandbox.set("COSTLAKE_SOURCES", "account,instance,catalog").unset("COSTLAKE_CHDB_LIB").unset("COSTLAKE_LAKE");
    std::fs::write(sandbox.path("my settings.toml"), "concurrency = 3\n").unwrap();
    let library = costlake_tests::engine::chdb_library().display().to_string();
    let given = ["--config", "my settings.toml", "--chdb-lib", &library, "--lake", "my lake", "--warehouse", &at];
    let report: Vec<&str> = given.iter().chain(&["report", "ghost-resources", "--format", "json"]).copied().collect();
    let empty = sandbox.ok(&report).await;
    let hint = empty.stderr.split("load one with `").nth(1).and_then(|rest| rest.split('`').next()).unwrap();
    let flags = format!(" --config 'my settings.toml' --chdb-lib {library} --lake 'my lake' --warehouse {at} run");
    assert!(hint.ends_with(&flags), "{hint}");
    let run = sandbox.run_line(hint).await;
    assert_eq!(run.code, Some(0), "{hint}\n{}", run.stderr);
    assert!(sandbox.path("my lake").is_dir(), "the run wrote to the lake given");
    let found = sandbox.ok(&report).await;
    assert!(
        !found.json().as_array().unwrap().is_empty() && !found.stderr.contains("no loaded run"),
        "{}",
        found.stderr
    );
    let list = sandbox.ok(&given.iter().chain(&["report"]).copied().collect::<Vec<&str>>()).await.stdout;
    let reads = format!(" --config 'my settings.toml' --chdb-lib {library} --warehouse {at} report <name>");
    assert!(list.contains(&reads), "{list}");
    // A server's password given in the URL is not repeated in a hint.
    let list = sandbox.ok(&["--warehouse", "http://costlake:s3cret@127.0.0.1:1/costlake", "report"]).await.stdout;
    assert!(list.contains(" --warehouse http://costlake@127.0.0.1:1/costlake report <name>"), "{list}");
    assert!(!list.contains("s3cret"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warehouse_in_use_names_the_other_process() {
    let simulator = simulator("").await;
    let mut sandbox = sandbox(&simulator);
    sandbox.ok(&["collect"]).await;
    sandbox.set("COSTLAKE_FAILPOINT", "load.pause_after_dataset=1");
    let holder = sandbox.start_until(&["load"], "failpoint").await;
    sandbox.unset("COSTLAKE_FAILPOINT");

    let error = error_of(&sandbox.run(&["report", "ghost-resources"]).await);
    let pid = holder.id().expect("running");
    assert!(error.contains("is in use by another process (costlake pid "), "{error}");
    assert!(error.contains(&format!("pid {pid}")), "{error}");
    drop(holder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_mistakes_are_named() {
    let simulator = simulator("").await;
    let mut sandbox = sandbox(&simulator);

    sandbox.unset("SCW_DEFAULT_ORGANIZATION_ID");
    let error = error_of(&sandbox.run(&["collect"]).await);
    assert!(error.contains("no organization to collect: set SCW_DEFAULT_ORGANIZATION_ID"), "{error}");
    // Without any credentials, a run says all that is missing, and leaves no warehouse behind.
    sandbox.unset("SCW_SECRET_KEY");
    let error = error_of(&sandbox.run(&["run"]).await);
    assert!(error.contains("no Scaleway credentials: set SCW_SECRET_KEY and SCW_DEFAULT_ORGANIZATION_ID"), "{error}");
    assert!(!sandbox.path("warehouse").exists(), "a run without credentials made the warehouse");
    sandbox.use_simulator(&simulator);

    sandbox.set("SCW_DEFAULT_ORGANIZATION_ID", "11111111-1111-4111-8111-111111111111");
    let error = error_of(&sandbox.run(&["collect"]).await);
    assert!(
        error.contains("the Account API returned no project for organization 11111111-1111-4111-8111-111111111111"),
        "{error}"
    );
    assert_nothing_committed(&sandbox);

    sandbox.set("SCW_PROFILE", "staging");
    let error = error_of(&sandbox.run(&["collect"]).await);
    assert!(error.contains("scw profile \"staging\" (from SCW_PROFILE) is not defined"), "{error}");

    let missing = sandbox.path("missing.toml").display().to_string();
    sandbox.unset("SCW_PROFILE").set("COSTLAKE_CONFIG", missing);
    let error = error_of(&sandbox.run(&["report"]).await);
    assert!(error.contains("missing.toml does not exist"), "{error}");

    let bad = sandbox.path("bad.toml");
    std::fs::write(&bad, "concurrency = \"lots\"\n").unwrap();
    sandbox.set("COSTLAKE_CONFIG", bad.display().to_string());
    let error = error_of(&sandbox.run(&["report"]).await);
    assert!(error.contains("invalid costlake configuration") && error.contains("concurrency"), "{error}");

    sandbox.unset("COSTLAKE_CONFIG");
    let error = usage_error_of(&sandbox.run(&["report", "ghost-resources", "-p", "min_snapshot_age_days=soon"]).await);
    assert!(
        error
            .contains("parameter min_snapshot_age_days must be an integer from 0 to 4294967295 (UInt32), got \"soon\""),
        "{error}"
    );
    // Out of the type's range: refused by costlake, before the engine sees it.
    let error = usage_error_of(&sandbox.run(&["report", "ghost-resources", "-p", "min_snapshot_age_days=-5"]).await);
    assert!(error.contains("must be an integer from 0 to 4294967295 (UInt32), got \"-5\""), "{error}");
    let error = usage_error_of(&sandbox.run(&["report", "ghost-resurces"]).await);
    assert!(
        error.contains("no report named \"ghost-resurces\" (did you mean ghost-resources?); available:"),
        "{error}"
    );
    let error = usage_error_of(&sandbox.run(&["report", "forecast", "--budget", "web-shop"]).await);
    assert!(error.contains("--budget \"web-shop\" must be PROJECT=AMOUNT"), "{error}");
    let error = usage_error_of(&sandbox.run(&["demo", "--sim", "servers=lots"]).await);
    assert!(error.contains("servers"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_output_logs_or_files() {
    use costlake_tests::s3::S3Server;
    let s3_secret = "s3-secret-NEVER-PRINT-7f3a";
    let scw_secret = "5ec2e7a1-0000-4000-8000-NEVERPRINT00";
    let config = costlake_simulator::SimConfig::default()
        .with_knobs(&format!("servers=20,secret_key={scw_secret},rate_429=0.2"))
        .unwrap();
    let simulator = costlake_simulator::Simulator::start(config, None).await.unwrap();
    let s3 = S3Server::start("SCWLAKEACCESSKEY0000", s3_secret).await.unwrap();
    s3.create_bucket("lake");

    // Every product, Cockpit included: a token of the user's for one project, temporary ones for the others.
    let mut sandbox = common::sandbox_with_metrics(&simulator);
    let project = costlake_simulator::organization(simulator.config()).projects[0].id.clone();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let created = reqwest::Client::new()
        .post(format!("{}/cockpit/v1/regions/fr-par/tokens", simulator.base_url()))
        .header("X-Auth-Token", scw_secret)
        .json(&serde_json::json!({"project_id": project, "name": "user-token", "token_scopes": ["read_only_metrics"]}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let user_token = created["secret_key"].as_str().unwrap().to_string();
    // A token belongs to one project and one region.
    sandbox.set("COSTLAKE_COCKPIT_TOKENS", format!("{project}/fr-par={user_token}"));
    sandbox
        .set("COSTLAKE_LAKE", "s3://lake/costlake")
        .set("COSTLAKE_S3_ENDPOINT", s3.endpoint())
        .set("COSTLAKE_S3_ACCESS_KEY", "SCWLAKEACCESSKEY0000")
        .set("COSTLAKE_S3_SECRET_KEY", s3_secret)
        .set("COSTLAKE_MAX_ATTEMPTS", "10")
        // Everything every library logs, at the most verbose level.
        .set("COSTLAKE_LOG", "trace");

    let mut outputs = Vec::new();
    outputs.push(sandbox.ok(&["run"]).await);
    outputs.push(sandbox.ok(&["report", "ghost-resources", "--format", "json"]).await);
    sandbox.set("COSTLAKE_S3_SECRET_KEY", "wrong-s3-secret-NEVER-PRINT");
    outputs.push(sandbox.run(&["collect"]).await);
    assert!(!outputs.last().unwrap().success());

    // The user's token and every temporary one the run created and deleted.
    let tokens = simulator.cockpit_issued_secrets();
    assert!(tokens.len() > 1, "temporary tokens were created: {tokens:?}");
    let mut secrets: Vec<&str> = vec![s3_secret, scw_secret, "wrong-s3-secret-NEVER-PRINT"];
    secrets.extend(tokens.iter().map(String::as_str));
    for outcome in &outputs {
        for secret in &secrets {
            assert!(
                !outcome.stdout.contains(secret) && !outcome.stderr.contains(secret),
                "{secret} leaked into output"
            );
        }
    }
    let mut files = sandbox.files_under("");
    let mut stack = vec![s3.root().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.path().is_dir() { stack.push(entry.path()) } else { files.push(entry.path()) }
        }
    }
    assert!(files.len() > 20, "lake, warehouse and S3 objects were all checked: {}", files.len());
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} found in {}",
                file.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_lake_without_keys_names_the_variables_and_asks_no_metadata_service() {
    // Before the fix, `load` tried the cloud metadata service (169.254.169.254) for credentials, four times.
    let mut sandbox = Sandbox::new(BIN);
    sandbox.set("COSTLAKE_S3_REGION", "fr-par");
    // A Scaleway secret key but no access key: the S3 lake still lacks half its credentials.
    sandbox.set("SCW_DEFAULT_ORGANIZATION_ID", "0b1c2d3e-0000-4000-8000-000000000001");
    sandbox.set("SCW_SECRET_KEY", "11111111-2222-4333-8444-555555555555");
    for command in [&["load", "--lake", "s3://bills/costlake"][..], &["collect", "--lake", "s3://bills/costlake"]] {
        let started = std::time::Instant::now();
        let outcome = sandbox.run(command).await;
        let error = error_of(&outcome);
        assert!(error.contains("s3://bills/costlake") && error.contains("no S3 credentials"), "{error}");
        assert!(error.contains("COSTLAKE_S3_ACCESS_KEY") && error.contains("SCW_ACCESS_KEY"), "{error}");
        assert!(!outcome.stderr.contains("169.254") && !outcome.stderr.contains("metadata"), "{}", outcome.stderr);
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "refused before any request");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_and_config_teach_without_showing_a_secret() {
    let mut sandbox = Sandbox::new(BIN);
    // Each subcommand's help shows only its own flags: collection flags on collect/run/demo only.
    let report = sandbox.ok(&["report", "--help"]).await.stdout;
    assert!(!report.contains("--zones") && !report.contains("--max-rps") && report.contains("--warehouse"), "{report}");
    let run = sandbox.ok(&["run", "--help"]).await.stdout;
    assert!(run.contains("--zones") && run.contains("--sources") && run.contains("--max-rps"), "{run}");
    // sql --help names what one can query, each model of transform/models/.
    let sql = sandbox.ok(&["sql", "--help"]).await.stdout;
    for model in ["billing_daily", "instance_cpu_daily", "focus_costs", "inventory_latest", "rate_card", "runs"] {
        assert!(sql.contains(&format!("  {model} ")), "{model} missing from:\n{sql}");
    }
    // Each described in whole words, wrapped under itself on an 80-column terminal (they were cut mid-word, and
    // wrapped back to the first column).
    let mut narrow = Sandbox::new(BIN);
    narrow.set("COLUMNS", "80");
    let sql = narrow.ok(&["sql", "--help"]).await.stdout;
    assert!(sql.lines().all(|l| l.chars().count() <= 80 && (!l.contains('…') || l.ends_with(" …"))), "{sql}");
    let described = sql.lines().skip_while(|l| !l.starts_with("  billing_daily ")).take_while(|l| !l.is_empty());
    assert!(described.clone().count() > 12 && described.clone().all(|l| l.starts_with("  ")), "{sql}");
    // The report list: every report, its parameters with defaults and allowed values, aligned.
    let list = sandbox.ok(&["report"]).await.stdout;
    assert!(list.contains("-p period=month") && list.contains("[one of: month, week, day]"), "{list}");
    // Every parameter's help starts in the same column.
    let help_column = |line: &str| {
        let gap = line[7..].find("  ").unwrap() + 7;
        gap + line[gap..].len() - line[gap..].trim_start().len()
    };
    let columns: std::collections::BTreeSet<usize> =
        list.lines().filter(|l| l.starts_with("    -p ")).map(help_column).collect();
    assert_eq!(columns.len(), 1, "{list}");
    // Titles are whole, and the hints repeat the warehouse given.
    assert!(
        list.contains("how often it sits at its maximum or minimum, and what its replicas cost a month\n"),
        "{list}"
    );
    let list = sandbox.ok(&["--warehouse", "costlake-data/demo/warehouse", "report"]).await.stdout;
    assert!(list.contains(" --warehouse costlake-data/demo/warehouse report <name> [-p name=value ...]"), "{list}");
    assert!(list.contains(" --warehouse costlake-data/demo/warehouse report all --format html"), "{list}");

    // config: every setting, its value and where it came from; secrets never.
    let secret = "0b1c2d3e-0000-4000-8000-5ec2e75ec2e7";
    sandbox.set("COSTLAKE_CLICKHOUSE_PASSWORD", secret).set("SCW_SECRET_KEY", secret).set("COSTLAKE_MAX_RPS", "7");
    let config = sandbox.ok(&["config", "--lake", "/tmp/somewhere"]).await.stdout;
    assert!(!config.contains(secret), "{config}");
    let line = |key: &str| {
        config.lines().find(|l| l.contains(&format!(" {key} "))).unwrap_or_else(|| panic!("{key}: {config}"))
    };
    assert!(line("lake").contains("/tmp/somewhere") && line("lake").contains("flag --lake"), "{config}");
    assert!(line("max_rps").contains("environment COSTLAKE_MAX_RPS"), "{config}");
    assert!(line("clickhouse_password").contains("(set, hidden)"), "{config}");
    assert!(line("concurrency").contains("default"), "{config}");
    assert!(config.contains("secret key       (set, hidden) from SCW_SECRET_KEY"), "{config}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_fails_in_seconds_and_a_bad_warehouse_before_any_call() {
    // Before the fix: 43 s of silent retries, then advice about rate limits.
    let simulator = simulator("").await;
    let mut sandbox = sandbox(&simulator);
    sandbox.set("SCW_API_URL", "http://127.0.0.1:9");
    let started = std::time::Instant::now();
    let error = error_of(&sandbox.run(&["collect"]).await);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(error.contains("cannot reach the Scaleway API") && error.contains("check SCW_API_URL"), "{error}");
    assert!(!error.contains("rate limit"), "{error}");
    assert_nothing_committed(&sandbox);

    // `run` with a warehouse it cannot use fails before collecting anything (it used to collect and commit first).
    sandbox.use_simulator(&simulator);
    sandbox.set("COSTLAKE_WAREHOUSE", "http://127.0.0.1:9/costlake");
    let before = simulator.stats().requests;
    let error = error_of(&sandbox.run(&["run"]).await);
    assert!(error.contains("127.0.0.1:9"), "{error}");
    assert_eq!(simulator.stats().requests, before, "no API call was made");
    assert_nothing_committed(&sandbox);
}

/// A damaged lake: each case refuses the run with an error naming the file (or manifest) and what to do, loads
/// nothing of it, and once the file is restored the next load loads the run whole. A file that appears late (an
/// eventually consistent store) is waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_lake_file_or_manifest_refuses_the_run_by_name_and_loads_nothing_of_it() {
    let simulator = simulator("").await;
    let mut sandbox = sandbox(&simulator);
    sandbox.ok(&["collect"]).await;
    let lake = sandbox.lake_dir();
    let manifest_file = sandbox.files_under("lake/manifests").pop().expect("one manifest");
    let manifest_text = std::fs::read_to_string(&manifest_file).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest_text).unwrap();
    let servers = manifest["datasets"].as_array().unwrap().iter().find(|d| d["name"] == "instance_servers").unwrap();
    let relative = servers["files"][0]["path"].as_str().unwrap().to_string();
    let file = lake.join(&relative);
    let original = std::fs::read(&file).unwrap();
    let size = original.len();
    let manifest_name = manifest_file.strip_prefix(&lake).unwrap().display().to_string();

    let mut zeroed = original.clone();
    zeroed[4..size - 8].fill(0);
    let mut renamed = manifest.clone();
    renamed["datasets"][0]["files"][0]["path"] = serde_json::Value::from(relative.clone());
    let mut newer_schema = manifest.clone();
    newer_schema["datasets"][0]["schema_version"] = 99.into();
    let mut newer_manifest = manifest.clone();
    newer_manifest["manifest_version"] = 99.into();
    let truncated = format!("is {} bytes but its manifest declares {size}", size / 2);
    /// What a case does to the lake.
    enum Damage {
        File(Vec<u8>),
        RemoveFile,
        Manifest(serde_json::Value),
    }
    use Damage::{File, Manifest, RemoveFile};
    // (what is done to the lake, what the error must say)
    let cases = vec![
        ("truncated", File(original[..size / 2].to_vec()), truncated.as_str()),
        ("not Parquet", File(vec![b'x'; size]), "is not a Parquet file (no PAR1 footer)"),
        ("corrupt inside", File(zeroed), "could not be loaded into raw_instance_servers"),
        ("missing", RemoveFile, "its manifest names is missing (waited 1 s for it)"),
        ("another run's file", Manifest(renamed), "outside the run's folder"),
        ("newer dataset schema", Manifest(newer_schema), "has schema version 99 but this costlake reads up to"),
        ("newer manifest", Manifest(newer_manifest), "manifest_version 99 is not supported"),
    ];
    sandbox.set("COSTLAKE_LAKE_WAIT_SECONDS", "1");
    for (case, damage, says) in cases {
        let damaged_file = !matches!(damage, Manifest(_));
        match damage {
            File(content) => std::fs::write(&file, content).unwrap(),
            RemoveFile => std::fs::remove_file(&file).unwrap(),
            Manifest(value) => std::fs::write(&manifest_file, serde_json::to_vec(&value).unwrap()).unwrap(),
        }
        let error = error_of(&sandbox.run(&["load"]).await);
        assert!(error.contains(says), "{case}: {error}");
        if damaged_file {
            assert!(error.contains(&relative), "{case}: the error names the file: {error}");
            assert!(error.contains(&manifest_name), "{case}: and the manifest to delete to drop the run: {error}");
        }
        assert_eq!(common::scalar(&sandbox, "SELECT count() FROM runs").await, 0, "{case}: nothing is loaded");
        std::fs::write(&file, &original).unwrap();
        std::fs::write(&manifest_file, &manifest_text).unwrap();
    }

    // A file the store serves late is waited for, and the run loads whole.
    sandbox.set("COSTLAKE_LAKE_WAIT_SECONDS", "60");
    let aside = lake.join("aside.parquet");
    std::fs::rename(&file, &aside).unwrap();
    let (mut late, _, rest) = sandbox.start_reading(&["load"], "waiting for it").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    std::fs::rename(&aside, &file).unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(120), late.wait()).await.unwrap().unwrap();
    let stderr = rest.lock().unwrap().clone();
    assert!(status.success() && stderr.contains("loaded 1 run"), "{stderr}");
    for dataset in manifest["datasets"].as_array().unwrap() {
        let sql = format!("SELECT count() FROM raw_{}", dataset["name"].as_str().unwrap());
        assert_eq!(common::scalar(&sandbox, &sql).await, dataset["rows"].as_u64().unwrap(), "{sql}");
    }
}

/// A load balancer, a Kapsule cluster and a scaling group deleted between their list and the lists under them
/// (their own GET answers 404 too): the run completes; the load balancer and the cluster are left out rather than
/// recorded without backends or pools (an idle load balancer, an empty cluster), the group's lost events and
/// members are warnings, and every other resource is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_deleted_during_the_collection_are_left_out_and_the_run_completes() {
    let simulator = simulator("servers=10,vanished=lb+k8s+autoscaling").await;
    let gone = simulator.vanished();
    assert_eq!(gone.len(), 3, "{gone:?}");
    let (lb, cluster, group) = (&gone[0], &gone[1], &gone[2]);
    let mut sandbox = sandbox(&simulator);
    sandbox.set("COSTLAKE_SOURCES", "account,instance,block,catalog,lb,rdb,autoscaling,k8s");
    let outcome = sandbox.ok(&["run"]).await;
    // The run's summary lists its warnings (the log has them too).
    let warnings: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("warning:") && l.contains("deleted meanwhile"))
        .collect();
    assert_eq!(warnings.len(), 2, "the group's events and its members:\n{}", outcome.stderr);
    assert!(warnings.iter().all(|w| w.contains(group.as_str())), "{warnings:?}");

    let org = costlake_simulator::organization(simulator.config());
    let count = |sql: String| {
        let sandbox = &sandbox;
        async move { common::scalar(sandbox, &sql).await }
    };
    let lbs = count("SELECT uniqExact(id) FROM raw_lb_load_balancers".into()).await;
    assert_eq!(lbs, org.load_balancers.len() as u64 - 1);
    assert_eq!(count(format!("SELECT count() FROM raw_lb_load_balancers WHERE id = '{lb}'")).await, 0);
    let idle = sandbox.ok(&["-q", "report", "idle-services", "--format", "json"]).await.json();
    assert!(idle.as_array().unwrap().iter().all(|r| r["resource_id"] != lb.as_str()), "{idle:#?}");
    let clusters = count("SELECT uniqExact(id) FROM raw_k8s_clusters".into()).await;
    assert_eq!(clusters, org.kapsule_clusters.len() as u64 - 1);
    assert_eq!(count(format!("SELECT count() FROM raw_k8s_pools WHERE cluster_id = '{cluster}'")).await, 0);
    // The other groups keep their events and members; the vanished one has none.
    let events = |filter: &str| format!("SELECT count() FROM raw_autoscaling_instance_group_events WHERE {filter}");
    assert_eq!(count(events(&format!("instance_group_id = '{group}'"))).await, 0);
    assert!(count(events(&format!("instance_group_id != '{group}'"))).await > 0);
    let members = count("SELECT uniqExact(server_id) FROM raw_autoscaling_group_servers".into()).await;
    let expected: usize = org.scaling_groups.iter().filter(|g| &g.id != group).map(|g| g.members.len()).sum();
    assert_eq!(members, expected as u64);
}
