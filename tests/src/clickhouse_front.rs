//! A TEST HARNESS, not a product feature: a loopback HTTP server speaking the subset of ClickHouse's HTTP
//! interface that the official `clickhouse` crate uses, executing on the embedded engine.
//!
//! No ClickHouse server newer than 2018 installs on the build machines (Debian's 18.16 has neither Parquet
//! nor window functions), so the server backend is exercised through this front: the unmodified crate sends
//! real HTTP (SQL bodies, `multipart/form-data` parameters, `query=INSERT ... FORMAT Parquet` with a chunked
//! body, `x-clickhouse-user`/`x-clickhouse-key` auth), and errors come back the way ClickHouse sends them
//! (non-200 status, `X-ClickHouse-Exception-Code`, `Code: N. DB::Exception: ...` body).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use costlake_transform::warehouse::http::ServerWarehouse;
use costlake_transform::warehouse::{DEFAULT_DATABASE, SESSION_SETTINGS, Warehouse, WarehouseError};
use futures::StreamExt;
use tokio::sync::oneshot;

struct Front {
    engine: Box<dyn Warehouse>,
    user: String,
    password: String,
    requests: AtomicU64,
}

pub struct ClickHouseFront {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    state: Arc<Front>,
}

impl ClickHouseFront {
    /// Serves `engine` on 127.0.0.1 with the given credentials.
    pub async fn start(engine: Box<dyn Warehouse>, user: &str, password: &str) -> std::io::Result<ClickHouseFront> {
        let state = Arc::new(Front {
            engine,
            user: user.to_string(),
            password: password.to_string(),
            requests: AtomicU64::new(0),
        });
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(ClickHouseFront { addr, shutdown: Some(tx), state })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server backend, connected to this front with its own credentials and the default database.
    pub async fn connect(&self) -> Result<ServerWarehouse, WarehouseError> {
        let password = Some(self.state.password.clone().into());
        ServerWarehouse::connect(&self.url(), &self.state.user, password, DEFAULT_DATABASE).await
    }

    /// HTTP requests served so far (proves the server backend really went over HTTP).
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }
}

impl Drop for ClickHouseFront {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn exception(status: StatusCode, code: i64, message: &str) -> Response {
    let mut response =
        (status, format!("Code: {code}. DB::Exception: {message}. (version costlake-test-front)\n")).into_response();
    response.headers_mut().insert("X-ClickHouse-Exception-Code", code.to_string().parse().expect("digits"));
    response
}

fn from_error(error: WarehouseError) -> Response {
    match error {
        WarehouseError::Query { code, message, .. } => {
            exception(StatusCode::INTERNAL_SERVER_ERROR, code.unwrap_or(1001), &message)
        }
        WarehouseError::Insert { message, .. } => exception(StatusCode::INTERNAL_SERVER_ERROR, 1001, &message),
        other => exception(StatusCode::INTERNAL_SERVER_ERROR, 1001, &other.to_string()),
    }
}

async fn handle(
    State(front): State<Arc<Front>>,
    Query(url): Query<Vec<(String, String)>>,
    request: Request,
) -> Response {
    front.requests.fetch_add(1, Ordering::Relaxed);
    let headers: HeaderMap = request.headers().clone();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if header("x-clickhouse-user") != front.user || header("x-clickhouse-key") != front.password {
        return exception(
            StatusCode::FORBIDDEN,
            516,
            &format!(
                "{}: Authentication failed: password is incorrect, or there is no user with such name",
                header("x-clickhouse-user")
            ),
        );
    }

    let mut fields: HashMap<String, String> = HashMap::new();
    let mut params: Vec<(String, String)> = Vec::new();
    let mut take = |name: String, value: String| {
        if let Some(param) = name.strip_prefix("param_") {
            // On the wire a parameter is in ClickHouse's escaped text form; the engine API takes the value.
            params.push((param.to_string(), costlake_transform::warehouse::unescape_param_value(&value)));
        } else {
            fields.insert(name, value);
        }
    };
    for (name, value) in url {
        take(name, value);
    }

    let is_multipart = header("content-type").starts_with("multipart/form-data");
    let mut body = None;
    if is_multipart {
        let mut multipart = match axum::extract::Multipart::from_request(request, &()).await {
            Ok(m) => m,
            Err(e) => return exception(StatusCode::BAD_REQUEST, 27, &e.to_string()),
        };
        while let Ok(Some(field)) = multipart.next_field().await {
            let name = field.name().unwrap_or("").to_string();
            match field.text().await {
                Ok(value) => take(name, value),
                Err(e) => return exception(StatusCode::BAD_REQUEST, 27, &e.to_string()),
            }
        }
    } else {
        body = Some(request.into_body());
    }

    // Settings: the embedded session already applies costlake's SESSION_SETTINGS; anything else would be
    // silently ignored, so it is refused.
    for (name, value) in &fields {
        match name.as_str() {
            "query" | "database" | "default_format" => {}
            _ if SESSION_SETTINGS.iter().any(|(n, v)| n == name && v == value) => {}
            _ => {
                return exception(
                    StatusCode::BAD_REQUEST,
                    115,
                    &format!("setting {name}={value} is not supported by the test front"),
                );
            }
        }
    }
    if let Some(database) = fields.get("database")
        && database != DEFAULT_DATABASE
    {
        return exception(
            StatusCode::NOT_FOUND,
            81,
            &format!("Database {database} does not exist (the test front serves only {DEFAULT_DATABASE})"),
        );
    }

    let (statement, data) = match fields.remove("query") {
        Some(query) => (query, body),
        None => match body {
            Some(body) => match axum::body::to_bytes(body, usize::MAX).await {
                Ok(bytes) => (String::from_utf8_lossy(&bytes).into_owned(), None),
                Err(e) => return exception(StatusCode::BAD_REQUEST, 27, &e.to_string()),
            },
            None => return exception(StatusCode::BAD_REQUEST, 62, "empty query"),
        },
    };

    if let Some((table, format)) = parse_insert(&statement) {
        let stream = match data {
            Some(body) => body_stream(body),
            None => futures::stream::empty().boxed(),
        };
        return match front.engine.insert(&table, &format, stream).await {
            Ok(()) => (StatusCode::OK, "").into_response(),
            Err(e) => from_error(e),
        };
    }
    let format = fields.get("default_format").cloned().unwrap_or_else(|| "TabSeparated".into());
    match front.engine.query(&statement, &params, &format).await {
        Ok(bytes) => (StatusCode::OK, bytes).into_response(),
        Err(e) => from_error(e),
    }
}

fn body_stream(body: Body) -> futures::stream::BoxStream<'static, Result<Bytes, String>> {
    body.into_data_stream().map(|chunk| chunk.map_err(|e| e.to_string())).boxed()
}

/// `INSERT INTO <table> FORMAT <format>` (what `insert_formatted_with` sends); anything else is a query.
fn parse_insert(statement: &str) -> Option<(String, String)> {
    let words: Vec<&str> = statement.split_whitespace().collect();
    match words.as_slice() {
        [insert, into, table, format_kw, format]
            if insert.eq_ignore_ascii_case("insert")
                && into.eq_ignore_ascii_case("into")
                && format_kw.eq_ignore_ascii_case("format") =>
        {
            Some((table.to_string(), format.to_string()))
        }
        _ => None,
    }
}
