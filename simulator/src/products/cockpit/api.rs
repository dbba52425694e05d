//! Handlers of the Cockpit API: the control plane (`/cockpit/v1/regions/{region}/{data-sources,tokens}`, behind
//! the gateway's `X-Auth-Token`) and the data plane of each metrics data source
//! (`/cockpit-data/{data_source_id}/prometheus/api/v1/…`, authenticated by a Cockpit token's secret in `X-Token`).
//!
//! The data plane answers for the **metrics clock**, the billing clock's date at 04:00 UTC, read per request.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::databases::build_db_series;
use super::promql::{Selector, parse_duration, parse_time};
use super::{COCKPIT_REGIONS, DbSeries, Line, SAMPLE_SECONDS, Series, build_series};
use crate::http::{ApiError, Handled, Params, json_bytes_response, json_response, require_region};
use crate::ids::{IdStream, api_ts, fnv1a, splitmix64, uuid_from};
use crate::listing::{BLOCK_ORDERS, Item, SortKey, apply_order, filtered, sort};
use crate::org::Organization;
use crate::paging::{Page, total_count_body};
use crate::wire::Style;

/// Prometheus refuses range queries of more points than this per series.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

const SAMPLE_MS: i64 = SAMPLE_SECONDS * 1000;

/// Every scope a Cockpit token can carry.
const TOKEN_SCOPES: [&str; 9] = [
    "read_only_metrics",
    "write_only_metrics",
    "full_access_metrics_rules",
    "read_only_logs",
    "write_only_logs",
    "full_access_logs_rules",
    "full_access_alert_manager",
    "read_only_traces",
    "write_only_traces",
];

/// The scopes that let a token query metrics.
const METRICS_READ_SCOPES: [&str; 2] = ["read_only_metrics", "full_access_metrics_rules"];

const DATA_SOURCE_TYPES: [&str; 4] = ["unknown_type", "metrics", "logs", "traces"];
const DATA_SOURCE_ORIGINS: [&str; 4] = ["unknown_origin", "scaleway", "external", "custom"];

#[derive(Debug, Clone)]
struct Token {
    id: String,
    project_id: String,
    name: String,
    created_at: DateTime<Utc>,
    scopes: Vec<String>,
    secret_key: String,
    region: String,
}

impl Token {
    fn json(&self, with_secret: bool) -> Value {
        let mut v = json!({
            "id": self.id,
            "project_id": self.project_id,
            "name": self.name,
            "created_at": api_ts(self.created_at),
            "updated_at": api_ts(self.created_at),
            "scopes": self.scopes,
        });
        if with_secret {
            v["secret_key"] = json!(self.secret_key);
        }
        v["region"] = json!(self.region);
        v
    }
}

/// The project and region of a metrics data source.
#[derive(Debug, Clone)]
struct Source {
    project_id: String,
    region: String,
}

/// What the Cockpit handlers serve from.
pub(crate) struct Cockpit {
    organization_id: String,
    project_ids: Vec<String>,
    style: Style,
    seed: u64,
    /// Every data source of every project × region, rendered, in creation order.
    data_sources: Vec<Item>,
    /// The metrics data sources, by id.
    metrics_sources: HashMap<String, Source>,
    series: Vec<Series>,
    /// The series of every database.
    databases: Vec<DbSeries>,
    /// The live tokens, in creation order.
    tokens: Mutex<Vec<Token>>,
    /// The secret of every token ever created, deleted ones too (for tests that look for leaks).
    issued_secrets: Mutex<Vec<String>>,
    tokens_created: AtomicU64,
    points_served: AtomicU64,
    /// The (start, end) of every `query_range` answered, in milliseconds, in the order they came.
    ranges_served: Mutex<Vec<(i64, i64)>>,
}

