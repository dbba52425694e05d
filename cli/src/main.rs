//! `costlake`: where does the money go on Scaleway, what changed, what is wasted, what is idle.
//!
//! collect (Scaleway APIs → Parquet lake) → load (lake → ClickHouse) → report (canned SQL).

mod commands;
mod doctor;
mod export;
mod heartbeat;
mod native;
mod progress;
mod serve;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::Overrides;

#[derive(Parser)]
#[command(
    name = "costlake",
    version,
    about = "Scaleway cost, waste and utilisation: collect → Parquet lake → ClickHouse → reports",
    long_about = "costlake snapshots a Scaleway organisation's bill, inventory, prices and metrics into Parquet (a local \
directory or Scaleway Object Storage), loads each snapshot into ClickHouse (embedded chDB by default, or a \
ClickHouse server) and answers with canned SQL reports.\n\nScaleway credentials follow the scw CLI: \
SCW_ACCESS_KEY, SCW_SECRET_KEY, SCW_DEFAULT_ORGANIZATION_ID, SCW_DEFAULT_PROJECT_ID, SCW_DEFAULT_REGION, \
SCW_DEFAULT_ZONE, SCW_API_URL, and the profiles of ~/.config/scw/config.yaml (SCW_PROFILE).\n\nTry it \
without an account: costlake demo",
    after_help = "costlake's own settings come from flags, then COSTLAKE_* variables, then the config file."
)]
struct Cli {
    /// Config file (TOML) [env: COSTLAKE_CONFIG] [default: ~/.config/costlake/config.toml if it exists]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// More logging (-v: debug, -vv: trace); COSTLAKE_LOG takes a full filter, COSTLAKE_LOG_FORMAT=json one
    /// JSON object per line
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only warnings and errors on stderr
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(flatten)]
    overrides: Overrides,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Snapshot the organisation's bill, inventory, prices and metrics from the Scaleway APIs into the lake.
    ///
    /// Walks every zone and region of every product, every page, and writes one Parquet dataset per API list
    /// (streamed, zstd) plus a manifest, written last, that commits the run. A failed run commits nothing; a
    /// product that fails alone (permission, 404, 5xx after every retry, a malformed page) is left out, the others
    /// are committed, and the exit code is 3.
    Collect(commands::CollectArgs),
    /// Load every committed run of the lake that the warehouse has not loaded yet.
    ///
    /// Idempotent: a loaded run is skipped, a run whose earlier load was interrupted is cleaned and reloaded.
    Load,
    /// Collect, then load (exit code 3 when some products were left out, as for collect).
    Run(commands::CollectArgs),
    /// Run a canned report (without a name: list them).
    Report(commands::ReportArgs),
    /// Run ad-hoc SQL on the warehouse.
    #[command(long_about = sql_long_about())]
    Sql(commands::SqlArgs),
    /// The whole pipeline on a built-in Scaleway simulator: no account, no server.
    ///
    /// Starts a loopback Scaleway API with a synthetic organisation (and planted ghost resources), collects
    /// it into a lake under --dir, loads it into the embedded warehouse there and prints seven reports: ghost
    /// resources, cost drift, cost anomalies, rightsizing, scaling groups, idle services and Kapsule pools.
    Demo(commands::DemoArgs),
    /// Serve the Scaleway simulator on loopback until interrupted (to try costlake or other tools on it).
    Simulator(commands::SimulatorArgs),
    /// Show every setting, its effective value and where it came from (flag, environment, file, default),
    /// and the Scaleway credentials in use; secrets are never shown.
    Config,
    /// Export cost data for other FinOps tools: `costlake export focus` writes FOCUS 1.2.
    ///
    /// FOCUS (FinOps Open Cost and Usage Specification) 1.2 columns, one row per resource, SKU and day: from the
    /// FinOps per-resource charges where they were collected, else from the month-to-date consumption. Custom
    /// columns are prefixed x_. CSV goes to stdout unless --output is given; Parquet needs --output.
    Export(export::ExportArgs),
    /// Serve the embedded warehouse read-only over ClickHouse's HTTP interface (for Grafana, clickhouse-connect,
    /// curl).
    ///
    /// Grafana's ClickHouse datasource (protocol HTTP, port 8123), clickhouse-connect, the clickhouse crate and
    /// curl query it as they would a ClickHouse server: `GET /?query=`, `POST /`, `default_format`, `param_*`,
    /// settings as URL parameters, `/ping`. Reads only. Listening beyond loopback needs
    /// COSTLAKE_SERVE_PASSWORD. While it serves, the warehouse is held: stop it to load new runs.
    Serve(commands::ServeArgs),
    /// Check everything a run depends on, one line each with its fix: the Scaleway key, each product's read
    /// access, Cockpit tokens, the lake (a probe object written, read and deleted), libchdb and the warehouse.
    /// Exits 1 when a check fails.
    Doctor(commands::DoctorArgs),
    /// Print a shell completion script: `costlake completions bash > ~/.local/share/bash-completion/completions/costlake`,
    /// zsh (into a directory of $fpath, as `_costlake`), fish (`~/.config/fish/completions/costlake.fish`)
    Completions(commands::CompletionsArgs),
}

