//! The oracle of a Kapsule pools report: every pool of every Kubernetes Kapsule cluster, its bounds, its nodes (as
//! the Instances Cockpit measures), what its load calls for and what it costs.
//!
//! The rule, applied to what Cockpit serves for the nodes' Instances (`instance_server_cpu_seconds_total` and
//! `instance_server_vcpu_count`, `resource_id` = the Instance id of the node's `provider_id`):
//!
//! * the 5-minute utilisation of a node is `Δcounter / (300 s × vCPUs)` between consecutive samples; an interval
//!   belongs to the UTC day of its end, and a node's **daily p95** is the 95th percentile of its intervals of that
//!   day;
//! * the days judged are the last [`POOL_WINDOW_DAYS`] days ending at the newest day with metrics (the metrics
//!   clock's day); a pool's **days with metrics** are those on which at least one of its nodes has an interval;
//! * per pool and day, **used vCPUs** = Σ over the pool's nodes of (daily p95 × the node's vCPUs); the **peak** is
//!   the highest day;
//! * **nodes needed** = `max(1, ceil(peak / (vCPUs per node × 0.8)))` ([`POOL_TARGET_UTILISATION`]), the nodes that
//!   keep the peak under 80 %;
//! * `insufficient_data` when fewer than [`POOL_MIN_DAYS`] days have metrics; otherwise `shrink` when `size` >
//!   nodes needed (**nodes that could go** = `size − needed`), else `ok` (none could go; 0 too when the data is
//!   insufficient).
//!
//! The costs are the price book's (the `products/servers` list and the catalog): `monthly_cost` = `size` × the
//! hourly price of the node type's commercial type in the pool's zone × 730, `monthly_savings` = nodes that could
//! go × the same. The planted verdicts are the Kapsule table's; a test derives them from the served series by this
//! rule.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::SimConfig;
use crate::org::Organization;
use crate::prices::{INSTANCE_ZONES, hourly_to_monthly};
use crate::products::k8s::CLUSTERS;

/// Days of history judged, ending at the newest day with metrics.
pub const POOL_WINDOW_DAYS: u32 = 30;
/// Fewer days with metrics than this: `insufficient_data`.
pub const POOL_MIN_DAYS: u32 = 14;
/// The utilisation the needed nodes keep the peak under.
pub const POOL_TARGET_UTILISATION: f64 = 0.8;

/// One Kapsule pool as a report must describe it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolTruth {
    pub cluster_id: String,
    pub cluster_name: String,
    pub pool_id: String,
    pub pool_name: String,
    pub project_id: String,
    pub region: String,
    pub zone: String,
    /// The nodes' Instance commercial type (`GP1-XS`).
    pub commercial_type: String,
    pub size: u32,
    pub min_size: u32,
    pub max_size: u32,
    pub autoscaling: bool,
    /// The nodes' Instance ids (the uuid of each `provider_id`), in node order.
    pub node_ids: Vec<String>,
    /// `ok` | `shrink` | `insufficient_data`.
    pub recommendation: &'static str,
    pub nodes_that_could_go: u32,
    /// `size` × the type's hourly price in the zone × 730.
    pub monthly_cost: Decimal,
    /// `nodes_that_could_go` × the type's hourly price in the zone × 730 (0 when none could go).
    pub monthly_savings: Decimal,
}

/// What a Kapsule pools report must find for a configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KapsuleTruth {
    /// `default`, `batch`, `ci` (cluster `prod-k8s`), then `staging` (cluster `staging-k8s`).
    pub pools: Vec<PoolTruth>,
}

impl KapsuleTruth {
    pub fn pool(&self, name: &str) -> Option<&PoolTruth> {
        self.pools.iter().find(|p| p.pool_name == name)
    }
}

/// The Kapsule pools oracle for `config`.
pub fn kapsule(config: &SimConfig) -> KapsuleTruth {
    truth(&Organization::build(config))
}

