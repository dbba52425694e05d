//! The loopback HTTP server: routes, authentication, fault injection and list responses.

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::SimConfig;
use crate::billing::Book;
use crate::billing_api;
use crate::catalog::{BLOCK_ZONES, INSTANCE_ZONES};
use crate::faults::{Fault, Faults};
use crate::ids::{fnv1a, splitmix64, uuid_from};
use crate::org::Organization;
use crate::paging::Page;
use crate::wire::{self, CatalogProduct, Style};

/// What the recorded gateway calls itself.
const GATEWAY: &str = "Scaleway API Gateway (fr-par-3;edge01)";

/// Request counters, as seen by clients (one count per response served).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimStats {
    pub requests: u64,
    pub ok: u64,
    /// 429 served.
    pub rate_limited: u64,
    /// 5xx served.
    pub server_errors: u64,
    /// 401 served.
    pub unauthorized: u64,
    /// 403 served.
    pub forbidden: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    ok: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    unauthorized: AtomicU64,
    forbidden: AtomicU64,
}

impl Counters {
    fn record(&self, status: StatusCode) {
        let counter = match status.as_u16() {
            200..=299 => &self.ok,
            401 => &self.unauthorized,
            403 => &self.forbidden,
            429 => &self.rate_limited,
            500..=599 => &self.server_errors,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> SimStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SimStats {
            requests: get(&self.requests),
            ok: get(&self.ok),
            rate_limited: get(&self.rate_limited),
            server_errors: get(&self.server_errors),
            unauthorized: get(&self.unauthorized),
            forbidden: get(&self.forbidden),
        }
    }
}

/// A running simulator. Dropping it stops the server (in the background); [`Simulator::shutdown`] waits for it.
pub struct Simulator {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Builds the organisation for `config`, binds 127.0.0.1 (`port`, or an ephemeral one) and serves in a
    /// background task of the current tokio runtime.
    pub async fn start(config: SimConfig, port: Option<u16>) -> io::Result<Simulator> {
        config.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let org = Organization::build(&config);
        let data = Dataset::new(&org, Style { money_as_strings: config.money_as_strings });
        let billing = Book::build(&org, &config);
        let state = Arc::new(AppState {
            faults: Faults::new(&config),
            request_ids: AtomicU64::new(0),
            last_charges: std::sync::Mutex::new(None),
            stats: Counters::default(),
            data,
            billing,
            billing_day: AtomicI32::new(config.billing_date().num_days_from_ce()),
            config,
        });
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port.unwrap_or(0))).await?;
        let addr = listener.local_addr()?;
        let app = router(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serving.await {
                tracing::warn!(error = %e, "Scaleway simulator stopped with an error");
            }
        });
        tracing::info!(%addr, "Scaleway simulator listening");
        Ok(Simulator { addr, state, shutdown: Some(tx), task: Some(task) })
    }

    /// `http://127.0.0.1:PORT`, to use in place of `https://api.scaleway.com`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn config(&self) -> &SimConfig {
        &self.state.config
    }

    pub fn stats(&self) -> SimStats {
        self.state.stats.snapshot()
    }

    /// Moves the billing clock: from the next request on, the Billing API answers as if it were `date` (month-to-date
    /// consumptions, invoices and charges cover the complete days before it). The inventory does not change.
    pub fn set_billing_today(&self, date: NaiveDate) {
        self.state.billing_day.store(date.num_days_from_ce(), Ordering::SeqCst);
    }

    /// The billing clock's current date (initially `billing_today`, or `today`).
    pub fn billing_today(&self) -> NaiveDate {
        self.state.billing_today()
    }

    /// Stops accepting connections and waits (up to 5 s for lingering connections) for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").field("base_url", &self.base_url()).field("stats", &self.stats()).finish()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub(crate) struct AppState {
    pub(crate) config: SimConfig,
    data: Dataset,
    pub(crate) billing: Book,
    /// The billing clock, as days since 0001-01-01 (shared with [`Simulator::set_billing_today`]).
    billing_day: AtomicI32,
    faults: Faults,
    stats: Counters,
    request_ids: AtomicU64,
    /// The last charges listing, by its query and billing day: a client pages through one listing, and
    /// rebuilding it for every page made a large organisation's charges quadratic to serve.
    pub(crate) last_charges: std::sync::Mutex<Option<(String, ChargeListing)>>,
}

