//! Load Balancer v1, zoned flavour: the load balancers (`/lb/v1/zones/{zone}/lbs`) and the backends of each
//! (`/lb/v1/zones/{zone}/lbs/{lb_id}/backends`), TotalCount paging.
//!
//! A load balancer bills by the hour whatever it forwards, so the waste a report must find is the one that forwards
//! to nothing: no backend at all, or backends whose server pools are empty. [`LOAD_BALANCERS`] plants two healthy
//! ones and one of each idle kind; [`crate::services()`] is their oracle.

use std::collections::HashMap;

use axum::http::Uri;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::http::{ApiError, Handled, Params, require_zone};
use crate::ids::{IdStream, api_ts};
use crate::listing::{BLOCK_ORDERS, Item, SortKey, apply_order, filtered, get_one, named, sort, total_count_page};
use crate::paging::Page;
use crate::prices::LB_ZONES;
use crate::wire::Style;

// ---------------------------------------------------------------------------------------------------------------
// Model

#[derive(Debug, Clone, PartialEq)]
pub struct LbIp {
    pub id: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LbBackend {
    pub id: String,
    pub name: String,
    /// `http` | `tcp`.
    pub forward_protocol: String,
    pub forward_port: u16,
    /// The backend servers' addresses; empty when no server is left behind the backend.
    pub pool: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadBalancer {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub zone: String,
    /// The offer, lower case (`lb-s`), as the API writes `type`.
    pub lb_type: String,
    pub status: String,
    pub tags: Vec<String>,
    /// The public (flexible) IP the load balancer answers on.
    pub ip: LbIp,
    /// The underlying Instance the API lists in `instances`.
    pub instance_id: String,
    /// Frontends are not served; each one forwards to a backend, so a load balancer without backend has none.
    pub frontend_count: u32,
    pub backends: Vec<LbBackend>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a backend's pool comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pool {
    /// The public addresses of the healthy running servers of the load balancer's project and zone, in creation
    /// order: `count` of them after skipping `skip`; the fixed private `fallback` addresses when there are none.
    Servers { skip: usize, count: usize, fallback: &'static [&'static str] },
    /// No server left: the backend forwards to nothing.
    Empty,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct BackendSpec {
    pub name: &'static str,
    pub protocol: &'static str,
    pub port: u16,
    pub pool: Pool,
}

/// A load balancer of the organisation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LbSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// Index of the project (modulo the number of projects).
    pub project: usize,
    pub zone: &'static str,
    pub lb_type: &'static str,
    pub created_days_ago: u64,
    pub tags: &'static [&'static str],
    pub frontends: u32,
    pub backends: &'static [BackendSpec],
    /// Why a report must flag it (`no_backend` | `empty_pools`), `None` for a healthy one.
    pub idle: Option<&'static str>,
}

/// The load balancers, in creation order of the table (not of their dates): two healthy, two idle.
pub(crate) const LOAD_BALANCERS: [LbSpec; 4] = [
    LbSpec {
        name: "web-lb",
        description: "Public entry point of the web tier",
        project: 0,
        zone: "fr-par-1",
        lb_type: "lb-s",
        created_days_ago: 300,
        tags: &["team=platform", "env:prod"],
        frontends: 2,
        backends: &[BackendSpec {
            name: "web-backend",
            protocol: "http",
            port: 80,
            pool: Pool::Servers { skip: 0, count: 2, fallback: &["10.0.0.11", "10.0.0.12"] },
        }],
        idle: None,
    },
    LbSpec {
        name: "api-lb",
        description: "Checkout API",
        project: 1,
        zone: "fr-par-2",
        lb_type: "lb-gp-m",
        created_days_ago: 200,
        tags: &["team=checkout", "env=prod"],
        frontends: 2,
        backends: &[
            BackendSpec {
                name: "api-backend",
                protocol: "http",
                port: 8080,
                pool: Pool::Servers { skip: 0, count: 2, fallback: &["10.64.0.11", "10.64.0.12"] },
            },
            BackendSpec {
                name: "api-grpc",
                protocol: "tcp",
                port: 9090,
                pool: Pool::Servers { skip: 2, count: 1, fallback: &["10.64.1.21"] },
            },
        ],
        idle: None,
    },
    // Planted: its frontend still forwards to a backend whose servers were all removed.
    LbSpec {
        name: "lb-legacy-frontend",
        description: "Front of the retired v1 site",
        project: 0,
        zone: "fr-par-1",
        lb_type: "lb-s",
        created_days_ago: 120,
        tags: &["legacy"],
        frontends: 1,
        backends: &[BackendSpec { name: "legacy-backend", protocol: "http", port: 80, pool: Pool::Empty }],
        idle: Some("empty_pools"),
    },
    // Planted: created for a staging environment that never got a backend.
    LbSpec {
        name: "lb-staging-gateway",
        description: "Staging gateway",
        project: 1,
        zone: "nl-ams-1",
        lb_type: "lb-gp-m",
        created_days_ago: 45,
        tags: &["env=staging"],
        frontends: 0,
        backends: &[],
        idle: Some("no_backend"),
    },
];