/// `costlake sql --help`: what there is to query, each model with the first line of its file.
fn sql_long_about() -> String {
    // The header's first sentence (the file says the rest), wrapped under itself within 78 columns:
    // shorter than a terminal, so that clap leaves the lines as they are.
    let described = |name: &str, sql: &str| {
        let header: Vec<&str> =
            sql.lines().map_while(|l| l.strip_prefix("--").map(str::trim)).take_while(|l| !l.is_empty()).collect();
        let header = header.join(" ");
        let what = header.split_once(':').map_or(header.as_str(), |(_, rest)| rest).trim();
        let cut = [". ", "; ", ": "].iter().filter_map(|p| what.find(p)).min().unwrap_or(what.len());
        let mut lines = vec![format!("  {name:<20}")];
        for word in what[..cut].trim_end_matches('.').split_whitespace() {
            let line = lines.last_mut().expect("one line at least");
            if line.chars().count() > 23 && line.chars().count() + 1 + word.chars().count() > 76 {
                lines.push(format!("{:23}{word}", ""));
            } else {
                line.push(' ');
                line.push_str(word);
            }
        }
        // Three lines at most, cut between words: the file says the rest.
        if lines.len() > 3 {
            lines.truncate(3);
            lines[2].push_str(" …");
        }
        lines.join("\n")
    };
    let mut text = String::from(
        "Run ad-hoc SQL on the warehouse (ClickHouse SQL). Parameters are ClickHouse query parameters: \
         --param name=value binds {name:Type} in the SQL. A trailing FORMAT clause (FORMAT TSV, \
         FORMAT JSONEachRow, ...) prints the engine's own output as it is. After a statement that writes, the \
         tables priced from price_overrides are refreshed.\n\nTables kept up to date at each load (a load computes \
         only what its runs changed):\n",
    );
    for (table, sql) in costlake_transform::migrate::SOURCE_FILES {
        text.push_str(&described(table, sql));
        text.push('\n');
    }
    text.push_str("\nModels (views; transform/models/<name>.sql says how each is computed):\n");
    for (name, sql) in costlake_transform::migrate::MODEL_FILES {
        text.push_str(&described(name, sql));
        text.push('\n');
    }
    text.push_str(
        "\nRaw: raw_<dataset>, one table per lake dataset (raw_instance_servers, raw_billing_consumptions, \
         raw_cockpit_metric_points, ...), each row with its run_id; price_overrides for prices the APIs do not \
         publish.\n\nExample: costlake sql \"SELECT day, sum(cost) FROM billing_daily GROUP BY day ORDER BY day\"",
    );
    text
}

