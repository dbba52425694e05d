//! Managed Database (RDB) v1, regional: the database instances (`/rdb/v1/regions/{region}/instances`, TotalCount
//! paging).
//!
//! A database bills its node type by the hour (twice for a high-availability cluster) whether or not anything uses
//! it; only its metrics tell. [`DATABASES`] plants two healthy ones and two idle ones, each idle in a different
//! way: one barely uses its CPU yet keeps a few connections, the other keeps its CPU busy (maintenance, a stuck
//! job) but nobody ever connects. Their load and connection profiles are served by Cockpit
//! ([`crate::products::cockpit`]); [`crate::services()`] is their oracle.

use std::collections::HashMap;

use axum::http::Uri;
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::http::{Handled, Params, require_region};
use crate::ids::{IdStream, api_ts};
use crate::listing::{BLOCK_ORDERS, Item, SortKey, apply_order, filtered, named, sort, total_count_page};
use crate::paging::Page;
use crate::prices::{DbNodeType, GB, PriceBook, RDB_REGIONS};
use crate::wire::Style;

// ---------------------------------------------------------------------------------------------------------------
// Model

#[derive(Debug, Clone, PartialEq)]
pub struct DbEndpoint {
    pub id: String,
    /// The address on the private network.
    pub ip: String,
    pub port: u16,
    pub private_network_id: String,
    pub zone: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub region: String,
    /// `PostgreSQL-16`.
    pub engine: String,
    /// Lower case (`db-dev-s`): the price is the catalog's Managed Database product of that name.
    pub node_type: String,
    /// Two nodes are billed when true.
    pub is_ha_cluster: bool,
    /// `lssd` | `bssd` | `sbs_5k` | `sbs_15k`.
    pub volume_type: String,
    /// `lssd` | `bssd` | `sbs`.
    pub volume_class: String,
    /// Bytes.
    pub volume_size: u64,
    pub status: String,
    pub tags: Vec<String>,
    pub endpoint: DbEndpoint,
    pub created_at: DateTime<Utc>,
    /// The next daily backup (the day after `today`, at the creation's time of day).
    pub backup_next_run_at: DateTime<Utc>,
}

/// Who connects to a database, as `rdb_instance_postgresql_pg_stat_database_numbackends` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Connections {
    /// An application pool: from a few at night to dozens at the daily peak.
    Busy,
    /// One to three (a monitoring agent, a forgotten client).
    Few,
    /// Nobody, ever.
    Never,
}

/// A database of the organisation, with the load Cockpit serves for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DbSpec {
    pub name: &'static str,
    /// Index of the project (modulo the number of projects).
    pub project: usize,
    pub region: &'static str,
    pub node_type: &'static str,
    pub ha: bool,
    pub created_days_ago: u64,
    /// `(type, class, size in GB)`.
    pub volume: (&'static str, &'static str, u64),
    pub tags: &'static [&'static str],
    /// CPU utilisation profile `(base, amplitude)` (see Cockpit's load profiles); `None` for a healthy one, whose
    /// daily peak is drawn between 48 % and 60 %.
    pub cpu: Option<(f64, f64)>,
    pub connections: Connections,
    /// Why a report must flag it (`low_cpu` | `no_connection`), `None` for a healthy one.
    pub idle: Option<&'static str>,
}