/// A charges listing: (day, index into the book's resources), in the order served.
pub(crate) type ChargeListing = Arc<Vec<(NaiveDate, usize)>>;

impl AppState {
    pub(crate) fn style(&self) -> Style {
        self.data.style
    }

    pub(crate) fn billing_today(&self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.billing_day.load(Ordering::SeqCst)).unwrap_or(self.config.today)
    }

    /// Request ids are deterministic too (seed and arrival order), so logs of two runs can be diffed.
    fn next_request_id(&self) -> String {
        let n = self.request_ids.fetch_add(1, Ordering::Relaxed);
        let base = self.config.seed ^ fnv1a("request-id");
        uuid_from(splitmix64(base ^ n), splitmix64(base.rotate_left(17) ^ n))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid argument(s)")]
    InvalidArguments(BTreeMap<String, Vec<String>>),
    #[error("zone {0} is not available for this API")]
    UnknownZone(String),
    #[error("resource is not found")]
    NotFound,
    #[error("authentication is denied")]
    Unauthenticated,
    #[error("insufficient permissions")]
    PermissionDenied { resource: &'static str },
    #[error("service unavailable")]
    Unavailable,
}

impl ApiError {
    pub fn invalid(field: &str, reason: &str) -> ApiError {
        ApiError::InvalidArguments(BTreeMap::from([(field.to_string(), vec![reason.to_string()])]))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, body) = match self {
            ApiError::InvalidArguments(fields) => {
                (StatusCode::BAD_REQUEST, json!({"message": message, "type": "invalid_arguments", "fields": fields}))
            }
            ApiError::UnknownZone(_) => {
                (StatusCode::NOT_FOUND, json!({"message": message, "type": "unknown_resource"}))
            }
            ApiError::NotFound => (StatusCode::NOT_FOUND, json!({"message": message, "type": "not_found"})),
            // Byte for byte the recorded body (errors/401_denied_authentication.json).
            ApiError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                json!({"message": message, "method": "api_key", "reason": "not_found", "type": "denied_authentication"}),
            ),
            ApiError::PermissionDenied { resource } => (
                StatusCode::FORBIDDEN,
                json!({"details": [{"action": "read", "resource": resource}], "message": message, "type": "permissions_denied"}),
            ),
            ApiError::Unavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, json!({"message": message, "type": "internal_error"}))
            }
        };
        json_response(status, &body, HeaderMap::new())
    }
}

fn json_bytes_response(status: StatusCode, bytes: Vec<u8>, mut headers: HeaderMap) -> Response {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().extend(headers);
    response
}

pub(crate) fn json_response(status: StatusCode, body: &Value, headers: HeaderMap) -> Response {
    // Serialising a `Value` cannot fail (string keys only).
    json_bytes_response(status, serde_json::to_vec(body).unwrap_or_default(), headers)
}

/// The recorded gateway 429: empty body, no Content-Type, no Retry-After.
fn rate_limited() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response.headers_mut().insert(HeaderName::from_static("x-envoy-ratelimited"), HeaderValue::from_static("true"));
    response
}

// ---------------------------------------------------------------------------------------------------------------
// Query parameters

