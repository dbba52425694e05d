//! The warehouse: one small interface, two backends running the same SQL.
//! - [`chdb`]: the ClickHouse engine embedded in-process (chDB's `libchdb.so`, loaded at run time), the default;
//! - [`http`]: a ClickHouse server over its HTTP(S) interface, with the official `clickhouse` crate.
//!
//! Every statement is plain ClickHouse SQL against the current database; query parameters are ClickHouse
//! server-side parameters (`{name:Type}` in the SQL, values sent apart), never spliced into the text.

pub mod chdb;
pub mod http;

pub use chdb::TableOpening;

use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use secrecy::SecretString;

/// The database costlake creates and uses (overridable by the path of a server URL).
pub const DEFAULT_DATABASE: &str = "costlake";

/// Settings applied to every session of both backends, so that both behave and print alike: decimals as JSON
/// strings (exact), 64-bit integers as JSON numbers, timestamps in ISO 8601; and inserts formed into blocks of at
/// most 64k rows or 32 MiB (ClickHouse squashes up to 1M rows and 256 MiB by default, which is what bounds the
/// loader's memory otherwise).
pub const SESSION_SETTINGS: &[(&str, &str)] = &[
    ("output_format_json_quote_decimals", "1"),
    ("output_format_json_quote_64bit_integers", "0"),
    ("date_time_output_format", "iso"),
    ("max_insert_block_size", "65536"),
    ("min_insert_block_size_rows", "65536"),
    ("min_insert_block_size_bytes", "33554432"),
];

/// A query parameter: name and value as text. The type comes from the `{name:Type}` placeholder.
pub type Param = (String, String);

/// The text of an `Array(String)` query parameter holding `values` (`['a','b']`), quotes and backslashes escaped.
pub fn string_array<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> String {
    let quoted: Vec<String> =
        values.into_iter().map(|v| format!("'{}'", v.as_ref().replace('\\', "\\\\").replace('\'', "\\'"))).collect();
    format!("[{}]", quoted.join(","))
}

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error(
        "the embedded ClickHouse engine (libchdb.so) could not be loaded from {path}: {reason}; run `make deps` (or scripts/install-chdb.sh) or set COSTLAKE_CHDB_LIB to its path"
    )]
    LibraryMissing { path: String, reason: String },
    #[error(
        "warehouse directory {dir} is in use by another process ({holder}); chDB opens a data directory from one process at a time: wait for it to finish (a `costlake serve` runs until stopped: query through it, or stop it) or use another --warehouse"
    )]
    InUse { dir: String, holder: String },
    #[error("cannot open the warehouse {warehouse}: {reason}")]
    Open { warehouse: String, reason: String },
    #[error("ClickHouse error{} in `{statement}`: {message}", .code.map(|c| format!(" {c}")).unwrap_or_default())]
    Query { code: Option<i64>, statement: String, message: String },
    #[error("cannot reach the ClickHouse server {warehouse}: {reason}; check --warehouse, the server and the network")]
    Unreachable { warehouse: String, reason: String },
    #[error("loading into {table} failed: {message}")]
    Insert { table: String, message: String },
}

impl WarehouseError {
    /// A query error with the statement shortened to its first line, for a one-line message.
    pub fn query(code: Option<i64>, sql: &str, message: &str) -> WarehouseError {
        let statement: String = sql
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty() && !line.starts_with("--"))
            .unwrap_or("")
            .chars()
            .take(80)
            .collect();
        WarehouseError::Query { code, statement, message: first_line(message) }
    }
}

/// ClickHouse messages carry a stack trace and version after the first line; people need the first line.
/// ClickHouse messages carry a stack trace, the version, and sometimes the whole query after the first line;
/// people need the first sentence.
pub fn first_line(message: &str) -> String {
    let line = message.trim().lines().next().unwrap_or("").trim();
    let line = line.split(". (").next().unwrap_or(line);
    let line = line.split(" in scope ").next().unwrap_or(line).trim_end_matches('.');
    if line.chars().count() > 300 {
        format!("{}…", line.chars().take(300).collect::<String>())
    } else {
        line.to_string()
    }
}