/// Builds the load balancers of [`LOAD_BALANCERS`], in table order, from their own seeded stream (so their ids do
/// not depend on the rest of the organisation). `candidates(project_id, zone)` gives the public addresses of the
/// healthy running servers there, in creation order: only the pools depend on them.
pub(crate) fn build(
    seed: u64,
    today: chrono::NaiveDate,
    project_ids: &[String],
    candidates: impl Fn(&str, &str) -> Vec<String>,
) -> Vec<LoadBalancer> {
    let mut rng = IdStream::new(seed, "load-balancers");
    LOAD_BALANCERS
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let project_id = project_ids[spec.project % project_ids.len()].clone();
            let id = rng.uuid();
            let created_at = rng.days_ago(today, spec.created_days_ago);
            let touched = rng.below(30).min(spec.created_days_ago);
            let updated_at = rng.days_ago(today, spec.created_days_ago - touched).max(created_at);
            // 51.159.x.y: no healthy (51.158, 163.172, …) or ghost (51.15) address shares the prefix; one third
            // octet per load balancer keeps them distinct.
            let address = format!("51.159.{}.{}", 40 + 8 * i as u64 + rng.below(8), 1 + rng.below(254));
            let ip = LbIp { id: rng.uuid(), address };
            let instance_id = rng.uuid();
            let servers = candidates(&project_id, spec.zone);
            let backends = spec
                .backends
                .iter()
                .map(|b| {
                    let pool = match b.pool {
                        Pool::Empty => Vec::new(),
                        Pool::Servers { skip, count, fallback } => {
                            let picked: Vec<String> = servers.iter().skip(skip).take(count).cloned().collect();
                            if picked.is_empty() { fallback.iter().map(ToString::to_string).collect() } else { picked }
                        }
                    };
                    let created = created_at + Duration::seconds(60 + rng.below(600) as i64);
                    LbBackend {
                        id: rng.uuid(),
                        name: b.name.to_string(),
                        forward_protocol: b.protocol.to_string(),
                        forward_port: b.port,
                        pool,
                        created_at: created,
                        updated_at: created.max(updated_at),
                    }
                })
                .collect();
            LoadBalancer {
                id,
                name: spec.name.to_string(),
                description: spec.description.to_string(),
                project_id,
                zone: spec.zone.to_string(),
                lb_type: spec.lb_type.to_string(),
                status: "ready".to_string(),
                tags: spec.tags.iter().map(ToString::to_string).collect(),
                ip,
                instance_id,
                frontend_count: spec.frontends,
                backends,
                created_at,
                updated_at,
            }
        })
        .collect()
}

/// The region of a zone (`fr-par-1` → `fr-par`).
fn region_of(zone: &str) -> &str {
    zone.rsplit_once('-').map_or(zone, |(region, _)| region)
}

// ---------------------------------------------------------------------------------------------------------------
// Wire shapes

