//! The oracle of the idle-services report: the load balancers and managed databases a correct report must flag,
//! and those it must not.
//!
//! Load balancers are judged on what the Load Balancer API serves (no backend, or backends whose pools are all
//! empty); databases on what Cockpit serves (daily CPU peaks under 8 %, or no connection at all). The costs are the
//! price book's, the one the Product Catalog publishes, so a report that prices from the catalog finds them exactly.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::SimConfig;
use crate::org::Organization;
use crate::prices::hourly_to_monthly;
use crate::products::lb::LOAD_BALANCERS;
use crate::products::rdb::DATABASES;

/// An idle service and what it costs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdleService {
    /// `load_balancer` | `database`.
    pub kind: &'static str,
    pub resource_id: String,
    pub name: String,
    pub project_id: String,
    /// The load balancer's zone, or the database's region.
    pub zone: String,
    /// The creation date.
    pub since: NaiveDate,
    /// The catalog's hourly price × 730, twice for a high-availability database (two nodes).
    pub monthly_cost: Decimal,
    /// `no_backend` | `empty_pools` (load balancers), `low_cpu` | `no_connection` (databases).
    pub reason: &'static str,
}

/// What an idle-services report must find for a configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServicesTruth {
    /// `lb-legacy-frontend` (empty pools), then `lb-staging-gateway` (no backend).
    pub idle_load_balancers: Vec<IdleService>,
    /// `db-archive-2023` (low CPU), then `db-staging-orphan` (no connection).
    pub idle_databases: Vec<IdleService>,
    /// The ids of the load balancers and databases that must not be flagged (`web-lb`, `api-lb`, `db-main`,
    /// `db-orders`).
    pub healthy: Vec<String>,
}

/// The idle-services oracle for `config`.
pub fn services(config: &SimConfig) -> ServicesTruth {
    truth(&Organization::build(config))
}

pub(crate) fn truth(org: &Organization) -> ServicesTruth {
    let prices = &org.prices;
    let mut truth = ServicesTruth { idle_load_balancers: Vec::new(), idle_databases: Vec::new(), healthy: Vec::new() };
    for (lb, spec) in org.load_balancers.iter().zip(&LOAD_BALANCERS) {
        let Some(reason) = spec.idle else {
            truth.healthy.push(lb.id.clone());
            continue;
        };
        // An unpriced offer would be a bug in the tables; the oracle then says nothing rather than a wrong cost.
        let Some(offer) = prices.lb_type(&lb.zone, &lb.lb_type) else { continue };
        truth.idle_load_balancers.push(IdleService {
            kind: "load_balancer",
            resource_id: lb.id.clone(),
            name: lb.name.clone(),
            project_id: lb.project_id.clone(),
            zone: lb.zone.clone(),
            since: lb.created_at.date_naive(),
            monthly_cost: hourly_to_monthly(offer.hourly_price).normalize(),
            reason,
        });
    }
    for (db, spec) in org.databases.iter().zip(&DATABASES) {
        let Some(reason) = spec.idle else {
            truth.healthy.push(db.id.clone());
            continue;
        };
        let Some(node) = prices.db_node_type(&db.region, &db.node_type) else { continue };
        let nodes = Decimal::from(if db.is_ha_cluster { 2 } else { 1 });
        truth.idle_databases.push(IdleService {
            kind: "database",
            resource_id: db.id.clone(),
            name: db.name.clone(),
            project_id: db.project_id.clone(),
            zone: db.region.clone(),
            since: db.created_at.date_naive(),
            monthly_cost: (hourly_to_monthly(node.hourly_price) * nodes).normalize(),
            reason,
        });
    }
    truth
}

#[cfg(test)]
mod tests {
    use chrono::Days;

    use super::*;
    use crate::products::catalog::catalog;
    use crate::wire::Style;