pub type Result<T, E = WarehouseError> = std::result::Result<T, E>;

/// A ClickHouse warehouse. Both backends implement it; the conformance suite runs against each.
#[async_trait]
pub trait Warehouse: Send + Sync {
    /// Where it is, safe to log (never credentials).
    fn describe(&self) -> String;

    /// Whether the engine itself lets one process at a time use this warehouse (the embedded engine locks its
    /// directory), so a load needs no lease ([`crate::lease`]) to keep other loads out.
    fn exclusive(&self) -> bool {
        false
    }

    /// Whether the engine runs on this machine and reads its files (the embedded engine; a server's files are
    /// its own), so a load from a local lake has it read the Parquet files itself, many per statement
    /// (`INSERT … SELECT * FROM file(…)`), rather than streaming each one to it.
    fn reads_local_files(&self) -> bool {
        false
    }

    /// Runs one statement that returns no rows (DDL, `INSERT ... SELECT`, `DELETE`).
    async fn execute(&self, sql: &str, params: &[Param]) -> Result<()>;

    /// Runs one query and returns its output in a ClickHouse output format (e.g. `JSONCompactEachRowWithNamesAndTypes`).
    async fn query(&self, sql: &str, params: &[Param], format: &str) -> Result<Bytes>;

    /// Streams data in a ClickHouse input format (`Parquet`) into `table`. An error in the stream aborts the
    /// insert. ClickHouse inserts are not transactional across blocks: callers verify and make loads
    /// idempotent themselves (see `load`).
    async fn insert(
        &self,
        table: &str,
        format: &str,
        data: BoxStream<'static, std::result::Result<Bytes, String>>,
    ) -> Result<()>;
}

/// What `--warehouse` means.
#[derive(Debug, Clone)]
pub enum WarehouseLocation {
    /// A directory for the embedded engine.
    Embedded { dir: PathBuf, library: Option<PathBuf> },
    /// A ClickHouse server: `http(s)://[user[:password]@]host:port[/database]`.
    Server { url: String, user: String, password: Option<SecretString>, database: String },
}

impl WarehouseLocation {
    /// Parses `--warehouse`. Credentials may be in the URL; `password` (from `COSTLAKE_CLICKHOUSE_PASSWORD`)
    /// wins, and keeps the password out of shell history and process listings.
    pub fn parse(
        value: &str,
        library: Option<PathBuf>,
        user: Option<String>,
        password: Option<SecretString>,
    ) -> Result<WarehouseLocation> {
        if !(value.starts_with("http://") || value.starts_with("https://")) {
            if value.contains("://") {
                return Err(WarehouseError::Open {
                    warehouse: value.to_string(),
                    reason: "unsupported scheme: use a directory (embedded) or http(s)://host:8123/database".into(),
                });
            }
            return Ok(WarehouseLocation::Embedded { dir: PathBuf::from(value), library });
        }
        let mut url = url::Url::parse(value).map_err(|e| WarehouseError::Open {
            warehouse: "(the --warehouse URL)".into(),
            reason: format!("invalid URL: {e}"),
        })?;
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let url_user = (!url.username().is_empty()).then(|| decode(url.username()));
        let url_password = url.password().map(decode);
        let database = url.path().trim_matches('/').to_string();
        let database = if database.is_empty() { DEFAULT_DATABASE.to_string() } else { database };
        if !database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(WarehouseError::Open {
                warehouse: value.to_string(),
                reason: format!("database name {database:?} must be letters, digits and underscores"),
            });
        }
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_path("");
        url.set_query(None);
        Ok(WarehouseLocation::Server {
            url: url.as_str().trim_end_matches('/').to_string(),
            user: user.or(url_user).unwrap_or_else(|| "default".into()),
            password: password.or(url_password.map(SecretString::from)),
            database,
        })
    }
}

