//! `costlake-bench`: the release `costlake` binary, end to end, against the simulator at several organisation
//! sizes, each step a separate process whose wall time and peak resident memory (the child's own `ru_maxrss`,
//! from `wait4`) are reported as a Markdown table for BENCHMARKS.md. Two modes:
//!
//!   cargo build --release -p costlake -p costlake-bench
//!   ./target/release/costlake-bench [1000 10000 50000]     inventory and billing: collect, load, ghost-resources
//!                                                          and the five billing reports
//!   ./target/release/costlake-bench scale [1 10 100]       memory and runtime stalls at k times the simulator's
//!                                                          default organisation, every product collected
//!   ./target/release/costlake-bench utilisation [1000]     Cockpit metrics: 31 days of 5-minute points per
//!                                                          Instance collected, loaded and read by the five
//!                                                          utilisation reports, each against a reference
//!                                                          measured in the same run
//!   ./target/release/costlake-bench history [30 90 365]    every report's time in the engine as the history
//!                                                          grows to that many daily inventory runs (1,000
//!                                                          servers), against the first run's
//!                                                          (`COSTLAKE_BENCH_KEEP` set, to any value, keeps its
//!                                                          lake and warehouse when it ends, as it does for
//!                                                          `utilisation`)
//!   ./target/release/costlake-bench engine-alone DIR LIB   the reference for `costlake sql "SELECT 1"`: chDB
//!                                                          alone, started on the warehouse DIR as costlake
//!                                                          starts it, answering SELECT 1 (`utilisation` runs it)
//!
//! The client-side rate limit is raised (`COSTLAKE_MAX_RPS=10000`) so the numbers measure costlake, not the
//! politeness toward Scaleway's API that the default (20 requests per second) imposes. The simulator runs in its
//! own process (`costlake simulator`): on Linux a forked child's `ru_maxrss` counts the parent's resident memory
//! at fork time, so the bench process itself must stay small.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a measured process ended.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Succeeded,
    /// Its exit code, or the signal that ended it (as a negative number).
    Failed(i32),
    /// Killed after the step's time limit.
    TimedOut(Duration),
}

struct Measure {
    wall: Duration,
    /// User and system time of the process.
    cpu: Duration,
    max_rss_kib: i64,
    outcome: Outcome,
    stdout: Vec<u8>,
    stderr: String,
}

impl Measure {
    fn succeeded(&self) -> bool {
        self.outcome == Outcome::Succeeded
    }

    /// One line saying why it failed: the outcome and the last line of its stderr.
    fn failure(&self) -> String {
        let last = self.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        match &self.outcome {
            Outcome::Succeeded => String::new(),
            Outcome::Failed(code) if *code < 0 => format!("killed by signal {}: {last}", -code),
            Outcome::Failed(code) => format!("exit code {code}: {last}"),
            Outcome::TimedOut(limit) => format!("timed out after {} s: {last}", limit.as_secs()),
        }
    }

    /// The measure of a step the bench cannot go on without.
    fn expect(self, args: &[&str]) -> Measure {
        assert!(self.succeeded(), "costlake {args:?} failed, {}\n{}", self.failure(), self.stderr);
        self
    }

    fn mib(&self) -> i64 {
        self.max_rss_kib / 1024
    }
}

/// Runs `costlake args` and waits for it with `wait4`, which returns the child's own resource usage. It is killed
/// after `limit`. Its stdout and stderr go to anonymous files (a pipe nobody reads could block it).
#[allow(clippy::zombie_processes)] // reaped by wait4, which std's `wait` cannot replace here
fn measure_with(bin: &Path, env: &[(String, String)], args: &[&str], limit: Duration) -> Measure {
    let mut stdout = tempfile::tempfile().expect("temporary file");
    let mut stderr = tempfile::tempfile().expect("temporary file");
    let start = Instant::now();
    let child = Command::new(bin)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout.try_clone().unwrap()))
        .stderr(Stdio::from(stderr.try_clone().unwrap()))
        .spawn()
        .expect("spawn costlake");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain POSIX wait4/kill on our own child, into zero-initialised out-parameters.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut timed_out = false;
    loop {
        let waited = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if waited == pid {
            break;
        }
        assert_eq!(waited, 0, "wait4 failed");
        if !timed_out && start.elapsed() > limit {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            timed_out = true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let wall = start.elapsed();
    let outcome = if timed_out {
        Outcome::TimedOut(limit)
    } else if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Outcome::Succeeded
    } else if libc::WIFEXITED(status) {
        Outcome::Failed(libc::WEXITSTATUS(status))
    } else {
        Outcome::Failed(-libc::WTERMSIG(status))
    };
    let read = |file: &mut std::fs::File| {
        let mut bytes = Vec::new();
        file.rewind().unwrap();
        file.read_to_end(&mut bytes).unwrap();
        bytes
    };
    let stdout = read(&mut stdout);
    let stderr = String::from_utf8_lossy(&read(&mut stderr)).into_owned();
    let time = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    let cpu = time(usage.ru_utime) + time(usage.ru_stime);
    Measure { wall, cpu, max_rss_kib: usage.ru_maxrss, outcome, stdout, stderr }
}