/// Decoded query parameters, plus the raw pairs (the `Link` header echoes them verbatim).
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
    raw: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: Option<&str>) -> Result<Params, ApiError> {
        let mut params = Params::default();
        for segment in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
            let (key, value) = segment.split_once('=').unwrap_or((segment, ""));
            let decoded_key = percent_decode(key).ok_or_else(|| ApiError::invalid(key, "invalid percent-encoding"))?;
            let decoded = percent_decode(value).ok_or_else(|| ApiError::invalid(key, "invalid percent-encoding"))?;
            params.raw.push((decoded_key.clone(), segment.to_string()));
            params.pairs.push((decoded_key, decoded));
        }
        Ok(params)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated key; `a=x,y` style comma lists are split too.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key || k.strip_suffix("[]") == Some(key))
            .flat_map(|(_, v)| v.split(','))
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// The raw query minus the given keys, in request order.
    pub fn rest_without(&self, keys: &[&str]) -> String {
        let kept: Vec<&str> =
            self.raw.iter().filter(|(k, _)| !keys.contains(&k.as_str())).map(|(_, s)| s.as_str()).collect();
        kept.join("&")
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                // `from_str_radix` alone would accept a sign ("%+f").
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------------------------------------------
// Pre-rendered data

/// One listable resource, rendered once at start.
#[derive(Debug, Clone)]
struct Item {
    id: String,
    name: String,
    project_id: String,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    json: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum List {
    InstanceServers,
    InstanceVolumes,
    InstanceIps,
    InstanceSnapshots,
    BlockVolumes,
    BlockSnapshots,
}

struct Dataset {
    organization_id: String,
    style: Style,
    projects: Vec<Item>,
    lists: HashMap<(List, String), Vec<Item>>,
    /// `products/servers` map entries, sorted by commercial type.
    server_types: Vec<(String, Value)>,
    volume_types: Vec<Value>,
    catalog: Vec<CatalogProduct>,
}

impl Dataset {
    fn new(org: &Organization, style: Style) -> Dataset {
        let mut lists: HashMap<(List, String), Vec<Item>> = HashMap::new();
        let mut add = |list, zone: &str, item: Item| lists.entry((list, zone.to_string())).or_default().push(item);
        let item = |id: &str, name: &str, project: &str, created, modified, json| Item {
            id: id.to_string(),
            name: name.to_string(),
            project_id: project.to_string(),
            created,
            modified,
            json,
        };
        let embeds = wire::Embeds::new(org);
        for s in &org.servers {
            let json = wire::server(org, &embeds, s);
            add(
                List::InstanceServers,
                &s.zone,
                item(&s.id, &s.name, &s.project_id, s.creation_date, s.modification_date, json),
            );
        }
        for v in &org.instance_volumes {
            let json = wire::instance_volume(org, v);
            add(
                List::InstanceVolumes,
                &v.zone,
                item(&v.id, &v.name, &v.project_id, v.creation_date, v.modification_date, json),
            );
        }
        for ip in &org.ips {
            let json = wire::ip(org, ip);
            add(
                List::InstanceIps,
                &ip.zone,
                item(&ip.id, &ip.address, &ip.project_id, DateTime::UNIX_EPOCH, DateTime::UNIX_EPOCH, json),
            );
        }
        for s in &org.instance_snapshots {
            let json = wire::instance_snapshot(org, s);
            add(
                List::InstanceSnapshots,
                &s.zone,
                item(&s.id, &s.name, &s.project_id, s.creation_date, s.modification_date, json),
            );
        }
        for v in &org.block_volumes {
            let json = wire::block_volume(org, v);
            add(List::BlockVolumes, &v.zone, item(&v.id, &v.name, &v.project_id, v.created_at, v.updated_at, json));
        }
        for s in &org.block_snapshots {
            let json = wire::block_snapshot(org, s);
            add(List::BlockSnapshots, &s.zone, item(&s.id, &s.name, &s.project_id, s.created_at, s.updated_at, json));
        }
        // Store each list in its API's default order so the common request needs no sort.
        for ((list, _), items) in lists.iter_mut() {
            match list {
                List::InstanceServers => sort(items, SortKey::CreatedDesc),
                List::BlockVolumes | List::BlockSnapshots => sort(items, SortKey::CreatedAsc),
                _ => {}
            }
        }
        let projects = org
            .projects
            .iter()
            .map(|p| item(&p.id, &p.name, &p.id, p.created_at, p.updated_at, wire::project(org, p)))
            .collect();
        let mut server_types: Vec<(String, Value)> =
            org.prices.server_types.iter().map(|t| (t.name.to_string(), wire::server_type(t))).collect();
        server_types.sort_by(|a, b| a.0.cmp(&b.0));
        Dataset {
            organization_id: org.id.clone(),
            style,
            projects,
            lists,
            server_types,
            volume_types: org.prices.volume_types.iter().map(|t| wire::volume_type(t, style)).collect(),
            catalog: wire::catalog(&org.prices, style),
        }
    }

    fn list(&self, list: List, zone: &str) -> &[Item] {
        self.lists.get(&(list, zone.to_string())).map_or(&[], Vec::as_slice)
    }

    /// Applies the organisation and project filters (every resource belongs to the one organisation).
    fn filtered<'a>(&self, items: &'a [Item], organization: Option<&str>, project: Option<&str>) -> Vec<&'a Item> {
        if organization.is_some_and(|o| o != self.organization_id) {
            return Vec::new();
        }
        items.iter().filter(|i| project.is_none_or(|p| i.project_id == p)).collect()
    }
}