impl Cockpit {
    /// `base_url` is the simulator's own address: each metrics data source's `url` points at its data plane there.
    pub(crate) fn new(org: &Organization, seed: u64, style: Style, base_url: &str) -> Cockpit {
        let mut data_sources = Vec::new();
        let mut metrics_sources = HashMap::new();
        for project in &org.projects {
            for region in COCKPIT_REGIONS {
                let mut rng = IdStream::new(seed ^ fnv1a(&project.id), &format!("cockpit/{region}"));
                let metrics_id = rng.uuid();
                let logs_id = rng.uuid();
                let created = project.created_at
                    + Duration::days(1 + rng.below(20) as i64)
                    + Duration::microseconds(rng.below(1_000_000) as i64);
                let logs_created = created + Duration::microseconds(5_000 + rng.below(1_000) as i64);
                let metrics_url = format!("{base_url}/cockpit-data/{metrics_id}");
                let logs_url = format!("https://{logs_id}.logs.cockpit.{region}.scw.cloud");
                for (id, name, kind, retention, at, url) in [
                    (&metrics_id, "Scaleway Metrics", "metrics", 31, created, metrics_url),
                    (&logs_id, "Scaleway Logs", "logs", 7, logs_created, logs_url),
                ] {
                    let json = json!({
                        "created_at": api_ts(at),
                        "id": id,
                        "name": name,
                        "origin": "scaleway",
                        "project_id": project.id,
                        "region": region,
                        "retention_days": retention,
                        "synchronized_with_grafana": true,
                        "type": kind,
                        "updated_at": api_ts(at),
                        "url": url,
                    });
                    data_sources.push(Item::new(id, name, &project.id, at, at, json));
                }
                metrics_sources
                    .insert(metrics_id, Source { project_id: project.id.clone(), region: region.to_string() });
            }
        }
        sort(&mut data_sources, SortKey::CreatedAsc);
        Cockpit {
            organization_id: org.id.clone(),
            project_ids: org.projects.iter().map(|p| p.id.clone()).collect(),
            style,
            seed,
            data_sources,
            metrics_sources,
            series: build_series(org, seed),
            databases: build_db_series(org, seed),
            tokens: Mutex::new(Vec::new()),
            issued_secrets: Mutex::new(Vec::new()),
            tokens_created: AtomicU64::new(0),
            points_served: AtomicU64::new(0),
            ranges_served: Mutex::new(Vec::new()),
        }
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, Vec<Token>> {
        self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The ids of the tokens created and not deleted, in creation order.
    pub(crate) fn live_tokens(&self) -> Vec<String> {
        self.tokens().iter().map(|t| t.id.clone()).collect()
    }

    /// The secret of every token created so far, deleted ones included.
    pub(crate) fn issued_secrets(&self) -> Vec<String> {
        self.issued_secrets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The number of points (`values` entries) served by every `query_range` so far.
    pub(crate) fn points_served(&self) -> u64 {
        self.points_served.load(Ordering::Relaxed)
    }

    /// The (start, end) of every `query_range` answered so far, in milliseconds.
    pub(crate) fn ranges_served(&self) -> Vec<(i64, i64)> {
        self.ranges_served.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Control plane

/// `GET /cockpit/v1/regions/{region}/data-sources`.
pub(crate) fn data_sources(c: &Cockpit, region: &str, uri: &Uri) -> Handled {
    require_region(region, &COCKPIT_REGIONS)?;
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let types = params.all("types");
    if let Some(bad) = types.iter().find(|t| !DATA_SOURCE_TYPES.contains(t)) {
        return Err(ApiError::invalid("types", &format!("unknown type {bad}")));
    }
    let origin = params.get("origin").filter(|o| !o.is_empty());
    if let Some(bad) = origin.filter(|o| !DATA_SOURCE_ORIGINS.contains(o)) {
        return Err(ApiError::invalid("origin", &format!("unknown origin {bad}")));
    }
    let mut items: Vec<&Item> = filtered(&c.organization_id, &c.data_sources, None, params.get("project_id"))
        .into_iter()
        .filter(|i| i.json["region"] == region)
        .filter(|i| types.is_empty() || types.iter().any(|t| i.json["type"] == *t))
        .filter(|i| origin.is_none_or(|o| i.json["origin"] == o))
        .collect();
    apply_order(&mut items, &params, "order_by", &BLOCK_ORDERS, "created_at_asc")?;
    let values: Vec<Value> = page.slice(&items).iter().map(|i| i.json.clone()).collect();
    Ok(json_response(
        StatusCode::OK,
        &total_count_body(c.style, "data_sources", values, items.len(), false),
        HeaderMap::new(),
    ))
}

/// `POST /cockpit/v1/regions/{region}/tokens`, JSON body `{"project_id", "name", "token_scopes": [...]}`.
pub(crate) fn create_token(c: &Cockpit, region: &str, body: &[u8], clock_ms: i64) -> Handled {
    require_region(region, &COCKPIT_REGIONS)?;
    let request: Value = serde_json::from_slice(body).map_err(|_| ApiError::invalid("body", "invalid JSON"))?;
    let project_id = request["project_id"].as_str().unwrap_or("");
    if !c.project_ids.iter().any(|p| p == project_id) {
        return Err(ApiError::invalid("project_id", "must be the id of a project of the organization"));
    }
    let name = match &request["name"] {
        Value::Null => "",
        Value::String(s) => s,
        _ => return Err(ApiError::invalid("name", "must be a string")),
    };
    let scopes: Vec<String> = match &request["token_scopes"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| ApiError::invalid("token_scopes", "must be a list of strings"))?,
        _ => return Err(ApiError::invalid("token_scopes", "must be a list of strings")),
    };
    if scopes.is_empty() {
        return Err(ApiError::invalid("token_scopes", "must not be empty"));
    }
    if let Some(bad) = scopes.iter().find(|s| !TOKEN_SCOPES.contains(&s.as_str())) {
        return Err(ApiError::invalid("token_scopes", &format!("unknown scope {bad}")));
    }
    // Ids, secrets and dates are deterministic too: the seed and the creation order.
    let n = c.tokens_created.fetch_add(1, Ordering::SeqCst);
    let base = c.seed ^ fnv1a("cockpit-token");
    let draw = |k: u32| splitmix64(base.rotate_left(k) ^ n);
    let created_at = DateTime::from_timestamp_millis(clock_ms).unwrap_or_default()
        + Duration::seconds(n as i64)
        + Duration::microseconds((draw(53) % 1_000_000) as i64);
    let token = Token {
        id: uuid_from(draw(0), draw(11)),
        project_id: project_id.to_string(),
        name: name.to_string(),
        created_at,
        scopes,
        secret_key: uuid_from(draw(23), draw(37)),
        region: region.to_string(),
    };
    let body = token.json(true);
    c.issued_secrets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(token.secret_key.clone());
    c.tokens().push(token);
    Ok(json_response(StatusCode::OK, &body, HeaderMap::new()))
}

/// `GET /cockpit/v1/regions/{region}/tokens` (secrets are never listed).
pub(crate) fn list_tokens(c: &Cockpit, region: &str, uri: &Uri) -> Handled {
    require_region(region, &COCKPIT_REGIONS)?;
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let scopes = params.all("token_scopes");
    let items: Vec<Item> = c
        .tokens()
        .iter()
        .filter(|t| t.region == region)
        .filter(|t| scopes.is_empty() || t.scopes.iter().any(|s| scopes.contains(&s.as_str())))
        .map(|t| Item::new(&t.id, &t.name, &t.project_id, t.created_at, t.created_at, t.json(false)))
        .collect();
    let mut items = filtered(&c.organization_id, &items, None, params.get("project_id"));
    apply_order(&mut items, &params, "order_by", &BLOCK_ORDERS, "created_at_asc")?;
    let values: Vec<Value> = page.slice(&items).iter().map(|i| i.json.clone()).collect();
    Ok(json_response(
        StatusCode::OK,
        &total_count_body(c.style, "tokens", values, items.len(), false),
        HeaderMap::new(),
    ))
}

/// `DELETE /cockpit/v1/regions/{region}/tokens/{token_id}`: 204, or 404 for a token unknown in that region.
pub(crate) fn delete_token(c: &Cockpit, region: &str, token_id: &str) -> Handled {
    require_region(region, &COCKPIT_REGIONS)?;
    let mut tokens = c.tokens();
    let index = tokens.iter().position(|t| t.id == token_id && t.region == region).ok_or(ApiError::NotFound)?;
    tokens.remove(index);
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

// ---------------------------------------------------------------------------------------------------------------
// Data plane

/// The Prometheus API endpoints a data source serves.
#[derive(Debug, Clone)]
pub(crate) enum Endpoint {
    /// `label/{name}/values`.
    LabelValues(String),
    Series,
    QueryRange,
}

/// A Prometheus API error: `{"status":"error","errorType":…,"error":…}`.
struct PromError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl PromError {
    fn bad_data(message: String) -> PromError {
        PromError { status: StatusCode::BAD_REQUEST, kind: "bad_data", message }
    }

    fn bad_param(param: &str, message: &str) -> PromError {
        PromError::bad_data(format!("invalid parameter \"{param}\": {message}"))
    }

    fn response(self) -> Response {
        let body = json!({"status": "error", "errorType": self.kind, "error": self.message});
        json_response(self.status, &body, HeaderMap::new())
    }
}

fn success(data: &str) -> Response {
    json_bytes_response(
        StatusCode::OK,
        format!(r#"{{"status":"success","data":{data}}}"#).into_bytes(),
        HeaderMap::new(),
    )
}

/// Serves one Prometheus API request against data source `ds` at metrics clock `clock_ms`. GET parameters come
/// from the query string; a POST may also send them as a form body.
pub(crate) fn data_plane(
    c: &Cockpit,
    ds: &str,
    endpoint: Endpoint,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
    clock_ms: i64,
) -> Response {
    match serve(c, ds, endpoint, headers, uri, body, clock_ms) {
        Ok(response) => response,
        Err(e) => e.response(),
    }
}

fn serve(
    c: &Cockpit,
    ds: &str,
    endpoint: Endpoint,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
    clock_ms: i64,
) -> Result<Response, PromError> {
    let source = c.metrics_sources.get(ds).ok_or_else(|| PromError {
        status: StatusCode::NOT_FOUND,
        kind: "not_found",
        message: "data source not found".to_string(),
    })?;
    let secret = headers.get("x-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    let authorised = !secret.is_empty()
        && c.tokens().iter().any(|t| {
            t.secret_key == secret
                && t.project_id == source.project_id
                && t.region == source.region
                && t.scopes.iter().any(|s| METRICS_READ_SCOPES.contains(&s.as_str()))
        });
    if !authorised {
        return Err(PromError {
            status: StatusCode::UNAUTHORIZED,
            kind: "unauthorized",
            message: "invalid token".to_string(),
        });
    }
    let bad_encoding = |_| PromError::bad_data("invalid URL-encoded parameters".to_string());
    let mut params = Params::parse(uri.query()).map_err(bad_encoding)?;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form && !body.is_empty() {
        let form = std::str::from_utf8(body).map_err(|_| PromError::bad_data("invalid form body".to_string()))?;
        params.extend(Params::parse(Some(form)).map_err(bad_encoding)?);
    }
    let mine = |project: &str, region: &str| project == source.project_id && region == source.region;
    let servers: Vec<&Series> = c.series.iter().filter(|s| mine(&s.project_id, &s.region)).collect();
    let databases: Vec<&DbSeries> = c.databases.iter().filter(|d| mine(&d.project_id, &d.region)).collect();
    let lines = Line::all(&servers, &databases);
    match endpoint {
        Endpoint::LabelValues(label) => label_values(&lines, &label, &params, clock_ms),
        Endpoint::Series => list_series(&lines, &params, clock_ms),
        Endpoint::QueryRange => query_range(c, &lines, &params, clock_ms),
    }
}

/// The `match[]` selectors of a request.
fn selectors(params: &Params) -> Result<Vec<Selector>, PromError> {
    params
        .values("match[]")
        .into_iter()
        .map(|m| Selector::parse(m).map_err(|e| PromError::bad_param("match[]", &e)))
        .collect()
}

/// The optional `start` and `end` of the metadata endpoints (the whole retention by default).
fn optional_range(params: &Params) -> Result<(i64, i64), PromError> {
    let time = |key: &str, default: i64| match params.get(key) {
        None | Some("") => Ok(default),
        Some(v) => parse_time(v)
            .ok_or_else(|| PromError::bad_param(key, &format!("cannot parse \"{v}\" to a valid timestamp"))),
    };
    Ok((time("start", i64::MIN)?, time("end", i64::MAX)?))
}

/// Every series selected by one of `selectors` (or all, when there are none) with a sample in the range.
fn selected<'a>(lines: &[Line<'a>], selectors: &[Selector], (start, end): (i64, i64), clock_ms: i64) -> Vec<Line<'a>> {
    lines
        .iter()
        .filter(|line| {
            let labels = line.labels();
            selectors.is_empty() || selectors.iter().any(|sel| sel.matches(&labels))
        })
        .filter(|line| line.load().has_sample_in(clock_ms, start, end))
        .copied()
        .collect()
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn labels_json(line: &Line<'_>) -> String {
    let fields: Vec<String> =
        line.labels().iter().map(|(name, value)| format!("{}:{}", json_str(name), json_str(value))).collect();
    format!("{{{}}}", fields.join(","))
}

/// `label/{name}/values?match[]=…&start=&end=`: the sorted distinct values of a label.
fn label_values(lines: &[Line<'_>], label: &str, params: &Params, clock_ms: i64) -> Result<Response, PromError> {
    let valid = label.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(PromError::bad_data(format!("invalid label name: \"{label}\"")));
    }
    let selected = selected(lines, &selectors(params)?, optional_range(params)?, clock_ms);
    let mut values: Vec<&str> = selected
        .iter()
        .filter_map(|line| line.labels().into_iter().find(|(name, _)| *name == label).map(|(_, v)| v))
        .filter(|v| !v.is_empty())
        .collect();
    values.sort_unstable();
    values.dedup();
    let data: Vec<String> = values.iter().map(|v| json_str(v)).collect();
    Ok(success(&format!("[{}]", data.join(","))))
}

/// `series?match[]=…&start=&end=`: the label sets of the selected series with a sample in the range.
fn list_series(lines: &[Line<'_>], params: &Params, clock_ms: i64) -> Result<Response, PromError> {
    let selectors = selectors(params)?;
    if selectors.is_empty() {
        return Err(PromError::bad_data("no match[] parameter provided".to_string()));
    }
    let selected = selected(lines, &selectors, optional_range(params)?, clock_ms);
    let data: Vec<String> = selected.iter().map(labels_json).collect();
    Ok(success(&format!("[{}]", data.join(","))))
}

/// A Prometheus timestamp in a response: Unix seconds, with the milliseconds when there are any.
#[cfg(test)]
fn render_time(ms: i64) -> String {
    let mut out = String::new();
    write_time(&mut out, ms);
    out
}

/// Writes a Prometheus timestamp (Unix seconds, with the milliseconds when there are any) as `Display` writes
/// `ms as f64 / 1000.0`. A whole second is written from the integer: formatting a float for each of a
/// query's points was, with each point's value, most of the simulator's CPU time serving 1,000 servers' metrics,
/// and the simulator shares its machine with the collector that the latency bench measures.
fn write_time(out: &mut String, ms: i64) {
    // Times are clamped to ±10^15 ms when parsed: exact as f64, so both forms read the same.
    if ms % 1000 == 0 {
        let _ = write!(out, "{}", ms / 1000);
    } else {
        let _ = write!(out, "{}", ms as f64 / 1000.0);
    }
}

/// Writes a sample's value as Rust's `Display` writes it (the shortest text that reads back as the same number),
/// a value of whole hundredths (CPU seconds in ticks, bytes, counts) from integers, as [`write_time`] does.
fn write_value(out: &mut String, value: f64) {
    let hundredths = (value * 100.0).round();
    // Below 10^13 a value has at most 15 significant digits in hundredths, so no shorter text reads back as it:
    // the digits are the ones `Display` finds.
    if value.is_sign_positive() && value < 1e13 && hundredths / 100.0 == value {
        let hundredths = hundredths as u64;
        let (whole, fraction) = (hundredths / 100, hundredths % 100);
        let _ = match fraction {
            0 => write!(out, "{whole}"),
            tenths if tenths % 10 == 0 => write!(out, "{whole}.{}", tenths / 10),
            _ => write!(out, "{whole}.{fraction:02}"),
        };
    } else {
        let _ = write!(out, "{value}");
    }
}

/// `query_range?query=&start=&end=&step=`: a matrix, one point per evaluation time `start + k × step ≤ end`
/// whose latest sample is less than 300 s old (as Prometheus 3: a sample exactly 5 minutes old is stale).
fn query_range(c: &Cockpit, lines: &[Line<'_>], params: &Params, clock_ms: i64) -> Result<Response, PromError> {
    let time = |key: &str| {
        let v = params.get(key).unwrap_or("");
        parse_time(v).ok_or_else(|| PromError::bad_param(key, &format!("cannot parse \"{v}\" to a valid timestamp")))
    };
    let start = time("start")?;
    let end = time("end")?;
    if end < start {
        return Err(PromError::bad_param("end", "end timestamp must not be before start time"));
    }
    let raw_step = params.get("step").unwrap_or("");
    let step = parse_duration(raw_step)
        .ok_or_else(|| PromError::bad_param("step", &format!("cannot parse \"{raw_step}\" to a valid duration")))?;
    if step <= 0 {
        return Err(PromError::bad_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step + 1 > MAX_POINTS_PER_SERIES {
        return Err(PromError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution \
             (?step=XX)"
                .to_string(),
        ));
    }
    let query = params.get("query").unwrap_or("");
    let selector = Selector::parse(query).map_err(|e| PromError::bad_param("query", &e))?;

    let mut out = String::from(r#"{"resultType":"matrix","result":["#);
    let mut points = 0u64;
    let mut first_series = true;
    for line in lines {
        if !selector.matches(&line.labels()) {
            continue;
        }
        let Some((first, last)) = line.load().sample_range(clock_ms) else {
            continue;
        };
        // Evaluation times with a sample less than 300 s old: [first, last + 300 s).
        let from = start.max(first);
        let to = end.min(last + SAMPLE_MS - 1);
        if from > to {
            continue;
        }
        // Timestamps are clamped to ±10^15 ms when parsed, so these differences cannot overflow.
        let k0 = (from - start) / step + i64::from((from - start) % step != 0);
        let k1 = (to - start) / step;
        if k0 > k1 {
            continue;
        }
        if !first_series {
            out.push(',');
        }
        first_series = false;
        let _ = write!(out, r#"{{"metric":{},"values":["#, labels_json(line));
        for k in k0..=k1 {
            let t = start + k * step;
            let sample = (t.div_euclid(SAMPLE_MS) * SAMPLE_MS).min(last);
            if k > k0 {
                out.push(',');
            }
            out.push('[');
            write_time(&mut out, t);
            out.push_str(",\"");
            write_value(&mut out, line.value(sample));
            out.push_str("\"]");
            points += 1;
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    c.points_served.fetch_add(points, Ordering::Relaxed);
    c.ranges_served.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((start, end));
    Ok(success(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_render_like_prometheus() {
        assert_eq!(render_time(1_754_006_400_000), "1754006400");
        assert_eq!(render_time(1_754_006_400_123), "1754006400.123");
        assert_eq!(render_time(1_754_006_400_500), "1754006400.5");
        assert_eq!(render_time(-1_500), "-1.5");
        assert_eq!(render_time(-2_000), "-2");
    }

    #[test]
    fn values_render_as_display_does() {
        let mut values = vec![0.0, -0.0, 0.1 + 0.2, 1e13, 1e13 - 0.01, 9.99e12, 1e-7, 123.456, -1.5, 0.5, 2.05, 1e300];
        values.extend([f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MIN_POSITIVE, f64::MAX]);
        let mut state = 42u64;
        for _ in 0..200_000 {
            state = splitmix64(state);
            let hundredths = (state >> 20) % 1_000_000_000_000_000; // below 10^15 hundredths
            values.push(hundredths as f64 / 100.0);
            values.push((hundredths % 1_000_000) as f64 / 100.0);
            values.push(f64::from_bits(state).abs());
            values.push((state % 100_000) as f64);
        }
        for value in values {
            let mut written = String::new();
            write_value(&mut written, value);
            assert_eq!(written, format!("{value}"), "{value:?}");
        }
    }
}
