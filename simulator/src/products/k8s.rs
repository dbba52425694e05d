//! Kubernetes Kapsule v1, regional: the clusters (`/k8s/v1/regions/{region}/clusters`), and the pools and nodes of
//! each (`…/clusters/{cluster_id}/{pools,nodes}`), TotalCount paging.
//!
//! A pool bills its nodes (Instances of its node type) by the hour however busy they are, so the waste a report
//! must find is the nodes a pool could do without: [`CLUSTERS`] plants a healthy pool, an oversized one whose
//! autoscaler is held by `min_size`, a fixed-size one idling in staging, and one too young to judge. The nodes'
//! CPU series are served by Cockpit ([`crate::products::cockpit`]) with the pool's load; [`crate::kapsule()`] is
//! the oracle.
//!
//! Every node is an Instance (`provider_id` = `scaleway://instance/{zone}/{instance id}`) that the Instance API
//! lists, Billing charges under Compute and Cockpit measures, as in reality (see `Organization::managed_servers`;
//! its root volume is left out). The cluster's control plane is not billed here.

use std::collections::HashMap;

use axum::http::Uri;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::http::{ApiError, Handled, Params, require_region};
use crate::ids::{IdStream, api_ts};
use crate::listing::{BLOCK_ORDERS, Item, SortKey, apply_order, filtered, get_one, named, sort, total_count_page};
use crate::paging::Page;
use crate::wire::Style;

/// The regions the simulated Kapsule API serves.
pub const K8S_REGIONS: [&str; 3] = ["fr-par", "nl-ams", "pl-waw"];

// ---------------------------------------------------------------------------------------------------------------
// Model

