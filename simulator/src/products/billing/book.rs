//! The [`Book`]: everything the Billing API serves, built once per configuration from the organisation, in named
//! steps (bill the inventory, bill the egress, plant the drift and the deleted-but-billed server, derive the daily
//! table, then the restatement and the anomaly); and [`billing`], the oracle built the same way.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Months, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;

use super::{
    Active, Anomaly, BILLING_HORIZON_DAYS, Billable, BillingTruth, ChargeFilter, DailyCost, Drift, GhostCharge,
    Invoice, Pricing, Restatement, SkuInfo, compute_info, compute_sku, days_after, days_before, egress_base,
    egress_cost, month_of, next_month, round_half_up,
};
use crate::config::SimConfig;
use crate::ids::{IdStream, fnv1a, splitmix64};
use crate::org::Organization;
use crate::prices::{GB, INSTANCE_ZONES};

/// The billing oracle for `config`: the same numbers the Billing API of a simulator started with `config` serves.
pub fn billing(config: &SimConfig) -> BillingTruth {
    Book::build(&Organization::build(config), config).truth
}

/// Everything the Billing API serves, built once per configuration.
#[derive(Debug, Clone)]
pub(crate) struct Book {
    pub truth: BillingTruth,
    pub seed: u64,
    pub organization_id: String,
    /// (id, name), in organisation order.
    pub projects: Vec<(String, String)>,
    pub skus: HashMap<String, SkuInfo>,
    /// Ordered by project, sku, resource id: the order of the charges of one day.
    pub resources: Vec<Billable>,
    pub horizon: NaiveDate,
}

/// The SKU of every project's egress (the anomaly is planted on project 1's).
const EGRESS_SKU: &str = "/network/bandwidth/egress/fr-par";

/// The SKU the restatement credit applies to (project 0's).
const RESTATED_SKU: &str = "/storage/block/volume-low-latency-5k/fr-par-1";

impl Book {
    pub fn build(org: &Organization, config: &SimConfig) -> Book {
        let today = config.today;
        let history_start = month_of(today).checked_sub_months(Months::new(3)).unwrap_or(today);
        let horizon = days_after(today, BILLING_HORIZON_DAYS);
        let projects: Vec<(String, String)> = org.projects.iter().map(|p| (p.id.clone(), p.name.clone())).collect();
        let mut b = Builder { skus: HashMap::new(), resources: Vec::new() };

        let unbilled = unbilled_server(org);
        b.bill_inventory(org, &unbilled);
        let anomaly_day = days_before(today, 4);
        b.bill_egress(&projects, config.seed, anomaly_day);
        let mut fixed = IdStream::new(config.seed, "billing-unknown-servers");
        let drift = b.plant_drift(&projects, today, &mut fixed);
        let billed_without_resource = b.plant_deleted_server(org, &projects, today, &mut fixed);
        b.sort_in_charge_order();

        let truth = BillingTruth {
            history_start,
            daily: b.daily_table(&projects, history_start, horizon),
            drift,
            anomaly: b.anomaly(&projects, anomaly_day),
            restatement: b.restatement(&projects, today),
            billed_without_resource,
            unbilled_resource_id: unbilled,
        };
        Book {
            truth,
            seed: config.seed,
            organization_id: org.id.clone(),
            projects,
            skus: b.skus,
            resources: b.resources,
            horizon,
        }
    }

    pub fn invoice_id(&self, period: NaiveDate) -> String {
        IdStream::new(self.seed, &format!("invoice/{}", month_of(period).format("%Y-%m"))).uuid()
    }

    /// The periodic invoices issued by billing clock date `billing_today`: one per complete month from the history
    /// start, oldest first; the newest is `issued`, the others `paid`.
    pub fn invoices(&self, billing_today: NaiveDate) -> Vec<Invoice> {
        let mut out = Vec::new();
        let mut period = self.truth.history_start;
        let mut number = 3_100_001u64;
        while next_month(period) <= month_of(billing_today) && period <= self.horizon {
            let total_untaxed = self.truth.invoice_total(period);
            out.push(Invoice {
                id: self.invoice_id(period),
                number,
                period,
                total_untaxed,
                total_tax: round_half_up(total_untaxed * Decimal::new(2, 1), 2),
                state: "paid",
            });
            period = next_month(period);
            number += 1;
        }
        if let Some(last) = out.last_mut() {
            last.state = "issued";
        }
        out
    }

    /// The `invoice_id` of a charge of `day`: "" while its period is open at `billing_today`.
    pub fn charge_invoice_id(&self, day: NaiveDate, billing_today: NaiveDate) -> String {
        if month_of(day) >= month_of(billing_today) { String::new() } else { self.invoice_id(day) }
    }