#[derive(Debug, Clone, Copy)]
enum SortKey {
    CreatedAsc,
    CreatedDesc,
    ModifiedAsc,
    ModifiedDesc,
    NameAsc,
    NameDesc,
}

fn compare(a: &Item, b: &Item, key: SortKey) -> CmpOrdering {
    let primary = match key {
        SortKey::CreatedAsc => a.created.cmp(&b.created),
        SortKey::CreatedDesc => b.created.cmp(&a.created),
        SortKey::ModifiedAsc => a.modified.cmp(&b.modified),
        SortKey::ModifiedDesc => b.modified.cmp(&a.modified),
        SortKey::NameAsc => a.name.cmp(&b.name),
        SortKey::NameDesc => b.name.cmp(&a.name),
    };
    primary.then_with(|| a.id.cmp(&b.id))
}

fn sort(items: &mut [Item], key: SortKey) {
    items.sort_by(|a, b| compare(a, b, key));
}

/// Reorders `items` when the request asks for a non-default order; unknown values are rejected like the real API
/// rejects unknown enum values.
fn apply_order(
    items: &mut [&Item],
    params: &Params,
    param: &str,
    accepted: &[(&str, SortKey)],
    default: &str,
) -> Result<(), ApiError> {
    let Some(value) = params.get(param) else {
        return Ok(());
    };
    if value == default {
        return Ok(());
    }
    let Some((_, key)) = accepted.iter().find(|(name, _)| *name == value) else {
        let names: Vec<&str> = accepted.iter().map(|(n, _)| *n).collect();
        return Err(ApiError::invalid(param, &format!("must be one of {}", names.join(", "))));
    };
    items.sort_by(|a, b| compare(a, b, *key));
    Ok(())
}

const BLOCK_ORDERS: [(&str, SortKey); 4] = [
    ("created_at_asc", SortKey::CreatedAsc),
    ("created_at_desc", SortKey::CreatedDesc),
    ("name_asc", SortKey::NameAsc),
    ("name_desc", SortKey::NameDesc),
];

const SERVER_ORDERS: [(&str, SortKey); 4] = [
    ("creation_date_desc", SortKey::CreatedDesc),
    ("creation_date_asc", SortKey::CreatedAsc),
    ("modification_date_desc", SortKey::ModifiedDesc),
    ("modification_date_asc", SortKey::ModifiedAsc),
];

// ---------------------------------------------------------------------------------------------------------------
// Routing, authentication and faults