/// [`measure_with`] with a 30-minute limit, for the steps the bench needs.
fn measure(bin: &Path, env: &[(String, String)], args: &[&str]) -> Measure {
    measure_with(bin, env, args, Duration::from_secs(1800)).expect(args)
}

/// `env` with `COSTLAKE_LOG` set to `filter`: a process's own log lines, for what it says of its timings.
fn with_log(env: &[(String, String)], filter: &str) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| if k == "COSTLAKE_LOG" { (k.clone(), filter.to_string()) } else { (k.clone(), v.clone()) })
        .collect()
}

/// The `ms=` of the first line of `stderr` holding `message` and `field` (a tracing line of the binary's).
fn logged_ms(stderr: &str, message: &str, field: &str) -> Option<u64> {
    stderr.lines().filter(|l| l.contains(message) && l.contains(field)).find_map(ms_of)
}

/// The sum of the `ms=` of every line of `stderr` holding `message`.
fn logged_ms_all(stderr: &str, message: &str) -> u64 {
    stderr.lines().filter(|l| l.contains(message)).filter_map(ms_of).sum()
}

fn ms_of(line: &str) -> Option<u64> {
    line.split_whitespace().find_map(|w| w.strip_prefix("ms=")).and_then(|v| v.parse().ok())
}

/// What one committed run's manifest says.
struct Run {
    run_id: String,
    /// Rows per dataset.
    rows: BTreeMap<String, u64>,
    /// Parquet bytes per dataset.
    bytes: BTreeMap<String, u64>,
    /// Paths of the Parquet files per dataset, relative to the lake.
    files: BTreeMap<String, Vec<String>>,
    api_calls: u64,
    failed_sources: Vec<String>,
}

impl Run {
    fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }
}

/// Every committed run in `lake`, oldest first.
fn runs_of(lake: &Path) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut stack = vec![lake.join("manifests")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
                continue;
            }
            let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
            let mut run = Run {
                run_id: manifest["run_id"].as_str().unwrap().to_string(),
                rows: BTreeMap::new(),
                bytes: BTreeMap::new(),
                files: BTreeMap::new(),
                api_calls: manifest["stats"]["api_calls"].as_u64().unwrap(),
                failed_sources: manifest["failed_sources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| format!("{}: {}", f["name"].as_str().unwrap_or("?"), f["error"].as_str().unwrap_or("?")))
                    .collect(),
            };
            for dataset in manifest["datasets"].as_array().unwrap() {
                let name = dataset["name"].as_str().unwrap().to_string();
                let files = dataset["files"].as_array().unwrap();
                run.rows.insert(name.clone(), dataset["rows"].as_u64().unwrap());
                run.bytes.insert(name.clone(), files.iter().map(|f| f["bytes"].as_u64().unwrap()).sum());
                run.files.insert(name, files.iter().map(|f| f["path"].as_str().unwrap().to_string()).collect());
            }
            runs.push(run);
        }
    }
    runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    runs
}

/// (rows, billing rows, Parquet bytes, API calls) of the one run in `lake`.
fn rows_of(lake: &Path) -> (u64, u64, u64, u64) {
    let runs = runs_of(lake);
    let run = runs.first().unwrap_or_else(|| panic!("no manifest in {}", lake.display()));
    let billing = run.rows.iter().filter(|(name, _)| name.starts_with("billing_")).map(|(_, rows)| rows).sum();
    (run.total_rows(), billing, run.bytes.values().sum(), run.api_calls)
}

/// The simulator's process, stopped when dropped (also when a step fails and the bench panics).
struct Simulator(Child);

impl Simulator {
    /// The CPU time (user and system) the simulator has used so far, from `/proc/<pid>/stat`.
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0.id())).expect("the simulator's /proc stat");
        // After the command's name, in parentheses: state is the 1st field, utime the 12th and stime the 13th.
        let fields: Vec<&str> = stat.rsplit_once(')').expect("a /proc stat line").1.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf reads a constant of the system.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_millis(ticks * 1000 / per_second)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `costlake simulator` with `servers` running servers in 20 projects; returns it and its
/// `SCW_API_URL`, `SCW_SECRET_KEY`, `SCW_DEFAULT_ORGANIZATION_ID`.
fn start_simulator(bin: &Path, servers: usize) -> (Simulator, Vec<(String, String)>) {
    start_simulator_with(bin, &format!("servers={servers},projects=20"))
}

/// Starts `costlake simulator` with `knobs`.
fn start_simulator_with(bin: &Path, knobs: &str) -> (Simulator, Vec<(String, String)>) {
    let mut simulator = Command::new(bin)
        .args(["-q", "simulator", "--knobs", knobs])
        .stdout(Stdio::piped())
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
    (Simulator(simulator), exports)
}

