//! The commands. Each resolves its settings, opens what it needs, and reports in one line per fact.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Datelike;
use costlake_ingest::scaleway::{ClientOptions, ScalewayClient, ScwConfig};
use costlake_ingest::{CollectOptions, collect};
use costlake_lake::{Lake, Manifest};
use costlake_queries::{Format, ResultSet};
use costlake_simulator::{SimConfig, Simulator};
use costlake_transform::warehouse::TableOpening;
use costlake_transform::{Warehouse, load_with_progress, migrate, warehouse};

use crate::Command;
use crate::progress::{Stage, StageBar};
use crate::settings::{CollectFlags, Overrides, Settings, masked_key};
use costlake_queries::output::plural;

#[derive(clap::Args)]
pub struct CollectArgs {
    /// Organization to collect [default: SCW_DEFAULT_ORGANIZATION_ID or the scw profile's]
    #[arg(long)]
    organization: Option<String>,
    #[command(flatten)]
    flags: CollectFlags,
}

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Report name (see `costlake report` for the list), or `all` for one HTML page of every report
    name: Option<String>,
    /// Output: table (with totals), json (an array of objects), csv, markdown (a table and its totals), or html (a
    /// self-contained page)
    #[arg(long, short, default_value = "table")]
    format: Format,
    /// Tables: every column and whole ids (by default they fit the terminal)
    #[arg(long)]
    wide: bool,
    /// Report parameter, name=value (repeatable); see the report's header for its parameters
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Budget for the forecast report, per project id or name ('*' for the organisation), in euros (repeatable)
    #[arg(long = "budget", value_name = "PROJECT=AMOUNT")]
    budgets: Vec<String>,
    /// Write to this file instead of standard output
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct SqlArgs {
    /// The SQL (one statement)
    query: String,
    /// Output: table, json, csv or markdown
    #[arg(long, short, default_value = "table")]
    format: Format,
    /// Tables: every column and whole ids (by default they fit the terminal)
    #[arg(long)]
    wide: bool,
    /// Query parameter, name=value, bound to {name:Type} in the SQL (repeatable)
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    params: Vec<String>,
}

impl SqlArgs {
    /// Whether the statement only reads (its first word, after comments and parentheses: SELECT, WITH, SHOW,
    /// DESCRIBE, EXPLAIN, EXISTS). Anything else may leave the engine with writes to finish at its shutdown
    /// (a Buffer table, an asynchronous insert), and needs every table open.
    pub fn reads_only(&self) -> bool {
        let mut rest = self.query.as_str();
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
            if let Some(comment) = rest.strip_prefix("--") {
                rest = comment.split_once('\n').map_or("", |(_, after)| after);
            } else if let Some(comment) = rest.strip_prefix("/*") {
                rest = comment.split_once("*/").map_or("", |(_, after)| after);
            } else {
                break;
            }
        }
        let word: String = rest.chars().take_while(char::is_ascii_alphabetic).collect::<String>().to_uppercase();
        matches!(word.as_str(), "SELECT" | "WITH" | "SHOW" | "DESCRIBE" | "DESC" | "EXPLAIN" | "EXISTS")
    }
}

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where the demo keeps its lake and warehouse (unless --lake/--warehouse say otherwise)
    #[arg(long, default_value = "./costlake-data/demo")]
    dir: PathBuf,
    /// Simulator knobs, e.g. "projects=4,servers=300,rate_429=0.05,latency_ms=20"
    #[arg(long, default_value = "")]
    sim: String,
    /// Days of billing history to replay, one billing collection per simulated day
    #[arg(long, default_value_t = 35)]
    billing_days: i64,
    /// Output of the reports: table, json, csv or markdown
    #[arg(long, short, default_value = "table")]
    format: Format,
    /// Tables: every column and whole ids (by default they fit the terminal)
    #[arg(long)]
    wide: bool,
    #[command(flatten)]
    flags: CollectFlags,
}

#[derive(clap::Args)]
pub struct SimulatorArgs {
    /// Port on 127.0.0.1 (default: any free port)
    #[arg(long)]
    port: Option<u16>,
    /// Simulator knobs, e.g. "projects=4,servers=300,rate_429=0.05"
    #[arg(long, default_value = "")]
    knobs: String,
}

#[derive(clap::Args)]
pub struct DoctorArgs {
    /// Organisation to check (default: SCW_DEFAULT_ORGANIZATION_ID or the scw profile's)
    #[arg(long)]
    organization: Option<String>,
}

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell
    shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (a password is needed beyond loopback)
    #[arg(long, env = "COSTLAKE_SERVE_LISTEN", hide_env_values = true, default_value = "127.0.0.1:8123")]
    listen: std::net::SocketAddr,
    /// User clients give when a password is set
    #[arg(long, env = "COSTLAKE_SERVE_USER", hide_env_values = true, default_value = "default")]
    user: String,
    /// Longest a query may run, in seconds (a client may ask for less, never more)
    #[arg(long, default_value_t = 30)]
    max_execution_time: u64,
}

/// Standard output was closed by its reader (`costlake export focus | head`): not a failure.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed by its reader")]
pub struct StdoutClosed;

/// Standard output, where a closed pipe is told apart from every other write error (an S3 upload that breaks
/// its connection is a failure, a reader that has read enough is not).
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stdout().write(buf).map_err(mark_closed)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush().map_err(mark_closed)
    }
}

fn mark_closed(error: std::io::Error) -> std::io::Error {
    if error.kind() == std::io::ErrorKind::BrokenPipe { std::io::Error::new(error.kind(), StdoutClosed) } else { error }
}

/// Whether `error` is standard output closed by its reader.
pub fn is_stdout_closed(error: &anyhow::Error) -> bool {
    // `Stdout` wraps the marker in the io::Error it returns, so that is where it is found.
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.is::<StdoutClosed>())
    })
}

/// A run committed without some products: exit code [`PartialRun::EXIT_CODE`], so a scheduler sees it.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} not collected ({}): the run committed the other products; reports keep each missing dataset from the newest run that holds it",
    if .0.len() == 1 { "one product was" } else { "some products were" },
    .0.iter().map(|f| format!("{}: {}", f.name, f.error)).collect::<Vec<_>>().join("; ")
)]
pub struct PartialRun(pub Vec<costlake_lake::FailedSource>);

/// A command line that cannot run as typed: exit code 2, as for clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    pub const EXIT_CODE: u8 = 2;

    /// Whether `error` is one: this type, or a report's name or parameters that do not exist or do not parse.
    pub fn is(error: &anyhow::Error) -> bool {
        use costlake_queries::ReportError;
        error.is::<UsageError>()
            || error.downcast_ref::<ReportError>().is_some_and(|e| {
                matches!(
                    e,
                    ReportError::Unknown { .. }
                        | ReportError::UnknownParam { .. }
                        | ReportError::BadParam { .. }
                        | ReportError::Syntax(_)
                )
            })
    }
}