/// A load balancer, field for field as recorded (lb/lbs_list.json).
pub fn load_balancer(organization_id: &str, lb: &LoadBalancer) -> Value {
    let region = region_of(&lb.zone);
    // The underlying Instance is set up a few minutes before the load balancer, and ready just after it.
    let instance_created = lb.created_at - Duration::seconds(260);
    let instance_updated = lb.created_at + Duration::seconds(2);
    let reverse = format!("{}.lb.{region}.scw.cloud", lb.ip.address.replace('.', "-"));
    json!({
        "id": lb.id,
        "name": lb.name,
        "description": lb.description,
        "status": lb.status,
        "instances": [{
            "id": lb.instance_id,
            "status": "ready",
            "ip_address": "",
            "created_at": api_ts(instance_created),
            "updated_at": api_ts(instance_updated),
            "region": region,
            "zone": lb.zone,
        }],
        "organization_id": organization_id,
        "project_id": lb.project_id,
        "ip": [{
            "id": lb.ip.id,
            "ip_address": lb.ip.address,
            "organization_id": organization_id,
            "project_id": lb.project_id,
            "lb_id": lb.id,
            "reverse": reverse,
            "tags": [],
            "region": region,
            "zone": lb.zone,
        }],
        "tags": lb.tags,
        "frontend_count": lb.frontend_count,
        "backend_count": lb.backends.len(),
        "type": lb.lb_type,
        "subscriber": null,
        "ssl_compatibility_level": "ssl_compatibility_level_intermediate",
        "created_at": api_ts(lb.created_at),
        "updated_at": api_ts(lb.updated_at),
        "private_network_count": 0,
        "route_count": 0,
        "region": region,
        "zone": lb.zone,
    })
}