/// The databases, in table order.
pub(crate) const DATABASES: [DbSpec; 4] = [
    DbSpec {
        name: "db-main",
        project: 0,
        region: "fr-par",
        node_type: "db-pro2-xxs",
        ha: true,
        created_days_ago: 400,
        volume: ("sbs_5k", "sbs", 50),
        tags: &["team=platform", "env:prod"],
        cpu: None,
        connections: Connections::Busy,
        idle: None,
    },
    DbSpec {
        name: "db-orders",
        project: 1,
        region: "fr-par",
        node_type: "db-dev-m",
        ha: false,
        created_days_ago: 250,
        volume: ("sbs_5k", "sbs", 20),
        tags: &["team=checkout", "env=prod", "critical"],
        cpu: None,
        connections: Connections::Busy,
        idle: None,
    },
    // Planted: daily CPU peaks stay under 8 % (5-minute utilisation at most 6.4 %), yet a monitoring agent keeps
    // one to three connections open; idle by CPU, not by connections.
    DbSpec {
        name: "db-archive-2023",
        project: 0,
        region: "fr-par",
        node_type: "db-dev-m",
        ha: false,
        created_days_ago: 700,
        volume: ("bssd", "bssd", 100),
        tags: &["archive"],
        cpu: Some((0.02, 0.04)),
        connections: Connections::Few,
        idle: Some("low_cpu"),
    },
    // Planted: daily CPU peaks between 32 % and 36 % (not idle by CPU), but no connection in its whole history.
    DbSpec {
        name: "db-staging-orphan",
        project: 1,
        region: "nl-ams",
        node_type: "db-dev-s",
        ha: false,
        created_days_ago: 60,
        volume: ("lssd", "lssd", 5),
        tags: &["env=staging"],
        cpu: Some((0.20, 0.12)),
        connections: Connections::Never,
        idle: Some("no_connection"),
    },
];

