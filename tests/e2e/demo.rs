//! `costlake demo` as a newcomer runs it: it tells what it planted, prints its findings, and every command its
//! "Next:" hints print works as printed; a second demo starts from a clean directory.

mod common;

use common::{BIN, assert_report_is_planted, scalar};
use costlake_simulator::SimConfig;
use costlake_tests::sandbox::Sandbox;
use rust_decimal::Decimal;

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

/// The README's quick start: the day its demo output was taken (its `--sim today=…`), and the lines of its
/// output blocks (```text) that it shows, the `...` of lines left out excepted.
fn readme_demo() -> (String, Vec<String>) {
    const README: &str = include_str!("../../README.md");
    let start = README.find("## Quick start").expect("the README has a quick start");
    let section = &README[start..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let day = section
        .split("--sim today=")
        .nth(1)
        .map(|rest| rest[..10].to_string())
        .expect("the quick start says which day its output is from");
    let mut lines = Vec::new();
    for block in section.split("```text\n").skip(1) {
        let block = &block[..block.find("```").expect("closed block")];
        lines.extend(block.lines().filter(|l| !l.is_empty() && *l != "...").map(str::to_string));
    }
    (day, lines)
}

/// The demo as a newcomer runs it (the README's size and day, a 120-column terminal): what the README shows is
/// what it prints, every command of its "Next:" hints works as printed, and a second demo starts clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_what_the_readme_shows_its_hints_work_as_printed_and_it_starts_clean() {
    let mut sandbox = Sandbox::new(BIN);
    sandbox.set("COLUMNS", "120");
    // The library given as a flag, not in the environment: the hints must repeat it to work.
    sandbox.unset("COSTLAKE_CHDB_LIB");
    let library = costlake_tests::engine::chdb_library().display().to_string();
    let dir = sandbox.path("demo");
    let dir = dir.to_str().unwrap();
    let (day, readme) = readme_demo();
    assert!(readme.len() > 40, "{readme:?}");
    let knobs = format!("today={day}");
    let first = sandbox.ok(&["--chdb-lib", &library, "demo", "--dir", dir, "--sim", &knobs]).await;
    assert!(first.stderr.contains("Instances planted for the utilisation reports"), "{}", first.stderr);
    let printed: std::collections::HashSet<&str> = first.stdout.lines().chain(first.stderr.lines()).collect();
    for line in &readme {
        assert!(
            printed.contains(line.as_str()),
            "the README shows a line the demo does not print:\n{line}\n\n{}",
            first.stdout
        );
    }

    let hinted = hints(&first.stderr);
    assert_eq!(hinted.len(), 4, "{hinted:?}");
    assert!(hinted.iter().any(|line| line.ends_with("export focus --format csv --output focus.csv")), "{hinted:?}");
    for line in &hinted {
        let outcome = sandbox.run_line(line).await;
        assert_eq!(outcome.code, Some(0), "{line}\n{}", outcome.stderr);
        match line.split_once("--output ") {
            // The FOCUS export goes to a file: the terminal is no place for a whole bill in CSV.
            Some((_, file)) => {
                let written = std::fs::read_to_string(sandbox.path(file.trim())).unwrap_or_default();
                assert!(
                    written.starts_with("\"BilledCost\",") && written.lines().count() > 100,
                    "{line}: {written:.200}"
                );
                assert!(outcome.stderr.contains("wrote FOCUS 1.2 (CSV"), "{line}\n{}", outcome.stderr);
            }
            None => assert!(!outcome.stdout.trim().is_empty(), "{line} printed nothing"),
        }
    }

    // A second demo replaces the first one's lake and warehouse instead of adding its runs to them: three
    // replayed days and one full collection, not 36 more.
    sandbox.ok(&["--chdb-lib", &library, "demo", "--dir", dir, "--sim", "servers=20", "--billing-days", "3"]).await;
    let mut reader = Sandbox::new(BIN);
    reader.set("COSTLAKE_WAREHOUSE", format!("{dir}/warehouse"));
    assert_eq!(scalar(&reader, "SELECT count() FROM runs").await, 4, "the demo started clean");
}

/// The reports the demo prints with `--format json`, in order: ghost-resources, cost-drift, cost-anomalies,
/// rightsizing, scaling-groups, idle-services.
fn printed_reports(stdout: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<serde_json::Value>()
        .map(|report| report.expect("the demo prints JSON reports"))
        .collect()
}

