//! `costlake serve`: ClickHouse's HTTP interface over the embedded warehouse, read-only, so that Grafana's
//! ClickHouse datasource, `clickhouse-connect`, the `clickhouse` crate and `curl` query it with no ClickHouse
//! server.
//!
//! The subset clients use: `GET /?query=` and `POST /` (the SQL in the body, or in `query` with the body
//! appended), `default_format`, `database`, `param_*` query parameters, any other URL parameter as a setting,
//! `X-ClickHouse-User`/`X-ClickHouse-Key`, basic auth or `user`/`password` parameters, `GET /ping`, and errors
//! as ClickHouse sends them (status, `X-ClickHouse-Exception-Code`, `Code: N. DB::Exception: …` body).
//!
//! One engine session serves every request, one request at a time (chDB runs one query at a time anyway): the
//! session is `readonly=2` (reads only; settings may change, `readonly` may not), and after each request every
//! setting and the current database are put back as they were, so one client's settings never reach another.
//! `max_execution_time` is capped at `--max-execution-time`, so one slow panel cannot hold the engine.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use costlake_transform::warehouse::{DEFAULT_DATABASE, Param, Warehouse, WarehouseError, unescape_param_value};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

/// URL parameters of the HTTP interface that are not settings (ClickHouse's HTTPHandler reads them itself).
const NOT_SETTINGS: &[&str] = &[
    "query",
    "database",
    "default_format",
    "user",
    "password",
    "quota_key",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "compress",
    "decompress",
    "buffer_size",
    "wait_end_of_query",
    "stacktrace",
    "role",
    "client_protocol_version",
];

/// Settings a client may set for its request (as URL parameters): what Grafana's plugin, clickhouse-go,
/// clickhouse-connect and the clickhouse crate send, and what shapes a result. Others are not applied (one, such
/// as `max_query_size`, could otherwise leave the session unable to restore itself for the next client).
const REQUEST_SETTINGS: &[&str] = &[
    "max_execution_time",
    "limit",
    "offset",
    "max_threads",
    "max_block_size",
    "max_result_rows",
    "max_result_bytes",
    "result_overflow_mode",
    "extremes",
    "join_use_nulls",
    "date_time_input_format",
    "date_time_output_format",
    "cast_string_to_dynamic_use_inference",
    "session_timezone",
    "use_client_time_zone",
];
/// Prefixes of further request settings: how results are written.
const REQUEST_SETTING_PREFIXES: &[&str] = &["output_format_"];

fn is_request_setting(name: &str) -> bool {
    (REQUEST_SETTINGS.contains(&name) || REQUEST_SETTING_PREFIXES.iter().any(|p| name.starts_with(p)))
        && !reads_or_writes_files(name)
}