/// Logs go to stderr: warnings and errors only, unless `-v` (debug) or `-vv` (trace), or a full filter in
/// `COSTLAKE_LOG`; the commands print their own short summaries. Colour only on a terminal and never with
/// `NO_COLOR`. With `COSTLAKE_LOG_FORMAT=json` (a Serverless Job's log pipeline), one JSON object per line, from
/// `info` up (each source, dataset and run collected or loaded, with its run id, rows, bytes, API calls, retries
/// and milliseconds), on stdout for the commands that write nothing else there (`collect`, `load`, `run`).
fn init_logging(verbose: u8, quiet: bool, stdout_is_free: bool) {
    use std::io::IsTerminal;
    let json = std::env::var("COSTLAKE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let default = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) if json => "warn,costlake=info,costlake_ingest=info,costlake_transform=info,costlake_lake=info",
        (false, 0) => "warn",
        (false, 1) => "info,costlake=debug,costlake_ingest=debug,costlake_transform=debug,costlake_lake=debug",
        _ => "trace",
    };
    let filter =
        tracing_subscriber::EnvFilter::new(settings::env_value("COSTLAKE_LOG").unwrap_or_else(|| default.into()));
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    let writer = if json && stdout_is_free {
        BoxMakeWriter::new(std::io::stdout)
    } else {
        BoxMakeWriter::new(|| progress::LogWriter)
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(writer);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        builder.with_ansi(colour).init();
    }
}

fn main() -> ExitCode {
    // glibc gives each thread that allocates its own malloc arena, up to 8 per core, and each keeps what it freed:
    // the blocking threads that decode pages and encode Parquet would make the peak grow with how many ran, not
    // with what they hold (a 10x organisation's collection: +50 % with the default, +23 % with 2 arenas).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of the allocator, before any thread is started.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let heartbeat = heartbeat::period();
    // The measured runtime has one thread (see heartbeat.rs); the normal one a worker per core.
    let runtime = match heartbeat {
        Some(_) => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        None => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (code, exit) = runtime.block_on(run(heartbeat));
    match exit {
        Exit::Teardown => ExitCode::from(code),
        Exit::Immediate => {
            use std::io::Write;
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().flush();
            // SAFETY: `_exit` ends the process at once, without static destructors, so the embedded engine's
            // threads cannot race them; every statement the command ran has returned, so what it wrote is
            // committed (a merge the engine began in the background is abandoned as on a kill, and its temporary
            // part removed at the next start).
            unsafe { libc::_exit(i32::from(code)) }
        }
    }
}

/// How the process ends once its command is done.
enum Exit {
    /// Stop the embedded engine, then the normal teardown: for the commands that write (a merge they started
    /// finishes) or serve.
    Teardown,
    /// Flush the output and exit at once: for the commands that read (a report, a query that only reads, an
    /// export), which would otherwise spend 30 to 40 ms (a sixth of `costlake sql "SELECT 1"`) stopping the
    /// engine's threads and running the library's destructors. What they write themselves (the schema check's
    /// statements, an export's file) is written and closed before the command returns.
    Immediate,
}

async fn run(heartbeat: Option<std::time::Duration>) -> (u8, Exit) {
    if let Some(period) = heartbeat {
        heartbeat::start(period);
    }
    let cli = Cli::parse();
    let stdout_is_free = matches!(cli.command, Command::Collect(_) | Command::Load | Command::Run(_));
    init_logging(cli.verbose, cli.quiet, stdout_is_free);
    progress::enable_if_interactive(cli.verbose, cli.quiet);
    // One process-wide TLS provider (ring): the HTTP clients are built without a default one.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let exit = match &cli.command {
        Command::Report(_) | Command::Export(_) => Exit::Immediate,
        Command::Sql(args) if args.reads_only() => Exit::Immediate,
        _ => Exit::Teardown,
    };
    let result = commands::dispatch(cli.command, cli.config, &cli.overrides).await;
    if matches!(exit, Exit::Teardown) {
        // Stop the embedded engine's threads before the process tears down (no-op if none was started).
        let _ = tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await;
    }
    if let Some(period) = heartbeat {
        eprintln!("{}", heartbeat::summary(period));
    }
    let code = match result {
        Ok(()) => 0,
        // `costlake export focus | head`: the reader has all it wanted; that is a success, said by nobody.
        Err(error) if commands::is_stdout_closed(&error) => 0,
        Err(error) => {
            // Error messages quote what the API, the lake or the engine said: never raw escape sequences.
            let message = format!("{error:#}");
            let lines: Vec<String> = message.lines().map(costlake_queries::output::terminal_safe).collect();
            eprintln!("error: {}", lines.join("\n"));
            if error.is::<commands::PartialRun>() {
                commands::PartialRun::EXIT_CODE
            } else if commands::UsageError::is(&error) {
                commands::UsageError::EXIT_CODE
            } else {
                1
            }
        }
    };
    (code, exit)
}