/// Returns early with a [`UsageError`].
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(crate::commands::UsageError(format!($($arg)*)).into())
    };
}
pub(crate) use usage;

impl PartialRun {
    pub const EXIT_CODE: u8 = 3;

    fn check(manifest: &Manifest) -> anyhow::Result<()> {
        if manifest.failed_sources.is_empty() {
            Ok(())
        } else {
            Err(PartialRun(manifest.failed_sources.clone()).into())
        }
    }
}

pub async fn dispatch(command: Command, config: Option<PathBuf>, overrides: &Overrides) -> anyhow::Result<()> {
    if let Command::Config = command {
        return show_config(config, overrides);
    }
    if let Command::Completions(args) = command {
        use clap::CommandFactory;
        clap_complete::generate(args.shell, &mut crate::Cli::command(), "costlake", &mut std::io::stdout());
        return Ok(());
    }
    let flags = match &command {
        Command::Collect(args) | Command::Run(args) => Some(&args.flags),
        Command::Demo(args) => Some(&args.flags),
        _ => None,
    };
    remember_given_flags(config.as_deref(), overrides);
    let settings = Settings::load(config, overrides, flags)?;
    let scw = || ScwConfig::load(&|key| std::env::var(key).ok()).map_err(anyhow::Error::from);
    match command {
        Command::Collect(args) => {
            let scw = scw()?;
            let manifest = run_collect(&settings, &scw, args.organization).await?;
            PartialRun::check(&manifest)
        }
        Command::Load => {
            let scw = scw()?;
            run_load(&settings, &scw).await
        }
        Command::Run(args) => {
            let scw = scw()?;
            // The credentials, then the warehouse, before any API call: a wrong --warehouse should not cost a
            // whole collection, and missing credentials should not leave a warehouse behind.
            let organization = organization_to_collect(&scw, args.organization)?;
            check_warehouse(&settings).await?;
            let manifest = run_collect(&settings, &scw, Some(organization)).await?;
            run_load(&settings, &scw).await?;
            PartialRun::check(&manifest)
        }
        Command::Report(args) => report(&settings, args).await,
        Command::Sql(args) => sql(&settings, args).await,
        Command::Demo(args) => demo(settings, overrides, args).await,
        Command::Config => unreachable!("answered above"),
        Command::Simulator(args) => simulator(args).await,
        Command::Export(args) => export(&settings, args).await,
        Command::Serve(args) => serve(&settings, args).await,
        Command::Doctor(args) => crate::doctor::doctor(&settings, args.organization).await,
        Command::Completions(_) => unreachable!("answered above"),
    }
}

/// The Scaleway API client. Building it reads and parses the system's CA certificates (tens of milliseconds):
/// done on a blocking thread, off the async runtime.
pub async fn client(settings: &Settings, scw: &ScwConfig) -> anyhow::Result<ScalewayClient> {
    let options = ClientOptions {
        api_url: scw.api_url.clone(),
        secret_key: scw.secret_key.clone(),
        secret_origin: scw.secret_key_origin.clone(),
        concurrency: settings.concurrency,
        max_rps: settings.max_rps,
        max_attempts: settings.max_attempts,
        retry_base: Duration::from_millis(settings.retry_base_ms),
        ..ClientOptions::default()
    };
    tokio::task::spawn_blocking(move || ScalewayClient::new(options))
        .await
        .map_err(anyhow::Error::msg)?
        .map_err(anyhow::Error::msg)
}

async fn run_collect(settings: &Settings, scw: &ScwConfig, organization: Option<String>) -> anyhow::Result<Manifest> {
    let (manifest, lake) = collect_run(settings, scw, organization).await?;
    print_manifest(&manifest, &lake);
    Ok(manifest)
}

async fn collect_run(
    settings: &Settings,
    scw: &ScwConfig,
    organization: Option<String>,
) -> anyhow::Result<(Manifest, Lake)> {
    collect_at(settings, scw, organization, None, true).await
}

/// The organisation to collect, once the credentials to collect it are there; else all that is missing, at once.
fn organization_to_collect(scw: &ScwConfig, organization: Option<String>) -> anyhow::Result<String> {
    match (scw.secret_key.is_some(), organization.or_else(|| scw.organization_id.clone())) {
        (true, Some(organization)) => Ok(organization),
        (false, Some(_)) => {
            bail!("no Scaleway secret key: set SCW_SECRET_KEY or configure a profile in ~/.config/scw/config.yaml")
        }
        (true, None) => bail!(
            "no organization to collect: set SCW_DEFAULT_ORGANIZATION_ID (or default_organization_id in your scw \
             profile), or pass --organization"
        ),
        (false, None) => {
            bail!(
                "no Scaleway credentials: set SCW_SECRET_KEY and SCW_DEFAULT_ORGANIZATION_ID, or configure a profile \
                 in ~/.config/scw/config.yaml (`scw init`); `{} doctor` checks them, `{} demo` needs none",
                loader_on_given(),
                invocation()
            )
        }
    }
}

async fn collect_at(
    settings: &Settings,
    scw: &ScwConfig,
    organization: Option<String>,
    now: Option<chrono::DateTime<chrono::Utc>>,
    bar: bool,
) -> anyhow::Result<(Manifest, Lake)> {
    let organization_id = organization_to_collect(scw, organization)?;
    let lake = Lake::open(&settings.lake_location(scw)?)?;
    let client = client(settings, scw).await?;
    let options = CollectOptions {
        organization_id,
        localities: settings.localities(),
        now,
        orphan_grace: settings.orphan_grace(),
        cockpit: settings.cockpit()?,
    };
    let bar = bar.then(|| StageBar::start(Stage::Collect, client.progress()));
    let manifest = collect(&lake, &client, &settings.sources()?, &options).await?;
    drop(bar);
    Ok((manifest, lake))
}