/// Settings that name files to read or write, or queries to run (format schemas, templates): never applied, and
/// refused in a statement's `SETTINGS`.
fn reads_or_writes_files(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["format_schema", "format_template", "output_format_schema", "input_format_values_interpret", "format_capn"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// Settings a statement's own `SETTINGS` clause may not touch: the time limit is the server's (a value within
/// the cap is accepted).
const TIME_LIMIT_SETTINGS: &[&str] =
    &["max_execution_time_leaf", "timeout_overflow_mode", "timeout_overflow_mode_leaf", "max_estimated_execution_time"];

pub struct ServeOptions {
    pub listen: SocketAddr,
    pub user: String,
    pub password: Option<SecretString>,
    pub max_execution_time: u64,
}

struct Server {
    engine: Box<dyn Warehouse>,
    /// Held for a whole request: its settings, its query and the restoring of the session.
    session: Mutex<()>,
    /// Every setting's value as the session started (the reference each request is restored to).
    baseline: BTreeMap<String, String>,
    user: String,
    password: Option<SecretString>,
    max_execution_time: u64,
    timezone: String,
    /// Lower-cased names of the functions [`refuse_unsafe`] refuses.
    blocked_functions: std::collections::HashSet<String>,
    requests: AtomicU64,
}

/// Serves until Ctrl-C (or SIGTERM). The warehouse stays open (and locked) while serving.
pub async fn serve(engine: Box<dyn Warehouse>, options: ServeOptions) -> anyhow::Result<()> {
    if !options.listen.ip().is_loopback() && options.password.is_none() {
        bail!(
            "costlake serve listens on {} (beyond this machine) only with a password: set COSTLAKE_SERVE_PASSWORD, or listen on 127.0.0.1",
            options.listen
        );
    }
    let tables = engine
        .query(
            "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'runs'",
            &[],
            "TabSeparated",
        )
        .await?;
    if String::from_utf8_lossy(&tables).trim() != "1" {
        bail!(
            "the warehouse {} holds no costlake data yet: run `{} run` (or `{} demo`) first",
            engine.describe(),
            crate::commands::loader_on_given(),
            crate::commands::invocation()
        );
    }
    engine.execute("SET readonly = 2", &[]).await.context("cannot make the session read-only")?;
    let baseline = settings_snapshot(engine.as_ref()).await?;
    let timezone = engine.query("SELECT timezone()", &[], "TabSeparated").await?;
    let timezone = String::from_utf8_lossy(&timezone).trim().to_string();
    let functions = engine.query("SELECT name FROM system.table_functions", &[], "TabSeparatedRaw").await?;
    let blocked_functions = String::from_utf8_lossy(&functions)
        .lines()
        .filter(|name| !SAFE_TABLE_FUNCTIONS.contains(name))
        .map(str::to_ascii_lowercase)
        .chain(["file".to_string()])
        .collect();
    let server = Arc::new(Server {
        blocked_functions,
        baseline,
        timezone,
        engine,
        session: Mutex::new(()),
        user: options.user,
        password: options.password,
        max_execution_time: options.max_execution_time,
        requests: AtomicU64::new(0),
    });

    let app = axum::Router::new()
        .route("/ping", axum::routing::get(|| async { "Ok.\n" }))
        .route("/", axum::routing::get(handle).post(handle))
        .fallback(|| async { exception(StatusCode::NOT_FOUND, 0, "There is no handle for this path: try / or /ping") })
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr()?;
    eprintln!(
        "serving {} read-only over ClickHouse's HTTP interface on http://{address} (database {DEFAULT_DATABASE}, user {}{}); Ctrl-C stops",
        server.engine.describe(),
        server.user,
        if server.password.is_some() { ", password required" } else { ", no password: loopback only" },
    );
    eprintln!("  try: curl 'http://{address}/?query=SELECT+count()+FROM+inventory_latest'");
    axum::serve(listener, app).with_graceful_shutdown(stopped()).await?;
    eprintln!("served {} requests", server.requests.load(Ordering::Relaxed));
    Ok(())
}

async fn stopped() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// `name → value` of every setting.
async fn settings_snapshot(engine: &dyn Warehouse) -> anyhow::Result<BTreeMap<String, String>> {
    let bytes = engine.query("SELECT name, value FROM system.settings", &[], "JSONCompactEachRow").await?;
    let mut out = BTreeMap::new();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let (name, value): (String, String) =
            serde_json::from_slice(line).context("unexpected system.settings row from the engine")?;
        out.insert(name, value);
    }
    Ok(out)
}

/// A ClickHouse error as the server sends it.
fn exception(status: StatusCode, code: i64, message: &str) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        format!("Code: {code}. DB::Exception: {message}. (costlake serve)\n"),
    )
        .into_response();
    response.headers_mut().insert("X-ClickHouse-Exception-Code", HeaderValue::from(code));
    response
}