/// Builds the databases of [`DATABASES`], in table order, from their own seeded stream.
pub(crate) fn build(seed: u64, today: NaiveDate, project_ids: &[String]) -> Vec<Database> {
    let mut rng = IdStream::new(seed, "databases");
    DATABASES
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let id = rng.uuid();
            let created_at = rng.days_ago(today, spec.created_days_ago);
            let tomorrow = today.checked_add_days(Days::new(1)).unwrap_or(today);
            let backup_next_run_at = tomorrow.and_time(created_at.time()).and_utc();
            let endpoint = DbEndpoint {
                id: rng.uuid(),
                ip: format!("192.168.{}.{}", i + 1, 2 + rng.below(250)),
                port: 5432,
                private_network_id: rng.uuid(),
                zone: format!("{}-1", spec.region),
            };
            let (volume_type, volume_class, size_gb) = spec.volume;
            Database {
                id,
                name: spec.name.to_string(),
                project_id: project_ids[spec.project % project_ids.len()].clone(),
                region: spec.region.to_string(),
                engine: "PostgreSQL-16".to_string(),
                node_type: spec.node_type.to_string(),
                is_ha_cluster: spec.ha,
                volume_type: volume_type.to_string(),
                volume_class: volume_class.to_string(),
                volume_size: size_gb * GB,
                status: "ready".to_string(),
                tags: spec.tags.iter().map(ToString::to_string).collect(),
                endpoint,
                created_at,
                backup_next_run_at,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Wire shape

/// The engine settings Scaleway derives from the node's memory (the recorded db-dev-s, 2 GB, has these values).
fn settings(node: Option<&DbNodeType>) -> Value {
    let gb = node.map_or(2, |n| n.memory / GB);
    let vcpus = node.map_or(2, |n| n.vcpus);
    let parallel = if vcpus > 2 || gb >= 8 { vcpus / 2 } else { 0 };
    let pairs = [
        ("effective_cache_size", gb * 650),
        ("maintenance_work_mem", gb * 75),
        ("max_connections", 100 * gb.div_ceil(2).min(4)),
        ("max_parallel_workers", u64::from(parallel)),
        ("max_parallel_workers_per_gather", u64::from(parallel / 2)),
        ("work_mem", 2 * gb),
    ];
    Value::Array(pairs.iter().map(|(name, value)| json!({"name": name, "value": value.to_string()})).collect())
}

/// A database instance, field for field as recorded (rdb/instances_list.json).
pub fn database(organization_id: &str, node: Option<&DbNodeType>, d: &Database) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "organization_id": organization_id,
        "project_id": d.project_id,
        "status": d.status,
        "engine": d.engine,
        "upgradable_version": [],
        "endpoint": null,
        "tags": d.tags,
        "settings": settings(node),
        "backup_schedule": {
            "frequency": 24,
            "retention": 7,
            "disabled": false,
            "next_run_at": api_ts(d.backup_next_run_at),
        },
        "is_ha_cluster": d.is_ha_cluster,
        "read_replicas": [],
        "node_type": d.node_type,
        "volume": {"type": d.volume_type, "size": d.volume_size, "class": d.volume_class},
        "init_settings": [],
        "endpoints": [{
            "ip": d.endpoint.ip,
            "port": d.endpoint.port,
            "name": null,
            "id": d.endpoint.id,
            "private_network": {
                "private_network_id": d.endpoint.private_network_id,
                "service_ip": format!("{}/24", d.endpoint.ip),
                "zone": d.endpoint.zone,
                "provisioning_mode": "static",
            },
        }],
        "logs_policy": {"max_age_retention": 30, "total_disk_retention": null},
        "backup_same_region": false,
        "maintenances": [],
        "encryption": {"enabled": false},
        "created_at": api_ts(d.created_at),
        "region": d.region,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Routes

/// The database instances by region, rendered once at start.
pub(crate) struct Lists {
    organization_id: String,
    style: Style,
    instances: HashMap<String, Vec<Item>>,
}

impl Lists {
    pub(crate) fn new(organization_id: &str, databases: &[Database], prices: &PriceBook, style: Style) -> Lists {
        let mut instances: HashMap<String, Vec<Item>> = HashMap::new();
        for d in databases {
            let json = database(organization_id, prices.db_node_type(&d.region, &d.node_type), d);
            // The API has no `updated_at`; creation orders both ways.
            let item = Item::new(&d.id, &d.name, &d.project_id, d.created_at, d.created_at, json);
            instances.entry(d.region.clone()).or_default().push(item);
        }
        for items in instances.values_mut() {
            sort(items, SortKey::CreatedAsc);
        }
        Lists { organization_id: organization_id.to_string(), style, instances }
    }
}

/// `GET /rdb/v1/regions/{region}/instances`.
pub(crate) fn list(data: &Lists, region: &str, uri: &Uri) -> Handled {
    require_region(region, &RDB_REGIONS)?;
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let all = data.instances.get(region).map_or(&[][..], Vec::as_slice);
    let items = filtered(&data.organization_id, all, params.get("organization_id"), params.get("project_id"));
    let mut items = named(items, params.get("name"));
    apply_order(&mut items, &params, "order_by", &BLOCK_ORDERS, "created_at_asc")?;
    total_count_page(data.style, "instances", &items, &page, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_node_has_the_recorded_settings() {
        let book = PriceBook::default();
        let dev_s = book.db_node_type("fr-par", "db-dev-s");
        let recorded = json!([
            {"name": "effective_cache_size", "value": "1300"},
            {"name": "maintenance_work_mem", "value": "150"},
            {"name": "max_connections", "value": "100"},
            {"name": "max_parallel_workers", "value": "0"},
            {"name": "max_parallel_workers_per_gather", "value": "0"},
            {"name": "work_mem", "value": "4"},
        ]);
        assert_eq!(settings(dev_s), recorded);
    }

    #[test]
    fn every_database_has_a_published_node_type() {
        let book = PriceBook::default();
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let dbs = build(42, today, &["p0".to_string(), "p1".to_string()]);
        assert_eq!(dbs.len(), DATABASES.len());
        for (d, spec) in dbs.iter().zip(&DATABASES) {
            assert!(book.db_node_type(&d.region, &d.node_type).is_some(), "{}", d.name);
            assert_eq!(d.created_at.date_naive(), today - Days::new(spec.created_days_ago));
            assert!(d.backup_next_run_at > today.and_hms_opt(0, 0, 0).unwrap().and_utc());
        }
        assert_eq!(dbs[3].project_id, "p1");
        assert_eq!(build(42, today, &["a".to_string(), "b".to_string()])[0].id, dbs[0].id);
    }
}
