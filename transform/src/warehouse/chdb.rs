//! The embedded backend: the ClickHouse engine in-process, from chDB's `libchdb.so`.
//!
//! The library is loaded at run time with `libloading` (the workspace builds and tests everything else without
//! it; a missing library is a clear error, not a link failure) and never unloaded. Its C API is declared here,
//! by use, for the pinned version (`CHDB_VERSION`): no header ships with the npm package.
//!
//! A chDB connection runs one statement at a time, and engine calls block: the connection lives on a
//! dedicated OS thread, and async callers talk to it over channels. Nothing here runs on the reactor.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc as std_mpsc};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::{mpsc, oneshot};

use super::{DEFAULT_DATABASE, Param, Result, SESSION_SETTINGS, Warehouse, WarehouseError, escape_param_value};

/// The chDB release costlake is built and tested against (npm `@chdb/lib-linux-x64-gnu`).
pub const CHDB_VERSION: &str = "26.7.3-stable.1";

/// Where `scripts/install-chdb.sh` puts the library by default, and where costlake looks for it when
/// `COSTLAKE_CHDB_LIB` is not set: `${XDG_DATA_HOME:-~/.local/share}/costlake/chdb/<version>/libchdb.so`.
pub fn default_library_path() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from(".costlake"));
    data.join("costlake").join("chdb").join(CHDB_VERSION).join("libchdb.so")
}

type Connection = *mut c_void;
type ResultPtr = *mut c_void;
type InsertStream = *mut c_void;

/// The part of chDB's C API costlake uses.
struct Api {
    connect: unsafe extern "C" fn(c_int, *mut *mut c_char) -> *mut Connection,
    close_conn: unsafe extern "C" fn(*mut Connection),
    query_n: unsafe extern "C" fn(Connection, *const c_char, usize, *const c_char, usize) -> ResultPtr,
    query_with_params_n: unsafe extern "C" fn(
        Connection,
        *const c_char,
        usize,
        *const c_char,
        usize,
        *const *const c_char,
        *const usize,
        *const *const c_char,
        *const usize,
        usize,
    ) -> ResultPtr,
    result_error: unsafe extern "C" fn(ResultPtr) -> *const c_char,
    result_buffer: unsafe extern "C" fn(ResultPtr) -> *mut c_char,
    result_length: unsafe extern "C" fn(ResultPtr) -> usize,
    result_rows_written: unsafe extern "C" fn(ResultPtr) -> u64,
    destroy_result: unsafe extern "C" fn(ResultPtr),
    stream_insert_n: unsafe extern "C" fn(Connection, *const c_char, usize, *const c_char, usize) -> InsertStream,
    stream_append: unsafe extern "C" fn(InsertStream, *const c_void, usize) -> c_int,
    stream_done: unsafe extern "C" fn(InsertStream) -> ResultPtr,
    stream_insert_error: unsafe extern "C" fn(InsertStream) -> *const c_char,
    stream_cancel_insert: unsafe extern "C" fn(InsertStream),
    destroy_insert_stream: unsafe extern "C" fn(InsertStream),
    set_signal_handlers_enabled: unsafe extern "C" fn(c_int),
    version: unsafe extern "C" fn() -> *const c_char,
    shutdown: unsafe extern "C" fn() -> c_int,
}