fn router(state: Arc<AppState>) -> Router {
    let instance =
        |list: List| move |st: State<Arc<AppState>>, zone: Path<String>, uri: Uri| instance_list(st, zone, uri, list);
    let block =
        |list: List| move |st: State<Arc<AppState>>, zone: Path<String>, uri: Uri| block_list(st, zone, uri, list);
    Router::new()
        .route("/account/v3/projects", get(projects))
        .route("/instance/v1/zones/{zone}/servers", get(instance(List::InstanceServers)))
        .route("/instance/v1/zones/{zone}/volumes", get(instance(List::InstanceVolumes)))
        .route("/instance/v1/zones/{zone}/ips", get(instance(List::InstanceIps)))
        .route("/instance/v1/zones/{zone}/snapshots", get(instance(List::InstanceSnapshots)))
        .route("/instance/v1/zones/{zone}/products/servers", get(products_servers))
        .route("/block/v1/zones/{zone}/volumes", get(block(List::BlockVolumes)))
        .route("/block/v1/zones/{zone}/snapshots", get(block(List::BlockSnapshots)))
        .route("/block/v1/zones/{zone}/volume-types", get(volume_types))
        .route("/product-catalog/v2alpha1/public-catalog/products", get(catalog_products))
        .route("/billing/v2beta1/consumptions", get(billing_api::consumptions))
        .route("/billing/v2beta1/invoices", get(billing_api::invoices))
        .route("/billing/v2beta1/charges", get(billing_api::charges))
        .route("/billing/v2beta1/taxes", get(billing_api::taxes))
        .route("/billing/v2beta1/discounts", get(billing_api::discounts))
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

/// How the gateway treats a path.
struct Route {
    /// The product whose permission the key needs (`deny`), if any.
    product: Option<&'static str>,
    /// A narrower permission the path also needs (`deny=charges`).
    also: Option<&'static str>,
    needs_auth: bool,
    /// The `resource` named in a 403.
    resource: &'static str,
}

fn classify(path: &str) -> Option<Route> {
    let resource = match path.rsplit('/').next().unwrap_or("") {
        "servers" => "server",
        "volumes" => "volume",
        "ips" => "ip",
        "snapshots" => "snapshot",
        "volume-types" => "volume_type",
        "projects" => "project",
        "consumptions" => "consumption",
        "invoices" => "invoice",
        "charges" => "charge",
        "taxes" => "tax",
        "discounts" => "discount",
        _ => "product",
    };
    // Price lists are public: the real endpoints answer without a token.
    if path.starts_with("/product-catalog/") {
        return Some(Route { product: None, also: None, needs_auth: false, resource });
    }
    if path.starts_with("/instance/v1/") {
        let public = path.ends_with("/products/servers");
        return Some(Route { product: (!public).then_some("instance"), also: None, needs_auth: !public, resource });
    }
    if path.starts_with("/billing/v2beta1/") {
        let also = (path == "/billing/v2beta1/charges").then_some("charges");
        return Some(Route { product: Some("billing"), also, needs_auth: true, resource });
    }
    let product = if path.starts_with("/block/v1/") {
        "block"
    } else if path.starts_with("/account/v3/") {
        "account"
    } else {
        return None;
    };
    Some(Route { product: Some(product), also: None, needs_auth: true, resource })
}

/// Every request passes here: latency, authentication, injected faults, permissions, then the handler.
async fn gate(State(st): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    st.stats.requests.fetch_add(1, Ordering::Relaxed);
    if st.config.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(st.config.latency_ms)).await;
    }
    let mut response = match classify(request.uri().path()) {
        None => next.run(request).await,
        Some(route) => {
            let url =
                request.uri().path_and_query().map_or_else(|| request.uri().path().to_string(), ToString::to_string);
            let token = request.headers().get("x-auth-token").and_then(|v| v.to_str().ok());
            if route.needs_auth && token != Some(st.config.secret_key.as_str()) {
                ApiError::Unauthenticated.into_response()
            } else {
                match st.faults.check(&url) {
                    Some(Fault::RateLimited) => rate_limited(),
                    Some(Fault::Unavailable) => ApiError::Unavailable.into_response(),
                    None if route.product.into_iter().chain(route.also).any(|p| st.config.denies(p)) => {
                        ApiError::PermissionDenied { resource: route.resource }.into_response()
                    }
                    None => next.run(request).await,
                }
            }
        }
    };
    st.stats.record(response.status());
    let headers = response.headers_mut();
    headers.insert(header::SERVER, HeaderValue::from_static(GATEWAY));
    if let Ok(id) = HeaderValue::from_str(&st.next_request_id()) {
        headers.insert(HeaderName::from_static("x-request-id"), id);
    }
    response
}

// ---------------------------------------------------------------------------------------------------------------
// Handlers

pub(crate) type Handled = Result<Response, ApiError>;

fn require_zone(zone: &str, zones: &[&str]) -> Result<(), ApiError> {
    if zones.contains(&zone) { Ok(()) } else { Err(ApiError::UnknownZone(zone.to_string())) }
}

fn scheme_a_headers(page: &Page, resource: &str, total: usize, params: &Params) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(HeaderName::from_static("x-total-count"), HeaderValue::from(total));
    let rest = params.rest_without(&["page", "per_page"]);
    // The raw query is URI-safe ASCII, so this only fails on input hyper would already have refused.
    if let Ok(link) = HeaderValue::from_str(&page.link_header(resource, total, &rest)) {
        headers.insert(header::LINK, link);
    }
    headers
}