    /// The charges of the complete days in [after, before) that precede `billing_today`, as (day, index into
    /// `resources`), ordered by day (ascending unless `descending`) then resource.
    pub fn charges(
        &self,
        after: DateTime<Utc>,
        before: DateTime<Utc>,
        billing_today: NaiveDate,
        filter: &ChargeFilter<'_>,
        descending: bool,
    ) -> Vec<(NaiveDate, usize)> {
        let midnight = NaiveTime::MIN;
        let first = if after.time() == midnight { after.date_naive() } else { days_after(after.date_naive(), 1) };
        let first = first.max(self.truth.history_start);
        let end = if before.time() == midnight { before.date_naive() } else { days_after(before.date_naive(), 1) };
        // Days whose start is before `before`, complete before the billing clock, within the table.
        let last = days_before(end, 1).min(days_before(billing_today, 1)).min(self.horizon);
        let keep = |list: &[&str], value: &str| list.is_empty() || list.contains(&value);
        let selected: Vec<usize> = self
            .resources
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                keep(&filter.project_ids, &self.projects[r.project].0)
                    && keep(&filter.resource_ids, &r.resource_id)
                    && keep(&filter.skus, &r.sku)
            })
            .map(|(i, _)| i)
            .collect();
        let mut out = Vec::new();
        let mut day = first;
        while day <= last {
            if filter.invoice_ids.is_empty()
                || filter.invoice_ids.contains(&self.charge_invoice_id(day, billing_today).as_str())
            {
                out.extend(selected.iter().filter(|i| self.resources[**i].active_on(day)).map(|i| (day, *i)));
            }
            day = days_after(day, 1);
        }
        if descending {
            // Newest day first; a day's charges keep their order.
            out.sort_by_key(|(day, _)| std::cmp::Reverse(*day));
        }
        out
    }
}

/// GHOST COST (b): the first healthy running server of project 1 in fr-par-1 (else anywhere) bills no compute at
/// all; "" when there is none.
fn unbilled_server(org: &Organization) -> String {
    let ghost_servers = [&org.ghosts.stopped_server, &org.ghosts.standby_server];
    let p1 = &org.projects[1].id;
    // The planted utilisation servers are billed like healthy ones: a rightsizing report weighs their cost.
    let running_in_p1 = |s: &&crate::products::instance::Server| {
        s.project_id == *p1
            && s.state == "running"
            && !ghost_servers.contains(&&s.id)
            && !org.utilisation_servers.contains(&s.id)
    };
    org.servers
        .iter()
        .filter(running_in_p1)
        .find(|s| s.zone == "fr-par-1")
        .or_else(|| org.servers.iter().find(running_in_p1))
        .map(|s| s.id.clone())
        .unwrap_or_default()
}

/// The billables and how their SKUs are named, as the steps of [`Book::build`] add them.
struct Builder {
    skus: HashMap<String, SkuInfo>,
    resources: Vec<Billable>,
}

impl Builder {
    fn add(&mut self, billable: Billable, info: SkuInfo) {
        self.skus.entry(billable.sku.clone()).or_insert(info);
        self.resources.push(billable);
    }

    /// Everything a project costs on `day`.
    fn project_total(&self, project: usize, day: NaiveDate) -> Decimal {
        self.resources.iter().filter(|r| r.project == project && r.active_on(day)).map(|r| r.usage(day).0).sum()
    }

    /// By project, sku, resource id: the order of the charges of one day, which every later step reads.
    fn sort_in_charge_order(&mut self) {
        self.resources.sort_by(|x, y| (x.project, &x.sku, &x.resource_id).cmp(&(y.project, &y.sku, &y.resource_id)));
    }

    /// What the inventory bills, every day: servers (but `unbilled`), Block volumes, flexible IPs, Block snapshots,
    /// load balancers and managed databases.
    fn bill_inventory(&mut self, org: &Organization, unbilled: &str) {
        let index: HashMap<&str, usize> = org.projects.iter().enumerate().map(|(i, p)| (p.id.as_str(), i)).collect();
        self.bill_servers(org, &index, unbilled);
        self.bill_block_volumes(org, &index);
        self.bill_flexible_ips(org, &index);
        self.bill_block_snapshots(org, &index);
        self.bill_load_balancers(org, &index);
        self.bill_databases(org, &index);
    }

