//! `costlake doctor` against the simulator: with good settings every check passes and nothing is left behind;
//! each broken setting fails its own check with its fix while the others are still answered, and the exit code
//! says so.

mod common;

use std::collections::BTreeMap;

use common::{sandbox_with_metrics, simulator};
use costlake_tests::sandbox::Outcome;

/// Each check's (verdict, text), from doctor's lines `ok    name  text`.
fn verdicts(outcome: &Outcome) -> BTreeMap<String, (String, String)> {
    outcome
        .stdout
        .lines()
        .filter(|line| line.starts_with("ok  ") || line.starts_with("FAIL") || line.starts_with("skip"))
        .map(|line| {
            let mut parts = line.split_whitespace();
            let mark = parts.next().unwrap().to_string();
            let name = parts.next().unwrap().to_string();
            (name, (mark, parts.collect::<Vec<_>>().join(" ")))
        })
        .collect()
}

const PRODUCTS: [&str; 11] =
    ["account", "instance", "block", "catalog", "billing", "lb", "rdb", "autoscaling", "k8s", "ipam", "cockpit"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_every_check_with_good_settings_and_leaves_nothing_behind() {
    let simulator = simulator("servers=10").await;
    let sandbox = sandbox_with_metrics(&simulator);
    let outcome = sandbox.ok(&["doctor"]).await;
    let checks = verdicts(&outcome);
    let mut expected: Vec<&str> = vec!["credentials"];
    expected.extend(PRODUCTS);
    expected.extend(["cockpit-tokens", "lake", "libchdb", "warehouse"]);
    for name in &expected {
        assert_eq!(checks.get(*name).map(|c| c.0.as_str()), Some("ok"), "{name}: {}", outcome.stdout);
    }
    assert_eq!(checks.len(), expected.len(), "{}", outcome.stdout);
    assert!(outcome.stdout.contains(&format!("all {} checks passed", expected.len())), "{}", outcome.stdout);
    assert!(checks["cockpit-tokens"].1.contains("a temporary token (created and deleted) reads"), "{:?}", checks);
    assert!(checks["warehouse"].1.contains(" run` (or `load`) creates it there"), "{:?}", checks["warehouse"]);
    assert!(!sandbox.path("warehouse").exists(), "doctor made the warehouse");
    assert!(checks["block"].1.contains("/block/v1/zones/fr-par-1/volumes"), "{:?}", checks["block"]);
    // Nothing left: no temporary token, no object in the lake, not even the lake's directory, which was not there.
    assert!(simulator.cockpit_live_tokens().is_empty());
    assert!(!sandbox.path("lake").exists(), "doctor left the lake's directory");

    // After a run, the schema is current.
    let mut sandbox = sandbox;
    sandbox.set("COSTLAKE_SOURCES", "account,instance");
    sandbox.ok(&["run"]).await;
    let checks = verdicts(&sandbox.ok(&["doctor"]).await);
    assert!(checks["warehouse"].1.contains("schema current"), "{:?}", checks["warehouse"]);
    assert_eq!(checks.len(), 6, "only the products selected are checked: {checks:?}");
    assert!(!sandbox.files_under("lake").is_empty(), "a lake that was there stays, with its runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_each_broken_setting_with_its_fix() {
    // A product the key may not read, an API withdrawn, a Cockpit token that is refused.
    let simulator = simulator("servers=10,deny=block,withdrawn=catalog").await;
    let mut sandbox = sandbox_with_metrics(&simulator);
    let project = costlake_simulator::organization(simulator.config()).projects[0].id.clone();
    let refused = "7e1b0c5a-dead-4bee-8000-00000000c0c0";
    sandbox.set("COSTLAKE_COCKPIT_TOKENS", format!("{project}={refused}"));
    let outcome = sandbox.run(&["doctor"]).await;
    assert_eq!(outcome.code, Some(1), "{}\n{}", outcome.stdout, outcome.stderr);
    let checks = verdicts(&outcome);
    assert_eq!(checks["block"].0, "FAIL");
    assert!(checks["block"].1.contains("BlockStorageReadOnly"), "{:?}", checks["block"]);
    assert_eq!(checks["catalog"].0, "FAIL");
    assert!(
        checks["catalog"].1.contains("404") && checks["catalog"].1.contains("--sources"),
        "{:?}",
        checks["catalog"]
    );
    assert_eq!(checks["cockpit-tokens"].0, "FAIL");
    assert!(checks["cockpit-tokens"].1.contains("refused"), "{:?}", checks["cockpit-tokens"]);
    for ok in ["credentials", "instance", "billing", "cockpit", "lake", "libchdb", "warehouse"] {
        assert_eq!(checks[ok].0, "ok", "{ok}: {}", outcome.stdout);
    }
    let error = outcome.error_line().unwrap();
    assert!(error.contains("3 of 16 checks failed: block, catalog, cockpit-tokens"), "{error}");
    assert!(!outcome.stdout.contains(refused) && !outcome.stderr.contains(refused));

    // A wrong key: credentials fail, the products are skipped, the lake and the warehouse still checked.
    sandbox.set("SCW_SECRET_KEY", "00000000-0000-4000-8000-000000000000");
    // The lake is a regular file, the engine's library is missing.
    std::fs::write(sandbox.path("not-a-directory"), "x").unwrap();
    sandbox.set("COSTLAKE_LAKE", sandbox.path("not-a-directory/lake").display().to_string());
    sandbox.set("COSTLAKE_CHDB_LIB", "/nonexistent/libchdb.so");
    let outcome = sandbox.run(&["doctor"]).await;
    assert_eq!(outcome.code, Some(1));
    let checks = verdicts(&outcome);
    assert_eq!(checks["credentials"].0, "FAIL");
    assert!(checks["credentials"].1.contains("rejected the API key"), "{:?}", checks["credentials"]);
    for product in PRODUCTS {
        assert_eq!(checks[product].0, "skip", "{product}");
    }
    assert_eq!(checks["lake"].0, "FAIL", "{:?}", checks["lake"]);
    assert_eq!(checks["libchdb"].0, "FAIL");
    assert!(checks["libchdb"].1.contains("/nonexistent/libchdb.so"), "{:?}", checks["libchdb"]);
    assert_eq!(checks["warehouse"].0, "skip");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_are_printed_for_each_shell() {
    let sandbox = costlake_tests::sandbox::Sandbox::new(common::BIN);
    for (shell, marker) in [("bash", "complete -F"), ("zsh", "#compdef costlake"), ("fish", "complete -c costlake")] {
        let outcome = sandbox.ok(&["completions", shell]).await;
        assert!(outcome.stdout.contains(marker), "{shell}: {}", &outcome.stdout[..outcome.stdout.len().min(300)]);
        assert!(outcome.stdout.contains("doctor") && outcome.stdout.contains("report"), "{shell}");
    }
    let outcome = sandbox.run(&["completions", "tcsh"]).await;
    assert_eq!(outcome.code, Some(2));
}