/// The status ClickHouse gives an error code (its exceptionCodeToHTTPStatus, for the codes this server can meet;
/// READONLY is a 500 there too).
fn status_of(code: i64) -> StatusCode {
    match code {
        194 => StatusCode::UNAUTHORIZED,
        192 | 193 | 497 | 516 => StatusCode::FORBIDDEN,
        46 | 47 | 50 | 56 | 60 | 73 | 81 | 115 => StatusCode::NOT_FOUND,
        6 | 25 | 26 | 27 | 36 | 38 | 41 | 53 | 62 | 117 | 456 | 457 => StatusCode::BAD_REQUEST,
        159 => StatusCode::REQUEST_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn from_error(error: WarehouseError) -> Response {
    match error {
        WarehouseError::Query { code, message, .. } => {
            let code = code.unwrap_or(1001);
            exception(status_of(code), code, &message)
        }
        other => exception(StatusCode::INTERNAL_SERVER_ERROR, 1001, &other.to_string()),
    }
}

/// The user and password of a request: ClickHouse's headers, then basic auth, then URL parameters.
fn credentials(headers: &HeaderMap, url: &[(String, String)]) -> (Option<String>, Option<String>) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let param = |name: &str| url.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    if header("x-clickhouse-user").is_some() || header("x-clickhouse-key").is_some() {
        return (header("x-clickhouse-user"), header("x-clickhouse-key"));
    }
    if let Some(basic) = header("authorization").as_deref().and_then(|v| v.strip_prefix("Basic "))
        && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim())
        && let Ok(decoded) = String::from_utf8(decoded)
    {
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        return (Some(user.to_string()), Some(password.to_string()));
    }
    (param("user"), param("password"))
}

/// Compares in time independent of where the strings differ.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A setting value as a SQL string literal (ClickHouse parses settings from strings).
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The output format a statement asks for with its own `FORMAT` clause, else `default`.
fn format_of(sql: &str, default: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().collect();
    match words.as_slice() {
        [.., keyword, name] if keyword.eq_ignore_ascii_case("format") => name.trim_end_matches(';').to_string(),
        _ => default.to_string(),
    }
}

fn content_type(format: &str) -> &'static str {
    let lower = format.to_ascii_lowercase();
    if lower.starts_with("json") && !lower.contains("eachrow") {
        "application/json; charset=UTF-8"
    } else if lower.starts_with("json") {
        "application/x-ndjson; charset=UTF-8"
    } else if lower.starts_with("tabseparated") || lower.starts_with("tsv") {
        "text/tab-separated-values; charset=UTF-8"
    } else if lower.starts_with("csv") {
        "text/csv; charset=UTF-8; header=absent"
    } else if lower.starts_with("pretty") || lower == "markdown" || lower == "vertical" {
        "text/plain; charset=UTF-8"
    } else {
        "application/octet-stream"
    }
}