pub(crate) fn truth(org: &Organization) -> KapsuleTruth {
    let mut pools = Vec::new();
    for (cluster, spec) in org.kapsule_clusters.iter().zip(&CLUSTERS) {
        for (pool, pool_spec) in cluster.pools.iter().zip(spec.pools) {
            // An unpriced type would be a bug in the tables; the oracle then says nothing rather than a wrong cost.
            let Some(hourly) = INSTANCE_ZONES
                .contains(&pool.zone.as_str())
                .then(|| org.prices.server_type(&pool.commercial_type))
                .flatten()
                .map(|t| t.hourly_price)
            else {
                continue;
            };
            let monthly = |nodes: u32| (hourly_to_monthly(hourly) * Decimal::from(nodes)).normalize();
            pools.push(PoolTruth {
                cluster_id: cluster.id.clone(),
                cluster_name: cluster.name.clone(),
                pool_id: pool.id.clone(),
                pool_name: pool.name.clone(),
                project_id: cluster.project_id.clone(),
                region: cluster.region.clone(),
                zone: pool.zone.clone(),
                commercial_type: pool.commercial_type.clone(),
                size: pool.size,
                min_size: pool.min_size,
                max_size: pool.max_size,
                autoscaling: pool.autoscaling,
                node_ids: pool.nodes.iter().map(|n| n.instance_id.clone()).collect(),
                recommendation: pool_spec.recommendation,
                nodes_that_could_go: pool_spec.nodes_that_could_go,
                monthly_cost: monthly(pool.size),
                monthly_savings: monthly(pool_spec.nodes_that_could_go),
            });
        }
    }
    KapsuleTruth { pools }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Days, NaiveDate};

    use super::*;
    use crate::products::cockpit::{Metric, SAMPLE_SECONDS, Series, build_series, metrics_clock_ms};

    fn config() -> SimConfig {
        SimConfig { today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), ..SimConfig::default() }
    }

    /// A node's daily p95 of its 5-minute utilisations, computed from the served values; an interval belongs to
    /// the UTC day of its end.
    fn daily_p95(s: &Series, clock: i64) -> BTreeMap<NaiveDate, f64> {
        let step = SAMPLE_SECONDS * 1000;
        let (first, last) = s.load.sample_range(clock).unwrap();
        let mut days: BTreeMap<NaiveDate, Vec<f64>> = BTreeMap::new();
        for t in ((first + step)..=last).step_by(step as usize) {
            let delta = s.value(Metric::Cpu, t) - s.value(Metric::Cpu, t - step);
            assert!(delta > 0.0, "{}: a node never restarts", s.name);
            let u = delta / (SAMPLE_SECONDS as f64 * s.value(Metric::Vcpu, t));
            days.entry(DateTime::from_timestamp_millis(t).unwrap().date_naive()).or_default().push(u);
        }
        days.into_iter()
            .map(|(day, mut v)| {
                v.sort_by(f64::total_cmp);
                (day, v[(v.len() * 95).div_ceil(100) - 1])
            })
            .collect()
    }

    /// `(days with metrics, peak used vCPUs, nodes needed, recommendation, nodes that could go)` of a pool, by the
    /// rule of the module's documentation.
    fn judge(series: &[Series], pool: &PoolTruth, clock: i64) -> (u32, f64, u32, &'static str, u32) {
        let last_day = DateTime::from_timestamp_millis(clock).unwrap().date_naive();
        let from = last_day - Days::new(u64::from(POOL_WINDOW_DAYS) - 1);
        let mut used: BTreeMap<NaiveDate, f64> = BTreeMap::new();
        let mut vcpus = 0;
        for id in &pool.node_ids {
            let s = series.iter().find(|s| &s.server_id == id).expect("every node has series");
            assert_eq!((s.zone.as_str(), s.project_id.as_str()), (pool.zone.as_str(), pool.project_id.as_str()));
            vcpus = s.ncpus;
            for (day, p95) in daily_p95(s, clock) {
                if day >= from && day <= last_day {
                    *used.entry(day).or_default() += p95 * f64::from(s.ncpus);
                }
            }
        }
        let days = used.len() as u32;
        let peak = used.values().copied().fold(0.0, f64::max);
        let needed = ((peak / (f64::from(vcpus) * POOL_TARGET_UTILISATION)).ceil() as u32).max(1);
        let could_go = pool.size.saturating_sub(needed);
        let (recommendation, could_go) = if days < POOL_MIN_DAYS {
            ("insufficient_data", 0)
        } else if could_go > 0 {
            ("shrink", could_go)
        } else {
            ("ok", 0)
        };
        (days, peak, needed, recommendation, could_go)
    }

    #[test]
    fn the_planted_verdicts_follow_from_the_served_series() {
        for seed in [42, 7] {
            let config = SimConfig { seed, ..config() };
            let org = Organization::build(&config);
            let truth = truth(&org);
            let series = build_series(&org, seed);
            let clock = metrics_clock_ms(org.today);
            for pool in &truth.pools {
                let (days, peak, needed, recommendation, could_go) = judge(&series, pool, clock);
                eprintln!(
                    "seed {seed} {}: {days} days, peak {peak:.3} vCPUs, {needed} needed, {recommendation} {could_go}",
                    pool.pool_name
                );
                assert_eq!(
                    (recommendation, could_go),
                    (pool.recommendation, pool.nodes_that_could_go),
                    "seed {seed}: {}",
                    pool.pool_name
                );
            }
        }
    }

    #[test]
    fn the_planted_pools() {
        let config = config();
        let org = Organization::build(&config);
        let truth = kapsule(&config);
        let (p1, p2) = (org.projects[1].id.as_str(), org.projects[2].id.as_str());
        let rows: Vec<_> = truth
            .pools
            .iter()
            .map(|p| {
                (
                    p.cluster_name.as_str(),
                    p.pool_name.as_str(),
                    p.project_id.as_str(),
                    p.zone.as_str(),
                    p.commercial_type.as_str(),
                    (p.size, p.min_size, p.max_size, p.autoscaling),
                    p.recommendation,
                    p.nodes_that_could_go,
                    p.monthly_cost.to_string(),
                    p.monthly_savings.to_string(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "prod-k8s",
                    "default",
                    p1,
                    "fr-par-1",
                    "GP1-XS",
                    (3, 3, 6, true),
                    "ok",
                    0,
                    "199.947".into(),
                    "0".into()
                ),
                (
                    "prod-k8s",
                    "batch",
                    p1,
                    "fr-par-1",
                    "PRO2-S",
                    (4, 4, 8, true),
                    "shrink",
                    3,
                    "639.48".into(),
                    "479.61".into()
                ),
                (
                    "prod-k8s",
                    "ci",
                    p1,
                    "fr-par-1",
                    "DEV1-M",
                    (2, 2, 2, false),
                    "insufficient_data",
                    0,
                    "28.908".into(),
                    "0".into()
                ),
                (
                    "staging-k8s",
                    "staging",
                    p2,
                    "nl-ams-1",
                    "GP1-XS",
                    (2, 2, 2, false),
                    "shrink",
                    1,
                    "133.298".into(),
                    "66.649".into()
                ),
            ]
        );
        for p in &truth.pools {
            let cluster = org.kapsule_cluster(&p.cluster_id).unwrap();
            let pool = cluster.pools.iter().find(|q| q.id == p.pool_id).unwrap();
            assert_eq!(p.node_ids.len() as u32, p.size);
            assert!(p.node_ids.iter().all(|id| org.server(id).is_none()), "nodes are not stand-alone servers");
            for (node, id) in pool.nodes.iter().zip(&p.node_ids) {
                let instance = org.managed_servers.iter().find(|s| &s.id == id).expect("a node is an Instance");
                assert_eq!(
                    (&instance.name, &instance.zone, &instance.commercial_type),
                    (&node.name, &pool.zone, &pool.commercial_type)
                );
                assert_eq!((instance.state.as_str(), &instance.project_id), ("running", &cluster.project_id));
            }
            assert_eq!(
                pool.nodes.iter().map(|n| &n.instance_id).collect::<Vec<_>>(),
                p.node_ids.iter().collect::<Vec<_>>()
            );
        }
        // The nodes are billed as the Instances they are.
        let billable = org.billable_ids();
        assert!(truth.pools.iter().flat_map(|p| &p.node_ids).all(|id| billable.contains(id.as_str())));
    }

    #[test]
    fn ids_depend_on_the_seed_only() {
        let a = kapsule(&SimConfig { servers: 0, projects: 3, ..config() });
        let b = kapsule(&SimConfig { servers: 250, projects: 7, ..config() });
        let ids = |t: &KapsuleTruth| t.pools.iter().flat_map(|p| p.node_ids.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&kapsule(&SimConfig { seed: 7, ..config() })));
    }
}
