//! The loopback HTTP server: state, start and shutdown, the router that mounts every product's routes, and the gate
//! every request passes (authentication, fault injection, permissions, counters).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use chrono::NaiveDate;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::faults::{Fault, Faults};
use crate::http::{ApiError, Handled};
use crate::ids::{fnv1a, splitmix64, uuid_from};
use crate::org::Organization;
use crate::products::billing::api::BillingApi;
use crate::products::billing::book::Book;
use crate::products::cockpit::api::{Cockpit, Endpoint};
use crate::products::cockpit::metrics_clock_ms;
use crate::products::{account, autoscaling, billing, block, catalog, cockpit, instance, ipam, k8s, lb, rdb};
use crate::wire::Style;

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
    /// The most Cockpit `query_range` requests in flight at once, from arrival to answer (a client's memory
    /// bound on answers shows here).
    pub query_range_most_in_flight: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    ok: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    unauthorized: AtomicU64,
    forbidden: AtomicU64,
    query_range_in_flight: AtomicU64,
    query_range_most_in_flight: AtomicU64,
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
            query_range_most_in_flight: get(&self.query_range_most_in_flight),
        }
    }
}

/// One Cockpit `query_range` request in flight, counted until it is dropped.
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn query_range(counters: &'a Counters, path: &str) -> Option<InFlight<'a>> {
        path.ends_with("/prometheus/api/v1/query_range").then(|| {
            let now = counters.query_range_in_flight.fetch_add(1, Ordering::Relaxed) + 1;
            counters.query_range_most_in_flight.fetch_max(now, Ordering::Relaxed);
            InFlight(counters)
        })
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.query_range_in_flight.fetch_sub(1, Ordering::Relaxed);
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
        let style = Style { money_as_strings: config.money_as_strings };
        let billing = BillingApi::new(Book::build(&org, &config), style, config.billing_date(), config.today);
        // Bound first: the metrics data sources' URLs point at the simulator itself.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port.unwrap_or(0))).await?;
        let addr = listener.local_addr()?;
        let vanished = vanished_resources(&org, &config.vanished);
        let state = Arc::new(AppState {
            vanished,
            faults: Faults::new(&config),
            request_ids: AtomicU64::new(0),
            stats: Counters::default(),
            projects: account::Projects::new(&org.id, &org.projects, style),
            instance: instance::Lists::new(&org.instance()),
            block: block::Lists::new(&org.block(), style),
            lb: lb::Lists::new(&org.id, &org.load_balancers, style),
            rdb: rdb::Lists::new(&org.id, &org.databases, &org.prices, style),
            autoscaling: autoscaling::Lists::new(&org.id, &org.scaling_groups, style),
            k8s: k8s::Lists::new(&org.id, &org.kapsule_clusters, style),
            ipam: ipam::Lists::new(&org, config.seed, style),
            catalog: catalog::Catalog::new(&org.prices, style),
            billing,
            cockpit: Cockpit::new(&org, config.seed, style, &format!("http://{addr}")),
            config,
        });
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
        self.state.billing.set_billing_today(date);
    }

    /// The billing clock's current date (initially `billing_today`, or `today`).
    pub fn billing_today(&self) -> NaiveDate {
        self.state.billing.billing_today()
    }

    /// The ids of the resources `vanished` deleted once listed.
    pub fn vanished(&self) -> Vec<String> {
        self.state.vanished.iter().map(|(id, _)| id.clone()).collect()
    }

    /// The ids of the Cockpit tokens created and not deleted, in creation order.
    pub fn cockpit_live_tokens(&self) -> Vec<String> {
        self.state.cockpit.live_tokens()
    }

    /// The secret of every Cockpit token created so far, deleted ones included (to look for leaks).
    pub fn cockpit_issued_secrets(&self) -> Vec<String> {
        self.state.cockpit.issued_secrets()
    }

    /// The number of points (entries of `values`) every Cockpit `query_range` answer has carried so far.
    pub fn cockpit_points_served(&self) -> u64 {
        self.state.cockpit.points_served()
    }

    /// The (start, end) of every Cockpit `query_range` answered so far, in Unix milliseconds, in order.
    pub fn cockpit_ranges_served(&self) -> Vec<(i64, i64)> {
        self.state.cockpit.ranges_served()
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

struct AppState {
    config: SimConfig,
    /// (id, resource) of what `vanished` deleted between its list and the lists under it.
    vanished: Vec<(String, &'static str)>,
    projects: account::Projects,
    instance: instance::Lists,
    block: block::Lists,
    lb: lb::Lists,
    rdb: rdb::Lists,
    autoscaling: autoscaling::Lists,
    k8s: k8s::Lists,
    ipam: ipam::Lists,
    catalog: catalog::Catalog,
    /// The Billing book, the billing clock and the charges cache.
    billing: BillingApi,
    /// Data sources, tokens and the metrics series; its clock follows the billing clock.
    cockpit: Cockpit,
    faults: Faults,
    stats: Counters,
    request_ids: AtomicU64,
}

impl AppState {
    /// The metrics clock: the billing clock's date at 04:00 UTC.
    fn metrics_clock_ms(&self) -> i64 {
        metrics_clock_ms(self.billing.billing_today())
    }

    /// Request ids are deterministic too (seed and arrival order), so logs of two runs can be diffed.
    fn next_request_id(&self) -> String {
        let n = self.request_ids.fetch_add(1, Ordering::Relaxed);
        let base = self.config.seed ^ fnv1a("request-id");
        uuid_from(splitmix64(base ^ n), splitmix64(base.rotate_left(17) ^ n))
    }
}

/// The recorded gateway 429: empty body, no Content-Type, no Retry-After.
fn rate_limited() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response.headers_mut().insert(HeaderName::from_static("x-envoy-ratelimited"), HeaderValue::from_static("true"));
    response
}

// ---------------------------------------------------------------------------------------------------------------
// Routing, authentication and faults

fn router(state: Arc<AppState>) -> Router {
    type St = State<Arc<AppState>>;
    let instance = |list: instance::List| {
        move |st: St, Path(zone): Path<String>, uri: Uri| async move {
            instance::list(&st.instance, &st.config, &zone, &uri, list)
        }
    };
    let block = |list: block::List| {
        move |st: St, Path(zone): Path<String>, uri: Uri| async move {
            block::list(&st.block, &st.config, &zone, &uri, list)
        }
    };
    let scaling = |list: autoscaling::List| {
        move |st: St, Path(zone): Path<String>, uri: Uri| async move {
            autoscaling::list(&st.autoscaling, &zone, &uri, list)
        }
    };
    let billing_route =
        |handler: fn(&BillingApi, &Uri) -> Handled| move |st: St, uri: Uri| async move { handler(&st.billing, &uri) };
    let prometheus = |endpoint: Endpoint| {
        move |st: St, Path(ds): Path<String>, headers: HeaderMap, uri: Uri, body: Bytes| async move {
            metrics_answer(st.0, ds, endpoint, headers, uri, body).await
        }
    };
    let label_values =
        |st: St, Path((ds, label)): Path<(String, String)>, headers: HeaderMap, uri: Uri, body: Bytes| async move {
            metrics_answer(st.0, ds, Endpoint::LabelValues(label), headers, uri, body).await
        };
    Router::new()
        .route(
            "/account/v3/projects",
            get(|st: St, uri: Uri| async move { account::list(&st.projects, &st.config, &uri) }),
        )
        .route("/instance/v1/zones/{zone}/servers", get(instance(instance::List::Servers)))
        .route("/instance/v1/zones/{zone}/volumes", get(instance(instance::List::Volumes)))
        .route("/instance/v1/zones/{zone}/ips", get(instance(instance::List::Ips)))
        .route("/instance/v1/zones/{zone}/snapshots", get(instance(instance::List::Snapshots)))
        .route(
            "/instance/v1/zones/{zone}/products/servers",
            get(|st: St, Path(zone): Path<String>, uri: Uri| async move {
                instance::products_servers(&st.instance, &zone, &uri)
            }),
        )
        .route("/block/v1/zones/{zone}/volumes", get(block(block::List::Volumes)))
        .route("/block/v1/zones/{zone}/snapshots", get(block(block::List::Snapshots)))
        .route(
            "/block/v1/zones/{zone}/volume-types",
            get(
                |st: St, Path(zone): Path<String>, uri: Uri| async move { block::volume_types(&st.block, &zone, &uri) },
            ),
        )
        .route(
            "/lb/v1/zones/{zone}/lbs",
            get(|st: St, Path(zone): Path<String>, uri: Uri| async move { lb::list_lbs(&st.lb, &zone, &uri) }),
        )
        .route(
            "/lb/v1/zones/{zone}/lbs/{lb_id}",
            get(|st: St, Path((zone, lb_id)): Path<(String, String)>| async move { lb::get_lb(&st.lb, &zone, &lb_id) }),
        )
        .route(
            "/lb/v1/zones/{zone}/lbs/{lb_id}/backends",
            get(|st: St, Path((zone, lb_id)): Path<(String, String)>, uri: Uri| async move {
                lb::list_backends(&st.lb, &zone, &lb_id, &uri)
            }),
        )
        .route(
            "/rdb/v1/regions/{region}/instances",
            get(|st: St, Path(region): Path<String>, uri: Uri| async move { rdb::list(&st.rdb, &region, &uri) }),
        )
        .route("/autoscaling/v1alpha1/zones/{zone}/instance-groups", get(scaling(autoscaling::List::Groups)))
        .route("/autoscaling/v1alpha1/zones/{zone}/instance-templates", get(scaling(autoscaling::List::Templates)))
        .route("/autoscaling/v1alpha1/zones/{zone}/instance-policies", get(scaling(autoscaling::List::Policies)))
        .route(
            "/autoscaling/v1alpha1/zones/{zone}/instance-groups/{instance_group_id}",
            get(|st: St, Path((zone, group)): Path<(String, String)>| async move {
                autoscaling::get_group(&st.autoscaling, &zone, &group)
            }),
        )
        .route(
            "/autoscaling/v1alpha1/zones/{zone}/instance-groups/{instance_group_id}/events",
            get(|st: St, Path((zone, group)): Path<(String, String)>, uri: Uri| async move {
                autoscaling::list_events(&st.autoscaling, &zone, &group, &uri)
            }),
        )
        .route(
            "/autoscaling/v1alpha2/zones/{zone}/groups",
            get(|st: St, Path(zone): Path<String>, uri: Uri| async move {
                autoscaling::list_groups_v2(&st.autoscaling, &zone, &uri)
            }),
        )
        .route(
            "/autoscaling/v1alpha2/zones/{zone}/groups/{group_id}",
            get(|st: St, Path((zone, group)): Path<(String, String)>| async move {
                autoscaling::get_group_v2(&st.autoscaling, &zone, &group)
            }),
        )
        .route(
            "/autoscaling/v1alpha2/zones/{zone}/servers",
            get(|st: St, Path(zone): Path<String>, uri: Uri| async move {
                autoscaling::list_servers_v2(&st.autoscaling, &zone, &uri)
            }),
        )
        .route(
            "/k8s/v1/regions/{region}/clusters",
            get(|st: St, Path(region): Path<String>, uri: Uri| async move {
                k8s::list_clusters(&st.k8s, &region, &uri)
            }),
        )
        .route(
            "/k8s/v1/regions/{region}/clusters/{cluster_id}",
            get(|st: St, Path((region, cluster)): Path<(String, String)>| async move {
                k8s::get_cluster(&st.k8s, &region, &cluster)
            }),
        )
        .route(
            "/k8s/v1/regions/{region}/clusters/{cluster_id}/pools",
            get(|st: St, Path((region, cluster)): Path<(String, String)>, uri: Uri| async move {
                k8s::list_pools(&st.k8s, &region, &cluster, &uri)
            }),
        )
        .route(
            "/k8s/v1/regions/{region}/clusters/{cluster_id}/nodes",
            get(|st: St, Path((region, cluster)): Path<(String, String)>, uri: Uri| async move {
                k8s::list_nodes(&st.k8s, &region, &cluster, &uri)
            }),
        )
        .route(
            "/ipam/v1/regions/{region}/ips",
            get(|st: St, Path(region): Path<String>, uri: Uri| async move { ipam::list(&st.ipam, &region, &uri) }),
        )
        .route(
            "/product-catalog/v2alpha1/public-catalog/products",
            get(|st: St, uri: Uri| async move { catalog::products(&st.catalog, &uri) }),
        )
        .route("/billing/v2beta1/consumptions", get(billing_route(billing::api::consumptions)))
        .route("/billing/v2beta1/invoices", get(billing_route(billing::api::invoices)))
        .route("/billing/v2beta1/charges", get(billing_route(billing::api::charges)))
        .route("/billing/v2beta1/taxes", get(billing_route(billing::api::taxes)))
        .route("/billing/v2beta1/discounts", get(billing_route(billing::api::discounts)))
        .route(
            "/cockpit/v1/regions/{region}/data-sources",
            get(|st: St, Path(region): Path<String>, uri: Uri| async move {
                cockpit::api::data_sources(&st.cockpit, &region, &uri)
            }),
        )
        .route(
            "/cockpit/v1/regions/{region}/tokens",
            get(|st: St, Path(region): Path<String>, uri: Uri| async move {
                cockpit::api::list_tokens(&st.cockpit, &region, &uri)
            })
            .post(|st: St, Path(region): Path<String>, body: Bytes| async move {
                cockpit::api::create_token(&st.cockpit, &region, &body, st.metrics_clock_ms())
            }),
        )
        .route(
            "/cockpit/v1/regions/{region}/tokens/{token_id}",
            delete(|st: St, Path((region, token)): Path<(String, String)>| async move {
                cockpit::api::delete_token(&st.cockpit, &region, &token)
            }),
        )
        .route(
            "/cockpit-data/{ds}/prometheus/api/v1/query_range",
            get(prometheus(Endpoint::QueryRange)).post(prometheus(Endpoint::QueryRange)),
        )
        .route(
            "/cockpit-data/{ds}/prometheus/api/v1/series",
            get(prometheus(Endpoint::Series)).post(prometheus(Endpoint::Series)),
        )
        .route("/cockpit-data/{ds}/prometheus/api/v1/label/{label}/values", get(label_values).post(label_values))
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

/// A Cockpit data plane answer, built on a blocking thread: a `query_range` answer is up to 3.5 MB of JSON built
/// in one go, and on the runtime's threads it held every other request behind it (the charges' pages waited up
/// to 2 × the latency), as a real API's requests are not.
async fn metrics_answer(
    st: Arc<AppState>,
    ds: String,
    endpoint: Endpoint,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    tokio::task::spawn_blocking(move || {
        let clock = st.metrics_clock_ms();
        cockpit::api::data_plane(&st.cockpit, &ds, endpoint, &headers, &uri, &body, clock)
    })
    .await
    // A panic is the simulator's bug: a 500 would be retried by the client and hidden.
    .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
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
        "data-sources" => "data_source",
        "tokens" => "token",
        "lbs" => "lb",
        "backends" => "backend",
        "instances" => "instance",
        "instance-groups" => "instance_group",
        "instance-templates" => "instance_template",
        "instance-policies" => "instance_policy",
        "events" if path.starts_with("/autoscaling/") => "instance_group_event",
        "groups" if path.starts_with("/autoscaling/") => "group",
        "clusters" => "cluster",
        "pools" => "pool",
        "nodes" => "node",
        _ if path.starts_with("/cockpit/") && path.contains("/tokens/") => "token",
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
    // A data source's Prometheus API: authenticated by a Cockpit token (`X-Token`) in the handler.
    if path.starts_with("/cockpit-data/") {
        return Some(Route { product: None, also: None, needs_auth: false, resource });
    }
    if path.starts_with("/billing/v2beta1/") {
        let also = (path == "/billing/v2beta1/charges").then_some("charges");
        return Some(Route { product: Some("billing"), also, needs_auth: true, resource });
    }
    let product = if path.starts_with("/block/v1/") {
        "block"
    } else if path.starts_with("/account/v3/") {
        "account"
    } else if path.starts_with("/cockpit/v1/") {
        "cockpit"
    } else if path.starts_with("/lb/v1/") {
        "lb"
    } else if path.starts_with("/rdb/v1/") {
        "rdb"
    } else if path.starts_with("/autoscaling/v1alpha1/") || path.starts_with("/autoscaling/v1alpha2/") {
        "autoscaling"
    } else if path.starts_with("/k8s/v1/") {
        "k8s"
    } else if path.starts_with("/ipam/v1/") {
        "ipam"
    } else {
        return None;
    };
    Some(Route { product: Some(product), also: None, needs_auth: true, resource })
}

/// The product (of [`crate::config::API_PRODUCTS`]) whose API a path belongs to.
fn api_product(path: &str) -> Option<&'static str> {
    [
        ("/account/", "account"),
        ("/instance/", "instance"),
        ("/block/", "block"),
        ("/product-catalog/", "catalog"),
        ("/billing/", "billing"),
        ("/cockpit/", "cockpit"),
        ("/cockpit-data/", "cockpit"),
        ("/lb/", "lb"),
        ("/rdb/", "rdb"),
        ("/autoscaling/", "autoscaling"),
        ("/k8s/", "k8s"),
        ("/ipam/", "ipam"),
    ]
    .into_iter()
    .find_map(|(prefix, product)| path.starts_with(prefix).then_some(product))
}

/// The first load balancer with a backend, the first Kapsule cluster and the first scaling group, for the
/// products `vanished` names.
fn vanished_resources(org: &Organization, products: &[String]) -> Vec<(String, &'static str)> {
    let mut gone = Vec::new();
    for product in products {
        let resource = match product.as_str() {
            "lb" => org.load_balancers.iter().find(|l| !l.backends.is_empty()).map(|l| (l.id.clone(), "lb")),
            "k8s" => org.kapsule_clusters.first().map(|c| (c.id.clone(), "cluster")),
            "autoscaling" => org.scaling_groups.first().map(|g| (g.id.clone(), "group")),
            _ => None,
        };
        gone.extend(resource);
    }
    gone
}

impl AppState {
    /// The vanished resource a request asks for: named by a segment of its path (its GET, the lists under it),
    /// or by the `group_id` of v1alpha2's members list.
    fn vanished_from(&self, uri: &Uri) -> Option<(&str, &'static str)> {
        let by_query =
            |id: &str| uri.query().is_some_and(|q| q.split('&').any(|pair| pair.strip_prefix("group_id=") == Some(id)));
        self.vanished.iter().find_map(|(id, resource)| {
            let named = uri.path().split('/').any(|segment| segment == id) || by_query(id);
            let resource =
                if *resource == "group" && uri.path().contains("/v1alpha1/") { "instance_group" } else { resource };
            named.then_some((id.as_str(), resource))
        })
    }
}

/// Every request passes here: withdrawn and down products, authentication, injected faults, permissions,
/// vanished resources, the handler, then the rest of the latency.
async fn gate(State(st): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    st.stats.requests.fetch_add(1, Ordering::Relaxed);
    let _in_flight = InFlight::query_range(&st.stats, request.uri().path());
    // The answer leaves `latency_ms` after the request arrived, the simulator's own work inside it, as a remote
    // API's work is inside its response time: a benchmark's reference (requests × latency) is then what the
    // client waits for, and the simulator's work on this machine's cores is not counted as the client's.
    let answer_at = tokio::time::Instant::now() + Duration::from_millis(st.config.latency_ms);
    let mut response = match classify(request.uri().path()) {
        None => next.run(request).await,
        Some(route) => {
            let url =
                request.uri().path_and_query().map_or_else(|| request.uri().path().to_string(), ToString::to_string);
            let token = request.headers().get("x-auth-token").and_then(|v| v.to_str().ok());
            let family = api_product(request.uri().path());
            let is = |list: &[String]| family.is_some_and(|f| list.iter().any(|p| p == f));
            if is(&st.config.withdrawn) {
                ApiError::NotFound.into_response()
            } else if is(&st.config.down) {
                ApiError::Unavailable.into_response()
            } else if route.needs_auth && token != Some(st.config.secret_key.as_str()) {
                ApiError::Unauthenticated.into_response()
            } else {
                match st.faults.check(&url) {
                    Some(Fault::RateLimited) => rate_limited(),
                    Some(Fault::Unavailable) => ApiError::Unavailable.into_response(),
                    None if route.product.into_iter().chain(route.also).any(|p| st.config.denies(p)) => {
                        ApiError::PermissionDenied { resource: route.resource }.into_response()
                    }
                    None => match st.vanished_from(request.uri()) {
                        Some((id, resource)) => {
                            ApiError::ResourceNotFound { resource, resource_id: id.to_string() }.into_response()
                        }
                        None => next.run(request).await,
                    },
                }
            }
        }
    };
    tokio::time::sleep_until(answer_at).await;
    st.stats.record(response.status());
    let headers = response.headers_mut();
    headers.insert(header::SERVER, HeaderValue::from_static(GATEWAY));
    if let Ok(id) = HeaderValue::from_str(&st.next_request_id()) {
        headers.insert(HeaderName::from_static("x-request-id"), id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let tokens = classify("/cockpit/v1/regions/fr-par/tokens").unwrap();
        assert_eq!((tokens.product, tokens.resource, tokens.needs_auth), (Some("cockpit"), "token", true));
        assert_eq!(classify("/cockpit/v1/regions/fr-par/tokens/abc").unwrap().resource, "token");
        assert_eq!(classify("/cockpit/v1/regions/fr-par/data-sources").unwrap().resource, "data_source");
        let data = classify("/cockpit-data/x/prometheus/api/v1/query_range").unwrap();
        assert_eq!((data.product, data.needs_auth), (None, false));
        assert_eq!(api_product("/cockpit-data/x/prometheus/api/v1/series"), Some("cockpit"));
        assert_eq!(api_product("/cockpit/v1/regions/fr-par/tokens"), Some("cockpit"));
        let lbs = classify("/lb/v1/zones/fr-par-1/lbs").unwrap();
        assert_eq!((lbs.product, lbs.resource, lbs.needs_auth), (Some("lb"), "lb", true));
        assert_eq!(classify("/lb/v1/zones/fr-par-1/lbs/x/backends").unwrap().resource, "backend");
        let rdb = classify("/rdb/v1/regions/fr-par/instances").unwrap();
        assert_eq!((rdb.product, rdb.resource, rdb.needs_auth), (Some("rdb"), "instance", true));
        assert_eq!(api_product("/lb/v1/zones/fr-par-1/lbs"), Some("lb"));
        assert_eq!(api_product("/rdb/v1/regions/fr-par/instances"), Some("rdb"));
        let groups = classify("/autoscaling/v1alpha1/zones/fr-par-1/instance-groups").unwrap();
        assert_eq!((groups.product, groups.resource, groups.needs_auth), (Some("autoscaling"), "instance_group", true));
        let events = classify("/autoscaling/v1alpha1/zones/fr-par-1/instance-groups/x/events").unwrap();
        assert_eq!(events.resource, "instance_group_event");
        assert_eq!(classify("/autoscaling/v1alpha2/zones/fr-par-1/groups").unwrap().resource, "group");
        assert_eq!(api_product("/autoscaling/v1alpha2/zones/fr-par-1/groups"), Some("autoscaling"));
        let clusters = classify("/k8s/v1/regions/fr-par/clusters").unwrap();
        assert_eq!((clusters.product, clusters.resource, clusters.needs_auth), (Some("k8s"), "cluster", true));
        assert_eq!(classify("/k8s/v1/regions/fr-par/clusters/x/pools").unwrap().resource, "pool");
        assert_eq!(classify("/k8s/v1/regions/fr-par/clusters/x/nodes").unwrap().resource, "node");
        let ips = classify("/ipam/v1/regions/fr-par/ips").unwrap();
        assert_eq!((ips.product, ips.resource, ips.needs_auth), (Some("ipam"), "ip", true));
        assert_eq!(api_product("/k8s/v1/regions/fr-par/clusters"), Some("k8s"));
        assert_eq!(api_product("/ipam/v1/regions/fr-par/ips"), Some("ipam"));
    }
}