#[derive(Debug, Clone, PartialEq)]
pub struct KapsuleNode {
    pub id: String,
    /// `scw-{cluster}-{pool}-{first 10 hex digits of the id}`.
    pub name: String,
    /// The Instance the node runs on (the uuid in `provider_id`); Cockpit's `resource_id` of its series.
    pub instance_id: String,
    pub public_ip_v4: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl KapsuleNode {
    /// `scaleway://instance/{zone}/{instance id}`.
    pub fn provider_id(&self, zone: &str) -> String {
        format!("scaleway://instance/{zone}/{}", self.instance_id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct KapsulePool {
    pub id: String,
    pub name: String,
    pub zone: String,
    /// Lower case with underscores, as the API writes it (`pro2_s`).
    pub node_type: String,
    /// The Instance commercial type of the nodes (`PRO2-S`), the price book's key.
    pub commercial_type: String,
    pub autoscaling: bool,
    pub size: u32,
    pub min_size: u32,
    pub max_size: u32,
    pub status: String,
    pub security_group_id: String,
    pub root_volume_type: String,
    /// Bytes.
    pub root_volume_size: u64,
    /// `size` nodes, all `ready`.
    pub nodes: Vec<KapsuleNode>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KapsuleCluster {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub region: String,
    /// The control-plane offer: `kapsule`.
    pub cluster_type: String,
    pub status: String,
    pub version: String,
    pub upgrade_available: bool,
    pub cni: String,
    pub tags: Vec<String>,
    pub private_network_id: String,
    pub iam_nodes_group_id: String,
    pub pools: Vec<KapsulePool>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A pool of a planted cluster, with the load Cockpit serves for its nodes and the verdict that load calls for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolSpec {
    pub name: &'static str,
    pub zone: &'static str,
    /// As the API writes it (`pro2_s`); the commercial type is it upper-cased with dashes.
    pub node_type: &'static str,
    pub autoscaling: bool,
    pub size: u32,
    pub min_size: u32,
    pub max_size: u32,
    pub created_days_ago: u64,
    /// CPU utilisation profile `(base, amplitude)` of every node (see Cockpit's load profiles).
    pub load: (f64, f64),
    /// What the rule of [`crate::kapsule()`] finds from the served series (checked by a test).
    pub recommendation: &'static str,
    pub nodes_that_could_go: u32,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ClusterSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// Index of the project (modulo the number of projects).
    pub project: usize,
    pub region: &'static str,
    pub created_days_ago: u64,
    pub version: &'static str,
    pub upgrade_available: bool,
    pub tags: &'static [&'static str],
    pub pools: &'static [PoolSpec],
}

/// The clusters and their pools, in table order (the oracle's order: `default`, `batch`, `ci`, `staging`).
pub(crate) const CLUSTERS: [ClusterSpec; 2] = [
    ClusterSpec {
        name: "prod-k8s",
        description: "Production workloads of the shop",
        project: 1,
        region: "fr-par",
        created_days_ago: 250,
        version: "1.34.4",
        upgrade_available: true,
        tags: &["team=checkout", "env=prod"],
        pools: &[
            // Healthy: the daily peak keeps its three nodes busy.
            PoolSpec {
                name: "default",
                zone: "fr-par-1",
                node_type: "gp1_xs",
                autoscaling: true,
                size: 3,
                min_size: 3,
                max_size: 6,
                created_days_ago: 250,
                // Busy but within its size: about 70 % of its vCPUs at the daily peak.
                load: (0.35, 0.30),
                recommendation: "ok",
                nodes_that_could_go: 0,
            },
            // Planted: the load fits on one node, but min_size holds the autoscaler at four.
            PoolSpec {
                name: "batch",
                zone: "fr-par-1",
                node_type: "pro2_s",
                autoscaling: true,
                size: 4,
                min_size: 4,
                max_size: 8,
                created_days_ago: 200,
                load: (0.05, 0.05),
                recommendation: "shrink",
                nodes_that_could_go: 3,
            },
            // Healthy, but six days of metrics are too few to judge.
            PoolSpec {
                name: "ci",
                zone: "fr-par-1",
                node_type: "dev1_m",
                autoscaling: false,
                size: 2,
                min_size: 2,
                max_size: 2,
                created_days_ago: 6,
                load: (0.40, 0.35),
                recommendation: "insufficient_data",
                nodes_that_could_go: 0,
            },
        ],
    },
    ClusterSpec {
        name: "staging-k8s",
        description: "Staging",
        project: 2,
        region: "nl-ams",
        created_days_ago: 120,
        version: "1.35.3",
        upgrade_available: false,
        tags: &["env=staging"],
        pools: &[
            // Planted: a fixed-size pool of two nodes that would idle on one.
            PoolSpec {
                name: "staging",
                zone: "nl-ams-1",
                node_type: "gp1_xs",
                autoscaling: false,
                size: 2,
                min_size: 2,
                max_size: 2,
                created_days_ago: 120,
                load: (0.02, 0.02),
                recommendation: "shrink",
                nodes_that_could_go: 1,
            },
        ],
    },
];

/// The Instance commercial type of a Kapsule node type (`pro2_s` → `PRO2-S`).
pub fn commercial_type(node_type: &str) -> String {
    node_type.to_uppercase().replace('_', "-")
}

/// Builds the clusters of [`CLUSTERS`], in table order, from their own seeded stream (so that no other id of the
/// organisation depends on them, nor theirs on it).
pub(crate) fn build(seed: u64, today: NaiveDate, project_ids: &[String]) -> Vec<KapsuleCluster> {
    let mut rng = IdStream::new(seed, "kapsule");
    let mut node_index = 0u64;
    CLUSTERS
        .iter()
        .map(|spec| {
            let id = rng.uuid();
            let created_at = rng.days_ago(today, spec.created_days_ago);
            let touched = rng.below(30).min(spec.created_days_ago);
            let updated_at = rng.days_ago(today, spec.created_days_ago - touched).max(created_at);
            let private_network_id = rng.uuid();
            let iam_nodes_group_id = rng.uuid();
            let security_group_id = rng.uuid();
            let pools = spec
                .pools
                .iter()
                .map(|p| {
                    let pool_id = rng.uuid();
                    let drawn = rng.days_ago(today, p.created_days_ago);
                    // A pool created with its cluster comes a few minutes after it.
                    let pool_created = if p.created_days_ago >= spec.created_days_ago || drawn <= created_at {
                        created_at + Duration::seconds(60 + rng.below(540) as i64)
                    } else {
                        drawn
                    };
                    let ready = pool_created + Duration::seconds(120 + rng.below(120) as i64);
                    let nodes = (0..p.size)
                        .map(|_| {
                            let node_id = rng.uuid();
                            let instance_id = rng.uuid();
                            let hex: String = node_id.chars().filter(|c| *c != '-').take(10).collect();
                            // 195.154.200+.x: no server, load balancer or ghost address shares the prefix; one third
                            // octet per node keeps them distinct.
                            let public_ip_v4 = format!("195.154.{}.{}", 200 + node_index, 1 + rng.below(254));
                            node_index += 1;
                            KapsuleNode {
                                name: format!("scw-{}-{}-{hex}", spec.name, p.name),
                                id: node_id,
                                instance_id,
                                public_ip_v4,
                                status: "ready".to_string(),
                                created_at: pool_created,
                                updated_at: ready,
                            }
                        })
                        .collect();
                    KapsulePool {
                        id: pool_id,
                        name: p.name.to_string(),
                        zone: p.zone.to_string(),
                        node_type: p.node_type.to_string(),
                        commercial_type: commercial_type(p.node_type),
                        autoscaling: p.autoscaling,
                        size: p.size,
                        min_size: p.min_size,
                        max_size: p.max_size,
                        status: "ready".to_string(),
                        security_group_id: security_group_id.clone(),
                        root_volume_type: "sbs_5k".to_string(),
                        root_volume_size: 20_000_000_000,
                        nodes,
                        created_at: pool_created,
                        updated_at: ready,
                    }
                })
                .collect();
            KapsuleCluster {
                id,
                name: spec.name.to_string(),
                description: spec.description.to_string(),
                project_id: project_ids[spec.project % project_ids.len()].clone(),
                region: spec.region.to_string(),
                cluster_type: "kapsule".to_string(),
                status: "ready".to_string(),
                version: spec.version.to_string(),
                upgrade_available: spec.upgrade_available,
                cni: "cilium".to_string(),
                tags: spec.tags.iter().map(ToString::to_string).collect(),
                private_network_id,
                iam_nodes_group_id,
                pools,
                created_at,
                updated_at,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Wire shapes

/// A cluster, field for field as recorded (k8s/clusters_list.json).
pub fn cluster(organization_id: &str, c: &KapsuleCluster) -> Value {
    json!({
        "region": c.region,
        "id": c.id,
        "organization_id": organization_id,
        "project_id": c.project_id,
        "created_at": api_ts(c.created_at),
        "updated_at": api_ts(c.updated_at),
        "type": c.cluster_type,
        "name": c.name,
        "description": c.description,
        "status": c.status,
        "version": c.version,
        "cni": c.cni,
        "tags": c.tags,
        "cluster_url": format!("https://{}.api.k8s.{}.scw.cloud:6443", c.id, c.region),
        "dns_wildcard": format!("*.{}.nodes.k8s.{}.scw.cloud", c.id, c.region),
        "autoscaler_config": {
            "scale_down_disabled": false,
            "scale_down_delay_after_add": "10m",
            "estimator": "binpacking",
            "expander": "random",
            "ignore_daemonsets_utilization": false,
            "balance_similar_node_groups": false,
            "expendable_pods_priority_cutoff": 0,
            "scale_down_unneeded_time": "10m",
            "scale_down_utilization_threshold": 0.5,
            "max_graceful_termination_sec": 0,
            "skip_nodes_with_local_storage": false,
            "log_level": 2,
        },
        "auto_upgrade": {"enabled": false, "maintenance_window": {"start_hour": 0, "day": "any"}},
        "upgrade_available": c.upgrade_available,
        "feature_gates": [],
        "admission_plugins": [],
        "open_id_connect_config": {
            "issuer_url": "",
            "client_id": "",
            "username_claim": "",
            "username_prefix": "",
            "groups_claim": [],
            "groups_prefix": "",
            "required_claim": [],
        },
        "apiserver_cert_sans": [],
        "private_network_id": c.private_network_id,
        // A shared control plane commits to nothing: the commitment ends at creation.
        "commitment_ends_at": api_ts(c.created_at),
        "acl_available": true,
        "iam_nodes_group_id": c.iam_nodes_group_id,
        "pod_cidr": "100.64.0.0/15",
        "service_cidr": "10.32.0.0/20",
        "service_dns_ip": "10.32.0.10",
    })
}

/// A pool, field for field as recorded (k8s/pools_list.json).
pub fn pool(c: &KapsuleCluster, p: &KapsulePool) -> Value {
    json!({
        "region": c.region,
        "id": p.id,
        "cluster_id": c.id,
        "created_at": api_ts(p.created_at),
        "updated_at": api_ts(p.updated_at),
        "name": p.name,
        "status": p.status,
        "version": c.version,
        "node_type": p.node_type,
        "autoscaling": p.autoscaling,
        "size": p.size,
        "min_size": p.min_size,
        "max_size": p.max_size,
        "container_runtime": "containerd",
        "autohealing": true,
        "tags": [],
        "placement_group_id": null,
        "kubelet_args": {},
        "upgrade_policy": {"max_unavailable": 1, "max_surge": 0},
        "zone": p.zone,
        "root_volume_type": p.root_volume_type,
        "root_volume_size": p.root_volume_size,
        "public_ip_disabled": false,
        "security_group_id": p.security_group_id,
        "labels": {},
        "taints": [],
        "startup_taints": [],
    })
}

/// A node, field for field as recorded (k8s/nodes_list.json).
pub fn node(c: &KapsuleCluster, p: &KapsulePool, n: &KapsuleNode) -> Value {
    json!({
        "region": c.region,
        "id": n.id,
        "cluster_id": c.id,
        "created_at": api_ts(n.created_at),
        "updated_at": api_ts(n.updated_at),
        "pool_id": p.id,
        "status": n.status,
        "conditions": {
            "DiskPressure": "False",
            "MemoryPressure": "False",
            "NetworkUnavailable": "False",
            "PIDPressure": "False",
            "Ready": "True",
        },
        "name": n.name,
        "public_ip_v4": n.public_ip_v4,
        "public_ip_v6": null,
        "provider_id": n.provider_id(&p.zone),
        "error_message": "",
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Routes

/// The pools and nodes of one cluster, rendered.
struct ClusterItems {
    region: String,
    pools: Vec<Item>,
    nodes: Vec<Item>,
}

/// The clusters by region and the pools and nodes by cluster, rendered once at start.
pub(crate) struct Lists {
    organization_id: String,
    style: Style,
    clusters: HashMap<String, Vec<Item>>,
    by_cluster: HashMap<String, ClusterItems>,
}

impl Lists {
    pub(crate) fn new(organization_id: &str, clusters: &[KapsuleCluster], style: Style) -> Lists {
        let mut by_region: HashMap<String, Vec<Item>> = HashMap::new();
        let mut by_cluster = HashMap::new();
        for c in clusters {
            let json = cluster(organization_id, c);
            by_region.entry(c.region.clone()).or_default().push(Item::new(
                &c.id,
                &c.name,
                &c.project_id,
                c.created_at,
                c.updated_at,
                json,
            ));
            let mut pools = Vec::new();
            let mut nodes = Vec::new();
            for p in &c.pools {
                pools.push(Item::new(&p.id, &p.name, &c.project_id, p.created_at, p.updated_at, pool(c, p)));
                for n in &p.nodes {
                    nodes.push(Item::new(&n.id, &n.name, &c.project_id, n.created_at, n.updated_at, node(c, p, n)));
                }
            }
            sort(&mut pools, SortKey::CreatedAsc);
            sort(&mut nodes, SortKey::CreatedAsc);
            by_cluster.insert(c.id.clone(), ClusterItems { region: c.region.clone(), pools, nodes });
        }
        for items in by_region.values_mut() {
            sort(items, SortKey::CreatedAsc);
        }
        Lists { organization_id: organization_id.to_string(), style, clusters: by_region, by_cluster }
    }

    /// The pools and nodes of a cluster of `region`: 404 `not_found` (resource `cluster`) for one unknown there.
    fn cluster(&self, region: &str, cluster_id: &str) -> Result<&ClusterItems, ApiError> {
        self.by_cluster
            .get(cluster_id)
            .filter(|c| c.region == region)
            .ok_or_else(|| ApiError::ResourceNotFound { resource: "cluster", resource_id: cluster_id.to_string() })
    }
}

/// The `status` filter: `unknown` (what the SDK sends by default) or nothing means any.
fn with_status<'a>(items: Vec<&'a Item>, params: &Params) -> Vec<&'a Item> {
    match params.get("status").filter(|s| !s.is_empty() && *s != "unknown") {
        None => items,
        Some(status) => items.into_iter().filter(|i| i.json["status"] == status).collect(),
    }
}

/// `GET /k8s/v1/regions/{region}/clusters`.
pub(crate) fn list_clusters(data: &Lists, region: &str, uri: &Uri) -> Handled {
    require_region(region, &K8S_REGIONS)?;
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let all = data.clusters.get(region).map_or(&[][..], Vec::as_slice);
    let items = filtered(&data.organization_id, all, params.get("organization_id"), params.get("project_id"));
    let items = named(items, params.get("name"));
    let mut items = with_status(items, &params);
    apply_order(&mut items, &params, "order_by", &BLOCK_ORDERS, "created_at_asc")?;
    total_count_page(data.style, "clusters", &items, &page, true)
}

/// `GET /k8s/v1/regions/{region}/clusters/{cluster_id}`: 404 `not_found` (resource `cluster`) for one unknown in
/// that region.
pub(crate) fn get_cluster(data: &Lists, region: &str, cluster_id: &str) -> Handled {
    require_region(region, &K8S_REGIONS)?;
    get_one(data.clusters.get(region).map_or(&[][..], Vec::as_slice), cluster_id, "cluster")
}

/// `GET /k8s/v1/regions/{region}/clusters/{cluster_id}/pools`.
pub(crate) fn list_pools(data: &Lists, region: &str, cluster_id: &str, uri: &Uri) -> Handled {
    require_region(region, &K8S_REGIONS)?;
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let cluster = data.cluster(region, cluster_id)?;
    let items = named(cluster.pools.iter().collect(), params.get("name"));
    let mut items = with_status(items, &params);
    apply_order(&mut items, &params, "order_by", &BLOCK_ORDERS, "created_at_asc")?;
    total_count_page(data.style, "pools", &items, &page, true)
}

/// `GET /k8s/v1/regions/{region}/clusters/{cluster_id}/nodes`, optionally of one pool (`pool_id`).
pub(crate) fn list_nodes(data: &Lists, region: &str, cluster_id: &str, uri: &Uri) -> Handled {
    require_region(region, &K8S_REGIONS)?;
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let cluster = data.cluster(region, cluster_id)?;
    let pool_id = params.get("pool_id").filter(|p| !p.is_empty());
    let items: Vec<&Item> = cluster.nodes.iter().filter(|n| pool_id.is_none_or(|p| n.json["pool_id"] == p)).collect();
    let items = named(items, params.get("name"));
    let mut items = with_status(items, &params);
    apply_order(&mut items, &params, "order_by", &BLOCK_ORDERS, "created_at_asc")?;
    total_count_page(data.style, "nodes", &items, &page, true)
}

#[cfg(test)]
mod tests {
    use chrono::Days;

    use super::*;
    use crate::prices::{INSTANCE_ZONES, PriceBook};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn projects() -> Vec<String> {
        vec!["p0".to_string(), "p1".to_string(), "p2".to_string()]
    }

    #[test]
    fn every_pool_has_a_priced_node_type() {
        let book = PriceBook::default();
        let vcpus: Vec<(&str, u32)> = CLUSTERS
            .iter()
            .flat_map(|c| c.pools)
            .map(|p| {
                assert!(INSTANCE_ZONES.contains(&p.zone), "{}", p.name);
                let t = book.server_type(&commercial_type(p.node_type)).unwrap_or_else(|| panic!("{}", p.node_type));
                (p.name, t.ncpus)
            })
            .collect();
        assert_eq!(vcpus, [("default", 4), ("batch", 8), ("ci", 3), ("staging", 4)]);
    }

    #[test]
    fn nodes_follow_their_pool() {
        let clusters = build(42, today(), &projects());
        assert_eq!(clusters.len(), 2);
        assert_eq!((clusters[0].project_id.as_str(), clusters[1].project_id.as_str()), ("p1", "p2"));
        assert_eq!(clusters[0].created_at.date_naive(), today() - Days::new(250));
        let mut instances = std::collections::HashSet::new();
        for (c, spec) in clusters.iter().zip(&CLUSTERS) {
            for (p, ps) in c.pools.iter().zip(spec.pools) {
                assert_eq!(p.created_at.date_naive(), today() - Days::new(ps.created_days_ago), "{}", p.name);
                assert!(p.created_at > c.created_at);
                if ps.created_days_ago == spec.created_days_ago {
                    let after = (p.created_at - c.created_at).num_seconds();
                    assert!((60..600).contains(&after), "{after}");
                }
                assert_eq!(p.nodes.len() as u32, p.size);
                assert!(p.min_size <= p.size && p.size <= p.max_size);
                for n in &p.nodes {
                    assert_eq!(n.created_at, p.created_at);
                    let hex: String = n.id.replace('-', "")[..10].to_string();
                    assert_eq!(n.name, format!("scw-{}-{}-{hex}", c.name, p.name));
                    let json = node(c, p, n);
                    assert_eq!(json["provider_id"], format!("scaleway://instance/{}/{}", p.zone, n.instance_id));
                    assert!(instances.insert(n.instance_id.clone()));
                }
            }
        }
        // Ids depend on the seed only.
        let two = build(42, today(), &["a".to_string(), "b".to_string()]);
        assert_eq!(two[1].pools[0].nodes[1].instance_id, clusters[1].pools[0].nodes[1].instance_id);
        assert_eq!(two[1].project_id, "a");
        assert_ne!(build(7, today(), &projects())[0].id, clusters[0].id);
    }
}