fn print_manifest(manifest: &Manifest, lake: &Lake) {
    let seconds = (manifest.finished_at - manifest.started_at).num_milliseconds() as f64 / 1000.0;
    let rows: u64 = manifest.datasets.iter().map(|d| d.rows).sum();
    eprintln!(
        "run {} committed to {lake}: {rows} rows in {} datasets, {seconds:.1} s",
        manifest.run_id,
        manifest.datasets.len()
    );
    let width = manifest.datasets.iter().map(|d| d.name.len()).max().unwrap_or(0);
    let rows_width = manifest.datasets.iter().map(|d| d.rows.to_string().len()).max().unwrap_or(0);
    for dataset in &manifest.datasets {
        let plural = if dataset.rows == 1 { "" } else { "s" };
        eprintln!("  {:<width$}  {:>rows_width$} row{plural}", dataset.name, dataset.rows);
    }
    let s = &manifest.stats;
    eprintln!(
        "  Scaleway API: {} calls, {} pages, {} retries ({} rate limited, {} server errors)",
        s.api_calls, s.pages, s.retries, s.rate_limited, s.server_errors
    );
    let orphans = manifest.orphans_removed;
    if orphans.files > 0 {
        eprintln!(
            "  lake: removed {} left by {} that never committed",
            plural(orphans.files, "file"),
            plural(orphans.runs, "earlier run")
        );
    }
    for failed in &manifest.failed_sources {
        eprintln!("  not collected: {}: {}", failed.name, failed.error);
    }
    for warning in &manifest.warnings {
        eprintln!("  warning: {warning}");
    }
}

/// Opens the warehouse and applies its migrations, then lets it go.
async fn check_warehouse(settings: &Settings) -> anyhow::Result<()> {
    settings.load_lease()?;
    let warehouse = match open_warehouse(settings).await {
        // Another costlake has it open (an earlier run still loading, a report, serve): it is a warehouse, and
        // this run's load waits for it after collecting.
        Err(error) if matches!(error.downcast_ref(), Some(warehouse::WarehouseError::InUse { .. })) => return Ok(()),
        other => other?,
    };
    migrate(warehouse.as_ref()).await?;
    migrate::mark_current(&settings.warehouse_location()?);
    Ok(())
}

