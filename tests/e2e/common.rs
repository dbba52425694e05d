//! Shared by the end-to-end suites: start the simulator, compare a report with what it planted.

// Each suite compiles this module on its own and uses a different part of it.
#![allow(dead_code)]

use std::str::FromStr;

use costlake_simulator::{SimConfig, Simulator, planted};
use costlake_tests::sandbox::Sandbox;
use rust_decimal::Decimal;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_costlake");

/// The port of `costlake serve`'s "serving … on http://127.0.0.1:PORT" line.
pub fn port_of(line: &str) -> u16 {
    let after = line.split("http://127.0.0.1:").nth(1).unwrap_or_else(|| panic!("no address in {line:?}"));
    after.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().expect("port")
}

/// A simulator with enough servers that fr-par-1's lists span several pages of 100.
///
/// Its `today` is the real UTC date, and so is the date of each run: started in the last minutes of a UTC day, a
/// test would plant its organisation on one day and collect it on the next (every age one day older, a snapshot
/// one day short of "old" then old). It waits for the new day instead: at most three minutes, once a day.
pub async fn simulator(knobs: &str) -> Simulator {
    let now = chrono::Utc::now();
    let left_today = 86_400 - i64::from(chrono::Timelike::num_seconds_from_midnight(&now));
    if left_today <= 180 {
        tokio::time::sleep(std::time::Duration::from_secs(left_today as u64 + 1)).await;
    }
    let knobs = if knobs.is_empty() { "servers=200".to_string() } else { format!("servers=200,{knobs}") };
    let config = SimConfig::default().with_knobs(&knobs).expect("valid knobs");
    Simulator::start(config, None).await.expect("start the simulator")
}

/// A sandbox pointed at `simulator`, collecting every product but Cockpit: 31 days of 5-minute metrics for 200
/// servers (3.7 M samples) would multiply each test's time by three and add nothing to what it checks. The
/// utilisation suite, and one full run in the pipeline suite, collect everything ([`sandbox_with_metrics`]).
pub fn sandbox(simulator: &Simulator) -> Sandbox {
    let mut sandbox = sandbox_with_metrics(simulator);
    sandbox.set("COSTLAKE_SOURCES", "account,instance,block,catalog,billing");
    sandbox
}

/// A sandbox holding the demo's data (a smaller organisation, and a fixed day so that the month has three weeks
/// of bills), its warehouse the one commands use.
pub async fn demo_sandbox() -> Sandbox {
    let mut sandbox = Sandbox::new(BIN);
    let dir = sandbox.path("demo").display().to_string();
    sandbox
        .ok(&["demo", "--dir", &dir, "--sim", "servers=24,today=2026-11-22", "--billing-days", "40", "-f", "json"])
        .await;
    sandbox.set("COSTLAKE_WAREHOUSE", format!("{dir}/warehouse"));
    sandbox
}

/// A sandbox pointed at `simulator`, collecting every product.
pub fn sandbox_with_metrics(simulator: &Simulator) -> Sandbox {
    let mut sandbox = Sandbox::new(BIN);
    sandbox.use_simulator(simulator);
    sandbox
}

