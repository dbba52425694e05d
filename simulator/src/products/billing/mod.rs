//! Billing v2beta1 (consumptions, invoices, taxes, discounts) and the FinOps `charges`: what the simulated
//! organisation costs, day by day, and the planted billing events a cost pipeline must notice.
//!
//! * this file: the model (the daily table, the planted events, what is billed and how);
//! * [`book`]: the [`book::Book`] built once per configuration, and [`book::billing`], the oracle the tests use; the
//!   Billing API handlers serve from the very same book, so a served consumption, invoice or charge is always a sum
//!   over [`BillingTruth::daily`];
//! * [`wire`]: the JSON shapes; [`api`]: the handlers and the billing clock.
//!
//! Every amount is a [`Decimal`]; nothing goes through a float until the JSON layer writes the few fields the real
//! API sends as floats (`total_tax_value`, discount values).
//!
//! # Rules
//!
//! Costs are defined per (resource, SKU, day) from the history start (the first day of the month three months
//! before `today`'s month) to `today + 60 days`; every resource exists for that whole span, except the planted
//! ones. A consumption row is the sum over a project's resources of one SKU:
//!
//! | what | SKU | daily cost |
//! |---|---|---|
//! | server `running`, `stopped in place`, `hibernating` | `/compute/<type>/run_<zone>` | hourly price × 24 |
//! | block volume (attached or not) | `/storage/block/volume-low-latency-<5k\|15k>/<zone>` | GB × per-GB-hour × 24 |
//! | flexible IP (attached or not) | `/network/flexip/ip/run_<zone>` | 0.004 × 24 |
//! | block snapshot | `/storage/block/snapshot/<zone>` | GB × 0.000049 × 24 |
//! | project egress (no resource) | `/network/bandwidth/egress/fr-par` | base × weekday factor × (1 + noise), to cents |
//!
//! Powered-off servers, local (`l_ssd`) volumes and Instance snapshots bill nothing. The planted events are
//! described on [`Drift`], [`Anomaly`], [`Restatement`] and [`GhostCharge`].

use std::collections::BTreeMap;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use crate::ids::splitmix64;

pub(crate) mod api;
pub(crate) mod book;
pub(crate) mod wire;

/// How far past `today` daily costs are defined, so the billing clock can move forward.
pub const BILLING_HORIZON_DAYS: u64 = 60;

/// What the Billing API of the simulated organisation serves, and the planted events in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BillingTruth {
    /// First day with costs: the first day of the month three months before `today`'s month.
    pub history_start: NaiveDate,
    /// Every (project, sku, day) with a non-zero cost, `history_start ..= today + 60`, ordered by day, project id,
    /// sku.
    pub daily: Vec<DailyCost>,
    pub drift: Drift,
    pub anomaly: Anomaly,
    pub restatement: Restatement,
    /// A resource billed although it exists nowhere in the inventory (a deleted server still charged).
    pub billed_without_resource: GhostCharge,
    /// A running server of the inventory that bills nothing at all for compute ("" when the organisation has no
    /// running server in project 1).
    pub unbilled_resource_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DailyCost {
    pub project_id: String,
    pub sku: String,
    pub category_name: String,
    pub product_name: String,
    pub unit: String,
    pub day: NaiveDate,
    pub cost: Decimal,
    pub quantity: Decimal,
}

/// From `from` (inclusive, `today - 9`) on, a project bills a compute SKU it never billed before, at about its
/// usual daily total: its spend roughly doubles. The charges name a server that is not in the inventory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub project_id: String,
    pub sku: String,
    pub from: NaiveDate,
    /// The project's mean daily total over the 28 days before `from`, rounded half-up to cents.
    pub daily_cost: Decimal,
}

/// On one day (`today - 4`), a project's egress costs ten times what it usually does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    pub project_id: String,
    pub sku: String,
    pub product_name: String,
    pub day: NaiveDate,
    pub cost: Decimal,
    /// What the day would have cost without the anomaly.
    pub usual: Decimal,
}

/// A credit on one consumption row of the period containing `visible_from` (`today - 6`): every pull whose billing
/// clock is on or after `visible_from` sees that row's month-to-date value reduced by `credit`, which exceeds one
/// day of the row, so the row goes down between the pulls of `visible_from - 1` and `visible_from`. Charges are not
/// affected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Restatement {
    pub project_id: String,
    pub sku: String,
    pub visible_from: NaiveDate,
    pub credit: Decimal,
}