static LIBRARY: Mutex<Option<(PathBuf, &'static Api)>> = Mutex::new(None);

/// Loads the engine's library (from `library`, else [`default_library_path`]) without opening a warehouse:
/// `costlake doctor` checks it before the first run has made one. Blocking: a few tens of milliseconds.
pub fn load_library(library: Option<&Path>) -> Result<()> {
    let path = library.map_or_else(default_library_path, Path::to_path_buf);
    api(&path).map(|_| ())
}

/// Loads the library once per process; later calls reuse it (chDB must never be unloaded). A failed load
/// is not remembered, so a corrected path works on the next try.
fn api(path: &Path) -> Result<&'static Api> {
    let mut slot = LIBRARY.lock().expect("library registry poisoned");
    if let Some((loaded_from, api)) = slot.as_ref() {
        if loaded_from == path {
            return Ok(api);
        }
        return Err(WarehouseError::LibraryMissing {
            path: path.display().to_string(),
            reason: format!("this process already loaded chDB from {}", loaded_from.display()),
        });
    }
    let missing = |reason: String| WarehouseError::LibraryMissing { path: path.display().to_string(), reason };
    if !path.exists() {
        return Err(missing("no such file".into()));
    }
    // SAFETY: loading a shared library runs its initialisers; libchdb's are the ClickHouse engine's own.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| missing(e.to_string()))?;
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    macro_rules! symbol {
        ($name:literal) => {
            // SAFETY: the signatures above are chDB's C API for CHDB_VERSION; the library lives forever.
            *unsafe { library.get($name) }
                .map_err(|e| missing(format!("symbol missing ({e}): is it chDB {CHDB_VERSION}?")))?
        };
    }
    let api: &'static Api = Box::leak(Box::new(Api {
        connect: symbol!(b"chdb_connect"),
        close_conn: symbol!(b"chdb_close_conn"),
        query_n: symbol!(b"chdb_query_n"),
        query_with_params_n: symbol!(b"chdb_query_with_params_n"),
        result_error: symbol!(b"chdb_result_error"),
        result_buffer: symbol!(b"chdb_result_buffer"),
        result_length: symbol!(b"chdb_result_length"),
        result_rows_written: symbol!(b"chdb_result_rows_written"),
        destroy_result: symbol!(b"chdb_destroy_query_result"),
        stream_insert_n: symbol!(b"chdb_stream_insert_n"),
        stream_append: symbol!(b"chdb_stream_append"),
        stream_done: symbol!(b"chdb_stream_done"),
        stream_insert_error: symbol!(b"chdb_stream_insert_error"),
        stream_cancel_insert: symbol!(b"chdb_stream_cancel_insert"),
        destroy_insert_stream: symbol!(b"chdb_destroy_insert_stream"),
        set_signal_handlers_enabled: symbol!(b"chdb_set_signal_handlers_enabled"),
        version: symbol!(b"chdb_version"),
        shutdown: symbol!(b"chdb_shutdown"),
    }));
    *slot = Some((path.to_path_buf(), api));
    Ok(api)
}

enum Command {
    Query {
        sql: String,
        params: Vec<Param>,
        format: String,
        reply: oneshot::Sender<Result<Vec<u8>>>,
    },
    Insert {
        table: String,
        format: String,
        data: mpsc::Receiver<std::result::Result<Bytes, String>>,
        reply: oneshot::Sender<Result<u64>>,
    },
    /// Close the connection and stop every engine thread.
    Shutdown {
        done: std_mpsc::Sender<()>,
    },
}

/// The engine thread's handle. One per process: chDB serves one data directory per process.
struct Engine {
    dir: PathBuf,
    opening: TableOpening,
    commands: Mutex<std_mpsc::Sender<Command>>,
    version: String,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

static ENGINE: Mutex<Option<Arc<Engine>>> = Mutex::new(None);

pub struct EmbeddedWarehouse {
    engine: Arc<Engine>,
}

impl EmbeddedWarehouse {
    /// Loads chDB (from `library`, else [`default_library_path`]), opens `dir` and makes the costlake
    /// database current, every table open: to read and write.
    pub async fn open(dir: PathBuf, library: Option<PathBuf>) -> Result<EmbeddedWarehouse> {
        Self::open_with(dir, library, TableOpening::AtStart).await
    }

    /// [`EmbeddedWarehouse::open`], with the tables opened as `opening` says.
    pub async fn open_with(dir: PathBuf, library: Option<PathBuf>, opening: TableOpening) -> Result<EmbeddedWarehouse> {
        let library = library.unwrap_or_else(default_library_path);
        tokio::task::spawn_blocking(move || Self::open_blocking(dir, library, opening))
            .await
            .map_err(|e| WarehouseError::Open { warehouse: "embedded".into(), reason: e.to_string() })?
    }