/// Asserts that a `ghost-resources --format json` report holds exactly the simulator's planted ghosts, field
/// by field, euros to the last decimal.
///
/// Besides, the simulator's one server in a state the Instance API does not document (`hibernating`, its
/// schema-drift edge case) must be reported as `unknown_state`, its cost unknown: never silently dropped.
pub fn assert_report_is_planted(report: &Value, config: &SimConfig) {
    let all = report.as_array().expect("the report is a JSON array");
    let unknown: Vec<&Value> = all.iter().filter(|r| r["kind"] == "unknown_state").collect();
    assert_eq!(unknown.len(), 1, "unknown states: {unknown:?}");
    assert_eq!(
        (unknown[0]["name"].as_str(), unknown[0]["state"].as_str()),
        (Some("edge-hibernating"), Some("hibernating"))
    );
    assert_eq!(unknown[0]["monthly_cost"], Value::Null, "an unknown state has an unknown cost");
    assert!(unknown[0]["reason"].as_str().unwrap().contains("unknown to costlake"), "{}", unknown[0]["reason"]);
    // Idle load balancers, when the Load Balancer product was collected: exactly the planted ones, euros exact.
    let balancers: Vec<&Value> = all.iter().filter(|r| r["kind"] == "idle_load_balancer").collect();
    if !balancers.is_empty() {
        let idle = costlake_simulator::services(config).idle_load_balancers;
        assert_eq!(balancers.len(), idle.len(), "idle load balancers: {balancers:?}");
        for lb in &idle {
            let row = balancers.iter().find(|r| r["resource_id"] == lb.resource_id.as_str()).expect("planted");
            assert_eq!(
                Decimal::from_str(row["monthly_cost"].as_str().unwrap()).unwrap(),
                lb.monthly_cost,
                "{}",
                lb.name
            );
            assert_eq!(row["since"], lb.since.to_string().as_str(), "{}", lb.name);
        }
    }
    let rows: Vec<Value> =
        all.iter().filter(|r| r["kind"] != "unknown_state" && r["kind"] != "idle_load_balancer").cloned().collect();
    let rows = rows.as_slice();
    let expected = planted(config);
    let ids = |rows: &[Value]| {
        let mut ids: Vec<String> = rows.iter().map(|r| format!("{} {}", r["kind"], r["name"])).collect();
        ids.sort();
        ids
    };
    assert_eq!(rows.len(), expected.len(), "findings: {:?}", ids(rows));
    for ghost in &expected {
        let row = rows.iter().find(|r| r["resource_id"] == ghost.resource_id.as_str()).unwrap_or_else(|| {
            panic!("planted {} {} ({}) is missing from the report", ghost.kind, ghost.name, ghost.resource_id)
        });
        let context = format!("{} {}", ghost.kind, ghost.name);
        assert_eq!(row["kind"], ghost.kind, "{context}");
        assert_eq!(row["name"], ghost.name.as_str(), "{context}");
        assert_eq!(row["project_id"], ghost.project_id.as_str(), "{context}");
        assert_eq!(row["zone"], ghost.zone.as_str(), "{context}");
        assert_eq!(row["state"], ghost.state.as_str(), "{context}");
        assert_eq!(row["since"], ghost.since.to_string().as_str(), "{context}");
        assert_eq!(row["age_days"], ghost.age_days, "{context}");
        assert_eq!(row["size_bytes"], ghost.size_bytes.map_or(Value::Null, Value::from), "{context}");
        assert_eq!(row["over_a_year"], ghost.over_a_year, "{context}");
        match ghost.monthly_cost {
            Some(cost) => {
                let reported = row["monthly_cost"].as_str().unwrap_or_else(|| {
                    panic!("{context}: monthly_cost must be a decimal string, got {}", row["monthly_cost"])
                });
                assert_eq!(Decimal::from_str(reported).unwrap(), cost, "{context}");
                assert_eq!(row["currency"], "EUR", "{context}");
            }
            None => {
                assert_eq!(row["monthly_cost"], Value::Null, "{context}: no price is known, the report must say so");
                assert!(row["reason"].as_str().unwrap().contains("no known price"), "{context}: {}", row["reason"]);
            }
        }
        assert!(!row["reason"].as_str().unwrap_or("").is_empty(), "{context}");
        for field in [
            "kind",
            "resource_id",
            "name",
            "project_id",
            "zone",
            "state",
            "since",
            "age_days",
            "size_bytes",
            "monthly_cost",
            "currency",
            "reason",
        ] {
            assert!(row.get(field).is_some(), "{context}: field {field} missing");
        }
    }
    // One literal anchor, independent of the oracle: the planted euros add up to 263.7417 a month.
    let total: Decimal =
        rows.iter().filter_map(|r| r["monthly_cost"].as_str()).map(|s| Decimal::from_str(s).unwrap()).sum();
    assert_eq!(total, Decimal::from_str("263.7417").unwrap());
}

/// The manifests committed in a local lake.
pub fn manifests(sandbox: &Sandbox) -> Vec<Value> {
    sandbox
        .files_under("lake/manifests")
        .iter()
        .map(|path| serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
        .collect()
}

/// Every file under the lake's `datasets/` (staged upload parts included), relative to the lake.
pub fn dataset_files(lake: &std::path::Path) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut pending = vec![lake.join("datasets")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                pending.push(entry.path());
            } else {
                out.insert(entry.path().strip_prefix(lake).unwrap().display().to_string());
            }
        }
    }
    out
}

/// One number from `costlake sql`.
pub async fn scalar(sandbox: &Sandbox, sql: &str) -> u64 {
    one_value(sandbox, sql).await
}

/// One exact decimal from `costlake sql` (money as a string: `toString(sum(cost))`).
pub async fn decimal(sandbox: &Sandbox, sql: &str) -> Decimal {
    one_value(sandbox, sql).await
}

/// The one value of a one-row query, parsed; a CSV string loses its quotes.
async fn one_value<T: FromStr>(sandbox: &Sandbox, sql: &str) -> T {
    let out = sandbox.ok(&["-q", "sql", sql, "--format", "csv"]).await;
    let value = out.stdout.lines().nth(1).map(|l| l.trim().trim_matches('"'));
    value.and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{sql}: {}", out.stdout))
}