/// The environment of every costlake process: the simulator's credentials, a lake and a warehouse in `dir`.
fn bench_env(exports: Vec<(String, String)>, dir: &Path, library: &Path) -> Vec<(String, String)> {
    let mut env = exports;
    env.extend([
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".into(), dir.display().to_string()),
        ("COSTLAKE_LAKE".into(), dir.join("lake").display().to_string()),
        ("COSTLAKE_WAREHOUSE".into(), dir.join("warehouse").display().to_string()),
        ("COSTLAKE_CHDB_LIB".into(), library.display().to_string()),
        ("COSTLAKE_MAX_RPS".into(), "10000".into()),
        ("COSTLAKE_LOG".into(), "warn".into()),
    ]);
    env
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "engine-alone") {
        let [_, dir, library] = &args[..] else {
            eprintln!("usage: costlake-bench engine-alone WAREHOUSE_DIR LIBCHDB");
            std::process::exit(2);
        };
        engine_alone(Path::new(dir), Path::new(library));
    }
    let utilisation = args.first().is_some_and(|a| a == "utilisation");
    let scale = args.first().is_some_and(|a| a == "scale");
    let history = args.first().is_some_and(|a| a == "history");
    let latency = args.first().is_some_and(|a| a == "latency");
    if utilisation || scale || history || latency {
        args.remove(0);
    }
    let sizes: Vec<usize> = args.iter().map(|a| a.parse().expect("sizes are numbers")).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let bin = root.join("target/release/costlake");
    assert!(bin.exists(), "build it first: cargo build --release -p costlake -p costlake-bench");
    let library = std::env::var_os("COSTLAKE_CHDB_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(costlake_transform::warehouse::chdb::default_library_path);
    if latency {
        bench_latency(&bin, if sizes.is_empty() { vec![1_000] } else { sizes });
    } else if history {
        bench_history(&bin, &library, 1_000, if sizes.is_empty() { vec![30, 90, 365] } else { sizes });
    } else if scale {
        bench_scale(&bin, &library, if sizes.is_empty() { vec![1, 10, 100] } else { sizes });
    } else if utilisation {
        for servers in if sizes.is_empty() { vec![1_000] } else { sizes } {
            bench_utilisation(&bin, &library, servers);
        }
    } else {
        bench_inventory(&bin, &library, if sizes.is_empty() { vec![1_000, 10_000, 50_000] } else { sizes });
    }
}

/// `costlake-bench engine-alone DIR LIBRARY`, the reference for `costlake sql "SELECT 1"`: the engine without
/// costlake. Loads libchdb, starts it on the warehouse DIR with the arguments costlake gives it (its
/// configuration file and session settings), answers `SELECT 1` and exits, as costlake would after printing.
fn engine_alone(dir: &Path, library: &Path) -> ! {
    use std::ffi::{CString, c_char, c_int, c_void};
    type Connect = unsafe extern "C" fn(c_int, *mut *mut c_char) -> *mut *mut c_void;
    type Query = unsafe extern "C" fn(*mut c_void, *const c_char, usize, *const c_char, usize) -> *mut c_void;
    type ResultError = unsafe extern "C" fn(*mut c_void) -> *const c_char;
    type SignalHandlers = unsafe extern "C" fn(c_int);
    let args = costlake_transform::warehouse::chdb::engine_args(dir, &dir.join("costlake-engine.xml"));
    let args: Vec<CString> = args.into_iter().map(|a| CString::new(a).expect("no NUL")).collect();
    let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
    let sql = "SELECT 1";
    // SAFETY: chDB's C API (the signatures costlake's embedded backend uses); argv and the strings outlive the
    // calls, and the process exits right after without unloading anything.
    unsafe {
        let chdb = libloading::Library::new(library).expect("libchdb");
        chdb.get::<SignalHandlers>(b"chdb_set_signal_handlers_enabled").expect("chDB's C API")(0);
        let connection =
            chdb.get::<Connect>(b"chdb_connect").expect("chDB's C API")(argv.len() as c_int, argv.as_mut_ptr());
        assert!(!connection.is_null(), "chDB could not open {}", dir.display());
        let result = chdb.get::<Query>(b"chdb_query_n").expect("chDB's C API")(
            *connection,
            sql.as_ptr().cast(),
            sql.len(),
            "CSV".as_ptr().cast(),
            3,
        );
        if result.is_null() {
            eprintln!("{sql}: chDB returned no result");
            libc::_exit(1);
        }
        let error = chdb.get::<ResultError>(b"chdb_result_error").expect("chDB's C API")(result);
        if !error.is_null() {
            eprintln!("{sql}: {}", std::ffi::CStr::from_ptr(error).to_string_lossy());
            libc::_exit(1);
        }
        libc::_exit(0)
    }
}

/// The latency each simulated request waits in `bench latency`, as a Scaleway region answers from afar.
const LATENCY_MS: u64 = 50;