async fn handle(
    State(server): State<Arc<Server>>,
    method: Method,
    Query(mut url): Query<Vec<(String, String)>>,
    request: Request,
) -> Response {
    server.requests.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    // Browsers: a web page may send requests to a loopback port (and, by DNS rebinding, read the answers). Clients
    // of the HTTP interface send no Origin; a server with no password answers loopback names only.
    if request.headers().contains_key(header::ORIGIN) {
        return exception(status_of(516), 516, "requests from web pages (with an Origin header) are refused");
    }
    if server.password.is_none() {
        let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        let name =
            host.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(host, |(n, _)| n);
        if !["127.0.0.1", "localhost", "[::1]"].contains(&name) {
            return exception(
                status_of(516),
                516,
                "without a password, costlake serve answers requests to 127.0.0.1 or localhost only",
            );
        }
    }
    let (user, password) = credentials(request.headers(), &url);
    let user = user.filter(|u| !u.is_empty()).unwrap_or_else(|| "default".into());
    let authenticated = match &server.password {
        None => true,
        Some(expected) => {
            user == server.user && same_secret(password.as_deref().unwrap_or(""), expected.expose_secret())
        }
    };
    if !authenticated {
        return exception(
            status_of(516),
            516,
            &format!("{user}: Authentication failed: password is incorrect, or there is no user with such name"),
        );
    }
    if url.iter().any(|(name, value)| name == "compress" && value == "1") {
        return exception(
            StatusCode::BAD_REQUEST,
            1001,
            "costlake serve does not compress blocks (compress=1): turn the client's compression off (clickhouse crate: Compression::None)",
        );
    }

    // Clients send long parameters as form fields (the clickhouse crate always does): they count as URL ones.
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut request = Some(request);
    if is_form && let Some(form) = request.take() {
        let mut multipart = match axum::extract::Multipart::from_request(form, &()).await {
            Ok(multipart) => multipart,
            Err(e) => return exception(StatusCode::BAD_REQUEST, 27, &format!("cannot read the form: {e}")),
        };
        loop {
            match multipart.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or("").to_string();
                    match field.text().await {
                        Ok(value) => url.push((name, value)),
                        Err(e) => return exception(StatusCode::BAD_REQUEST, 27, &format!("cannot read the form: {e}")),
                    }
                }
                Ok(None) => break,
                Err(e) => return exception(StatusCode::BAD_REQUEST, 27, &format!("cannot read the form: {e}")),
            }
        }
    }

    let mut sql = url.iter().find(|(n, _)| n == "query").map(|(_, v)| v.clone()).unwrap_or_default();
    if method == Method::POST
        && let Some(request) = request
    {
        match axum::body::to_bytes(request.into_body(), 16 * 1024 * 1024).await {
            Ok(body) if !body.is_empty() => {
                if !sql.is_empty() {
                    sql.push('\n');
                }
                sql.push_str(&String::from_utf8_lossy(&body));
            }
            Ok(_) => {}
            Err(e) => return exception(StatusCode::BAD_REQUEST, 27, &format!("cannot read the request body: {e}")),
        }
    }
    if sql.trim().is_empty() {
        return exception(status_of(62), 62, "Empty query");
    }

    let mut params: Vec<Param> = Vec::new();
    let mut settings: Vec<(String, String)> = Vec::new();
    let mut database = None;
    let mut default_format = "TabSeparated".to_string();
    for (name, value) in &url {
        if let Some(param) = name.strip_prefix("param_") {
            params.push((param.to_string(), unescape_param_value(value)));
        } else if name == "database" && !value.is_empty() {
            database = Some(value.clone());
        } else if name == "default_format" && !value.is_empty() {
            default_format = value.clone();
        } else if NOT_SETTINGS.contains(&name.as_str()) {
        } else if !is_identifier(name) {
            return exception(status_of(115), 115, &format!("Unknown setting {name:?}"));
        } else if is_request_setting(name) {
            settings.push((name.clone(), value.clone()));
        } else {
            tracing::debug!(setting = %name, "setting not applied: costlake serve applies result and time settings only");
        }
    }
    // The cap applies whatever the client asks: 0 (no limit) and anything above it become the cap.
    let asked = settings.iter().position(|(n, _)| n == "max_execution_time");
    let cap = server.max_execution_time;
    let limit = match asked.map(|i| settings.remove(i).1.parse::<f64>()) {
        Some(Ok(seconds)) if seconds > 0.0 && seconds < cap as f64 => seconds.to_string(),
        _ => cap.to_string(),
    };
    settings.push(("max_execution_time".into(), limit));
    // The engine's `default` database reads the machine's files by name (clickhouse-local's file system
    // overlay): a client works in costlake's database, or in `system`.
    if let Some(db) = &database
        && !READABLE_DATABASES.contains(&db.as_str())
    {
        return exception(
            status_of(81),
            81,
            &format!("Database {db:?} is not served: use {DEFAULT_DATABASE} or system"),
        );
    }
    let format = format_of(&sql, &default_format);
    let revision = url
        .iter()
        .find(|(n, _)| n == "client_protocol_version")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .filter(|r| *r > 0 && format.eq_ignore_ascii_case("Native"));

    let _session = server.session.lock().await;
    let outcome = run(&server, &sql, &params, &settings, database.as_deref(), &default_format).await;
    let restored = restore(&server, &settings, database.is_some()).await;
    drop(_session);
    if let Err(error) = restored {
        tracing::error!("costlake serve could not restore the session after a request: {error:#}");
        return exception(
            StatusCode::INTERNAL_SERVER_ERROR,
            1001,
            "the session could not be restored; restart costlake serve",
        );
    }
    let outcome = match (outcome, revision) {
        (Ok(body), Some(revision)) => match crate::native::frame(&body, revision) {
            Ok(framed) => Ok(Bytes::from(framed)),
            Err(message) => return exception(StatusCode::INTERNAL_SERVER_ERROR, 50, &message),
        },
        (outcome, _) => outcome,
    };
    match outcome {
        Ok(body) => {
            let elapsed = started.elapsed().as_nanos();
            let summary = format!(
                "{{\"read_rows\":\"0\",\"read_bytes\":\"0\",\"written_rows\":\"0\",\"written_bytes\":\"0\",\"total_rows_to_read\":\"0\",\"result_rows\":\"0\",\"result_bytes\":\"{}\",\"elapsed_ns\":\"{elapsed}\"}}",
                body.len()
            );
            let mut response = (StatusCode::OK, body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&format)));
            let mut set = |name: &'static str, value: &str| {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.insert(name, value);
                }
            };
            set("X-ClickHouse-Format", &format);
            set("X-ClickHouse-Timezone", &server.timezone);
            set("X-ClickHouse-Server-Display-Name", "costlake");
            set("X-ClickHouse-Summary", &summary);
            if let Some((_, id)) = url.iter().find(|(n, _)| n == "query_id") {
                set("X-ClickHouse-Query-Id", id);
            }
            response
        }
        Err(error) => from_error(error),
    }
}