/// Opens the warehouse to load into it. An embedded warehouse that another costlake has open is waited for
/// (at most load_wait_seconds), as a server's load lease is: a retried job then loads after the first.
async fn open_warehouse_to_load(settings: &Settings) -> anyhow::Result<Box<dyn Warehouse>> {
    let location = settings.warehouse_location()?;
    refuse_embedded(&location, false)?;
    let wait = settings.load_lease()?.wait;
    let clock = std::time::Instant::now();
    let mut announced = false;
    loop {
        match warehouse::open(&location).await {
            Err(warehouse::WarehouseError::InUse { dir, holder }) if clock.elapsed() < wait => {
                if !announced {
                    tracing::warn!(
                        "the warehouse {dir} is in use by {holder}: waiting for it (at most {} s, COSTLAKE_LOAD_WAIT_SECONDS)",
                        wait.as_secs()
                    );
                    announced = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => return Ok(other?),
        }
    }
}

/// Opens the warehouse to write it (run, load, demo): an embedded one is created where none is yet, never in a
/// file or a directory of something else.
async fn open_warehouse(settings: &Settings) -> anyhow::Result<Box<dyn Warehouse>> {
    let location = settings.warehouse_location()?;
    refuse_embedded(&location, false)?;
    Ok(warehouse::open(&location).await?)
}

/// Refuses an embedded warehouse's directory that holds something else; `reading`, one not made yet as well.
fn refuse_embedded(location: &warehouse::WarehouseLocation, reading: bool) -> anyhow::Result<()> {
    if let warehouse::WarehouseLocation::Embedded { dir, .. } = location {
        match EmbeddedState::of(dir) {
            EmbeddedState::Warehouse => {}
            EmbeddedState::Missing if !reading => {}
            state => bail!(state.refusal(dir)),
        }
    }
    Ok(())
}

/// Opens the warehouse to read it (report, export, a query that reads), migrated. An embedded warehouse must
/// already be one: reading never creates it, or a mistyped --warehouse would make an empty warehouse there and every
/// report answer no rows. Its tables are opened on first use (opening them all was most of the start) where a
/// costlake of this one's schema last found it current: then migrating has nothing to write, which such tables
/// could not take.
async fn open_warehouse_to_read(settings: &Settings) -> anyhow::Result<Box<dyn Warehouse>> {
    let location = settings.warehouse_location()?;
    refuse_embedded(&location, true)?;
    let on_first_use =
        matches!(&location, warehouse::WarehouseLocation::Embedded { dir, .. } if migrate::marked_current(dir));
    if !on_first_use {
        let warehouse = warehouse::open(&location).await?;
        migrate(warehouse.as_ref()).await?;
        migrate::mark_current(&location);
        return Ok(warehouse);
    }
    let warehouse = warehouse::open_with(&location, TableOpening::OnFirstUse).await?;
    if !migrate::current(warehouse.as_ref()).await {
        // Changed by another costlake since (an older one, or one of another schema): this process cannot migrate
        // with its tables unopened, the next one will.
        migrate::forget_current(&location);
        bail!(
            "the warehouse {} changed since this costlake last found it up to date (another version's load?): run \
             the command again, and it brings the warehouse up to date first",
            warehouse.describe()
        );
    }
    Ok(warehouse)
}

/// Opens the warehouse as it is, every table open, for serve (which answers any query, and stays up) and for a
/// statement that writes. Like a read, it never creates an embedded warehouse.
async fn open_warehouse_all_tables(settings: &Settings) -> anyhow::Result<Box<dyn Warehouse>> {
    let location = settings.warehouse_location()?;
    refuse_embedded(&location, true)?;
    Ok(warehouse::open(&location).await?)
}

/// What a directory given as the embedded warehouse holds, before anything opens it (opening creates one).
pub(crate) enum EmbeddedState {
    /// The engine has opened it: a warehouse, perhaps still without tables.
    Warehouse,
    /// Nothing there, or a directory with nothing of anyone's (a new volume): the first `run` or `load` makes the
    /// warehouse.
    Missing,
    /// A file, or a directory of something else.
    NotAWarehouse(&'static str),
    /// It cannot be looked at.
    Unreadable(std::io::Error),
}

/// What a directory holds without being anyone's data: costlake's own files from a start that stopped before the
/// engine's (its lock and engine configuration), a new file system's lost+found, hidden files.
fn holds_nothing(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.') || name == "lost+found" || name == "costlake.lock" || name.starts_with("costlake-engine.xml")
}

impl EmbeddedState {
    pub(crate) fn of(dir: &std::path::Path) -> EmbeddedState {
        match std::fs::metadata(dir) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => EmbeddedState::Missing,
            Err(error) => EmbeddedState::Unreadable(error),
            Ok(meta) if !meta.is_dir() => EmbeddedState::NotAWarehouse("a file"),
            // chDB keeps its tables' definitions in metadata/ from the first time it opens a directory, and
            // costlake creates its database there at once.
            Ok(_) if dir.join("metadata").is_dir() => EmbeddedState::Warehouse,
            Ok(_) => match std::fs::read_dir(dir) {
                Ok(mut entries) => {
                    if entries.all(|entry| entry.is_ok_and(|e| holds_nothing(&e.file_name()))) {
                        EmbeddedState::Missing
                    } else {
                        EmbeddedState::NotAWarehouse("a directory of something else")
                    }
                }
                Err(error) => EmbeddedState::Unreadable(error),
            },
        }
    }

    /// Why `dir` is refused, and what to do: check the path; load there, or read the demo's.
    pub(crate) fn refusal(&self, dir: &std::path::Path) -> String {
        let me = &invocation();
        let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let check = format!("check the path (`{me} config` shows where it comes from)");
        let what = match self {
            EmbeddedState::Warehouse => unreachable!("a warehouse is not refused"),
            EmbeddedState::Missing => format!("there is no warehouse at {} yet", shown.display()),
            EmbeddedState::NotAWarehouse(what) => {
                return format!(
                    "{} is {what}, not a warehouse: {check}, and give a warehouse's directory, or a new one",
                    shown.display()
                );
            }
            EmbeddedState::Unreadable(error) => {
                return format!("cannot read the warehouse directory {}: {error}", shown.display());
            }
        };
        format!(
            "{what}: {check}, load one there with `{} run`, {}",
            loader_on(Some(&shown.display().to_string())),
            or_the_demo(me, Some(&shown))
        )
    }
}

/// Where `costlake demo` puts its warehouse by default, from the directory it ran in.
const DEMO_WAREHOUSE: &str = "costlake-data/demo/warehouse";

/// The last hint for a warehouse with nothing to read: the demo's warehouse when there is one here (other than
/// `this`, an absolute path), else the demo.
fn or_the_demo(me: &str, this: Option<&std::path::Path>) -> String {
    let demo = std::path::Path::new(DEMO_WAREHOUSE);
    let elsewhere = this.is_none_or(|this| std::path::absolute(demo).is_ok_and(|d| d != this));
    if demo.join("metadata").is_dir() && elsewhere {
        format!("or read the demo's: `{me} --warehouse {DEMO_WAREHOUSE} report forecast`")
    } else {
        format!("or try `{me} demo`")
    }
}

/// `text` as one shell word, quoted only where it needs to be.
fn shell_quote(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._+=:,@%-".contains(c)) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// This binary on `warehouse` (none: the default), as a read's hint starts: `costlake --warehouse …` (see
/// `warehouse_flag`).
fn invocation_on(warehouse: Option<&str>) -> String {
    format!("{}{}", invocation(), warehouse_flag(warehouse))
}

/// This binary on the lake and the warehouse given, as a hint to collect or load starts.
pub(crate) fn loader_on_given() -> String {
    loader_on(given_flags().warehouse.as_deref())
}

/// This binary on the lake given and on `warehouse`, as a hint to collect or load starts.
fn loader_on(warehouse: Option<&str>) -> String {
    let lake = given_flags().lake.as_deref().map(|lake| format!(" --lake {}", shell_quote(lake))).unwrap_or_default();
    format!("{}{lake}{}", invocation(), warehouse_flag(warehouse))
}

/// The `--warehouse` given, to repeat in a hint: a server's password left out (it is read from
/// COSTLAKE_CLICKHOUSE_PASSWORD then), a path quoted for the shell.
fn warehouse_flag(given: Option<&str>) -> String {
    match given {
        None => String::new(),
        Some(value) => match url::Url::parse(value) {
            Ok(mut url) if matches!(url.scheme(), "http" | "https") => {
                let _ = url.set_password(None);
                format!(" --warehouse {}", shell_quote(url.as_str()))
            }
            _ => format!(" --warehouse {}", shell_quote(value)),
        },
    }
}

async fn serve(settings: &Settings, args: ServeArgs) -> anyhow::Result<()> {
    let location = settings.warehouse_location()?;
    if let warehouse::WarehouseLocation::Server { url, .. } = &location {
        bail!(
            "the warehouse is a ClickHouse server ({url}): point Grafana and other clients at it directly; costlake serve is for the embedded warehouse"
        );
    }
    // Read from the environment only: a password given as a flag would show in process listings.
    let password =
        std::env::var("COSTLAKE_SERVE_PASSWORD").ok().filter(|p| !p.is_empty()).map(secrecy::SecretString::from);
    let engine = open_warehouse_all_tables(settings).await?;
    crate::serve::serve(
        engine,
        crate::serve::ServeOptions {
            listen: args.listen,
            user: args.user,
            password,
            max_execution_time: args.max_execution_time,
        },
    )
    .await
}

async fn run_load(settings: &Settings, scw: &ScwConfig) -> anyhow::Result<()> {
    let lake = Lake::open(&settings.lake_location(scw)?)?;
    let warehouse = open_warehouse_to_load(settings).await?;
    let progress = std::sync::Arc::new(costlake_lake::Progress::default());
    let bar = StageBar::start(Stage::Load, progress.clone());
    let known = costlake_ingest::sources::known_datasets();
    let report = load_with_progress(&lake, warehouse.as_ref(), &known, &progress, &settings.load_options()?).await?;
    migrate::mark_current(&settings.warehouse_location()?);
    bar.finish();
    let rows: u64 = report.loaded.iter().map(|r| r.rows).sum();
    eprintln!(
        "loaded {} ({rows} rows) into {}; {} already loaded",
        plural(report.loaded.len() as u64, "run"),
        warehouse.describe(),
        report.already_loaded
    );
    if report.loaded.is_empty() && report.already_loaded == 0 {
        let me = loader_on_given();
        eprintln!(
            "  the lake {lake} holds no committed run yet: collect one with `{me} collect` (or collect and load with `{me} run`)"
        );
    }
    if report.found_stale {
        eprintln!(
            "  rebuilt {} (behind the loaded runs, this costlake's models or the price overrides: an interrupted load, an \
             upgrade, or an override written since)",
            report.rebuilt.join(", ")
        );
    } else if !report.rebuilt.is_empty() {
        eprintln!("  refreshed {} in {:.1} s", report.rebuilt.join(", "), report.models_duration.as_secs_f64());
    }
    for run in &report.loaded {
        if run.leftover_rows_removed > 0 {
            eprintln!(
                "  run {}: removed {} rows of an interrupted earlier load first",
                run.run_id, run.leftover_rows_removed
            );
        }
    }
    Ok(())
}

async fn report(settings: &Settings, args: ReportArgs) -> anyhow::Result<()> {
    let Some(name) = args.name.clone() else {
        return list_reports();
    };
    if name == "all" {
        if args.format != Format::Html {
            usage!("report all writes one HTML page: add --format html --output report.html (or name one report)");
        }
        if !args.params.is_empty() || !args.budgets.is_empty() {
            usage!("report all runs every report with its defaults: give -p and --budget to one report");
        }
        return report_page(settings, args.output.as_deref()).await;
    }
    let report = costlake_queries::find(&name)?;
    let mut overrides = costlake_queries::parse_params(&args.params)?;
    if !args.budgets.is_empty() {
        if !report.params.iter().any(|p| p.name == "budgets") {
            usage!("report {} takes no budget (--budget is for the forecast report)", report.name);
        }
        overrides.push(("budgets".into(), budgets_map(&args.budgets)?));
    }
    report.bind(&overrides)?;
    let warehouse = open_warehouse_to_read(settings).await?;
    warn_if_empty(warehouse.as_ref()).await?;
    // A project named in -p project= or --budget that the warehouse does not know would match nothing,
    // silently: it is an error naming the projects there are.
    let mut named: Vec<String> =
        overrides.iter().filter(|(k, v)| k == "project" && !v.is_empty()).map(|(_, v)| v.clone()).collect();
    named.extend(
        args.budgets.iter().filter_map(|b| b.rsplit_once('=')).map(|(p, _)| p.trim().to_string()).filter(|p| p != "*"),
    );
    check_projects(warehouse.as_ref(), &named).await?;
    let result = costlake_queries::run(warehouse.as_ref(), &report, &overrides).await?;
    match &args.output {
        Some(path) => {
            let mut out = std::io::BufWriter::new(crate::export::create(path)?);
            costlake_queries::render_with(&result, args.format, Some(&report), args.wide, &mut out)?;
            out.flush()?;
            Ok(())
        }
        None => print(&result, args.format, Some(&report), args.wide),
    }
}

/// `costlake report all --format html`: every report with its defaults, the month's daily cost and the run, as
/// one self-contained page.
async fn report_page(settings: &Settings, output: Option<&std::path::Path>) -> anyhow::Result<()> {
    use costlake_queries::html;
    let warehouse = open_warehouse_to_read(settings).await?;
    warn_if_empty(warehouse.as_ref()).await?;
    let reports = costlake_queries::reports();
    let mut results = Vec::new();
    for report in &reports {
        results.push(costlake_queries::run(warehouse.as_ref(), report, &[]).await?);
    }
    let daily = costlake_queries::query(warehouse.as_ref(), html::DAILY_COST_SQL, &[]).await?;
    let newest = costlake_queries::query(
        warehouse.as_ref(),
        "SELECT run_id, organization_id, toString(snapshot_at) AS snapshot_at FROM runs ORDER BY snapshot_at DESC LIMIT 1",
        &[],
    )
    .await?;
    let run = newest.rows.first().map(|row| html::RunInfo {
        run_id: html::cell_text(&row[0]),
        organization_id: html::cell_text(&row[1]),
        snapshot_at: html::cell_text(&row[2]),
    });
    let page = html::Page {
        run,
        generated_at: chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        daily: &daily,
        reports: reports.iter().zip(&results).collect(),
    };
    let text = html::render(&page);
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {} ({} reports); open it in a browser", path.display(), reports.len());
        }
        None => {
            let mut out = Stdout;
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

/// `costlake report`: every report, then its parameters, aligned, with their defaults and allowed values.
fn list_reports() -> anyhow::Result<()> {
    let reports = costlake_queries::reports();
    let shown = |param: &costlake_queries::ParamSpec| {
        format!("-p {}={}", param.name, if param.default.is_empty() { "''" } else { &param.default })
    };
    let name_width = reports.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let param_width = reports.iter().flat_map(|r| r.params.iter().map(|p| shown(p).len())).max().unwrap_or(0);
    let mut out = Stdout;
    for report in &reports {
        writeln!(out, "{:<name_width$}  {}", report.name, report.title)?;
        for param in &report.params {
            let allowed = if !param.choices.is_empty() {
                format!(" [one of: {}]", param.choices.join(", "))
            } else if param.ty.starts_with("UInt") || param.ty.starts_with("Int") {
                " [a whole number]".to_string()
            } else if param.ty.starts_with("Decimal") {
                " [a number]".to_string()
            } else {
                String::new()
            };
            writeln!(out, "    {:<param_width$}  {}{allowed}", shown(param), param.help)?;
        }
    }
    // As typed here: this binary, and the flags the command was given.
    let me = invocation_on(given_flags().warehouse.as_deref());
    writeln!(out, "\nRun one: {me} report <name> [-p name=value ...] [--format table|json|csv|markdown|html]")?;
    writeln!(out, "All on one page: {me} report all --format html --output report.html")?;
    out.flush()?;
    Ok(())
}

/// Fails on a project that no loaded run has seen, by id or by name.
async fn check_projects(warehouse: &dyn Warehouse, named: &[String]) -> anyhow::Result<()> {
    if named.is_empty() {
        return Ok(());
    }
    let known = costlake_queries::query(warehouse, "SELECT id, name FROM project_names ORDER BY name", &[]).await?;
    let pairs: Vec<(String, String)> = known
        .rows
        .iter()
        .map(|r| (r[0].as_str().unwrap_or("").to_string(), r[1].as_str().unwrap_or("").to_string()))
        .collect();
    if pairs.is_empty() {
        return Ok(()); // Nothing loaded yet: the report says so.
    }
    for project in named {
        if !pairs.iter().any(|(id, name)| id == project || name == project) {
            let names: Vec<&str> = pairs.iter().map(|(_, name)| name.as_str()).collect();
            bail!(
                "no project {:?} in the warehouse (by id or by name); projects: {}",
                costlake_queries::output::terminal_safe(project),
                names.join(", ")
            );
        }
    }
    Ok(())
}

/// `--budget web-shop=500 --budget '*=2000'` as a ClickHouse map value: `{'web-shop':500,'*':2000}`.
fn budgets_map(budgets: &[String]) -> anyhow::Result<String> {
    let mut entries = Vec::new();
    for budget in budgets {
        let Some((project, amount)) = budget.rsplit_once('=') else {
            usage!("--budget {budget:?} must be PROJECT=AMOUNT (a project id or name, or '*')");
        };
        let Ok(amount) = amount.trim().parse::<rust_decimal::Decimal>() else {
            usage!("--budget {budget:?}: {amount:?} is not an amount in euros");
        };
        let key = project.trim().replace('\\', "\\\\").replace('\'', "\\'");
        entries.push(format!("'{key}':{amount}"));
    }
    Ok(format!("{{{}}}", entries.join(",")))
}

async fn export(settings: &Settings, args: crate::export::ExportArgs) -> anyhow::Result<()> {
    let warehouse = open_warehouse_to_read(settings).await?;
    crate::export::export(warehouse.as_ref(), args).await
}

/// Warns of a warehouse without runs or with models behind; the hints repeat the flags given, so that they act on
/// this warehouse.
async fn warn_if_empty(warehouse: &dyn Warehouse) -> anyhow::Result<()> {
    // The binary is looked up on the PATH only when there is something to say (see `binary`).
    let runs = costlake_queries::query(warehouse, "SELECT count() FROM runs", &[]).await?;
    if runs.rows.first().and_then(|r| r.first()).and_then(|v| v.as_u64()) == Some(0) {
        tracing::warn!(
            "the warehouse holds no loaded run yet: load one with `{} run`, {}",
            loader_on_given(),
            or_the_demo(&invocation(), None)
        );
    }
    let stale = costlake_transform::models::stale(warehouse).await?;
    if !stale.is_empty() {
        let (verb, pronoun) = if stale.len() == 1 { ("is", "it") } else { ("are", "them") };
        tracing::warn!(
            "{} {verb} behind the loaded runs, this costlake's models or the price overrides (an interrupted load, an \
             upgrade, or an override written since): run \
             `{} load` to rebuild {pronoun}",
            stale.join(", "),
            loader_on_given()
        );
    }
    Ok(())
}

fn print(
    result: &ResultSet,
    format: Format,
    report: Option<&costlake_queries::Report>,
    wide: bool,
) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(Stdout);
    costlake_queries::render_with(result, format, report, wide, &mut out)?;
    out.flush()?;
    Ok(())
}

async fn sql(settings: &Settings, args: SqlArgs) -> anyhow::Result<()> {
    let params = costlake_queries::parse_params(&args.params)?;
    // A statement that writes needs every table open (see `open_warehouse_to_read`).
    let writes = !args.reads_only();
    let warehouse = if writes {
        let warehouse = open_warehouse_all_tables(settings).await?;
        migrate(warehouse.as_ref()).await?;
        // Whatever it writes (a model's table, `_migrations`), the next read checks the schema with every table open.
        migrate::forget_current(&settings.warehouse_location()?);
        warehouse
    } else {
        open_warehouse_to_read(settings).await?
    };
    let outcome = run_sql(warehouse.as_ref(), &args, &params).await;
    if writes {
        // What it wrote may be what a derived table is computed from (a price override, for the prices that
        // apply): the next report reads them as written, not as of the last load. Even after an error: a
        // statement may fail after writing some of its rows.
        refresh_after_write(warehouse.as_ref(), settings, outcome.is_ok()).await;
    }
    match outcome {
        Err(error) => Err(with_table_hint(warehouse.as_ref(), error).await),
        done => done,
    }
}

/// How long `costlake sql` waits for a load in progress on a server (the load lease) before leaving the prices to
/// the next load.
const SQL_REFRESH_LEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Refreshes the tables computed from what people write after a statement that writes. A failure is a warning:
/// the statement itself was applied (or failed on its own), and saying otherwise would have it run twice.
async fn refresh_after_write(warehouse: &dyn Warehouse, settings: &Settings, applied: bool) {
    let refreshed = async {
        let mut options = settings.load_options()?;
        options.lease.wait = options.lease.wait.min(SQL_REFRESH_LEASE_WAIT);
        anyhow::Ok(costlake_transform::refresh_after_write(warehouse, &options).await?)
    };
    match refreshed.await {
        Ok(tables) if !tables.is_empty() => {
            tracing::info!(tables = tables.join(", "), "refreshed after the statement");
        }
        Ok(_) => {}
        Err(error) => {
            let statement = if applied { "the statement was applied, but " } else { "" };
            tracing::warn!(
                "{statement}the tables computed from price_overrides could not be refreshed ({error:#}): reports use \
                 the prices of the last refresh until `{} load`",
                loader_on_given()
            );
        }
    }
}

/// A table the engine does not know, in an ad-hoc query: the one of this warehouse it most likely misspells, and
/// where the list is.
async fn with_table_hint(warehouse: &dyn Warehouse, error: anyhow::Error) -> anyhow::Error {
    let message = format!("{error:#}");
    let Some(unknown) =
        message.split("Unknown table expression identifier '").nth(1).and_then(|r| r.split('\'').next())
    else {
        return error;
    };
    let unknown = unknown.rsplit('.').next().unwrap_or(unknown);
    let tables = warehouse
        .query("SELECT name FROM system.tables WHERE database = currentDatabase()", &[], "TabSeparated")
        .await
        .map(|out| String::from_utf8_lossy(&out).into_owned())
        .unwrap_or_default();
    let me = invocation();
    match costlake_queries::closest(unknown, tables.lines().filter(|t| !t.starts_with('_'))) {
        Some(known) => anyhow::anyhow!("{message}; did you mean {known}? (`{me} sql --help` lists the tables)"),
        None => anyhow::anyhow!("{message}; `{me} sql --help` lists the tables"),
    }
}

async fn run_sql(warehouse: &dyn Warehouse, args: &SqlArgs, params: &[(String, String)]) -> anyhow::Result<()> {
    // `... FORMAT TSV`, as a ClickHouse user types it: the engine's own output, as it is.
    if let Some(format) = format_clause(&args.query) {
        let out = warehouse.query(&args.query, params, format).await?;
        // Raw engine output, but never raw escape sequences on a terminal (TSV does not escape ESC).
        let shown = if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            let text = String::from_utf8_lossy(&out);
            let lines: Vec<String> = text.lines().map(costlake_queries::output::terminal_safe).collect();
            let mut safe = lines.join("\n");
            if text.ends_with('\n') {
                safe.push('\n');
            }
            safe.into_bytes()
        } else {
            out.to_vec()
        };
        let mut stdout = Stdout;
        stdout.write_all(&shown)?;
        stdout.flush()?;
        return Ok(());
    }
    let clock = std::time::Instant::now();
    let result = costlake_queries::query(warehouse, &args.query, params).await?;
    tracing::debug!(rows = result.rows.len(), ms = clock.elapsed().as_millis() as u64, "query answered");
    print(&result, args.format, None, args.wide)
}

/// The output format a query names in a trailing `FORMAT <name>` clause, if any.
fn format_clause(query: &str) -> Option<&str> {
    let trimmed = query.trim_end().trim_end_matches(';').trim_end();
    let mut words = trimmed.rsplitn(3, char::is_whitespace);
    let (name, keyword) = (words.next()?, words.next()?);
    (keyword.eq_ignore_ascii_case("FORMAT")
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then_some(name)
}

async fn demo(settings: Settings, overrides: &Overrides, args: DemoArgs) -> anyhow::Result<()> {
    let mut config = SimConfig::default().with_knobs(&args.sim).map_err(UsageError)?;
    let asked = config.today;
    config.today = story_day(asked);
    let simulator = Simulator::start(config, None).await.context("cannot start the Scaleway simulator")?;
    let sim = simulator.config();
    let services = costlake_simulator::services(sim);
    if sim.today != asked {
        eprintln!(
            "The demo's story needs {STORY_MIN_DAYS} days of a month and {asked} is day {} of its month: the \
             organisation is shown as of {}, the last day of the month before.",
            asked.day(),
            sim.today
        );
    }
    eprintln!(
        "Scaleway simulator on {}: {} projects, {} running servers, {} planted ghost resources, one server in a \
         state the API does not document, {} Instances planted for the utilisation reports, and {} idle load \
         balancers and {} idle databases",
        simulator.base_url(),
        sim.projects,
        sim.servers,
        costlake_simulator::planted(sim).len(),
        costlake_simulator::utilisation(sim).planted.len(),
        services.idle_load_balancers.len(),
        services.idle_databases.len()
    );
    let scw = ScwConfig {
        access_key: Some("SCWDEMO0000000000000".into()),
        secret_key: Some(sim.secret_key.clone().into()),
        organization_id: Some(sim.organization_id.clone()),
        project_id: None,
        region: Some("fr-par".into()),
        zone: None,
        api_url: simulator.base_url(),
        secret_key_origin: "the demo simulator's key".into(),
    };
    let mut settings = settings;
    // The simulator is on loopback: the default politeness (20 requests per second) is for Scaleway's API.
    if args.flags.max_rps.is_none() && crate::settings::env_value("COSTLAKE_MAX_RPS").is_none() {
        settings.max_rps = 1000;
    }
    // Nor are its 429s (`--sim rate_429=…`) the gateway's: the retries show, without a second's wait each.
    if crate::settings::env_value("COSTLAKE_RETRY_BASE_MS").is_none() {
        settings.retry_base_ms = settings.retry_base_ms.min(50);
    }
    if overrides.lake.is_none() {
        settings.lake = args.dir.join("lake").display().to_string();
    }
    if overrides.warehouse.is_none() {
        settings.warehouse = args.dir.join("warehouse").display().to_string();
    }
    start_clean(&args.dir, overrides.lake.is_none(), overrides.warehouse.is_none())?;
    // The demo has no past, so it replays one: the simulator's billing clock walks the last days, with one
    // billing-only collection per day, as a daily job would have collected them.
    let today = sim.today;
    let full_sources = settings.sources.take();
    settings.sources = Some("billing".into());
    let replayed = std::sync::Arc::new(costlake_lake::Progress::default());
    replayed.add_total(args.billing_days.max(0) as u64);
    let bar = StageBar::start(Stage::Replay, replayed.clone());
    for days_ago in (1..=args.billing_days.max(0)).rev() {
        let day = today - chrono::Duration::days(days_ago);
        simulator.set_billing_today(day);
        // The replayed collection happens on that day, early morning, as a daily job's would.
        let at = day.and_hms_opt(4, 0, 0).expect("valid time").and_utc();
        let (manifest, _) = collect_at(&settings, &scw, None, Some(at), false).await?;
        replayed.add_rows(manifest.datasets.iter().map(|d| d.rows).sum());
        replayed.add_done(1);
    }
    bar.finish();
    eprintln!("replayed {} days of billing collections", args.billing_days.max(0));
    simulator.set_billing_today(today);
    settings.sources = full_sources;
    // The last collection happens at noon of the simulated day, so that ages, snapshots and metrics agree with
    // the organisation's own clock and a given day always prints the same reports, whatever the hour.
    let at = Some(today.and_hms_opt(12, 0, 0).expect("valid time").and_utc());
    let (manifest, lake) = collect_at(&settings, &scw, None, at, true).await?;
    print_manifest(&manifest, &lake);
    simulator.shutdown().await;
    run_load(&settings, &scw).await?;

    let warehouse = open_warehouse(&settings).await?;
    let organization = vec![("organization".to_string(), scw.organization_id.clone().unwrap_or_default())];
    for (name, heading) in [
        ("ghost-resources", "Ghost resources: what keeps billing while doing nothing"),
        ("cost-drift", "Cost drift: this month to date against the same days of last month"),
        ("cost-anomalies", "Cost anomalies of the last 30 days"),
        ("rightsizing", "Rightsizing: idle and oversized Instances, from 30 days of CPU"),
        ("scaling-groups", "Scaling groups: bounds, scaling events, flapping, what their replicas cost"),
        ("idle-services", "Idle services: load balancers and databases that serve nothing"),
        ("kapsule-pools", "Kapsule pools: nodes against bounds and load, the nodes that could go"),
    ] {
        let report = costlake_queries::find(name)?;
        let result = costlake_queries::run(warehouse.as_ref(), &report, &organization).await?;
        eprintln!("\n== {heading} (costlake report {name})\n");
        print(&result, args.format, Some(&report), args.wide)?;
    }
    let here = invocation_on(Some(&settings.warehouse));
    eprintln!(
        "\nNext: {here} report            (every report: forecast, cost-allocation, ghost-cost, ...)\n      {here} report ghost-resources --format json\n      {here} export focus --format csv --output focus.csv\n      {here} sql \"SELECT resource_type, count() FROM inventory_latest GROUP BY ALL\"",
    );
    Ok(())
}

/// The fewest days of a month on which the demo's planted bill tells its whole story: the drift starts
/// nine days before the simulated day and month-to-date reports must see it, and the credit and the anomaly.
const STORY_MIN_DAYS: u32 = 10;

/// The day the demo's organisation is shown on: `today`, or, early in a month (before day
/// [`STORY_MIN_DAYS`]), the last day of the month before, where the month-to-date reports hold the whole story.
fn story_day(today: chrono::NaiveDate) -> chrono::NaiveDate {
    if today.day() >= STORY_MIN_DAYS {
        today
    } else {
        today.with_day(1).and_then(|first| first.pred_opt()).unwrap_or(today)
    }
}

/// `costlake config`: every setting, its value and where it came from; then the Scaleway credentials as the
/// `scw` CLI's rules resolve them. Secrets show only whether they are set.
fn show_config(config: Option<PathBuf>, overrides: &Overrides) -> anyhow::Result<()> {
    let shown = Settings::explain(config, overrides)?;
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(vec!["setting", "value", "from"]);
    for row in &shown {
        table.add_row(vec![
            row.key.to_string(),
            costlake_queries::output::terminal_safe(&row.value),
            row.origin.clone(),
        ]);
    }
    let mut out = Stdout;
    writeln!(out, "{table}")?;
    let scw = ScwConfig::load(&|key| std::env::var(key).ok()).map_err(anyhow::Error::from)?;
    let or_unset = |value: &Option<String>| value.clone().unwrap_or_else(|| "(not set)".into());
    writeln!(
        out,
        "\nScaleway (as the scw CLI reads it: SCW_* variables, else the active profile of ~/.config/scw/config.yaml):"
    )?;
    writeln!(out, "  api url          {}", scw.api_url)?;
    writeln!(out, "  organization     {}", or_unset(&scw.organization_id))?;
    writeln!(out, "  region / zone    {} / {}", or_unset(&scw.region), or_unset(&scw.zone))?;
    let access = scw.access_key.as_deref().map_or_else(|| "(not set)".into(), masked_key);
    writeln!(out, "  access key       {access}")?;
    let secret = if scw.secret_key.is_some() {
        format!("(set, hidden) from {}", scw.secret_key_origin)
    } else {
        "(not set)".into()
    };
    writeln!(out, "  secret key       {secret}")?;
    out.flush()?;
    Ok(())
}

/// Every demo starts from an empty lake and warehouse: a second `make demo` shows the same story, not 36 more
/// runs on top of the first. Only what an earlier demo made (its marker file says so) is removed; anything else
/// in the way is an error naming it.
fn start_clean(dir: &std::path::Path, own_lake: bool, own_warehouse: bool) -> anyhow::Result<()> {
    const MARKER: &str = ".costlake-demo";
    if !own_lake && !own_warehouse {
        // Both elsewhere (an S3 lake, a ClickHouse server): the directory is not needed, nor created.
        return Ok(());
    }
    let marked = dir.join(MARKER).exists();
    for (own, name) in [(own_lake, "lake"), (own_warehouse, "warehouse")] {
        let path = dir.join(name);
        let occupied = std::fs::read_dir(&path).is_ok_and(|mut entries| entries.next().is_some());
        if !own || !occupied {
            continue;
        }
        if !marked {
            bail!(
                "{} exists and was not made by `costlake demo`: remove it, or give the demo another --dir",
                path.display()
            );
        }
        std::fs::remove_dir_all(&path)
            .with_context(|| format!("cannot remove the previous demo's {}", path.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "made by `costlake demo`: its lake and warehouse are replaced at each demo\n")
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    Ok(())
}

/// The global flags this process was given, as its hints repeat them to work as printed. Flags only: a variable
/// is the shell's to keep.
#[derive(Default)]
struct GivenFlags {
    config: Option<String>,
    chdb_lib: Option<String>,
    lake: Option<String>,
    warehouse: Option<String>,
}

static GIVEN_FLAGS: std::sync::OnceLock<GivenFlags> = std::sync::OnceLock::new();

fn remember_given_flags(config: Option<&std::path::Path>, overrides: &Overrides) {
    let _ = GIVEN_FLAGS.set(GivenFlags {
        config: config.map(|path| path.display().to_string()),
        chdb_lib: overrides.chdb_lib.as_ref().map(|path| path.display().to_string()),
        lake: overrides.lake.clone(),
        warehouse: overrides.warehouse.clone(),
    });
}

fn given_flags() -> &'static GivenFlags {
    GIVEN_FLAGS.get_or_init(GivenFlags::default)
}

/// How to call this same binary in the hints, so that they work as printed: `costlake` when that is what the
/// PATH finds, else its path from the current directory (`./target/debug/costlake` after `make demo`); then the
/// `--config` and `--chdb-lib` given, which every command needs again. The lake and the warehouse are each hint's
/// own to add: `loader_on`, `invocation_on`.
pub(crate) fn invocation() -> String {
    let given = given_flags();
    let flags: String = [("config", &given.config), ("chdb-lib", &given.chdb_lib)]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|value| format!(" --{name} {}", shell_quote(value))))
        .collect();
    format!("{}{flags}", binary())
}

/// This binary as a shell word: `costlake`, or its path (see `invocation`). Looked up once, when a hint first
/// needs it: a hint may name it several times, and reading the PATH is work no report should do for nothing.
fn binary() -> &'static str {
    static BINARY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BINARY.get_or_init(find_binary)
}

fn find_binary() -> String {
    let Ok(exe) = std::env::current_exe().and_then(|e| e.canonicalize()) else { return "costlake".into() };
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| dir.join("costlake").canonicalize().is_ok_and(|found| found == exe))
    });
    if on_path {
        return "costlake".into();
    }
    let shown = match std::env::current_dir().and_then(|d| d.canonicalize()) {
        Ok(cwd) => match exe.strip_prefix(&cwd) {
            Ok(relative) => format!("./{}", relative.display()),
            Err(_) => exe.display().to_string(),
        },
        Err(_) => exe.display().to_string(),
    };
    shell_quote(&shown)
}