/// Charges (and consumptions) for a resource that is in no inventory list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GhostCharge {
    pub resource_id: String,
    pub name: String,
    pub project_id: String,
    pub sku: String,
    pub days: Vec<NaiveDate>,
    pub daily_cost: Decimal,
}

/// First day of `day`'s month.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

pub(crate) fn next_month(day: NaiveDate) -> NaiveDate {
    month_of(day).checked_add_months(Months::new(1)).unwrap_or(day)
}

pub(crate) fn last_of_month(day: NaiveDate) -> NaiveDate {
    next_month(day).pred_opt().unwrap_or(day)
}

fn days_before(day: NaiveDate, n: u64) -> NaiveDate {
    day.checked_sub_days(Days::new(n)).unwrap_or(day)
}

fn days_after(day: NaiveDate, n: u64) -> NaiveDate {
    day.checked_add_days(Days::new(n)).unwrap_or(day)
}

/// Rounds half away from zero to `dp` decimals (the "half-up" of invoices).
pub(crate) fn round_half_up(value: Decimal, dp: u32) -> Decimal {
    value.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

impl BillingTruth {
    /// The value of the consumption row (project, sku) for `period` (any day of the month; its first day by
    /// convention) as served at billing clock date `pulled_on`: the sum of the row's daily costs over the complete
    /// days of the period before `pulled_on`, minus the restatement credit when it is already visible. Zero when
    /// the row is not served.
    pub fn month_to_date(&self, project_id: &str, sku: &str, period: NaiveDate, pulled_on: NaiveDate) -> Decimal {
        self.consumption_rows(period, pulled_on)
            .get(&(project_id.to_string(), sku.to_string()))
            .map_or(Decimal::ZERO, |row| row.cost)
    }

    /// Sum of daily costs of a project (all SKUs) over [from, to] inclusive; `project_id: None` = all projects.
    /// Restatement credits are not daily costs: see [`BillingTruth::month_to_date_total`].
    pub fn total(&self, project_id: Option<&str>, from: NaiveDate, to: NaiveDate) -> Decimal {
        self.days(from, to).iter().filter(|d| project_id.is_none_or(|p| d.project_id == p)).map(|d| d.cost).sum()
    }

    /// Sum of the consumption rows served for `period` at `pulled_on` (credits included); `None` = all projects.
    pub fn month_to_date_total(&self, project_id: Option<&str>, period: NaiveDate, pulled_on: NaiveDate) -> Decimal {
        self.consumption_rows(period, pulled_on)
            .iter()
            .filter(|((p, _), _)| project_id.is_none_or(|id| p == id))
            .map(|(_, row)| row.cost)
            .sum()
    }

    /// `total_untaxed` of the invoice of `period`: the month's consumptions once it is over.
    pub fn invoice_total(&self, period: NaiveDate) -> Decimal {
        self.month_to_date_total(None, period, next_month(period))
    }

    /// The daily rows of [from, to].
    fn days(&self, from: NaiveDate, to: NaiveDate) -> &[DailyCost] {
        let start = self.daily.partition_point(|d| d.day < from);
        let end = self.daily.partition_point(|d| d.day <= to);
        if start < end { &self.daily[start..end] } else { &[] }
    }

    /// The consumption rows of `period` served at `pulled_on`, keyed by (project id, sku). Empty when the period
    /// has no complete day before `pulled_on`.
    pub(crate) fn consumption_rows(&self, period: NaiveDate, pulled_on: NaiveDate) -> BTreeMap<(String, String), Row> {
        let period = month_of(period);
        let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
        if pulled_on <= period {
            return rows;
        }
        let last = last_of_month(period).min(pulled_on.pred_opt().unwrap_or(pulled_on));
        for d in self.days(period.max(self.history_start), last) {
            let row = rows.entry((d.project_id.clone(), d.sku.clone())).or_insert_with(|| Row {
                category_name: d.category_name.clone(),
                product_name: d.product_name.clone(),
                unit: d.unit.clone(),
                cost: Decimal::ZERO,
                quantity: Decimal::ZERO,
            });
            row.cost += d.cost;
            row.quantity += d.quantity;
        }
        let r = &self.restatement;
        if month_of(r.visible_from) == period
            && pulled_on >= r.visible_from
            && let Some(row) = rows.get_mut(&(r.project_id.clone(), r.sku.clone()))
        {
            row.cost -= r.credit;
        }
        rows
    }
}

/// A month-to-date consumption row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub category_name: String,
    pub product_name: String,
    pub unit: String,
    pub cost: Decimal,
    pub quantity: Decimal,
}