    /// Load balancers (forwarding or not): the offer's hourly price × 24, under the catalog's SKU; their IP is
    /// not billed here.
    fn bill_load_balancers(&mut self, org: &Organization, index: &HashMap<&str, usize>) {
        for lb in &org.load_balancers {
            let (Some(project), Some(t)) =
                (index.get(lb.project_id.as_str()), org.prices.lb_type(&lb.zone, &lb.lb_type))
            else {
                continue;
            };
            let product = t.name.to_uppercase();
            self.add(
                Billable {
                    resource_id: lb.id.clone(),
                    resource_name: Some(lb.name.clone()),
                    project: *project,
                    sku: format!("/network/loadbalancer/{}/run_{}", t.name, lb.zone),
                    active: Active::Always,
                    pricing: Pricing::Flat { cost: t.hourly_price * Decimal::from(24), quantity: Decimal::from(1440) },
                },
                SkuInfo {
                    category_name: "Network",
                    product_name: format!("Loadbalancer Node {product}"),
                    resource_name: format!("{product} - {}", lb.zone.to_uppercase()),
                    unit: "node_minute",
                },
            );
        }
    }

    /// Managed databases: the node type's hourly price × 24 per node (two for a high-availability cluster), under
    /// the catalog's SKU; their volume and backups are not billed here.
    fn bill_databases(&mut self, org: &Organization, index: &HashMap<&str, usize>) {
        for db in &org.databases {
            let (Some(project), Some(t)) =
                (index.get(db.project_id.as_str()), org.prices.db_node_type(&db.region, &db.node_type))
            else {
                continue;
            };
            let nodes = Decimal::from(if db.is_ha_cluster { 2 } else { 1 });
            let product = t.name.to_uppercase();
            self.add(
                Billable {
                    resource_id: db.id.clone(),
                    resource_name: Some(db.name.clone()),
                    project: *project,
                    sku: format!("/rdb/{}/run_{}", t.name, db.region),
                    active: Active::Always,
                    pricing: Pricing::Flat {
                        cost: t.hourly_price * Decimal::from(24) * nodes,
                        quantity: Decimal::from(1440) * nodes,
                    },
                },
                SkuInfo {
                    category_name: "Managed Databases",
                    product_name: format!("Database Node {product}"),
                    resource_name: format!("{product} - {}", db.region.to_uppercase()),
                    unit: "minute",
                },
            );
        }
    }

    /// Compute: running, stopped-in-place and hibernating servers (Kapsule nodes and scaling groups' members
    /// included), at their hourly price × 24.
    fn bill_servers(&mut self, org: &Organization, index: &HashMap<&str, usize>, unbilled: &str) {
        for s in org.servers.iter().chain(&org.managed_servers) {
            let billed = matches!(s.state.as_str(), "running" | "stopped in place" | "hibernating");
            let (Some(project), Some(t)) =
                (index.get(s.project_id.as_str()), org.prices.server_type(&s.commercial_type))
            else {
                continue;
            };
            if !billed || s.id == unbilled {
                continue;
            }
            self.add(
                Billable {
                    resource_id: s.id.clone(),
                    resource_name: Some(s.name.clone()),
                    project: *project,
                    sku: compute_sku(&s.commercial_type, &s.zone),
                    active: Active::Always,
                    pricing: Pricing::Flat { cost: t.hourly_price * Decimal::from(24), quantity: Decimal::from(24) },
                },
                compute_info(&s.commercial_type, &s.zone),
            );
        }
    }

    /// Block volumes (attached or not): GB × per-GB-hour × 24.
    fn bill_block_volumes(&mut self, org: &Organization, index: &HashMap<&str, usize>) {
        for v in &org.block_volumes {
            let (Some(project), Some(t)) =
                (index.get(v.project_id.as_str()), org.prices.volume_type(&v.zone, &v.volume_type))
            else {
                continue;
            };
            let gb_hours = Decimal::from(v.size) / Decimal::from(GB) * Decimal::from(24);
            let perf = format!("{}k", t.perf_iops / 1000);
            self.add(
                Billable {
                    resource_id: v.id.clone(),
                    resource_name: None,
                    project: *project,
                    sku: format!("/storage/block/volume-low-latency-{perf}/{}", v.zone),
                    active: Active::Always,
                    pricing: Pricing::Flat { cost: gb_hours * t.pricing, quantity: gb_hours },
                },
                SkuInfo {
                    category_name: "Storage",
                    product_name: "Block Storage Volume".to_string(),
                    resource_name: format!("Block Storage Low Latency {perf} IOPS - {}", v.zone.to_uppercase()),
                    unit: "gigabyte_hour",
                },
            );
        }
    }