/// Whatever the day of the month, the demo shows the planted drift, restatement, anomaly and ghosts: early in a
/// month it tells the story as of the last day of the month before, and says so. One test per day, so that the
/// five demos run side by side.
async fn the_demo_tells_its_whole_story(run_on: &str, shown_on: &str) {
    let mut sandbox = Sandbox::new(BIN);
    // The story is the bill and the inventory; 31 days of metrics would only slow each of the five demos.
    sandbox.set("COSTLAKE_SOURCES", "account,instance,block,catalog,billing");
    let dir = sandbox.path("demo");
    let knobs = format!("servers=20,today={run_on}");
    let demo = sandbox.ok(&["demo", "--dir", dir.to_str().unwrap(), "--sim", &knobs, "-f", "json"]).await;
    let moved = format!("shown as of {shown_on}");
    assert_eq!(demo.stderr.contains(&moved), run_on != shown_on, "{run_on}: {}", demo.stderr);

    let config = SimConfig::default().with_knobs(&format!("servers=20,today={shown_on}")).unwrap();
    let truth = costlake_simulator::billing(&config);
    let reports = printed_reports(&demo.stdout);
    assert_eq!(reports.len(), 7, "{run_on}: seven reports");
    assert_report_is_planted(&reports[0], &config);

    let drift = reports[1].as_array().unwrap();
    let row = |status: &str, project: &str, sku: &str| {
        drift.iter().find(|r| r["status"] == status && r["project_id"] == project && r["sku"] == sku).cloned()
    };
    let month_start = format!("{}-01", &shown_on[..7]);
    assert!(drift.iter().all(|r| r["current_from"] == month_start.as_str()), "{run_on}: {drift:?}");
    assert!(row("new", &truth.drift.project_id, &truth.drift.sku).is_some(), "{run_on}: drift: {drift:?}");
    let credited = row("down", &truth.restatement.project_id, &truth.restatement.sku)
        .unwrap_or_else(|| panic!("{run_on}: restatement: {drift:?}"));
    let delta: Decimal = credited["delta"].as_str().unwrap().parse().unwrap();
    assert!(delta <= -truth.restatement.credit + Decimal::from(2), "{run_on}: {credited}");

    let anomalies = reports[2].as_array().unwrap();
    let day = truth.anomaly.day.to_string();
    let spike = anomalies
        .iter()
        .find(|a| a["project_id"] == truth.anomaly.project_id.as_str() && a["start_date"] == day.as_str())
        .unwrap_or_else(|| panic!("{run_on}: anomaly on {day}: {anomalies:?}"));
    assert!(spike["skus"].as_str().unwrap().contains(&truth.anomaly.sku), "{run_on}: {spike}");
    let actual: Decimal = spike["actual"].as_str().unwrap().parse().unwrap();
    assert_eq!(actual, truth.anomaly.cost, "{run_on}: {spike}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_1st_the_demo_tells_the_story_of_the_month_before() {
    the_demo_tells_its_whole_story("2026-12-01", "2026-11-30").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_2nd_of_march_the_demo_tells_the_story_of_february() {
    the_demo_tells_its_whole_story("2027-03-02", "2027-02-28").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_15th_the_demo_tells_its_story() {
    the_demo_tells_its_whole_story("2026-11-15", "2026-11-15").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_28th_of_february_the_demo_tells_its_story() {
    the_demo_tells_its_whole_story("2027-02-28", "2027-02-28").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_31st_the_demo_tells_its_story() {
    the_demo_tells_its_whole_story("2026-12-31", "2026-12-31").await;
}

/// What a terminal shows of `raw` (a pseudo-terminal's output): escape sequences removed, each line as last
/// redrawn after a carriage return.
fn screen_lines(raw: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // CSI: parameters, then one final byte in '@'..='~'.
                for next in chars.by_ref() {
                    if ('@'..='~').contains(&next) {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain.split('\n').map(|line| line.rsplit('\r').find(|part| !part.is_empty()).unwrap_or("").to_string()).collect()
}

/// In a terminal of 120 columns, as a person runs it: progress bars while it works, no log lines, nothing from
/// the engine's own log, and tables that fit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_terminal_the_demo_draws_progress_and_its_tables_fit() {
    let mut sandbox = Sandbox::new(BIN);
    sandbox.set("COSTLAKE_SOURCES", "account,instance,block,catalog,billing");
    // As a person runs it: the default logging (the sandbox asks for more).
    sandbox.unset("COSTLAKE_LOG");
    sandbox.set("TERM", "xterm-256color");
    let dir = sandbox.path("demo");
    // util-linux `script` runs the command on a pseudo-terminal and copies what it draws to its stdout.
    let line = format!(
        "script -qec 'stty cols 120 rows 40; {BIN} demo --dir {} --sim servers=20 --billing-days 5' /dev/null",
        dir.display()
    );
    let outcome = sandbox.run_line(&line).await;
    assert_eq!(outcome.code, Some(0), "{}\n{}", outcome.stdout, outcome.stderr);
    let raw = &outcome.stdout;
    for bar in ["replay [", "collect [", "load ["] {
        assert!(raw.contains(bar) && raw.contains("ETA"), "no {bar:?} progress bar:\n{raw}");
    }
    assert!(!raw.contains("Fatal") && !raw.contains(" INFO "), "log lines on the terminal:\n{raw}");
    let screen = screen_lines(raw);
    let tables: Vec<&String> = screen.iter().filter(|l| l.starts_with('│') || l.starts_with('┌')).collect();
    assert!(tables.len() > 20, "{screen:?}");
    for row in tables {
        assert!(row.chars().count() <= 120, "{} columns: {row}", row.chars().count());
    }
    assert!(screen.iter().any(|l| l.contains("batch-worker-standby")), "{screen:?}");
}