    fn open_blocking(dir: PathBuf, library: PathBuf, opening: TableOpening) -> Result<EmbeddedWarehouse> {
        let shown = dir.display().to_string();
        let open_error = |reason: String| WarehouseError::Open { warehouse: shown.clone(), reason };
        std::fs::create_dir_all(&dir).map_err(|e| open_error(format!("cannot create the directory: {e}")))?;
        let dir = dir.canonicalize().map_err(|e| open_error(e.to_string()))?;

        let mut slot = ENGINE.lock().expect("engine registry poisoned");
        if let Some(engine) = slot.as_ref() {
            if engine.dir == dir && (engine.opening == opening || opening == TableOpening::OnFirstUse) {
                return Ok(EmbeddedWarehouse { engine: engine.clone() });
            }
            if engine.dir == dir {
                return Err(open_error(
                    "this process opened the warehouse to read it, and chDB cannot open it again to write".into(),
                ));
            }
            return Err(open_error(format!(
                "this process already has the warehouse {} open; chDB serves one directory per process",
                engine.dir.display()
            )));
        }

        // Where a process's first milliseconds go (`-v`): loading the library, then starting the engine.
        let clock = std::time::Instant::now();
        let api = api(&library)?;
        let loaded_ms = clock.elapsed().as_millis() as u64;
        let lock = take_directory_lock(&dir)?;
        let config = write_engine_config(&dir)?;
        let opening = match set_table_opening(&dir, opening) {
            Ok(held) if held == opening || held == TableOpening::AtStart => held,
            // Left as it was, every table opened: the read only loses its faster start.
            Err(error) if opening == TableOpening::OnFirstUse => {
                tracing::debug!(%error, "the engine opens every table at start: its metadata could not be rewritten");
                TableOpening::AtStart
            }
            held => {
                let file = dir.join("metadata").join(format!("{DEFAULT_DATABASE}.sql"));
                let why = match held {
                    Err(error) => format!("cannot rewrite {}: {error}", file.display()),
                    Ok(_) => format!(
                        "{} asks for lazy_load_tables in a form costlake does not know: remove that setting from it",
                        file.display()
                    ),
                };
                return Err(open_error(format!("writing needs every table open at start, and {why}")));
            }
        };
        let (commands, receiver) = std_mpsc::channel();
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let thread_dir = dir.clone();
        let thread = std::thread::Builder::new()
            .name("chdb-engine".into())
            .spawn(move || engine_thread(api, thread_dir, config, opening, lock, receiver, ready_tx))
            .map_err(|e| open_error(format!("cannot start the engine thread: {e}")))?;
        let version =
            ready_rx.recv().map_err(|_| open_error("the engine thread stopped while connecting".into()))??;
        tracing::debug!(
            library_ms = loaded_ms,
            engine_ms = clock.elapsed().as_millis() as u64 - loaded_ms,
            "embedded engine started"
        );
        let engine = Arc::new(Engine {
            dir,
            opening,
            commands: Mutex::new(commands),
            version,
            thread: Mutex::new(Some(thread)),
        });
        *slot = Some(engine.clone());
        Ok(EmbeddedWarehouse { engine })
    }

    /// The engine's version (`SELECT version()` would say the same).
    pub fn engine_version(&self) -> &str {
        &self.engine.version
    }

    fn send(&self, command: Command) -> Result<()> {
        self.engine.commands.lock().expect("engine channel poisoned").send(command).map_err(|_| WarehouseError::Open {
            warehouse: self.engine.dir.display().to_string(),
            reason: "the engine thread has stopped".into(),
        })
    }
}

/// Stops the embedded engine, if this process started one: closes its connection and joins every chDB thread.
///
/// Call it before the process exits. chDB's threads otherwise race the process's own teardown (static
/// destructors), which can kill a process that had finished its work with a signal. Blocking: call it from a
/// blocking context. Any later use of an `EmbeddedWarehouse` of this process fails.
pub fn shutdown() {
    let Some(engine) = ENGINE.lock().expect("engine registry poisoned").take() else {
        return;
    };
    let started = std::time::Instant::now();
    let (done, finished) = std_mpsc::channel();
    let sent = engine.commands.lock().expect("engine channel poisoned").send(Command::Shutdown { done });
    if sent.is_ok() {
        let _ = finished.recv();
    }
    if let Some(thread) = engine.thread.lock().expect("engine thread poisoned").take() {
        let _ = thread.join();
    }
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "embedded engine stopped");
}