    /// Flexible IPs (attached or not): hourly price × 24.
    fn bill_flexible_ips(&mut self, org: &Organization, index: &HashMap<&str, usize>) {
        for ip in &org.ips {
            let (Some(project), Some(hourly)) = (index.get(ip.project_id.as_str()), org.prices.flexible_ipv4(&ip.zone))
            else {
                continue;
            };
            self.add(
                Billable {
                    resource_id: ip.id.clone(),
                    resource_name: None,
                    project: *project,
                    sku: format!("/network/flexip/ip/run_{}", ip.zone),
                    active: Active::Always,
                    pricing: Pricing::Flat { cost: hourly * Decimal::from(24), quantity: Decimal::from(1440) },
                },
                SkuInfo {
                    category_name: "Network",
                    product_name: "Flexible IP".to_string(),
                    resource_name: format!("IP - {}", ip.zone.to_uppercase()),
                    unit: "ip_minute",
                },
            );
        }
    }

    /// Block snapshots: GB × snapshot per-GB-hour × 24.
    fn bill_block_snapshots(&mut self, org: &Organization, index: &HashMap<&str, usize>) {
        for s in &org.block_snapshots {
            let (Some(project), Some(price)) = (index.get(s.project_id.as_str()), org.prices.snapshot_price(&s.zone))
            else {
                continue;
            };
            let gb_hours = Decimal::from(s.size) / Decimal::from(GB) * Decimal::from(24);
            self.add(
                Billable {
                    resource_id: s.id.clone(),
                    resource_name: None,
                    project: *project,
                    sku: format!("/storage/block/snapshot/{}", s.zone),
                    active: Active::Always,
                    pricing: Pricing::Flat { cost: gb_hours * price, quantity: gb_hours },
                },
                SkuInfo {
                    category_name: "Storage",
                    product_name: "Block Snapshot".to_string(),
                    resource_name: format!("Snapshot - {}", s.zone.to_uppercase()),
                    unit: "gigabyte_hour",
                },
            );
        }
    }

    /// Every project's egress; ANOMALY: on `anomaly_day` (T - 4), project 1's egress × 10.
    fn bill_egress(&mut self, projects: &[(String, String)], seed: u64, anomaly_day: NaiveDate) {
        for (i, (id, _)) in projects.iter().enumerate() {
            self.add(
                Billable {
                    resource_id: String::new(),
                    resource_name: None,
                    project: i,
                    sku: EGRESS_SKU.to_string(),
                    active: Active::Always,
                    pricing: Pricing::Egress {
                        base: egress_base(i),
                        noise_key: seed ^ fnv1a("egress") ^ splitmix64(fnv1a(id)),
                        anomaly: (i == 1).then_some(anomaly_day),
                    },
                },
                SkuInfo {
                    category_name: "Network",
                    product_name: "Outgoing bandwidth".to_string(),
                    resource_name: "Egress - FR-PAR".to_string(),
                    unit: "gigabyte",
                },
            );
        }
    }

    /// DRIFT: from T - 9, the data-platform project (the last one when there are only two) also runs a GP1-XS in a
    /// zone where it never ran one, at its mean daily total of the 28 days before.
    fn plant_drift(&mut self, projects: &[(String, String)], today: NaiveDate, fixed: &mut IdStream) -> Drift {
        let drift_project = 2.min(projects.len() - 1);
        let drift_from = days_before(today, 9);
        let zone = INSTANCE_ZONES
            .iter()
            .copied()
            .find(|zone| {
                let sku = compute_sku("GP1-XS", zone);
                !self.resources.iter().any(|r| r.project == drift_project && r.sku == sku)
            })
            .unwrap_or("fr-par-1");
        let window: Decimal =
            (10..=37).map(|n| self.project_total(drift_project, days_before(today, n))).sum::<Decimal>();
        let drift_cost = round_half_up(window / Decimal::from(28), 2);
        let drift_id = fixed.uuid();
        self.add(
            Billable {
                resource_id: drift_id,
                resource_name: Some("etl-burst-1".to_string()),
                project: drift_project,
                sku: compute_sku("GP1-XS", zone),
                active: Active::From(drift_from),
                pricing: Pricing::Flat { cost: drift_cost, quantity: Decimal::from(24) },
            },
            compute_info("GP1-XS", zone),
        );
        Drift {
            project_id: projects[drift_project].0.clone(),
            sku: compute_sku("GP1-XS", zone),
            from: drift_from,
            daily_cost: drift_cost,
        }
    }

    /// GHOST COST (a): a deleted server still billed on the last three complete days before T.
    fn plant_deleted_server(
        &mut self,
        org: &Organization,
        projects: &[(String, String)],
        today: NaiveDate,
        fixed: &mut IdStream,
    ) -> GhostCharge {
        let ghost_id = fixed.uuid();
        let ghost_days: Vec<NaiveDate> = (1..=3).rev().map(|n| days_before(today, n)).collect();
        let dev1_l = org.prices.server_type("DEV1-L").map_or(Decimal::new(42, 3), |t| t.hourly_price);
        let ghost_cost = dev1_l * Decimal::from(24);
        let ghost_sku = compute_sku("DEV1-L", "fr-par-1");
        self.add(
            Billable {
                resource_id: ghost_id.clone(),
                resource_name: Some("decommissioned-api".to_string()),
                project: 0,
                sku: ghost_sku.clone(),
                active: Active::On(ghost_days.clone()),
                pricing: Pricing::Flat { cost: ghost_cost, quantity: Decimal::from(24) },
            },
            compute_info("DEV1-L", "fr-par-1"),
        );
        GhostCharge {
            resource_id: ghost_id,
            name: "decommissioned-api".to_string(),
            project_id: projects[0].0.clone(),
            sku: ghost_sku,
            days: ghost_days,
            daily_cost: ghost_cost.normalize(),
        }
    }

