//! `costlake demo` as a newcomer runs it: it tells what it planted, prints its findings, and every command its
//! "Next:" hints print works as printed; a second demo starts from a clean directory.

mod common;

use common::{BIN, scalar};
use costlake_tests::sandbox::Sandbox;

/// The commands of the demo's "Next:" hints, without their trailing comments.
fn hints(stderr: &str) -> Vec<String> {
    let start = stderr.find("\nNext: ").expect("the demo prints its hints");
    stderr[start + 1..]
        .lines()
        .map(|line| line.trim_start_matches("Next:").trim())
        .filter(|line| !line.is_empty())
        .map(|line| match line.find("   (") {
            Some(comment) => line[..comment].trim().to_string(),
            None => line.to_string(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_its_findings_its_hints_work_as_printed_and_it_starts_clean() {
    let sandbox = Sandbox::new(BIN);
    let dir = sandbox.path("demo");
    let dir = dir.to_str().unwrap();
    let args = ["demo", "--dir", dir, "--sim", "servers=20", "--billing-days", "3"];
    let first = sandbox.ok(&args).await;
    assert!(first.stderr.contains("Instances planted for the utilisation reports"), "{}", first.stderr);
    for heading in ["(costlake report ghost-resources)", "(costlake report rightsizing)"] {
        assert!(first.stderr.contains(heading), "{heading}: {}", first.stderr);
    }
    assert!(first.stdout.contains("util-oversized-api") && first.stdout.contains("PRO2-XXS"), "{}", first.stdout);
    assert!(first.stdout.contains("batch-worker-standby"), "{}", first.stdout);

    let printed = hints(&first.stderr);
    assert_eq!(printed.len(), 4, "{printed:?}");
    for line in &printed {
        let outcome = sandbox.run_line(line).await;
        assert_eq!(outcome.code, Some(0), "{line}\n{}", outcome.stderr);
        assert!(!outcome.stdout.trim().is_empty(), "{line} printed nothing");
    }

    // A second demo replaces the first one's lake and warehouse instead of adding its runs to them.
    let mut reader = Sandbox::new(BIN);
    reader.set("COSTLAKE_WAREHOUSE", format!("{dir}/warehouse"));
    let before = scalar(&reader, "SELECT count() FROM runs").await;
    sandbox.ok(&args).await;
    assert_eq!(scalar(&reader, "SELECT count() FROM runs").await, before, "the demo started clean");
}