/// Table functions that read nothing but the warehouse and what the query itself holds; every other one (files,
/// URLs, S3, other databases, executables, the file system) is refused, as is the `file()` function.
const SAFE_TABLE_FUNCTIONS: &[&str] = &[
    "numbers",
    "numbers_mt",
    "zeros",
    "zeros_mt",
    "generate_series",
    "generateSeries",
    "generateRandom",
    "values",
    "view",
    "viewIfPermitted",
    "null",
    "primes",
];

/// Databases a statement may name: costlake's, and the engine's catalogue.
const READABLE_DATABASES: &[&str] = &[DEFAULT_DATABASE, "system", "INFORMATION_SCHEMA", "information_schema"];

/// Functions that reach beyond the statement's tables: other tables by name, dictionaries' sources, remote
/// servers (`hasColumnInTable` connects to any host).
const BLOCKED_FUNCTION_PREFIXES: &[&str] = &["dictget", "dicthas", "dictisin", "joinget", "hascolumnintable"];

/// Statements a read-only server runs.
const READ_STATEMENTS: &[&str] =
    &["SelectWithUnionQuery", "SelectIntersectExceptQuery", "Explain", "Describe", "Show", "Exists"];

/// Refuses, from the statement's syntax tree (`EXPLAIN AST`), what `readonly=2` lets through on an embedded
/// engine: table functions and `file()` that read the machine's files or reach the network, and
/// `INTO OUTFILE` (the embedded engine writes it where a server would refuse).
fn refuse_unsafe(ast: &str, blocked: &std::collections::HashSet<String>) -> Result<(), String> {
    let mut ancestors: Vec<&str> = Vec::new();
    for (index, line) in ast.lines().enumerate() {
        let depth = line.len() - line.trim_start_matches(' ').len();
        let node = line.trim();
        let kind = node.split_whitespace().next().unwrap_or("");
        // Every line of a dump starts with a node type; anything else is not a tree this check understands.
        if !kind.starts_with(|c: char| c.is_ascii_uppercase()) || !kind.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err("costlake serve cannot check this statement: it is refused".into());
        }
        if index == 0 && !READ_STATEMENTS.iter().any(|allowed| kind.starts_with(allowed)) {
            return Err(format!("costlake serve is read-only: {kind} is not allowed"));
        }
        ancestors.truncate(depth);
        let parent = ancestors.last().copied().unwrap_or("");
        if kind == "Literal" && (parent.starts_with("SelectWithUnionQuery") || parent.starts_with("Explain")) {
            return Err("INTO OUTFILE is not allowed: costlake serve writes nothing".into());
        }
        if kind == "Function"
            && let Some(name) = node.split_whitespace().nth(1)
            && (blocked.contains(&name.to_ascii_lowercase())
                || BLOCKED_FUNCTION_PREFIXES.iter().any(|p| name.to_ascii_lowercase().starts_with(p)))
        {
            return Err(format!("{name}() is not allowed: costlake serve reads the warehouse only"));
        }
        // `IN default.x` names a table by a plain identifier.
        if kind == "Identifier"
            && let Some(name) = node.split_whitespace().nth(1)
            && name.split_once('.').is_some_and(|(database, _)| database.eq_ignore_ascii_case("default"))
        {
            return Err(format!("database default is not served: costlake serve reads {DEFAULT_DATABASE} and system"));
        }
        // A table named with its database: costlake's or the catalogue only (`default` maps names to files).
        if kind == "TableIdentifier"
            && let Some(name) = node.split_whitespace().nth(1)
            && let Some((database, _)) = name.split_once('.')
            && !READABLE_DATABASES.contains(&database)
        {
            return Err(format!(
                "database {database} is not served: costlake serve reads {DEFAULT_DATABASE} and system"
            ));
        }
        ancestors.push(kind);
    }
    if ast.trim().is_empty() {
        return Err("costlake serve cannot check this statement: it is refused".into());
    }
    Ok(())
}