    /// The daily table: every (project, sku, day) with a non-zero cost, `history_start ..= horizon`.
    fn daily_table(
        &self,
        projects: &[(String, String)],
        history_start: NaiveDate,
        horizon: NaiveDate,
    ) -> Vec<DailyCost> {
        let mut daily = Vec::new();
        let mut day = history_start;
        while day <= horizon {
            let mut sums: BTreeMap<(&str, &str), (Decimal, Decimal)> = BTreeMap::new();
            for r in self.resources.iter().filter(|r| r.active_on(day)) {
                let (cost, quantity) = r.usage(day);
                let sum = sums.entry((projects[r.project].0.as_str(), r.sku.as_str())).or_default();
                sum.0 += cost;
                sum.1 += quantity;
            }
            for ((project_id, sku), (cost, quantity)) in sums {
                if cost.is_zero() {
                    continue;
                }
                let info = &self.skus[sku];
                daily.push(DailyCost {
                    project_id: project_id.to_string(),
                    sku: sku.to_string(),
                    category_name: info.category_name.to_string(),
                    product_name: info.product_name.clone(),
                    unit: info.unit.to_string(),
                    day,
                    cost: cost.normalize(),
                    quantity: quantity.normalize(),
                });
            }
            day = days_after(day, 1);
        }
        daily
    }

    /// RESTATEMENT: a credit on project 0's 5k block storage in fr-par-1, larger than one day of it, visible from
    /// T - 6.
    fn restatement(&self, projects: &[(String, String)], today: NaiveDate) -> Restatement {
        let restated_sku = RESTATED_SKU.to_string();
        let visible_from = days_before(today, 6);
        let one_day: Decimal = self
            .resources
            .iter()
            .filter(|r| r.project == 0 && r.sku == restated_sku && r.active_on(days_before(today, 7)))
            .map(|r| r.usage(days_before(today, 7)).0)
            .sum();
        let step = Decimal::new(2500, 2);
        let credit = if one_day < step { step } else { ((one_day / step).floor() + Decimal::ONE) * step };
        Restatement { project_id: projects[0].0.clone(), sku: restated_sku, visible_from, credit: credit.round_dp(2) }
    }