    fn config() -> SimConfig {
        SimConfig { today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), ..SimConfig::default() }
    }

    #[test]
    fn the_planted_services() {
        let config = config();
        let org = Organization::build(&config);
        let truth = services(&config);
        let (p0, p1) = (org.projects[0].id.as_str(), org.projects[1].id.as_str());
        fn row(s: &IdleService) -> (&'static str, &str, &str, &str, &'static str, String) {
            (s.kind, s.name.as_str(), s.project_id.as_str(), s.zone.as_str(), s.reason, s.monthly_cost.to_string())
        }
        let lbs: Vec<_> = truth.idle_load_balancers.iter().map(row).collect();
        assert_eq!(
            lbs,
            [
                ("load_balancer", "lb-legacy-frontend", p0, "fr-par-1", "empty_pools", "9.052".to_string()),
                ("load_balancer", "lb-staging-gateway", p1, "nl-ams-1", "no_backend", "63.802".to_string()),
            ]
        );
        let dbs: Vec<_> = truth.idle_databases.iter().map(row).collect();
        assert_eq!(
            dbs,
            [
                ("database", "db-archive-2023", p0, "fr-par", "low_cpu", "23.506".to_string()),
                ("database", "db-staging-orphan", p1, "nl-ams", "no_connection", "11.972".to_string()),
            ]
        );
        assert_eq!(truth.idle_load_balancers[0].since, config.today - Days::new(120));
        assert_eq!(truth.idle_load_balancers[1].since, config.today - Days::new(45));
        for s in truth.idle_load_balancers.iter().chain(&truth.idle_databases) {
            let id = &s.resource_id;
            assert!(org.load_balancer(id).is_some() || org.database(id).is_some());
            assert!(!truth.healthy.contains(id));
        }
        let names: Vec<&str> = truth
            .healthy
            .iter()
            .map(|id| {
                org.load_balancer(id).map_or_else(|| org.database(id).unwrap().name.as_str(), |l| l.name.as_str())
            })
            .collect();
        assert_eq!(names, ["web-lb", "api-lb", "db-main", "db-orders"]);
        // The idle load balancers are idle as served; the healthy ones forward to servers.
        let legacy = org.load_balancer(&truth.idle_load_balancers[0].resource_id).unwrap();
        assert!(!legacy.backends.is_empty() && legacy.backends.iter().all(|b| b.pool.is_empty()));
        assert!(org.load_balancer(&truth.idle_load_balancers[1].resource_id).unwrap().backends.is_empty());
        for lb in org.load_balancers.iter().filter(|l| truth.healthy.contains(&l.id)) {
            assert!(lb.backends.iter().all(|b| !b.pool.is_empty()), "{}", lb.name);
        }
    }

    #[test]
    fn costs_are_the_catalog_prices() {
        let org = Organization::build(&config());
        let truth = truth(&org);
        let products = catalog(&org.prices, Style::default());
        let hourly = |sku: String| {
            let p = products.iter().find(|p| p.json["sku"] == sku.as_str()).unwrap();
            let m = &p.json["price"]["retail_price"];
            Decimal::from(m["units"].as_i64().unwrap()) + Decimal::new(m["nanos"].as_i64().unwrap(), 9)
        };
        for s in &truth.idle_load_balancers {
            let lb = org.load_balancer(&s.resource_id).unwrap();
            let price = hourly(format!("/network/loadbalancer/{}/run_{}", lb.lb_type, lb.zone));
            assert_eq!(s.monthly_cost, price * Decimal::from(730));
        }
        for s in &truth.idle_databases {
            let db = org.database(&s.resource_id).unwrap();
            let price = hourly(format!("/rdb/{}/run_{}", db.node_type, db.region));
            let nodes = Decimal::from(if db.is_ha_cluster { 2 } else { 1 });
            assert_eq!(s.monthly_cost, price * Decimal::from(730) * nodes);
        }
        // The HA database would cost two nodes.
        let main = org.databases.iter().find(|d| d.name == "db-main").unwrap();
        assert!(main.is_ha_cluster);
    }

    #[test]
    fn ids_depend_on_the_seed_only() {
        let a = services(&SimConfig { servers: 0, projects: 2, ..config() });
        let b = services(&SimConfig { servers: 250, projects: 7, ..config() });
        assert_eq!(a, b);
        assert_ne!(a, services(&SimConfig { seed: 7, ..config() }));
    }
}