async fn run(
    server: &Server,
    sql: &str,
    params: &[Param],
    settings: &[(String, String)],
    database: Option<&str>,
    format: &str,
) -> Result<Bytes, WarehouseError> {
    let refused = |message: String| WarehouseError::Query { code: Some(164), statement: String::new(), message };
    // One statement, in the engine's own canonical text (comments gone, literals and identifiers quoted and
    // escaped): what is checked below is exactly what runs. The engine would run every statement of a text.
    let statement: [Param; 1] = [("statement".into(), sql.into())];
    let canonical = server.engine.query("SELECT formatQuery({statement:String})", &statement, "TSVRaw").await?;
    let canonical = String::from_utf8_lossy(&canonical).trim_end_matches('\n').to_string();
    refuse_in_text(&canonical, server.max_execution_time).map_err(refused)?;
    let ast = server.engine.query(&format!("EXPLAIN AST {canonical}"), params, "TabSeparatedRaw").await?;
    let ast = String::from_utf8_lossy(&ast);
    refuse_unsafe(&ast, &server.blocked_functions).map_err(refused)?;
    // SHOW and EXISTS name their database outside the tree's table nodes (`SHOW COLUMNS` not at all): one that
    // mentions the engine's `default` database, which maps names to the machine's files, is refused whole.
    let root = ast.split_whitespace().next().unwrap_or("");
    if (root.starts_with("Show") || root.starts_with("Exists")) && canonical.to_ascii_lowercase().contains("default") {
        return Err(refused(format!(
            "database default is not served: costlake serve reads {DEFAULT_DATABASE} and system"
        )));
    }
    let sql = canonical.as_str();
    if let Some(database) = database {
        server.engine.execute(&format!("USE {database}"), &[]).await?;
    }
    let assignments: Vec<String> = settings.iter().map(|(n, v)| format!("{n} = {}", quoted(v))).collect();
    server.engine.execute(&format!("SET {}", assignments.join(", ")), &[]).await?;
    server.engine.query(sql, params, format).await
}