/// The engine's configuration: MergeTree's defaults, but for when a table's outdated parts (the sources of a
/// merge, the rows a mutation rewrote) leave the disk. The engine removes them in a background task that first runs
/// 30 to 40 seconds after start: a process of costlake seldom lives that long, so parts outdated by a short load
/// were never removed, and every start loaded them all again (57 in `_refresh_runs` after two loads, and merged
/// raw points on disk twice). Here any process living a second removes them. The task also backs off while it
/// finds nothing to remove, up to `max_cleanup_delay_period` (5 minutes by default): a load's merges come after
/// seconds of inserts, so the demo's warehouse still ended with 400 outdated parts of 480 (7,144 files; a start
/// loading them took 305-394 ms, 205-265 ms without them). At most a second apart, it ends with about 10.
/// An explicit file also keeps chDB from reading a `config.xml` that happens to be in the working directory.
const ENGINE_CONFIG: &str = "<clickhouse>
    <merge_tree>
        <cleanup_delay_period>1</cleanup_delay_period>
        <cleanup_delay_period_random_add>0</cleanup_delay_period_random_add>
        <max_cleanup_delay_period>1</max_cleanup_delay_period>
    </merge_tree>
</clickhouse>
";

/// Writes [`ENGINE_CONFIG`] as `costlake-engine.xml` in the warehouse directory, unless it is there already.
fn write_engine_config(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("costlake-engine.xml");
    if std::fs::read(&path).is_ok_and(|held| held == ENGINE_CONFIG.as_bytes()) {
        return Ok(path);
    }
    let fail = |e: std::io::Error| WarehouseError::Open {
        warehouse: dir.display().to_string(),
        reason: format!("cannot write the engine's configuration {}: {e}", path.display()),
    };
    replace_file(&path, &dir.join("costlake-engine.xml.next"), ENGINE_CONFIG.as_bytes()).map_err(fail)?;
    Ok(path)
}

/// Replaces the file `path` in the warehouse directory with `contents`, written first at `next` beside it, synced,
/// then renamed over it: a crash leaves the old file or the new one, never half of one for the next start to
/// choke on.
pub(crate) fn replace_file(path: &Path, next: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(next)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(next, path)
}

/// When the engine opens the warehouse's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableOpening {
    /// All of them as it starts: what writing needs.
    AtStart,
    /// Each when a statement first uses it (the database's `lazy_load_tables`). A read uses a few of costlake's
    /// fifty tables, and opening all of them was most of its start: `costlake sql "SELECT 1"` took 0.16-0.19 s,
    /// 0.11-0.15 s so (BENCHMARKS.md). Reads only: chDB 26.7 stands a proxy in for such a table, which refuses
    /// `DELETE`, `UPDATE` and mutations even once the table behind it is open.
    OnFirstUse,
}

impl TableOpening {
    /// The database's settings clause for this opening, as the engine writes it in its metadata.
    fn settings(self) -> Option<&'static str> {
        match self {
            TableOpening::AtStart => None,
            TableOpening::OnFirstUse => Some("SETTINGS lazy_load_tables = 1"),
        }
    }
}

/// The engine the database is created with; a settings clause follows it.
const DATABASE_ENGINE: &str = "ENGINE = Atomic";

/// Has the engine open the tables as `opening` says at this start, and returns how it will open them. An Atomic
/// database's settings cannot be altered by a statement, so this rewrites the database's metadata file (the
/// engine's `ATTACH DATABASE` text, which it reads at start and not after) in the form the engine itself writes,
/// with or without the setting; a file in another form is left as it is. The file is written beside it as
/// `.sql.tmp` (the engine's own name for a file it has not finished: it removes such a file at start), synced,
/// and renamed over it, so that no crash leaves the engine a database it cannot attach; whichever of the two
/// names a crash leaves, it is a valid form, so the directory is not synced. The engine thread puts the
/// file back without the setting once the engine has started, so that the warehouse at rest is as any ClickHouse
/// or earlier costlake expects it.
fn set_table_opening(dir: &Path, opening: TableOpening) -> std::io::Result<TableOpening> {
    let path = dir.join("metadata").join(format!("{DEFAULT_DATABASE}.sql"));
    let text = match std::fs::read_to_string(&path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(opening),
        held => held?,
    };
    let held = if text.contains("lazy_load_tables") { TableOpening::OnFirstUse } else { TableOpening::AtStart };
    let known_settings = |settings: &[&str]| match settings {
        [] => true,
        [settings] => Some(*settings) == TableOpening::OnFirstUse.settings(),
        _ => false,
    };
    let attach = match text.lines().collect::<Vec<_>>().as_slice() {
        [attach, DATABASE_ENGINE, settings @ ..]
            if attach.starts_with("ATTACH DATABASE _ UUID '") && known_settings(settings) =>
        {
            attach.to_string()
        }
        _ => return Ok(held),
    };
    if held == opening {
        return Ok(opening);
    }
    let wanted = match opening.settings() {
        Some(settings) => format!("{attach}\n{DATABASE_ENGINE}\n{settings}\n"),
        None => format!("{attach}\n{DATABASE_ENGINE}\n"),
    };
    replace_file(&path, &path.with_extension("sql.tmp"), wanted.as_bytes())?;
    Ok(opening)
}