/// Scheme B body; the count's position follows the recordings of each API.
pub(crate) fn scheme_b_body(style: Style, key: &str, items: Vec<Value>, total: usize, count_first: bool) -> Value {
    let mut body = Map::new();
    if count_first {
        body.insert("total_count".into(), style.count(total));
        body.insert(key.into(), Value::Array(items));
    } else {
        body.insert(key.into(), Value::Array(items));
        body.insert("total_count".into(), style.count(total));
    }
    Value::Object(body)
}

async fn instance_list(State(st): State<Arc<AppState>>, Path(zone): Path<String>, uri: Uri, list: List) -> Handled {
    require_zone(&zone, &INSTANCE_ZONES)?;
    let params = Params::parse(uri.query())?;
    let page = Page::scheme_a(&params)?;
    let data = &st.data;
    let mut items = data.filtered(data.list(list, &zone), params.get("organization"), params.get("project"));
    if list == List::InstanceServers {
        apply_order(&mut items, &params, "order", &SERVER_ORDERS, "creation_date_desc")?;
    }
    let mut values: Vec<Value> = page.slice(&items).iter().map(|i| i.json.clone()).collect();
    let (key, resource) = match list {
        List::InstanceServers => ("servers", "/servers"),
        List::InstanceVolumes => ("volumes", "/volumes"),
        List::InstanceIps => ("ips", "/ips"),
        _ => ("snapshots", "/snapshots"),
    };
    if list == List::InstanceServers
        && zone == "fr-par-1"
        && page.number == 1
        && st.config.malformed.as_deref() == Some("instance-servers")
        && let Some(Value::Object(second)) = values.get_mut(1)
    {
        // A present field of the wrong form: the decoder must fail or skip, not invent a date.
        second.insert("creation_date".into(), json!("yesterday"));
    }
    let headers = scheme_a_headers(&page, resource, items.len(), &params);
    Ok(json_response(StatusCode::OK, &json!({ key: values }), headers))
}

async fn block_list(State(st): State<Arc<AppState>>, Path(zone): Path<String>, uri: Uri, list: List) -> Handled {
    require_zone(&zone, &BLOCK_ZONES)?;
    let params = Params::parse(uri.query())?;
    let page = Page::scheme_b(&params)?;
    let data = &st.data;
    let mut items = data.filtered(data.list(list, &zone), params.get("organization_id"), params.get("project_id"));
    apply_order(&mut items, &params, "order_by", &BLOCK_ORDERS, "created_at_asc")?;
    let values: Vec<Value> = page.slice(&items).iter().map(|i| i.json.clone()).collect();
    let body = match list {
        List::BlockVolumes => scheme_b_body(data.style, "volumes", values, items.len(), true),
        _ => scheme_b_body(data.style, "snapshots", values, items.len(), false),
    };
    let mut bytes = serde_json::to_vec(&body).unwrap_or_default();
    if list == List::BlockVolumes
        && zone == "fr-par-1"
        && page.number == 1
        && st.config.malformed.as_deref() == Some("block-volumes")
    {
        // Cut mid-document, as a dropped connection would, while still claiming JSON.
        bytes.truncate(bytes.len() / 2);
    }
    Ok(json_bytes_response(StatusCode::OK, bytes, HeaderMap::new()))
}

async fn projects(State(st): State<Arc<AppState>>, uri: Uri) -> Handled {
    let params = Params::parse(uri.query())?;
    let page = Page::scheme_b(&params)?;
    let data = &st.data;
    let mut items = data.filtered(&data.projects, params.get("organization_id"), None);
    apply_order(&mut items, &params, "order_by", &BLOCK_ORDERS, "created_at_asc")?;
    if page.number == 1 && st.config.malformed.as_deref() == Some("projects") {
        return Ok(json_response(
            StatusCode::OK,
            &json!({"total_count": data.style.count(items.len()), "projects": "oops"}),
            HeaderMap::new(),
        ));
    }
    let values: Vec<Value> = page.slice(&items).iter().map(|i| i.json.clone()).collect();
    Ok(json_response(
        StatusCode::OK,
        &scheme_b_body(data.style, "projects", values, items.len(), true),
        HeaderMap::new(),
    ))
}