async fn simulator(args: SimulatorArgs) -> anyhow::Result<()> {
    let config = SimConfig::default().with_knobs(&args.knobs).map_err(UsageError)?;
    let simulator = Simulator::start(config, args.port).await.context("cannot start the Scaleway simulator")?;
    let sim = simulator.config();
    println!("export SCW_API_URL={}", simulator.base_url());
    println!("export SCW_SECRET_KEY={}", sim.secret_key);
    println!("export SCW_DEFAULT_ORGANIZATION_ID={}", sim.organization_id);
    eprintln!("Scaleway simulator serving on {} (Ctrl-C to stop)", simulator.base_url());
    tokio::signal::ctrl_c().await?;
    let stats = simulator.stats();
    simulator.shutdown().await;
    eprintln!(
        "served {} requests ({} rate limited, {} server errors)",
        stats.requests, stats.rate_limited, stats.server_errors
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> chrono::NaiveDate {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn only_a_statement_that_reads_skips_the_engines_shutdown() {
        let sql = |query: &str| SqlArgs { query: query.into(), format: Format::Table, wide: false, params: vec![] };
        for reads in
            ["SELECT 1", "  with x AS (SELECT 1) SELECT * FROM x", "-- a note\n(SELECT 1)", "/* c */ SHOW TABLES"]
        {
            assert!(sql(reads).reads_only(), "{reads}");
        }
        for writes in
            ["INSERT INTO t VALUES (1)", "-- SELECT\nOPTIMIZE TABLE t", "/* SELECT */ DROP TABLE t", "", "SELECTX"]
        {
            assert!(!sql(writes).reads_only(), "{writes}");
        }
    }

    #[test]
    fn the_story_moves_to_the_end_of_the_month_before_only_early_in_a_month() {
        assert_eq!(story_day(date("2026-12-01")), date("2026-11-30"));
        assert_eq!(story_day(date("2026-12-09")), date("2026-11-30"));
        assert_eq!(story_day(date("2027-03-02")), date("2027-02-28"));
        assert_eq!(story_day(date("2027-01-05")), date("2026-12-31"));
        assert_eq!(story_day(date("2026-12-10")), date("2026-12-10"));
        assert_eq!(story_day(date("2026-12-31")), date("2026-12-31"));
    }
}