/// Collect against an API that answers every request [`LATENCY_MS`] after it arrives (the simulator's own work
/// inside it, as a remote API's is inside its response time), beside the least time such an API
/// allows (the reference): the longer of (a) the longest chain of requests each needing the answer before it,
/// the FinOps charges (paged by token: `next_page_token` is in the page), and (b) every request spread over the
/// requests costlake keeps in flight (`--concurrency`). What exceeds it is costlake's own overhead. The same
/// collect without latency shows costlake's own work, most of which overlaps the waits; its CPU time and the
/// simulator's over it (the work is the same at any latency), which share this machine's cores where a real
/// API's would not, say whether the run was bound by the cores rather than by the API.
fn bench_latency(bin: &Path, sizes: Vec<usize>) {
    println!(
        "| servers | API calls | charges pages (a chain) | collect, {LATENCY_MS} ms a request | the API's limit (reference) | ratio | overhead | collect without latency | its CPU | the simulator's CPU, same collect | cores |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for servers in sizes {
        let mut walls = Vec::new();
        let mut measured = None;
        let mut cpu = (Duration::ZERO, Duration::ZERO);
        for latency in [LATENCY_MS, 0] {
            let (simulator, exports) =
                start_simulator_with(bin, &format!("servers={servers},projects=20,latency_ms={latency}"));
            let dir = tempfile::tempdir().unwrap();
            let env = bench_env(exports, dir.path(), Path::new("/nonexistent"));
            let simulator_before = simulator.cpu();
            let collect = measure(bin, &env, &["collect"]);
            walls.push(collect.wall);
            if latency == 0 {
                cpu = (collect.cpu, simulator.cpu().saturating_sub(simulator_before));
            }
            if latency == LATENCY_MS {
                let runs = runs_of(&dir.path().join("lake"));
                let run = runs.first().expect("a committed run");
                let charges = run.rows.get("billing_charges").copied().unwrap_or(0);
                let page = u64::from(costlake_ingest::scaleway::pager::MAX_PAGE_SIZE);
                measured = Some((run.api_calls, charges.div_ceil(page)));
            }
            drop(simulator);
        }
        let (calls, chain) = measured.expect("measured with latency");
        let in_flight = costlake_ingest::scaleway::client::DEFAULT_CONCURRENCY as u64;
        let limit = Duration::from_millis(LATENCY_MS * chain.max(calls.div_ceil(in_flight)));
        let ratio = walls[0].as_secs_f64() / limit.as_secs_f64();
        println!(
            "| {servers} | {} | {} | {:.2} s | {:.2} s | {ratio:.2} × | {:.0} % | {:.2} s | {:.1} s | {:.1} s | {} |",
            thousands(calls),
            thousands(chain),
            walls[0].as_secs_f64(),
            limit.as_secs_f64(),
            100.0 * (1.0 - 1.0 / ratio),
            walls[1].as_secs_f64(),
            cpu.0.as_secs_f64(),
            cpu.1.as_secs_f64(),
            std::thread::available_parallelism().map_or(1, usize::from),
        );
    }
}

/// Inventory and billing: collect, load, ghost-resources and the five billing reports, one row per size.
fn bench_inventory(bin: &Path, library: &Path, sizes: Vec<usize>) {
    println!(
        "| servers | rows collected | of which billing | Parquet | API calls | collect | collect peak RSS | load | load peak RSS | rows/s loaded | ghost-resources | its peak RSS | 5 billing reports | their peak RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for servers in sizes {
        let (simulator, exports) = start_simulator(bin, servers);
        let dir = tempfile::tempdir().unwrap();
        let env = bench_env(exports, dir.path(), library);
        let collect = measure(bin, &env, &["collect"]);
        let (rows, billing_rows, bytes, calls) = rows_of(&dir.path().join("lake"));
        let load = measure(bin, &env, &["load"]);
        let report = measure(bin, &env, &["report", "ghost-resources", "--format", "json"]);
        let billing: Vec<Measure> = ["cost-drift", "cost-anomalies", "forecast", "cost-allocation", "ghost-cost"]
            .iter()
            .map(|name| measure(bin, &env, &["report", name, "--format", "json"]))
            .collect();
        println!(
            "| {servers} | {rows} | {billing_rows} | {:.1} MB | {calls} | {:.2} s | {} MiB | {:.2} s | {} MiB | {:.0} | {:.2} s | {} MiB | {:.2} s | {} MiB |",
            bytes as f64 / 1e6,
            collect.wall.as_secs_f64(),
            collect.mib(),
            load.wall.as_secs_f64(),
            load.mib(),
            rows as f64 / load.wall.as_secs_f64(),
            report.wall.as_secs_f64(),
            report.mib(),
            billing.iter().map(|m| m.wall.as_secs_f64()).sum::<f64>(),
            billing.iter().map(|m| m.max_rss_kib).max().unwrap_or(0) / 1024,
        );
        drop(simulator);
    }
}

/// The inventory the utilisation reports join the metrics with (servers, types and prices, databases, load
/// balancers, scaling groups, Kapsule pools, project names) and the bill the efficiency report divides.
const INVENTORY_SOURCES: &str = "account,instance,block,catalog,billing,lb,rdb,autoscaling,k8s";

/// The reports, each read as its own process: the utilisation ones, then those of the bill and the inventory.
const UTILISATION_REPORTS: &[&str] = &[
    "rightsizing",
    "idle-services",
    "scaling-groups",
    "kapsule-pools",
    "efficiency",
    "ghost-resources",
    "cost-drift",
    "cost-anomalies",
    "forecast",
    "cost-allocation",
    "ghost-cost",
];

/// The time a report took in the engine, from its process's `report answered … ms=N` debug line.
fn engine_ms(m: &Measure) -> Option<u64> {
    let line = m.stderr.lines().find(|l| l.contains("report answered"))?;
    line.split_whitespace().find_map(|field| field.strip_prefix("ms=")).and_then(|ms| ms.parse().ok())
}

/// The columns of `raw_cockpit_metric_points`, all of them in the lake's Parquet files (`ts` and `value` as lists).
const POINT_COLUMNS: &str = "run_id, snapshot_at, organization_id, region, project_id, data_source_id, metric, resource_id, resource_name, zone, labels, ts, value";