/// Puts the settings a request applied back to their value at start, and the current database back to
/// costlake's. Statements cannot change the session themselves (`SET` and `USE` are refused): only these can.
async fn restore(server: &Server, settings: &[(String, String)], database_changed: bool) -> anyhow::Result<()> {
    if database_changed {
        server.engine.execute(&format!("USE {DEFAULT_DATABASE}"), &[]).await?;
    }
    let back: Vec<String> = settings
        .iter()
        .filter_map(|(name, _)| server.baseline.get(name).map(|start| format!("{name} = {}", quoted(start))))
        .collect();
    if !back.is_empty() {
        server.engine.execute(&format!("SET {}", back.join(", ")), &[]).await?;
    }
    Ok(())
}

/// The words of a canonical statement outside its string literals and quoted identifiers, upper-cased; an error
/// for a quoted identifier holding an escape or a control character (the syntax tree prints identifiers raw, so
/// a newline in one could forge lines of it).
fn unquoted_words(canonical: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = canonical.chars();
    let mut word = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '`' | '"' => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word).to_ascii_uppercase());
                }
                let mut escaped = false;
                for inner in chars.by_ref() {
                    if escaped {
                        if c != '\'' {
                            return Err("quoted identifiers with escapes are not allowed".into());
                        }
                        escaped = false;
                    } else if inner == '\\' {
                        escaped = true;
                    } else if inner == c {
                        break;
                    } else if c != '\'' && inner.is_control() {
                        return Err("quoted identifiers with control characters are not allowed".into());
                    }
                }
                // A token of its own, so that `name = 'value'` keeps its shape.
                words.push(if c == '\'' { "'…'".into() } else { "`…`".into() });
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' => word.push(c),
            c => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word).to_ascii_uppercase());
                }
                if !c.is_whitespace() {
                    words.push(c.to_string());
                }
            }
        }
    }
    if !word.is_empty() {
        words.push(word.to_ascii_uppercase());
    }
    Ok(words)
}