/// A lock file beside chDB's own: a second costlake on the same directory gets a clear error naming the
/// holder, instead of chDB's NULL connection.
fn take_directory_lock(dir: &Path) -> Result<File> {
    let path = dir.join("costlake.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| WarehouseError::Open { warehouse: dir.display().to_string(), reason: e.to_string() })?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file.set_len(0);
            let _ = writeln!(file, "pid {}", std::process::id());
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default().trim().to_string();
            Err(WarehouseError::InUse {
                dir: dir.display().to_string(),
                holder: if holder.is_empty() { "another costlake".into() } else { format!("costlake {holder}") },
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(WarehouseError::Open {
            warehouse: dir.display().to_string(),
            reason: format!("cannot lock {}: {e}", path.display()),
        }),
    }
}

struct Session {
    api: &'static Api,
    conn: *mut Connection,
}

impl Session {
    fn connection(&self) -> Connection {
        // SAFETY: `conn` is the non-null pointer chdb_connect returned and is only closed on drop.
        unsafe { *self.conn }
    }

    fn query(&self, sql: &str, params: &[Param], format: &str) -> Result<Vec<u8>> {
        let api = self.api;
        let result = if params.is_empty() {
            // SAFETY: pointers and lengths describe live Rust strings for the duration of the call.
            unsafe {
                (api.query_n)(self.connection(), sql.as_ptr().cast(), sql.len(), format.as_ptr().cast(), format.len())
            }
        } else {
            let values: Vec<String> = params.iter().map(|(_, v)| escape_param_value(v)).collect();
            let names: Vec<*const c_char> = params.iter().map(|(n, _)| n.as_ptr().cast()).collect();
            let name_lens: Vec<usize> = params.iter().map(|(n, _)| n.len()).collect();
            let value_ptrs: Vec<*const c_char> = values.iter().map(|v| v.as_ptr().cast()).collect();
            let value_lens: Vec<usize> = values.iter().map(String::len).collect();
            // SAFETY: as above; the arrays hold `params.len()` entries each.
            unsafe {
                (api.query_with_params_n)(
                    self.connection(),
                    sql.as_ptr().cast(),
                    sql.len(),
                    format.as_ptr().cast(),
                    format.len(),
                    names.as_ptr(),
                    name_lens.as_ptr(),
                    value_ptrs.as_ptr(),
                    value_lens.as_ptr(),
                    params.len(),
                )
            }
        };
        self.take_result(result, sql).map(|(bytes, _)| bytes)
    }

    /// Reads and frees a result; an error result becomes a [`WarehouseError::Query`].
    fn take_result(&self, result: ResultPtr, sql: &str) -> Result<(Vec<u8>, u64)> {
        let api = self.api;
        if result.is_null() {
            return Err(WarehouseError::query(None, sql, "the engine returned no result"));
        }
        // SAFETY: `result` is a live chdb_result until destroyed below; the buffer is valid for its length.
        unsafe {
            let error = (api.result_error)(result);
            let outcome = if error.is_null() {
                let length = (api.result_length)(result);
                let buffer = (api.result_buffer)(result);
                let bytes = if buffer.is_null() || length == 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(buffer.cast::<u8>(), length).to_vec()
                };
                Ok((bytes, (api.result_rows_written)(result)))
            } else {
                let message = CStr::from_ptr(error).to_string_lossy().into_owned();
                Err(engine_error(sql, &message))
            };
            (api.destroy_result)(result);
            outcome
        }
    }

    fn insert(
        &self,
        table: &str,
        format: &str,
        mut data: mpsc::Receiver<std::result::Result<Bytes, String>>,
    ) -> Result<u64> {
        let api = self.api;
        let sql = format!("INSERT INTO {table}");
        let insert_error = |message: String| WarehouseError::Insert { table: table.to_string(), message };
        // SAFETY: pointers and lengths describe live strings; the handle is never NULL (documented) and is
        // destroyed on every path below.
        unsafe {
            let stream = (api.stream_insert_n)(
                self.connection(),
                sql.as_ptr().cast(),
                sql.len(),
                format.as_ptr().cast(),
                format.len(),
            );
            let stream_error = |stream: InsertStream| {
                let error = (api.stream_insert_error)(stream);
                if error.is_null() {
                    "unknown error".to_string()
                } else {
                    super::first_line(&CStr::from_ptr(error).to_string_lossy())
                }
            };
            if !(api.stream_insert_error)(stream).is_null() {
                let message = stream_error(stream);
                (api.destroy_insert_stream)(stream);
                return Err(insert_error(message));
            }
            while let Some(chunk) = data.blocking_recv() {
                let failure = match chunk {
                    Ok(bytes) if (api.stream_append)(stream, bytes.as_ptr().cast(), bytes.len()) == 0 => None,
                    Ok(_) => Some(stream_error(stream)),
                    Err(reason) => Some(reason),
                };
                if let Some(message) = failure {
                    (api.stream_cancel_insert)(stream);
                    (api.destroy_insert_stream)(stream);
                    return Err(insert_error(message));
                }
            }
            let result = (api.stream_done)(stream);
            let outcome = self.take_result(result, &sql).map(|(_, rows)| rows).map_err(|e| match e {
                WarehouseError::Query { message, .. } => insert_error(message),
                other => other,
            });
            (api.destroy_insert_stream)(stream);
            outcome
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: closes the connection chdb_connect returned, once.
        unsafe { (self.api.close_conn)(self.conn) };
    }
}

/// `Code: 60. DB::Exception: Unknown table ... (UNKNOWN_TABLE) (version ...)` → code 60 and the message.
fn engine_error(sql: &str, message: &str) -> WarehouseError {
    let trimmed = message.trim();
    if let Some(rest) = trimmed.strip_prefix("Code: ")
        && let Some((code, rest)) = rest.split_once(". ")
        && let Ok(code) = code.parse::<i64>()
    {
        let rest = rest.strip_prefix("DB::Exception: ").unwrap_or(rest);
        return WarehouseError::query(Some(code), sql, rest);
    }
    WarehouseError::query(None, sql, trimmed)
}

/// The arguments costlake starts chDB with on the warehouse `dir`, its configuration file `config` written there:
/// the engine's own `clickhouse-local` arguments, then costlake's session settings. Public for the bench's
/// reference, which starts the engine alone exactly so.
pub fn engine_args(dir: &Path, config: &Path) -> Vec<String> {
    let mut args = vec![
        "clickhouse".to_string(),
        format!("--path={}", dir.display()),
        format!("--config-file={}", config.display()),
    ];
    args.extend(SESSION_SETTINGS.iter().map(|(name, value)| format!("--{name}={value}")));
    // chDB writes its own log to a terminal (never to a pipe): on an interactive `costlake load` that was dozens
    // of "<Fatal> ThreadStatus: current_thread contains invalid address" lines from the engine's insert threads,
    // harmless and alarming. Errors reach costlake as query results; the log adds nothing.
    args.push("--log-level=none".into());
    args
}

fn engine_thread(
    api: &'static Api,
    dir: PathBuf,
    config: PathBuf,
    opening: TableOpening,
    _lock: File,
    commands: std_mpsc::Receiver<Command>,
    ready: std_mpsc::Sender<Result<String>>,
) {
    let connect = || -> Result<Session> {
        let args = engine_args(&dir, &config)
            .into_iter()
            .map(CString::new)
            .collect::<std::result::Result<Vec<CString>, _>>()
            .map_err(|_| WarehouseError::Open {
                warehouse: dir.display().to_string(),
                reason: "the path contains a NUL byte".into(),
            })?;
        let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
        // SAFETY: argv holds `args.len()` NUL-terminated strings that outlive the call. chDB's own signal
        // handlers are turned off first so that Ctrl-C and crashes behave as in any other program.
        let conn = unsafe {
            (api.set_signal_handlers_enabled)(0);
            (api.connect)(argv.len() as c_int, argv.as_mut_ptr())
        };
        if conn.is_null() {
            return Err(WarehouseError::InUse {
                dir: dir.display().to_string(),
                holder:
                    "chDB refused to open it, most likely because another program (chDB, clickhouse-local) has it open"
                        .into(),
            });
        }
        let session = Session { api, conn };
        for statement in [
            format!(
                "CREATE DATABASE IF NOT EXISTS {DEFAULT_DATABASE} {DATABASE_ENGINE} {}",
                opening.settings().unwrap_or_default()
            ),
            format!("USE {DEFAULT_DATABASE}"),
        ] {
            session.query(&statement, &[], "TabSeparated")?;
        }
        Ok(session)
    };
    let connected = connect();
    // The engine has read the setting, or failed to start: either way the file goes back to its form at rest (see
    // `set_table_opening`).
    if opening == TableOpening::OnFirstUse {
        match set_table_opening(&dir, TableOpening::AtStart) {
            Ok(TableOpening::AtStart) => {}
            held => tracing::warn!(
                ?held,
                "the warehouse's database metadata keeps lazy_load_tables: the next costlake write puts it back"
            ),
        }
    }
    let session = match connected {
        Ok(session) => {
            // SAFETY: chdb_version returns a static NUL-terminated string.
            let version = unsafe { CStr::from_ptr((api.version)()) }.to_string_lossy().into_owned();
            let _ = ready.send(Ok(version));
            session
        }
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    // Runs until every handle is gone: then the connection closes (and with it the engine).
    while let Ok(command) = commands.recv() {
        match command {
            Command::Query { sql, params, format, reply } => {
                let _ = reply.send(session.query(&sql, &params, &format));
            }
            Command::Insert { table, format, data, reply } => {
                let _ = reply.send(session.insert(&table, &format, data));
            }
            Command::Shutdown { done } => {
                drop(session);
                // SAFETY: every connection of this process is closed (there is only this one) and no result
                // or stream is alive: this is the moment chdb_shutdown asks for.
                unsafe { (api.shutdown)() };
                let _ = done.send(());
                return;
            }
        }
    }
    drop(session);
}

#[async_trait]
impl Warehouse for EmbeddedWarehouse {
    fn describe(&self) -> String {
        format!("embedded ClickHouse (chDB {}) at {}", self.engine.version, self.engine.dir.display())
    }

    fn exclusive(&self) -> bool {
        true
    }

    fn reads_local_files(&self) -> bool {
        true
    }

    async fn execute(&self, sql: &str, params: &[Param]) -> Result<()> {
        self.query(sql, params, "TabSeparated").await.map(|_| ())
    }

    async fn query(&self, sql: &str, params: &[Param], format: &str) -> Result<Bytes> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Query { sql: sql.to_string(), params: params.to_vec(), format: format.to_string(), reply })?;
        let bytes = answer.await.map_err(|_| WarehouseError::query(None, sql, "the engine thread stopped"))??;
        Ok(Bytes::from(bytes))
    }

    async fn insert(
        &self,
        table: &str,
        format: &str,
        mut data: BoxStream<'static, std::result::Result<Bytes, String>>,
    ) -> Result<()> {
        let (chunks, receiver) = mpsc::channel(4);
        let (reply, answer) = oneshot::channel();
        self.send(Command::Insert { table: table.to_string(), format: format.to_string(), data: receiver, reply })?;
        while let Some(chunk) = data.next().await {
            let failed = chunk.is_err();
            if chunks.send(chunk).await.is_err() || failed {
                break;
            }
        }
        drop(chunks);
        answer
            .await
            .map_err(|_| WarehouseError::Insert {
                table: table.to_string(),
                message: "the engine thread stopped".into(),
            })?
            .map(|_rows| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_engine_error_codes() {
        let err = engine_error(
            "SELECT 1",
            "Code: 62. DB::Exception: Syntax error: failed at position 1 (x). (SYNTAX_ERROR) (version 26.7.2.1)",
        );
        assert_eq!(err.to_string(), "ClickHouse error 62 in `SELECT 1`: Syntax error: failed at position 1 (x)");
    }

    #[test]
    fn a_missing_library_is_a_clear_error() {
        let error = api(Path::new("/nonexistent/libchdb.so")).err().expect("must fail");
        let text = error.to_string();
        assert!(text.contains("/nonexistent/libchdb.so") && text.contains("COSTLAKE_CHDB_LIB"), "{text}");
    }
}