async fn products_servers(State(st): State<Arc<AppState>>, Path(zone): Path<String>, uri: Uri) -> Handled {
    require_zone(&zone, &INSTANCE_ZONES)?;
    let params = Params::parse(uri.query())?;
    let page = Page::scheme_a(&params)?;
    let entries = &st.data.server_types;
    let map: Map<String, Value> = page.slice(entries).iter().cloned().collect();
    let headers = scheme_a_headers(&page, "/products/servers", entries.len(), &params);
    Ok(json_response(StatusCode::OK, &json!({"servers": map}), headers))
}

async fn volume_types(State(st): State<Arc<AppState>>, Path(zone): Path<String>, uri: Uri) -> Handled {
    require_zone(&zone, &BLOCK_ZONES)?;
    let params = Params::parse(uri.query())?;
    let page = Page::scheme_b(&params)?;
    let all = &st.data.volume_types;
    let values = page.slice(all).to_vec();
    Ok(json_response(
        StatusCode::OK,
        &scheme_b_body(st.data.style, "volume_types", values, all.len(), false),
        HeaderMap::new(),
    ))
}

/// `product_types` values that select the flexible IP products (the catalog has no single agreed name for them).
const IP_PRODUCT_TYPES: [&str; 4] = ["flexible_ip", "public_ip", "network", "ip"];

async fn catalog_products(State(st): State<Arc<AppState>>, uri: Uri) -> Handled {
    let params = Params::parse(uri.query())?;
    let page = Page::scheme_b(&params)?;
    let types = params.all("product_types");
    let zone = params.get("zone");
    let region = params.get("region");
    let selected: Vec<&CatalogProduct> = st
        .data
        .catalog
        .iter()
        .filter(|p| zone.is_none_or(|z| p.zone == z))
        .filter(|p| region.is_none_or(|r| p.zone.strip_prefix(r).is_some_and(|rest| rest.starts_with('-'))))
        .filter(|p| {
            types.is_empty()
                || types
                    .iter()
                    .any(|t| *t == p.product_type || (p.product_type == "flexible_ip" && IP_PRODUCT_TYPES.contains(t)))
        })
        .collect();
    let values: Vec<Value> = page.slice(&selected).iter().map(|p| p.json.clone()).collect();
    Ok(json_response(
        StatusCode::OK,
        &scheme_b_body(st.data.style, "products", values, selected.len(), false),
        HeaderMap::new(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_keep_raw_segments_for_links() {
        let p = Params::parse(Some("order=creation_date_desc&page=2&name=a%20b&tags=x,y")).unwrap();
        assert_eq!(p.get("name"), Some("a b"));
        assert_eq!(p.all("tags"), ["x", "y"]);
        assert_eq!(p.rest_without(&["page", "per_page"]), "order=creation_date_desc&name=a%20b&tags=x,y");
        assert!(Params::parse(Some("name=%zz")).is_err());
        assert!(Params::parse(Some("name=%ff")).is_err());
        assert!(Params::parse(Some("name=%+f")).is_err());
        assert!(Params::parse(Some("name=%4")).is_err());
    }

    #[test]
    fn classify_paths() {
        assert!(classify("/instance/v1/zones/fr-par-1/servers").unwrap().needs_auth);
        assert!(!classify("/instance/v1/zones/fr-par-1/products/servers").unwrap().needs_auth);
        assert!(!classify("/product-catalog/v2alpha1/public-catalog/products").unwrap().needs_auth);
        assert_eq!(classify("/block/v1/zones/fr-par-1/snapshots").unwrap().resource, "snapshot");
        assert_eq!(classify("/account/v3/projects").unwrap().product, Some("account"));
        let charges = classify("/billing/v2beta1/charges").unwrap();
        assert_eq!((charges.product, charges.also, charges.resource), (Some("billing"), Some("charges"), "charge"));
        let taxes = classify("/billing/v2beta1/taxes").unwrap();
        assert_eq!((taxes.product, taxes.also, taxes.resource, taxes.needs_auth), (Some("billing"), None, "tax", true));
        assert!(classify("/billing/v2/budgets").is_none());
    }
}
