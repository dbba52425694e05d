//! `costlake-bench`: the release `costlake` binary, end to end, against the simulator at several organisation
//! sizes. For each size it runs `collect`, `load`, `report ghost-resources` and the five billing reports as
//! separate processes and reports wall time, peak resident memory (the child's own `ru_maxrss`, from `wait4`) and
//! throughput, as a Markdown table for BENCHMARKS.md.
//!
//!   cargo build --release --bin costlake && cargo run --release --bin costlake-bench [-- 1000 10000 50000]
//!
//! The client-side rate limit is raised (`COSTLAKE_MAX_RPS=10000`) so the numbers measure costlake, not the
//! politeness toward Scaleway's API that the default (20 requests per second) imposes. The simulator runs in its
//! own process (`costlake simulator`): on Linux a forked child's `ru_maxrss` counts the parent's resident memory
//! at fork time, so the bench process itself must stay small.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use std::io::{BufRead, BufReader};

struct Measure {
    wall: Duration,
    max_rss_kib: i64,
}

/// Runs `costlake args` and waits for it with `wait4`, which returns the child's own resource usage.
#[allow(clippy::zombie_processes)] // reaped by wait4, which std's `wait` cannot replace here
fn measure(bin: &Path, env: &[(String, String)], args: &[&str]) -> Measure {
    let start = Instant::now();
    let child = Command::new(bin)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn costlake");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain POSIX wait4 on our own child, into zero-initialised out-parameters.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    let wall = start.elapsed();
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "costlake {args:?} failed (status {status})");
    Measure { wall, max_rss_kib: usage.ru_maxrss }
}

/// (rows, billing rows, Parquet bytes, API calls) of the one run in `lake`.
fn rows_of(lake: &Path) -> (u64, u64, u64, u64) {
    let manifests = lake.join("manifests");
    let mut stack = vec![manifests];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                let manifest: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
                let datasets = manifest["datasets"].as_array().unwrap();
                let rows = datasets.iter().map(|d| d["rows"].as_u64().unwrap()).sum();
                let billing = datasets
                    .iter()
                    .filter(|d| d["name"].as_str().unwrap().starts_with("billing_"))
                    .map(|d| d["rows"].as_u64().unwrap())
                    .sum();
                let bytes = manifest["datasets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|d| d["files"].as_array().unwrap().iter().map(|f| f["bytes"].as_u64().unwrap()))
                    .sum();
                return (rows, billing, bytes, manifest["stats"]["api_calls"].as_u64().unwrap());
            }
        }
    }
    panic!("no manifest in {}", lake.display());
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("sizes are numbers")).collect();
    let sizes = if sizes.is_empty() { vec![1_000, 10_000, 50_000] } else { sizes };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let bin = root.join("target/release/costlake");
    assert!(bin.exists(), "build it first: cargo build --release --bin costlake");
    let library = std::env::var_os("COSTLAKE_CHDB_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(costlake_transform::warehouse::chdb::default_library_path);

    println!(
        "| servers | rows collected | of which billing | Parquet | API calls | collect | collect peak RSS | load | load peak RSS | rows/s loaded | ghost-resources | its peak RSS | 5 billing reports | their peak RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for servers in sizes {
        let mut simulator = Command::new(&bin)
            .args(["-q", "simulator", "--knobs", &format!("servers={servers},projects=20")])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the simulator");
        // It prints `export NAME=value` lines for SCW_API_URL, SCW_SECRET_KEY, SCW_DEFAULT_ORGANIZATION_ID.
        let mut exports = Vec::new();
        let mut lines = BufReader::new(simulator.stdout.take().unwrap()).lines();
        while exports.len() < 3 {
            let line = lines.next().expect("simulator output").unwrap();
            let (name, value) = line.trim_start_matches("export ").split_once('=').expect("NAME=value");
            exports.push((name.to_string(), value.to_string()));
        }
        let dir = tempfile::tempdir().unwrap();
        let mut env: Vec<(String, String)> = exports;
        env.extend([
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("HOME".into(), dir.path().display().to_string()),
            ("COSTLAKE_LAKE".into(), dir.path().join("lake").display().to_string()),
            ("COSTLAKE_WAREHOUSE".into(), dir.path().join("warehouse").display().to_string()),
            ("COSTLAKE_CHDB_LIB".into(), library.display().to_string()),
            ("COSTLAKE_MAX_RPS".into(), "10000".into()),
            ("COSTLAKE_LOG".into(), "warn".into()),
        ]);
        let collect = measure(&bin, &env, &["collect"]);
        let (rows, billing_rows, bytes, calls) = rows_of(&dir.path().join("lake"));
        let load = measure(&bin, &env, &["load"]);
        let report = measure(&bin, &env, &["report", "ghost-resources", "--format", "json"]);
        let billing: Vec<Measure> = ["cost-drift", "cost-anomalies", "forecast", "cost-allocation", "ghost-cost"]
            .iter()
            .map(|name| measure(&bin, &env, &["report", name, "--format", "json"]))
            .collect();
        println!(
            "| {servers} | {rows} | {billing_rows} | {:.1} MB | {calls} | {:.2} s | {} MiB | {:.2} s | {} MiB | {:.0} | {:.2} s | {} MiB | {:.2} s | {} MiB |",
            bytes as f64 / 1e6,
            collect.wall.as_secs_f64(),
            collect.max_rss_kib / 1024,
            load.wall.as_secs_f64(),
            load.max_rss_kib / 1024,
            rows as f64 / load.wall.as_secs_f64(),
            report.wall.as_secs_f64(),
            report.max_rss_kib / 1024,
            billing.iter().map(|m| m.wall.as_secs_f64()).sum::<f64>(),
            billing.iter().map(|m| m.max_rss_kib).max().unwrap_or(0) / 1024,
        );
        let _ = simulator.kill();
        let _ = simulator.wait();
    }
}