/// Times a read-only step `times` times; returns the run of median wall time, with the largest peak RSS of all
/// (a failed run is returned at once).
fn median_of(bin: &Path, env: &[(String, String)], args: &[&str], times: usize) -> Measure {
    let mut runs = Vec::new();
    for _ in 0..times {
        let run = measure_with(bin, env, args, Duration::from_secs(600));
        if !run.succeeded() {
            return run;
        }
        runs.push(run);
    }
    median(runs)
}

/// The run of median wall time, with the largest peak RSS of all.
fn median(mut runs: Vec<Measure>) -> Measure {
    let peak = runs.iter().map(|m| m.max_rss_kib).max().unwrap_or(0);
    runs.sort_by_key(|m| m.wall);
    let middle = runs.len() / 2;
    let mut median = runs.swap_remove(middle);
    median.max_rss_kib = peak;
    median
}

/// Times two read-only steps `times` times each, alternately (a, b, a, b, …); returns each one's run of median
/// wall time, with its largest peak RSS (a failed run is returned at once, with the other's so far).
fn medians_alternated(
    a: (&Path, &[&str]),
    b: (&Path, &[&str]),
    env: &[(String, String)],
    times: usize,
) -> (Measure, Measure) {
    let mut runs: [Vec<Measure>; 2] = [Vec::new(), Vec::new()];
    'rounds: for _ in 0..times {
        for (index, (bin, args)) in [a, b].into_iter().enumerate() {
            runs[index].push(measure_with(bin, env, args, Duration::from_secs(600)));
        }
        if runs.iter().any(|side| side.iter().any(|m| !m.succeeded())) {
            break 'rounds;
        }
    }
    let [a, b] = runs.map(|mut runs| match runs.iter().position(|m| !m.succeeded()) {
        Some(failed) => runs.swap_remove(failed),
        None => median(runs),
    });
    (a, b)
}