/// A backend, field for field as the Go SDK's `Backend` (api/lb/v1/lb_sdk.go), with the whole load balancer nested
/// in `lb` as the API does. Durations are protobuf-JSON strings (`"3s"`); the optional settings nobody set are
/// `null`, as the cloud answers them.
pub fn backend(organization_id: &str, lb: &LoadBalancer, b: &LbBackend) -> Value {
    json!({
        "id": b.id,
        "name": b.name,
        "forward_protocol": b.forward_protocol,
        "forward_port": b.forward_port,
        "forward_port_algorithm": "roundrobin",
        "sticky_sessions": "none",
        "sticky_sessions_cookie_name": "",
        "health_check": {
            "port": b.forward_port,
            "check_delay": "3s",
            "check_timeout": "1s",
            "check_max_retries": 3,
            "tcp_config": {},
            "check_send_proxy": false,
            "transient_check_delay": "0.5s",
        },
        "pool": b.pool,
        "lb": load_balancer(organization_id, lb),
        "send_proxy_v2": false,
        "timeout_server": "300s",
        "timeout_connect": "5s",
        "timeout_tunnel": "900s",
        "on_marked_down_action": "on_marked_down_action_none",
        "proxy_protocol": "proxy_protocol_none",
        "created_at": api_ts(b.created_at),
        "updated_at": api_ts(b.updated_at),
        "failover_host": null,
        "ssl_bridging": false,
        "ignore_ssl_server_verify": null,
        "redispatch_attempt_count": 0,
        "max_retries": 3,
        "max_connections": null,
        "timeout_queue": null,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Routes

/// The load balancers by zone and the backends by load balancer, rendered once at start.
pub(crate) struct Lists {
    organization_id: String,
    style: Style,
    lbs: HashMap<String, Vec<Item>>,
    /// Load balancer id → (its zone, its backends).
    backends: HashMap<String, (String, Vec<Item>)>,
}

impl Lists {
    pub(crate) fn new(organization_id: &str, lbs: &[LoadBalancer], style: Style) -> Lists {
        let mut by_zone: HashMap<String, Vec<Item>> = HashMap::new();
        let mut backends = HashMap::new();
        for lb in lbs {
            let json = load_balancer(organization_id, lb);
            let item = Item::new(&lb.id, &lb.name, &lb.project_id, lb.created_at, lb.updated_at, json);
            by_zone.entry(lb.zone.clone()).or_default().push(item);
            let mut items: Vec<Item> = lb
                .backends
                .iter()
                .map(|b| {
                    let json = backend(organization_id, lb, b);
                    Item::new(&b.id, &b.name, &lb.project_id, b.created_at, b.updated_at, json)
                })
                .collect();
            sort(&mut items, SortKey::CreatedAsc);
            backends.insert(lb.id.clone(), (lb.zone.clone(), items));
        }
        // Store each list in its API's default order so the common request needs no sort.
        for items in by_zone.values_mut() {
            sort(items, SortKey::CreatedAsc);
        }
        Lists { organization_id: organization_id.to_string(), style, lbs: by_zone, backends }
    }
}

/// `GET /lb/v1/zones/{zone}/lbs`.
pub(crate) fn list_lbs(data: &Lists, zone: &str, uri: &Uri) -> Handled {
    require_zone(zone, &LB_ZONES)?;
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let all = data.lbs.get(zone).map_or(&[][..], Vec::as_slice);
    let items = filtered(&data.organization_id, all, params.get("organization_id"), params.get("project_id"));
    let mut items = named(items, params.get("name"));
    apply_order(&mut items, &params, "order_by", &BLOCK_ORDERS, "created_at_asc")?;
    total_count_page(data.style, "lbs", &items, &page, false)
}

/// `GET /lb/v1/zones/{zone}/lbs/{lb_id}`: 404 `not_found` (resource `lb`) for one unknown in that zone.
pub(crate) fn get_lb(data: &Lists, zone: &str, lb_id: &str) -> Handled {
    require_zone(zone, &LB_ZONES)?;
    get_one(data.lbs.get(zone).map_or(&[][..], Vec::as_slice), lb_id, "lb")
}

/// `GET /lb/v1/zones/{zone}/lbs/{lb_id}/backends`: 404 `not_found` (resource `lb`) for a load balancer unknown in
/// that zone.
pub(crate) fn list_backends(data: &Lists, zone: &str, lb_id: &str, uri: &Uri) -> Handled {
    require_zone(zone, &LB_ZONES)?;
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let (_, all) = data
        .backends
        .get(lb_id)
        .filter(|(z, _)| z == zone)
        .ok_or_else(|| ApiError::ResourceNotFound { resource: "lb", resource_id: lb_id.to_string() })?;
    let mut items: Vec<&Item> = all.iter().collect();
    apply_order(&mut items, &params, "order_by", &BLOCK_ORDERS, "created_at_asc")?;
    total_count_page(data.style, "backends", &items, &page, false)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn projects() -> Vec<String> {
        vec!["p0".to_string(), "p1".to_string(), "p2".to_string()]
    }

    #[test]
    fn pools_come_from_the_servers_or_the_fallback() {
        let with = build(42, today(), &projects(), |p, z| (1..=3).map(|i| format!("198.51.100.{i}-{p}-{z}")).collect());
        let without = build(42, today(), &projects(), |_, _| Vec::new());
        let ids = |lbs: &[LoadBalancer]| lbs.iter().map(|l| l.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&with), ids(&without), "ids do not depend on the servers");
        assert_eq!(with[0].backends[0].pool, ["198.51.100.1-p0-fr-par-1", "198.51.100.2-p0-fr-par-1"]);
        assert_eq!(with[1].backends[1].pool, ["198.51.100.3-p1-fr-par-2"]);
        assert_eq!(without[0].backends[0].pool, ["10.0.0.11", "10.0.0.12"]);
        assert_eq!(without[1].backends[1].pool, ["10.64.1.21"]);
        for lbs in [&with, &without] {
            assert!(lbs[2].backends[0].pool.is_empty());
            assert!(lbs[3].backends.is_empty() && lbs[3].frontend_count == 0);
        }
        let addresses: std::collections::HashSet<_> = with.iter().map(|l| &l.ip.address).collect();
        assert_eq!(addresses.len(), 4);
    }

    #[test]
    fn counts_follow_what_is_served() {
        let lbs = build(7, today(), &projects(), |_, _| Vec::new());
        for lb in &lbs {
            let json = load_balancer("org", lb);
            assert_eq!(json["backend_count"], lb.backends.len());
            assert_eq!(json["type"], lb.lb_type);
            assert_eq!(json["ip"][0]["lb_id"], lb.id);
            assert!(lb.updated_at >= lb.created_at);
            for b in &lb.backends {
                let served = backend("org", lb, b);
                assert_eq!(served["lb"], json);
                assert!(b.created_at > lb.created_at);
            }
        }
        let legacy = &lbs[2];
        assert_eq!(legacy.created_at.date_naive(), today() - chrono::Days::new(120));
        assert_eq!(lbs[3].created_at.date_naive(), today() - chrono::Days::new(45));
    }
}