    /// ANOMALY: what project 1's egress would have cost on `day` without the anomaly, and ten times that.
    fn anomaly(&self, projects: &[(String, String)], day: NaiveDate) -> Anomaly {
        let usual = self.resources.iter().find(|r| r.project == 1 && r.sku == EGRESS_SKU).map_or(Decimal::ZERO, |r| {
            match r.pricing {
                Pricing::Egress { base, noise_key, .. } => egress_cost(base, noise_key, day),
                Pricing::Flat { cost, .. } => cost,
            }
        });
        Anomaly {
            project_id: projects[1].0.clone(),
            sku: EGRESS_SKU.to_string(),
            product_name: "Outgoing bandwidth".to_string(),
            day,
            cost: usual * Decimal::TEN,
            usual,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn config() -> SimConfig {
        SimConfig { today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), ..SimConfig::default() }
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn deterministic_and_spanning_the_history() {
        let truth = billing(&config());
        assert_eq!(truth, billing(&config()));
        assert_eq!(truth.history_start, date("2026-08-01"));
        assert_eq!(truth.daily.first().unwrap().day, date("2026-08-01"));
        assert_eq!(truth.daily.last().unwrap().day, date("2027-01-21"));
        assert!(truth.daily.iter().all(|d| !d.cost.is_zero()));
        assert!(
            truth
                .daily
                .windows(2)
                .all(|w| (w[0].day, &w[0].project_id, &w[0].sku) < (w[1].day, &w[1].project_id, &w[1].sku))
        );
        let other = billing(&SimConfig { seed: 7, ..config() });
        assert_ne!(truth.daily, other.daily);
    }

    #[test]
    fn daily_rules() {
        let org = Organization::build(&config());
        let truth = billing(&config());
        let p0 = &org.projects[0].id;
        let day = date("2026-10-05");
        let row = |sku: &str| truth.daily.iter().find(|d| d.day == day && &d.project_id == p0 && d.sku == sku).cloned();
        // Two flexible IPs of project 0 in fr-par-1 (its healthy servers' and one orphan) plus more: 0.096 each.
        let ips = row("/network/flexip/ip/run_fr-par-1").unwrap();
        assert_eq!(ips.cost, dec("0.096") * ips.quantity / Decimal::from(1440));
        assert_eq!(
            (ips.category_name.as_str(), ips.product_name.as_str(), ips.unit.as_str()),
            ("Network", "Flexible IP", "ip_minute")
        );
        let expected_ips = org.ips.iter().filter(|i| &i.project_id == p0 && i.zone == "fr-par-1").count();
        assert_eq!(ips.quantity, Decimal::from(1440 * expected_ips));
        // Egress: 6.00 on a weekday (a Monday), within 5 %, to cents.
        let egress = row("/network/bandwidth/egress/fr-par").unwrap();
        assert!(egress.cost >= dec("5.70") && egress.cost <= dec("6.30"), "{}", egress.cost);
        assert_eq!(egress.cost, egress.cost.round_dp(2));
        assert_eq!(egress.quantity, egress.cost * Decimal::ONE_HUNDRED);
        let sunday = truth
            .daily
            .iter()
            .find(|d| d.day == date("2026-10-04") && &d.project_id == p0 && d.sku == egress.sku)
            .unwrap();
        assert!(sunday.cost >= dec("2.85") && sunday.cost <= dec("3.15"), "{}", sunday.cost);
        // Every load balancer bills its offer and every database its nodes, whatever they serve; their day's total
        // by SKU and project is the sum of their prices.
        let mut expected: HashMap<(String, String), Decimal> = HashMap::new();
        for lb in &org.load_balancers {
            let t = org.prices.lb_type(&lb.zone, &lb.lb_type).unwrap();
            let sku = format!("/network/loadbalancer/{}/run_{}", lb.lb_type, lb.zone);
            *expected.entry((lb.project_id.clone(), sku)).or_default() += t.hourly_price * Decimal::from(24);
        }
        for db in &org.databases {
            let t = org.prices.db_node_type(&db.region, &db.node_type).unwrap();
            let nodes = if db.is_ha_cluster { 2 } else { 1 };
            let sku = format!("/rdb/{}/run_{}", db.node_type, db.region);
            *expected.entry((db.project_id.clone(), sku)).or_default() += t.hourly_price * Decimal::from(24 * nodes);
        }
        assert!(org.databases.iter().any(|d| d.is_ha_cluster) && !org.load_balancers.is_empty());
        for ((project, sku), cost) in &expected {
            let row = truth.daily.iter().find(|d| d.day == day && &d.project_id == project && &d.sku == sku);
            assert_eq!(row.map(|r| r.cost), Some(*cost), "{project} {sku}");
        }
        let db_row = truth.daily.iter().find(|d| d.sku.starts_with("/rdb/")).unwrap();
        assert_eq!((db_row.category_name.as_str(), db_row.unit.as_str()), ("Managed Databases", "minute"));

        // The powered-off ghost bills no compute; the standby one does.
        let stopped = org.server(&org.ghosts.stopped_server).unwrap();
        let dev1_m = truth
            .daily
            .iter()
            .filter(|d| d.day == day && &d.project_id == p0 && d.sku == "/compute/dev1_m/run_fr-par-1")
            .map(|d| d.quantity)
            .sum::<Decimal>();
        let running_dev1_m = org
            .servers
            .iter()
            .filter(|s| {
                &s.project_id == p0 && s.zone == "fr-par-1" && s.commercial_type == "DEV1-M" && s.state != "stopped"
            })
            .count();
        assert_eq!(stopped.commercial_type, "DEV1-M");
        assert_eq!(dev1_m, Decimal::from(24 * running_dev1_m));
        let standby = org.server(&org.ghosts.standby_server).unwrap();
        let pro2s = truth
            .daily
            .iter()
            .find(|d| d.day == day && d.project_id == standby.project_id && d.sku == "/compute/pro2_s/run_fr-par-2")
            .unwrap();
        assert!(pro2s.quantity >= Decimal::from(24));
        // The old-data volume alone: 500 GB x 0.000118 x 24 = 1.416 a day.
        let block = row("/storage/block/volume-low-latency-5k/fr-par-1").unwrap();
        assert!(block.cost > dec("1.416"));
        assert_eq!(block.cost, block.quantity * dec("0.000118"));
        assert_eq!((block.unit.as_str(), block.product_name.as_str()), ("gigabyte_hour", "Block Storage Volume"));
    }

    impl BillingTruth {
        fn total_of(&self, project: &str, sku: &str, from: NaiveDate, to: NaiveDate) -> Decimal {
            self.days(from, to).iter().filter(|d| d.project_id == project && d.sku == sku).map(|d| d.cost).sum()
        }
    }

    #[test]
    fn planted_events() {
        let config = config();
        let org = Organization::build(&config);
        let truth = billing(&config);
        let today = config.today;
        let p2 = &org.projects[2].id;

        // Drift: a SKU the project never billed before T - 9, about its usual daily total.
        let d = &truth.drift;
        assert_eq!(d.from, date("2026-11-13"));
        assert_eq!(&d.project_id, p2);
        assert!(truth.daily.iter().filter(|r| r.day < d.from && &r.project_id == p2).all(|r| r.sku != d.sku));
        let mean = truth.total(Some(p2), date("2026-10-16"), date("2026-11-12")) / Decimal::from(28);
        assert_eq!(d.daily_cost, round_half_up(mean, 2));
        for day in [d.from, today, days_after(today, 60)] {
            let row = truth.daily.iter().find(|r| r.day == day && r.sku == d.sku && &r.project_id == p2).unwrap();
            assert_eq!(row.cost, d.daily_cost);
        }
        let before = truth.total(Some(p2), date("2026-11-12"), date("2026-11-12"));
        let after = truth.total(Some(p2), date("2026-11-14"), date("2026-11-14"));
        assert!(after > before * dec("1.8"), "{before} -> {after}");

        // Anomaly: ten times the usual egress on T - 4 only.
        let a = &truth.anomaly;
        assert_eq!(a.day, date("2026-11-18"));
        assert_eq!(a.cost, a.usual * Decimal::TEN);
        let egress = |day| {
            truth.daily.iter().find(|r| r.day == day && r.project_id == a.project_id && r.sku == a.sku).unwrap().cost
        };
        assert_eq!(egress(a.day), a.cost);
        assert!(egress(date("2026-11-17")) < a.usual * Decimal::TWO);
        assert!(egress(date("2026-11-19")) < a.usual * Decimal::TWO);

        // Restatement: the row goes down between the pulls of T - 7 and T - 6.
        let r = &truth.restatement;
        assert_eq!(r.visible_from, date("2026-11-16"));
        assert_eq!(r.credit, Decimal::from(25));
        assert_eq!(r.credit.to_string(), "25.00");
        let period = date("2026-11-01");
        let before = truth.month_to_date(&r.project_id, &r.sku, period, date("2026-11-15"));
        let after = truth.month_to_date(&r.project_id, &r.sku, period, r.visible_from);
        assert!(after < before, "{before} -> {after}");
        let one_day = truth
            .daily
            .iter()
            .find(|d| d.day == date("2026-11-15") && d.project_id == r.project_id && d.sku == r.sku)
            .unwrap()
            .cost;
        assert!(r.credit > one_day, "{} <= {one_day}", r.credit);
        assert_eq!(after, before + one_day - r.credit);
        // Not visible in earlier pulls nor in other periods.
        assert_eq!(before, truth.total_of(&r.project_id, &r.sku, period, date("2026-11-14")));
        assert_eq!(
            truth.month_to_date(&r.project_id, &r.sku, date("2026-10-01"), today),
            truth.total_of(&r.project_id, &r.sku, date("2026-10-01"), date("2026-10-31"))
        );

        // Ghost (a): billed on T-3..T-1 under a resource id the inventory does not know.
        let g = &truth.billed_without_resource;
        assert_eq!(g.days, [date("2026-11-19"), date("2026-11-20"), date("2026-11-21")]);
        assert_eq!(g.daily_cost, dec("1.008"));
        assert_eq!(g.sku, "/compute/dev1_l/run_fr-par-1");
        assert_eq!(g.project_id, org.projects[0].id);
        let inventory = org.billable_ids();
        assert!(!inventory.contains(g.resource_id.as_str()));

        // Ghost (b): a running server of project 1 in fr-par-1 that bills nothing.
        let unbilled = org.server(&truth.unbilled_resource_id).unwrap();
        assert_eq!((unbilled.state.as_str(), unbilled.zone.as_str()), ("running", "fr-par-1"));
        assert_eq!(unbilled.project_id, org.projects[1].id);
        let book = Book::build(&org, &config);
        assert!(book.resources.iter().all(|r| r.resource_id != unbilled.id));
        let drift_resource =
            book.resources.iter().find(|r| r.sku == d.sku && &book.projects[r.project].0 == p2).unwrap();
        assert!(!inventory.contains(drift_resource.resource_id.as_str()));
    }

    #[test]
    fn holds_for_other_configurations() {
        for knobs in ["servers=0,projects=2", "servers=250,projects=7,seed=9", "today=2026-03-01", "today=2026-01-03"] {
            let config = config().with_knobs(knobs).unwrap();
            let org = Organization::build(&config);
            let truth = billing(&config);
            let r = &truth.restatement;
            let day_before = days_before(r.visible_from, 1);
            let one_day: Decimal = truth
                .daily
                .iter()
                .filter(|d| d.day == day_before && d.project_id == r.project_id && d.sku == r.sku)
                .map(|d| d.cost)
                .sum();
            assert!(r.credit > one_day, "{knobs}: {} <= {one_day}", r.credit);
            let d = &truth.drift;
            assert!(
                truth.daily.iter().filter(|x| x.day < d.from && x.project_id == d.project_id).all(|x| x.sku != d.sku)
            );
            assert!(d.daily_cost > Decimal::ZERO, "{knobs}");
            assert_eq!(truth.anomaly.cost, truth.anomaly.usual * Decimal::TEN);
            if config.servers == 0 {
                assert_eq!(truth.unbilled_resource_id, "");
            } else {
                let s = org.server(&truth.unbilled_resource_id).unwrap();
                assert_eq!((s.state.as_str(), s.project_id.as_str()), ("running", org.projects[1].id.as_str()));
            }
            let book = Book::build(&org, &config);
            assert!(book.invoices(days_after(config.today, 60)).len() >= 4, "{knobs}");
        }
    }

    #[test]
    fn month_to_date_semantics() {
        let truth = billing(&config());
        let p = &truth.restatement.project_id;
        let sku = "/network/flexip/ip/run_fr-par-1";
        let oct = date("2026-10-01");
        assert_eq!(truth.month_to_date(p, sku, oct, oct), Decimal::ZERO);
        let day = truth.month_to_date(p, sku, oct, date("2026-10-02"));
        assert!(day > Decimal::ZERO);
        assert_eq!(truth.month_to_date(p, sku, oct, date("2026-10-11")), day * Decimal::TEN);
        assert_eq!(truth.month_to_date(p, sku, oct, date("2026-11-01")), day * Decimal::from(31));
        assert_eq!(truth.month_to_date(p, sku, oct, date("2027-03-01")), day * Decimal::from(31));
        assert_eq!(truth.month_to_date(p, sku, date("2026-07-01"), date("2026-11-01")), Decimal::ZERO);
        assert_eq!(truth.month_to_date(p, sku, date("2026-12-01"), date("2026-11-22")), Decimal::ZERO);
        assert_eq!(
            truth.month_to_date_total(None, oct, date("2026-11-01")),
            truth.total(None, oct, date("2026-10-31"))
        );
        let nov = date("2026-11-01");
        assert_eq!(
            truth.month_to_date_total(None, nov, date("2026-11-22")),
            truth.total(None, nov, date("2026-11-21")) - truth.restatement.credit
        );
        assert_eq!(truth.invoice_total(nov), truth.total(None, nov, date("2026-11-30")) - truth.restatement.credit);
    }

    #[test]
    fn invoices_and_charges_cover_the_table() {
        let config = config();
        let org = Organization::build(&config);
        let book = Book::build(&org, &config);
        let invoices = book.invoices(config.today);
        let periods: Vec<NaiveDate> = invoices.iter().map(|i| i.period).collect();
        assert_eq!(periods, [date("2026-08-01"), date("2026-09-01"), date("2026-10-01")]);
        assert_eq!(invoices.iter().map(|i| i.state).collect::<Vec<_>>(), ["paid", "paid", "issued"]);
        assert_eq!(book.invoices(date("2026-08-31")), []);
        assert_eq!(book.invoices(date("2026-12-01")).len(), 4);

        let at = |d: NaiveDate| d.and_time(NaiveTime::MIN).and_utc();
        let charges =
            book.charges(at(date("2026-10-30")), at(date("2026-11-25")), config.today, &ChargeFilter::default(), false);
        assert_eq!(charges.first().unwrap().0, date("2026-10-30"));
        assert_eq!(charges.last().unwrap().0, date("2026-11-21"));
        let mut sums: BTreeMap<(NaiveDate, &str, &str), Decimal> = BTreeMap::new();
        for (day, i) in &charges {
            let r = &book.resources[*i];
            *sums.entry((*day, book.projects[r.project].0.as_str(), r.sku.as_str())).or_default() += r.usage(*day).0;
        }
        let expected: BTreeMap<(NaiveDate, &str, &str), Decimal> = book
            .truth
            .daily
            .iter()
            .filter(|d| d.day >= date("2026-10-30") && d.day <= date("2026-11-21"))
            .map(|d| ((d.day, d.project_id.as_str(), d.sku.as_str()), d.cost))
            .collect();
        assert_eq!(sums, expected);
    }
}