fn seconds(m: &Measure) -> String {
    format!("{:.2} s", m.wall.as_secs_f64())
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `costlake sql "<query> FORMAT TSV"`: the engine's own output, trimmed.
fn tsv(bin: &Path, env: &[(String, String)], query: &str) -> String {
    let sql = format!("{query} FORMAT TSV");
    let m = measure(bin, env, &["sql", &sql]);
    String::from_utf8_lossy(&m.stdout).trim().to_string()
}

/// Utilisation: inventory then Cockpit collected as two runs, loaded, read by the five utilisation reports.
fn bench_utilisation(bin: &Path, library: &Path, servers: usize) {
    let (simulator, exports) = start_simulator(bin, servers);
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let env = bench_env(exports, dir.path(), library);

    let inventory = measure(bin, &env, &["collect", "--sources", INVENTORY_SOURCES]);
    let first = runs_of(&lake);
    let cockpit = measure(bin, &env, &["collect", "--sources", "cockpit"]);
    let runs = runs_of(&lake);
    assert_eq!((first.len(), runs.len()), (1, 2), "one run per collect");
    // Not by order: two runs started in the same second sort by their random suffix.
    let (inventory_run, cockpit_run) =
        if runs[0].run_id == first[0].run_id { (&runs[0], &runs[1]) } else { (&runs[1], &runs[0]) };
    for run in &runs {
        for failed in &run.failed_sources {
            println!("run {} failed source {failed}", run.run_id);
        }
    }
    let points = cockpit_run.rows.get("cockpit_metric_points").copied().unwrap_or(0);
    let points_bytes = cockpit_run.bytes.get("cockpit_metric_points").copied().unwrap_or(0);
    let loaded_rows: u64 = runs.iter().map(Run::total_rows).sum();

    // With the loader's own lines: how long each dataset's insert and each model's refresh took.
    let load_env = with_log(&env, "warn,costlake_transform=info");
    let load = measure(bin, &load_env, &["load"]);
    let points_insert = logged_ms(&load.stderr, "dataset loaded", "dataset=cockpit_metric_points");
    let maintenance: u64 = logged_ms_all(&load.stderr, "model refreshed");

    // What the reports read.
    let per_metric =
        tsv(bin, &env, "SELECT metric, count() FROM raw_cockpit_metric_points GROUP BY metric ORDER BY metric");
    let cpu_daily =
        tsv(bin, &env, "SELECT count(), uniqExact(resource_id), min(day), max(day) FROM instance_cpu_daily");
    let rollup_rows: BTreeMap<&str, u64> = costlake_transform::models::MATERIALISED
        .iter()
        .map(|m| (m.table, tsv(bin, &env, &format!("SELECT count() FROM {}", m.table)).parse().unwrap_or(0)))
        .collect();

    // The reports, and the floor: a process that opens the warehouse and answers SELECT 1.
    // With the queries' debug line, which says how long the report took inside the engine.
    let report_env = with_log(&env, "warn,costlake_queries=debug");
    let reports: Vec<(&str, Measure)> = UTILISATION_REPORTS
        .iter()
        .map(|name| (*name, median_of(bin, &report_env, &["report", name, "--format", "json"], 3)))
        .collect();
    // Its reference, the engine alone on the same warehouse, run alternately with it: this machine's speed drifts.
    let warehouse = dir.path().join("warehouse").display().to_string();
    let (floor, engine_alone) = medians_alternated(
        (bin, &["sql", "SELECT 1"]),
        (
            &std::env::current_exe().expect("this bench's own path"),
            &["engine-alone", &warehouse, &library.display().to_string()],
        ),
        &env,
        5,
    );

    // The references for the load: the engine inserting the same Parquet files itself; then what else the load
    // does, each rollup rebuilt from its view as the loader does it.
    let glob = {
        let files = &cockpit_run.files["cockpit_metric_points"];
        let first = lake.join(&files[0]);
        first.parent().unwrap().join("*.parquet").display().to_string()
    };
    measure(bin, &env, &["sql", "CREATE TABLE bench_ref AS raw_cockpit_metric_points"]);
    // The files hold a row per series with its samples as lists (version 2): the engine unnests them itself,
    // reading the files' own structure (by default it would take the table's, with no lists).
    let insert_sql = format!(
        "INSERT INTO bench_ref ({POINT_COLUMNS}) SELECT {POINT_COLUMNS} FROM file('{glob}', Parquet) \
         ARRAY JOIN ts, value SETTINGS use_structure_from_insertion_table_in_table_functions = 0"
    );
    let reference = measure(bin, &env, &["sql", &insert_sql]);
    let copied: u64 = tsv(bin, &env, "SELECT count() FROM bench_ref").parse().unwrap_or(0);
    // Each rollup the loader rebuilds, rebuilt again by itself (its source into an empty copy of it).
    let rebuilds: Vec<(&str, Measure)> = costlake_transform::models::MATERIALISED
        .iter()
        .map(|m| {
            let table = m.table;
            measure(bin, &env, &["sql", &format!("CREATE TABLE bench_{table} AS {table}")]);
            let (source, bounds) = m.whole();
            let insert = format!("INSERT INTO bench_{table} SELECT * FROM {source}");
            let mut args = vec!["sql".to_string(), insert];
            for (name, value) in bounds {
                args.extend(["--param".to_string(), format!("{name}={value}")]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            (table, measure(bin, &env, &args))
        })
        .collect();
    let per_second = |rows: u64, m: &Measure| thousands((rows as f64 / m.wall.as_secs_f64()) as u64);
    let ratio =
        |m: &Measure, reference: &Measure| format!("{:.2}", m.wall.as_secs_f64() / reference.wall.as_secs_f64());
    println!("### {servers} servers\n");
    println!("| step | wall | peak RSS | rows | rows/s | API calls | ratio |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "| collect `--sources {INVENTORY_SOURCES}` | {} | {} MiB | {} | {} | {} | |",
        seconds(&inventory),
        inventory.mib(),
        thousands(inventory_run.total_rows()),
        per_second(inventory_run.total_rows(), &inventory),
        inventory_run.api_calls
    );
    println!(
        "| collect `--sources cockpit` (points) | {} | {} MiB | {} | {} | {} | |",
        seconds(&cockpit),
        cockpit.mib(),
        thousands(points),
        per_second(points, &cockpit),
        cockpit_run.api_calls
    );
    println!(
        "| load (both runs, then the {} rollups) | {} | {} MiB | {} | {} | | {} × reference |",
        rebuilds.len(),
        seconds(&load),
        load.mib(),
        thousands(loaded_rows),
        per_second(loaded_rows, &load),
        ratio(&load, &reference)
    );
    if let Some(ms) = points_insert {
        let insert = Duration::from_millis(ms);
        println!(
            "| of which the points' insert (the loader's `dataset loaded` line) | {:.2} s | | {} | {} | | {:.2} × reference |",
            insert.as_secs_f64(),
            thousands(points),
            thousands((points as f64 / insert.as_secs_f64()) as u64),
            insert.as_secs_f64() / reference.wall.as_secs_f64()
        );
    }
    println!(
        "| of which the models' maintenance (the loader's `model refreshed` lines) | {:.2} s | | | | | |",
        Duration::from_millis(maintenance).as_secs_f64()
    );
    println!(
        "| reference: `INSERT INTO bench_ref SELECT … FROM file(…points…, Parquet)` | {} | {} MiB | {} | {} | | 1 |",
        seconds(&reference),
        reference.mib(),
        thousands(copied),
        per_second(copied, &reference)
    );
    for (table, m) in &rebuilds {
        println!(
            "| part of load: `INSERT INTO bench_{table} SELECT * FROM` transform/sources/{table}.sql | {} | {} MiB | {} | | | {} × reference |",
            seconds(m),
            m.mib(),
            rollup_rows.get(*table).map_or_else(String::new, |n| thousands(*n)),
            ratio(m, &reference)
        );
    }
    for (name, m) in [("the engine alone", &engine_alone), ("`sql \"SELECT 1\"`", &floor)] {
        if !m.succeeded() {
            println!("| {name} | FAILED: {} | {} MiB | | | | |", m.failure(), m.mib());
        }
    }
    if engine_alone.succeeded() && floor.succeeded() {
        println!(
            "| reference: the engine alone, `costlake-bench engine-alone` (libchdb loaded, started on the warehouse with costlake's arguments, `SELECT 1`; median of 5, alternated with the floor) | {} | {} MiB | | | | 1 |",
            seconds(&engine_alone),
            engine_alone.mib()
        );
        println!(
            "| floor: `sql \"SELECT 1\"` (median of 5; goal 150 ms; the reports' reference below) | {} | {} MiB | | | | {} × the engine alone |",
            seconds(&floor),
            floor.mib(),
            ratio(&floor, &engine_alone)
        );
    }
    for (name, m) in &reports {
        if m.succeeded() {
            let rows = serde_json::from_slice::<serde_json::Value>(&m.stdout)
                .ok()
                .and_then(|v| v.as_array().map(Vec::len))
                .map_or_else(|| "?".to_string(), |n| thousands(n as u64));
            let engine = engine_ms(m).map_or_else(|| "?".to_string(), |ms| ms.to_string());
            println!(
                "| `report {name}` (median of 3; in the engine {engine} ms, goal 200) | {} | {} MiB | {rows} | | | {} × floor |",
                seconds(m),
                m.mib(),
                if floor.succeeded() { ratio(m, &floor) } else { "?".into() }
            );
        } else {
            println!("| `report {name}` | FAILED: {} | {} MiB | | | | |", m.failure(), m.mib());
        }
    }
    println!();
    println!(
        "Cockpit points in the lake: {:.1} MB of Parquet ({:.1} bytes a point); per metric: {}",
        points_bytes as f64 / 1e6,
        points_bytes as f64 / points.max(1) as f64,
        per_metric.replace('\t', " ").replace('\n', ", ")
    );
    println!("instance_cpu_daily (rows, Instances, first day, last day): {}", cpu_daily.replace('\t', ", "));
    for (name, m) in &reports {
        if !m.succeeded() {
            println!("\n`report {name}` failed, {}; its stderr:\n{}", m.failure(), m.stderr.trim_end());
        }
    }
    drop(simulator);
    keep_if_asked(dir);
}

/// With `COSTLAKE_BENCH_KEEP` set, keeps the run's lake and warehouse, to look into a report at that size by hand
/// (`COSTLAKE_WAREHOUSE=<dir>/warehouse costlake -v sql …`); otherwise they go with `dir`.
fn keep_if_asked(dir: tempfile::TempDir) {
    if std::env::var_os("COSTLAKE_BENCH_KEEP").is_some() {
        eprintln!("kept the lake and the warehouse in {}", dir.keep().display());
    }
}

/// The worst lag of the `heartbeat:` line a process printed with `COSTLAKE_HEARTBEAT_MS`, in ms.
fn worst_lag(m: &Measure) -> String {
    m.stderr
        .lines()
        .find_map(|l| l.strip_prefix("heartbeat: "))
        .and_then(|l| l.rsplit("worst lag ").next())
        .unwrap_or("?")
        .to_string()
}

/// Peak memory and runtime stalls at k times the simulator's default organisation (60 servers in 3 projects;
/// k x 60 in k x 3), every product collected, metrics included: collect and load in one directory (peak RSS),
/// the same again in another with `COSTLAKE_HEARTBEAT_MS=5` (worst lag of the single-threaded runtime); and at
/// 10x, four more collect + load rounds into the same warehouse (does load's peak grow with the runs it holds?).
/// Load is left out above 10x: each load rebuilds the CPU rollups from every point kept (see the utilisation
/// benchmark), which at 100x would need about 20 GiB.
fn bench_scale(bin: &Path, library: &Path, multiples: Vec<usize>) {
    println!(
        "| organisation | servers | rows collected | collect | collect peak RSS | vs 1x | its worst lag | load | load peak RSS | its worst lag |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut base_rss = None;
    let mut growth = Vec::new();
    for k in multiples {
        let servers = 60 * k;
        let (simulator, exports) = start_simulator_with(bin, &format!("servers={servers},projects={}", 3 * k));
        let measured = tempfile::tempdir().unwrap();
        let timed = tempfile::tempdir().unwrap();
        let env = bench_env(exports.clone(), measured.path(), library);
        let mut heartbeat_env = bench_env(exports, timed.path(), library);
        heartbeat_env.push(("COSTLAKE_HEARTBEAT_MS".into(), "5".into()));

        let collect = measure(bin, &env, &["collect"]);
        let collect_lag = measure(bin, &heartbeat_env, &["collect"]);
        let rows: u64 = runs_of(&measured.path().join("lake")).iter().map(Run::total_rows).sum();
        let base = *base_rss.get_or_insert(collect.max_rss_kib);
        let (load, load_lag) = if k <= 10 {
            let load = measure(bin, &env, &["load"]);
            let lag = measure(bin, &heartbeat_env, &["load"]);
            (format!("{} | {} MiB", seconds(&load), load.mib()), format!("{} ", worst_lag(&lag)))
        } else {
            ("not run | ".into(), "".into())
        };
        println!(
            "| {k}x | {servers} | {} | {} | {} MiB | {:.2} | {} | {load} | {load_lag}|",
            thousands(rows),
            seconds(&collect),
            collect.mib(),
            collect.max_rss_kib as f64 / base as f64,
            worst_lag(&collect_lag),
        );
        if k == 10 {
            for round in 2..=5 {
                measure(bin, &env, &["collect"]);
                let load = measure(bin, &env, &["load"]);
                growth.push((round, seconds(&load), load.mib()));
            }
        }
        drop(simulator);
    }
    if !growth.is_empty() {
        println!("\n| runs in the warehouse after the load (10x) | load | load peak RSS |\n|---:|---:|---:|");
        for (round, wall, mib) in growth {
            println!("| {round} | {wall} | {mib} MiB |");
        }
    }
}

/// Reports against the history kept: the inventory and the bill of `servers` servers collected once and loaded,
/// then that inventory listed again as the runs of the following days until the warehouse holds each count of
/// runs (the same resources every day: the history grows, not the organisation). At each count the newest day's
/// run is loaded alone, as a daily job does (the tables fold it in), and every report timed in the engine, the
/// median of three; the first column, one run, is the reference.
fn bench_history(bin: &Path, library: &Path, servers: usize, counts: Vec<usize>) {
    let (simulator, exports) = start_simulator(bin, servers);
    let dir = tempfile::tempdir().unwrap();
    let env = bench_env(exports, dir.path(), library);
    let report_env = with_log(&env, "warn,costlake_queries=debug");
    assert!(measure(bin, &env, &["collect", "--sources", INVENTORY_SOURCES]).succeeded(), "collect");
    assert!(measure(bin, &env, &["load"]).succeeded(), "load");
    drop(simulator);
    let timings = |env: &[(String, String)]| -> Vec<String> {
        UTILISATION_REPORTS
            .iter()
            .map(|name| {
                let m = median_of(bin, env, &["report", name, "--format", "json"], 3);
                engine_ms(&m).map_or_else(|| "failed".to_string(), |ms| ms.to_string())
            })
            .collect()
    };
    let mut columns = vec![("1 run".to_string(), "the first load".to_string(), timings(&report_env))];

    let base = tsv(bin, &env, "SELECT run_id FROM _load_ledger FINAL ORDER BY snapshot_at DESC LIMIT 1");
    // The inventory's datasets: the bill's month-to-date states listed again on later days would be another bill.
    let datasets: Vec<String> = tsv(
        bin,
        &env,
        &format!(
            "SELECT arrayJoin(datasets) AS d FROM _load_ledger FINAL WHERE run_id = '{base}' \
             AND NOT startsWith(d, 'billing_') ORDER BY d"
        ),
    )
    .lines()
    .map(str::to_string)
    .collect();
    let mut held = 1;
    for count in counts.into_iter().filter(|&c| c > 1) {
        // Days `held` to `count - 2` after the collected run, each a run of its own, caught up in one load; then
        // day `count - 1`, the daily run, loaded and timed.
        for (from, to, timed) in [(held, count - 1, false), (count - 1, count, true)] {
            if from >= to {
                continue;
            }
            clone_runs(bin, &env, &base, &datasets, from, to);
            let load = measure(bin, &env, &["load"]);
            assert!(load.succeeded(), "load: {}", load.stderr);
            if timed {
                columns.push((
                    format!("{count} runs"),
                    format!("{}, {} MiB", seconds(&load), load.mib()),
                    timings(&report_env),
                ));
            }
        }
        held = count;
    }

    println!("### {servers} servers, in-engine ms per report as the history grows\n");
    println!("| report | {} |", columns.iter().map(|c| c.0.as_str()).collect::<Vec<_>>().join(" | "));
    println!("|---|{}", "---:|".repeat(columns.len()));
    println!(
        "| load of the newest day's run | {} |",
        columns.iter().map(|c| c.1.as_str()).collect::<Vec<_>>().join(" | ")
    );
    for (i, name) in UTILISATION_REPORTS.iter().enumerate() {
        let cells: Vec<&str> = columns.iter().map(|c| c.2[i].as_str()).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    keep_if_asked(dir);
}

/// Copies run `base`'s rows of the inventory datasets as runs `<base>-<k>`, `k` days later, for k in [from, to),
/// and commits them in the ledger.
fn clone_runs(bin: &Path, env: &[(String, String)], base: &str, datasets: &[String], from: usize, to: usize) {
    let days = format!("range({from}, {to})");
    let shifted = |column: &str| match column {
        "run_id" => "concat(run_id, '-', toString(k))".to_string(),
        "snapshot_at" => "snapshot_at + toIntervalDay(k)".to_string(),
        other => format!("`{other}`"),
    };
    for dataset in datasets {
        let table = format!("raw_{dataset}");
        let columns: Vec<String> = tsv(
            bin,
            env,
            &format!(
                "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '{table}' \
                 ORDER BY position"
            ),
        )
        .lines()
        .map(str::to_string)
        .collect();
        let names: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
        let values: Vec<String> = columns.iter().map(|c| shifted(c)).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) SELECT {} FROM {table} ARRAY JOIN {days} AS k WHERE run_id = '{base}'",
            names.join(", "),
            values.join(", ")
        );
        assert!(measure(bin, env, &["sql", &sql]).succeeded(), "{sql}");
    }
    let listed = costlake_transform::warehouse::string_array(datasets);
    let ledger = format!(
        "INSERT INTO _load_ledger (run_id, organization_id, snapshot_date, snapshot_at, loaded_at, rows, datasets, \
         manifest) SELECT concat(run_id, '-', toString(k)), organization_id, snapshot_date + k, \
         snapshot_at + toIntervalDay(k), now64(3), rows, {listed}, '{{}}' FROM _load_ledger FINAL \
         ARRAY JOIN {days} AS k WHERE run_id = '{base}'"
    );
    assert!(measure(bin, env, &["sql", &ledger]).succeeded(), "{ledger}");
}