impl std::fmt::Display for WarehouseLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WarehouseLocation::Embedded { dir, .. } => {
                write!(f, "embedded ClickHouse (chDB) at {}", dir.display())
            }
            WarehouseLocation::Server { url, user, database, .. } => {
                write!(f, "ClickHouse server {url} (database {database}, user {user})")
            }
        }
    }
}

/// Opens the warehouse: loads the engine or checks the server, and makes the database current.
pub async fn open(location: &WarehouseLocation) -> Result<Box<dyn Warehouse>> {
    open_with(location, TableOpening::AtStart).await
}

/// [`open`], an embedded warehouse's tables opened as `opening` says (a server has them open already).
pub async fn open_with(location: &WarehouseLocation, opening: TableOpening) -> Result<Box<dyn Warehouse>> {
    match location {
        WarehouseLocation::Embedded { dir, library } => {
            Ok(Box::new(chdb::EmbeddedWarehouse::open_with(dir.clone(), library.clone(), opening).await?))
        }
        WarehouseLocation::Server { url, user, password, database } => {
            Ok(Box::new(http::ServerWarehouse::connect(url, user, password.clone(), database).await?))
        }
    }
}

/// Escapes a parameter value for ClickHouse's escaped-text reader, which both the HTTP interface and chDB's
/// parameter binding use to parse `param_*` values. The value stays data: it is never part of the SQL.
pub fn escape_param_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses ClickHouse's escaped-text form of a `param_*` value as an HTTP client sends it (`\\t`, `\\n`, `\\'`,
/// `\\\\`, ...): what a server of that interface (`costlake serve`, the tests' ClickHouse front) binds.
pub fn unescape_param_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn parses_server_urls_and_keeps_credentials_out_of_display() {
        let location =
            WarehouseLocation::parse("https://alice:s%40cret@ch.example:8443/finops", None, None, None).unwrap();
        let WarehouseLocation::Server { url, user, password, database } = &location else { panic!() };
        assert_eq!((url.as_str(), user.as_str(), database.as_str()), ("https://ch.example:8443", "alice", "finops"));
        assert_eq!(password.as_ref().unwrap().expose_secret(), "s@cret");
        let shown = format!("{location} {location:?}");
        assert!(!shown.contains("s@cret") && !shown.contains("s%40cret"), "{shown}");

        let location =
            WarehouseLocation::parse("http://127.0.0.1:8123", None, None, Some("p".to_string().into())).unwrap();
        let WarehouseLocation::Server { user, database, password, .. } = location else { panic!() };
        assert_eq!((user.as_str(), database.as_str()), ("default", DEFAULT_DATABASE));
        assert_eq!(password.unwrap().expose_secret(), "p");

        assert!(matches!(
            WarehouseLocation::parse("./wh", None, None, None).unwrap(),
            WarehouseLocation::Embedded { .. }
        ));
        assert!(WarehouseLocation::parse("tcp://x:9000", None, None, None).is_err());
        assert!(WarehouseLocation::parse("http://x:8123/bad-name", None, None, None).is_err());
    }

    #[test]
    fn errors_are_one_line() {
        let err = WarehouseError::query(
            Some(60),
            "\n-- header\nSELECT * FROM nowhere\nWHERE 1",
            "Unknown table expression identifier 'nowhere' in scope SELECT * FROM nowhere. (UNKNOWN_TABLE) (version 26.7.2.1)\nStack trace:...",
        );
        assert_eq!(
            err.to_string(),
            "ClickHouse error 60 in `SELECT * FROM nowhere`: Unknown table expression identifier 'nowhere'"
        );
        assert_eq!(escape_param_value("a\tb\\c\n"), "a\\tb\\\\c\\n");
    }
}