/// Refuses, from a canonical statement's words: `INTO OUTFILE` in any statement (the embedded engine writes it
/// where a server would refuse), and a `SETTINGS` clause that lifts the time limit.
fn refuse_in_text(canonical: &str, cap: u64) -> Result<(), String> {
    let words = unquoted_words(canonical)?;
    if words.iter().any(|w| w == "OUTFILE") {
        return Err("INTO OUTFILE is not allowed: costlake serve writes nothing".into());
    }
    for (index, word) in words.iter().enumerate() {
        let name = word.to_ascii_lowercase();
        if reads_or_writes_files(&name) {
            return Err(format!("{name} is not allowed: costlake serve reads the warehouse only"));
        }
        // Wherever it is written, the time limit may only be lowered: `max_execution_time = <seconds within the cap>`.
        if TIME_LIMIT_SETTINGS.contains(&name.as_str()) {
            return Err(format!("{name} is the server's: costlake serve stops every query after {cap} s"));
        }
        if name == "max_execution_time" {
            let value = words.get(index + 2).map_or("", String::as_str);
            let within_cap = value.parse::<f64>().is_ok_and(|seconds| seconds > 0.0 && seconds <= cap as f64);
            if words.get(index + 1).is_none_or(|w| w != "=") || !within_cap {
                return Err(format!("{name} is the server's: costlake serve stops every query after {cap} s"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_credentials_the_ways_clickhouse_does() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Basic Z3JhZmFuYTpzM2NyZXQ="));
        assert_eq!(credentials(&headers, &[]), (Some("grafana".into()), Some("s3cret".into())));
        headers.insert("x-clickhouse-user", HeaderValue::from_static("a"));
        headers.insert("x-clickhouse-key", HeaderValue::from_static("b"));
        assert_eq!(credentials(&headers, &[]), (Some("a".into()), Some("b".into())));
        let url = vec![("user".to_string(), "u".to_string()), ("password".to_string(), "p".to_string())];
        assert_eq!(credentials(&HeaderMap::new(), &url), (Some("u".into()), Some("p".into())));
        assert!(same_secret("abc", "abc") && !same_secret("abd", "abc") && !same_secret("ab", "abc"));
    }

    #[test]
    fn finds_the_format_a_statement_asks_for() {
        assert_eq!(format_of("SELECT 1 FORMAT JSONEachRow", "TabSeparated"), "JSONEachRow");
        assert_eq!(format_of("SELECT 1\nformat Native;", "TSV"), "Native");
        assert_eq!(format_of("SELECT 'format'", "TSV"), "TSV");
        assert_eq!(quoted("it's \\"), "'it\\'s \\\\'");
        assert_eq!(unescape_param_value("a\\tb\\\\c"), "a\tb\\c");
    }

    #[test]
    fn refuses_outfile_anywhere_lifted_time_limits_and_escaped_identifiers() {
        let describe = "DESCRIBE TABLE\n(\n    SELECT 1 AS x\n)\nINTO OUTFILE '/tmp/p'";
        assert!(refuse_in_text(describe, 30).unwrap_err().contains("OUTFILE"));
        assert_eq!(refuse_in_text("SELECT 'INTO OUTFILE' AS `outfile`", 30), Ok(()));
        let lifted = "SELECT 1\nSETTINGS max_threads = 1, max_execution_time = 0";
        assert!(refuse_in_text(lifted, 30).unwrap_err().contains("max_execution_time"));
        assert_eq!(refuse_in_text("SELECT 1\nSETTINGS max_execution_time = 5, max_block_size = 1", 30), Ok(()));
        assert!(refuse_in_text("SELECT 1\nSETTINGS max_execution_time = 31", 30).is_err());
        assert!(refuse_in_text("SELECT 1\nSETTINGS timeout_overflow_mode = 'break'", 30).is_err());
        assert!(refuse_in_text("SELECT 1\nSETTINGS max_threads = -1, max_execution_time = 0", 30).is_err());
        assert!(refuse_in_text("SELECT 1\nSETTINGS format_template_row = '/etc/x'", 30).is_err());
        assert!(refuse_in_text("SELECT 1 AS `a\\n Function x`", 30).unwrap_err().contains("escapes"));
        assert!(refuse_in_text("SELECT 1 AS \"a\u{7}\"", 30).unwrap_err().contains("control"));
    }

    #[test]
    fn refuses_what_reads_beyond_the_warehouse() {
        let blocked: std::collections::HashSet<String> = ["file", "url"].iter().map(|s| s.to_string()).collect();
        let select = "SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  SelectQuery (children 1)\n   ExpressionList (children 1)\n    Function file (children 1)\n";
        assert!(refuse_unsafe(select, &blocked).unwrap_err().contains("file()"));
        let outfile = "Explain EXPLAIN (children 2)\n SelectWithUnionQuery (children 1)\n  ExpressionList (children 1)\n   SelectQuery (children 1)\n    ExpressionList (children 1)\n     Literal UInt64_1\n Literal '/tmp/x'\n";
        assert!(refuse_unsafe(outfile, &blocked).unwrap_err().contains("OUTFILE"));
        assert!(refuse_unsafe("InsertQuery (children 1)\n", &blocked).unwrap_err().contains("read-only"));
        let fine = "SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  SelectQuery (children 1)\n   ExpressionList (children 1)\n    Literal UInt64_1\n    Function sum (children 1)\n";
        assert_eq!(refuse_unsafe(fine, &blocked), Ok(()));
    }
}