/// How a SKU is named in consumption rows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SkuInfo {
    pub category_name: &'static str,
    pub product_name: String,
    pub resource_name: String,
    pub unit: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Active {
    Always,
    From(NaiveDate),
    On(Vec<NaiveDate>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pricing {
    /// The same cost and quantity every active day.
    Flat { cost: Decimal, quantity: Decimal },
    /// Project egress: base × weekday factor × (1 + noise); ten times that on the anomaly day.
    Egress { base: Decimal, noise_key: u64, anomaly: Option<NaiveDate> },
}

/// One thing that is charged: a resource (or a project's egress) and its SKU.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Billable {
    /// "" for the project-level egress.
    pub resource_id: String,
    /// The name of a server, load balancer or database, `None` otherwise.
    pub resource_name: Option<String>,
    /// Index into `Book::projects`.
    pub project: usize,
    pub sku: String,
    pub active: Active,
    pub pricing: Pricing,
}

impl Billable {
    pub fn active_on(&self, day: NaiveDate) -> bool {
        match &self.active {
            Active::Always => true,
            Active::From(from) => day >= *from,
            Active::On(days) => days.contains(&day),
        }
    }

    /// (cost, quantity) of `day`, ignoring whether the resource is active.
    pub fn usage(&self, day: NaiveDate) -> (Decimal, Decimal) {
        match &self.pricing {
            Pricing::Flat { cost, quantity } => (*cost, *quantity),
            Pricing::Egress { base, noise_key, anomaly } => {
                let usual = egress_cost(*base, *noise_key, day);
                let cost = if *anomaly == Some(day) { usual * Decimal::TEN } else { usual };
                // Egress is priced 0.01 per GB.
                (cost, cost * Decimal::ONE_HUNDRED)
            }
        }
    }
}

/// Rule 5: base × (1 on weekdays, 0.5 at weekends) × (1 + noise), noise in [-0.05, +0.05] drawn from the project and
/// the date; rounded half-up to cents.
fn egress_cost(base: Decimal, noise_key: u64, day: NaiveDate) -> Decimal {
    let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    let factor = if weekend { Decimal::new(5, 1) } else { Decimal::ONE };
    let bits = splitmix64(noise_key ^ splitmix64(day.num_days_from_ce() as u64));
    let noise = Decimal::new((bits % 1001) as i64 - 500, 4);
    round_half_up(base * factor * (Decimal::ONE + noise), 2)
}

/// Daily egress base of the n-th project.
fn egress_base(project: usize) -> Decimal {
    match project {
        0 => Decimal::new(600, 2),
        1 => Decimal::new(800, 2),
        2 => Decimal::new(500, 2),
        _ => Decimal::new(400, 2),
    }
}

pub(crate) fn compute_sku(commercial_type: &str, zone: &str) -> String {
    format!("/compute/{}/run_{zone}", commercial_type.to_lowercase().replace('-', "_"))
}

fn compute_info(commercial_type: &str, zone: &str) -> SkuInfo {
    SkuInfo {
        category_name: "Compute",
        product_name: commercial_type.to_string(),
        resource_name: format!("{commercial_type} - {}", zone.to_uppercase()),
        unit: "hour",
    }
}

/// A periodic invoice.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Invoice {
    pub id: String,
    pub number: u64,
    pub period: NaiveDate,
    pub total_untaxed: Decimal,
    pub total_tax: Decimal,
    pub state: &'static str,
}

/// Filters of the FinOps charges list (empty = no filter).
#[derive(Debug, Clone, Default)]
pub(crate) struct ChargeFilter<'a> {
    pub project_ids: Vec<&'a str>,
    pub resource_ids: Vec<&'a str>,
    pub skus: Vec<&'a str>,
    pub invoice_ids: Vec<&'a str>,
}
