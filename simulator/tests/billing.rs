//! The Billing API over real HTTP on 127.0.0.1, checked against the billing oracle.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

use chrono::{Days, NaiveDate};
use costlake_simulator::{BillingTruth, billing, month_of, organization, planted};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;

mod common;

use common::{Harness, config, count, fixture};

const TODAY: &str = "2026-11-22";

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

impl Harness {
    /// Every charge of a scheme-C walk, following `next_page_token` (a repeated token is an error).
    async fn all_charges(&self, query: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        let mut seen = HashSet::new();
        loop {
            let mut path = format!("/billing/v2beta1/charges?page_size=100&{query}");
            if let Some(t) = &token {
                path.push_str(&format!("&page_token={t}"));
            }
            let body = self.json(&path).await;
            items.extend(body["charges"].as_array().unwrap().iter().cloned());
            match &body["next_page_token"] {
                Value::Null => break,
                Value::String(t) => {
                    assert!(seen.insert(t.clone()), "repeated token {t}");
                    assert_eq!(body["charges"].as_array().unwrap().len(), 100);
                    token = Some(t.clone());
                }
                other => panic!("next_page_token {other}"),
            }
        }
        items
    }

    fn truth(&self) -> BillingTruth {
        billing(self.config())
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        v => v.as_i64().unwrap(),
    }
}

/// The value of a Money object (numbers or numeric strings).
fn money(v: &Value) -> Decimal {
    assert_eq!(v["currency_code"], "EUR");
    Decimal::from(int(&v["units"])) + Decimal::new(int(&v["nanos"]), 9)
}

/// Half-up to cents, as invoices and taxes round.
fn half_up(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

fn float(v: &Value) -> Decimal {
    Decimal::from_str(&v.to_string()).unwrap()
}

fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn ordered_keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// Consumption rows by (project, sku).
fn by_row(rows: &[Value]) -> BTreeMap<(String, String), Decimal> {
    let mut out = BTreeMap::new();
    for r in rows {
        let key = (r["project_id"].as_str().unwrap().to_string(), r["sku"].as_str().unwrap().to_string());
        assert!(out.insert(key, money(&r["value"])).is_none(), "duplicate row {r}");
    }
    out
}

async fn consumptions_at(h: &Harness, day: NaiveDate, query: &str) -> (Vec<Value>, Value) {
    h.sim.set_billing_today(day);
    assert_eq!(h.sim.billing_today(), day);
    h.all_b_and_envelope(&format!("/billing/v2beta1/consumptions?{query}"), "consumptions").await
}

#[tokio::test]
async fn consumptions_are_month_to_date() {
    let h = Harness::start("").await;
    let truth = h.truth();
    let nov = date("2026-11-01");
    assert_eq!(h.sim.billing_today(), date(TODAY));

    // Empty on the first of the month: no complete day yet.
    let (rows, envelope) = consumptions_at(&h, nov, "").await;
    assert!(rows.is_empty());
    assert_eq!(envelope["total_count"], 0);
    assert_eq!(envelope["updated_at"], "2026-11-01T03:00:00.000000Z");

    // Grows day by day, row by row, except the restated row at T - 6; the sum is the oracle's total.
    let r = &truth.restatement;
    let restated = (r.project_id.clone(), r.sku.clone());
    let mut previous: Option<BTreeMap<(String, String), Decimal>> = None;
    let mut previous_total = Decimal::ZERO;
    for day in 2..=23 {
        let pulled = date(&format!("2026-11-{day:02}"));
        let (rows, envelope) = consumptions_at(&h, pulled, "").await;
        assert_eq!(envelope["updated_at"], format!("{pulled}T03:00:00.000000Z"));
        assert_eq!(envelope["total_discount_untaxed_value"].to_string(), "0.0");
        let values = by_row(&rows);
        let sum: Decimal = values.values().copied().sum();
        let last_complete = pulled.pred_opt().unwrap();
        let credit = if pulled >= r.visible_from { r.credit } else { Decimal::ZERO };
        assert_eq!(sum, truth.total(None, nov, last_complete) - credit, "{pulled}");
        assert_eq!(sum, truth.month_to_date_total(None, nov, pulled));
        for ((project, sku), value) in &values {
            assert_eq!(*value, truth.month_to_date(project, sku, nov, pulled), "{pulled} {project} {sku}");
        }
        if let Some(prev) = &previous {
            for (key, value) in &values {
                let before = prev.get(key).copied().unwrap_or_default();
                if pulled == r.visible_from && *key == restated {
                    assert!(*value < before, "the restated row goes down: {before} -> {value}");
                } else {
                    assert!(*value > before, "{pulled} {key:?}: {before} -> {value}");
                }
            }
            assert!(prev.keys().all(|k| values.contains_key(k)));
            if pulled != r.visible_from {
                assert!(sum > previous_total);
            }
        }
        previous = Some(values);
        previous_total = sum;
    }

    // The drift's SKU appears from T - 8 (first complete day T - 9) only.
    let drift_row =
        |rows: &[Value]| rows.iter().any(|r| r["sku"] == truth.drift.sku && r["project_id"] == truth.drift.project_id);
    let (before, _) = consumptions_at(&h, truth.drift.from, "").await;
    assert!(!drift_row(&before));
    let (after, _) = consumptions_at(&h, truth.drift.from.succ_opt().unwrap(), "").await;
    assert!(drift_row(&after));

    // A past period returns its full total, whatever the clock; the history and the future are empty.
    h.sim.set_billing_today(date(TODAY));
    let october = h.all_b("/billing/v2beta1/consumptions?billing_period=2026-10", "consumptions").await;
    let october_sum: Decimal = by_row(&october).values().copied().sum();
    assert_eq!(october_sum, truth.total(None, date("2026-10-01"), date("2026-10-31")));
    h.sim.set_billing_today(date("2027-01-15"));
    let again = h.all_b("/billing/v2beta1/consumptions?billing_period=2026-10", "consumptions").await;
    assert_eq!(by_row(&again), by_row(&october));
    let november = h.all_b("/billing/v2beta1/consumptions?billing_period=2026-11", "consumptions").await;
    let november_sum: Decimal = by_row(&november).values().copied().sum();
    assert_eq!(november_sum, truth.total(None, nov, date("2026-11-30")) - r.credit);
    for period in ["2026-07", "2027-02"] {
        let body = h.json(&format!("/billing/v2beta1/consumptions?billing_period={period}")).await;
        assert_eq!(body["total_count"], 0, "{period}");
    }
    // Empty billing_period = the clock's period (January 2027).
    let january = h.all_b("/billing/v2beta1/consumptions?billing_period=", "consumptions").await;
    assert_eq!(
        by_row(&january).values().copied().sum::<Decimal>(),
        truth.total(None, date("2027-01-01"), date("2027-01-14"))
    );
}

#[tokio::test]
async fn consumption_rows_filters_and_orders() {
    let h = Harness::start("billing_today=2026-11-20").await;
    assert_eq!(h.sim.billing_today(), date("2026-11-20"));
    let truth = h.truth();
    let org = organization(h.config());
    let (rows, envelope) = h.all_b_and_envelope("/billing/v2beta1/consumptions", "consumptions").await;
    assert!(rows.len() > 20);
    assert_eq!(envelope["consumptions"].as_array().unwrap().len(), rows.len().min(100));
    let bandwidth = rows
        .iter()
        .find(|r| r["project_id"] == org.projects[1].id && r["sku"] == "/network/bandwidth/egress/fr-par")
        .unwrap();
    assert_eq!(bandwidth["category_name"], "Network");
    assert_eq!(bandwidth["product_name"], "Outgoing bandwidth");
    assert_eq!(bandwidth["resource_name"], "Egress - FR-PAR");
    assert_eq!(bandwidth["unit"], "gigabyte");
    assert_eq!(
        Decimal::from_str(bandwidth["billed_quantity"].as_str().unwrap()).unwrap(),
        money(&bandwidth["value"]) * Decimal::ONE_HUNDRED
    );
    let volume = rows.iter().find(|r| r["sku"] == "/storage/block/volume-low-latency-5k/fr-par-1").unwrap();
    assert_eq!(volume["resource_name"], "Block Storage Low Latency 5k IOPS - FR-PAR-1");
    assert_eq!(volume["unit"], "gigabyte_hour");
    let compute = rows.iter().find(|r| r["sku"] == "/compute/dev1_m/run_fr-par-1").unwrap();
    assert_eq!(
        (compute["product_name"].as_str(), compute["resource_name"].as_str()),
        (Some("DEV1-M"), Some("DEV1-M - FR-PAR-1"))
    );
    assert_eq!(compute["category_name"], "Compute");
    assert_eq!(compute["unit"], "hour");
    let q = Decimal::from_str(compute["billed_quantity"].as_str().unwrap()).unwrap();
    assert_eq!(q % Decimal::from(24 * 19), Decimal::ZERO, "whole servers over 19 days");

    // Filters.
    let p2 = &org.projects[2].id;
    let in_p2 = h.all_b(&format!("/billing/v2beta1/consumptions?project_id={p2}"), "consumptions").await;
    assert!(!in_p2.is_empty() && in_p2.iter().all(|r| r["project_id"] == p2.as_str()));
    let p2_sum: Decimal = by_row(&in_p2).values().copied().sum();
    assert_eq!(p2_sum, truth.total(Some(p2), date("2026-11-01"), date("2026-11-19")));
    let storage = h.all_b("/billing/v2beta1/consumptions?category_name=Storage", "consumptions").await;
    assert!(!storage.is_empty() && storage.iter().all(|r| r["category_name"] == "Storage"));
    let org_id = &h.config().organization_id;
    let mine = h.all_b(&format!("/billing/v2beta1/consumptions?organization_id={org_id}"), "consumptions").await;
    assert_eq!(mine.len(), rows.len());
    let other = h.json("/billing/v2beta1/consumptions?organization_id=00000000-0000-4000-8000-000000000000").await;
    assert_eq!(other["total_count"], 0);

    // Orders.
    let by_category = h.all_b("/billing/v2beta1/consumptions?order_by=category_name_asc", "consumptions").await;
    let categories: Vec<&str> = by_category.iter().map(|r| r["category_name"].as_str().unwrap()).collect();
    assert!(categories.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(by_category.len(), rows.len());
    let desc = h.all_b("/billing/v2beta1/consumptions?order_by=category_name_desc", "consumptions").await;
    assert_eq!(desc[0]["category_name"], "Storage");
    for order in ["updated_at_desc", "updated_at_asc"] {
        let same = h.all_b(&format!("/billing/v2beta1/consumptions?order_by={order}"), "consumptions").await;
        assert_eq!(same, rows);
    }

    // Paging: 20 by default, empty past the end.
    let page = h.json("/billing/v2beta1/consumptions").await;
    assert_eq!(page["consumptions"].as_array().unwrap().len(), 20);
    let past = h.json("/billing/v2beta1/consumptions?page=50&page_size=100").await;
    assert!(past["consumptions"].as_array().unwrap().is_empty());
    assert_eq!(count(&past["total_count"]), rows.len());

    for bad in
        ["billing_period=2026-13", "billing_period=2026-1", "billing_period=nov", "order_by=sideways", "page_size=101"]
    {
        let response = h.get(&format!("/billing/v2beta1/consumptions?{bad}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["type"], "invalid_arguments");
    }
}

#[tokio::test]
async fn invoices_one_per_complete_month() {
    let h = Harness::start("").await;
    let truth = h.truth();
    let (invoices, envelope) = h.all_b_and_envelope("/billing/v2beta1/invoices", "invoices").await;
    assert_eq!(ordered_keys(&envelope), ["invoices", "total_count"]);
    // Newest first (invoice_number_desc).
    let periods: Vec<&str> = invoices.iter().map(|i| i["billing_period"].as_str().unwrap()).collect();
    assert_eq!(periods, ["2026-10-01T00:00:00Z", "2026-09-01T00:00:00Z", "2026-08-01T00:00:00Z"]);
    let states: Vec<&str> = invoices.iter().map(|i| i["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["issued", "paid", "paid"]);
    let numbers: Vec<i64> = invoices.iter().map(|i| int(&i["number"])).collect();
    assert_eq!(numbers[0], numbers[1] + 1);
    assert_eq!(numbers[1], numbers[2] + 1);
    for (inv, (first, last)) in
        invoices.iter().zip([("2026-10-01", "2026-10-31"), ("2026-09-01", "2026-09-30"), ("2026-08-01", "2026-08-31")])
    {
        let untaxed = money(&inv["total_untaxed"]);
        assert_eq!(untaxed, truth.total(None, date(first), date(last)));
        assert_eq!(untaxed, truth.invoice_total(date(first)));
        let tax = money(&inv["total_tax"]);
        assert_eq!(tax, half_up(untaxed * Decimal::new(2, 1)));
        assert_eq!(money(&inv["total_taxed"]), untaxed + tax);
        assert_eq!(money(&inv["total_discount"]), Decimal::ZERO);
        assert_eq!(money(&inv["total_undiscount"]), untaxed);
        assert_eq!(inv["start_date"], format!("{first}T00:00:00Z"));
        assert_eq!(inv["stop_date"], format!("{last}T23:59:59.999999Z"));
        let next = date(last).succ_opt().unwrap();
        assert_eq!(inv["issued_date"], format!("{}T10:00:00Z", next.succ_opt().unwrap()));
        assert_eq!(inv["due_date"], format!("{}T10:00:00Z", next.succ_opt().unwrap() + Days::new(30)));
        assert_eq!(inv["type"], "periodic");
        assert_eq!(inv["seller_name"], "Scaleway SAS");
        assert_eq!(inv["organization_name"], "Demo Org");
        assert_eq!(inv["organization_id"], h.config().organization_id.as_str());
        assert_eq!(inv["id"].as_str().unwrap().len(), 36);
    }

    // Filters and orders.
    let after = h.json("/billing/v2beta1/invoices?billing_period_start_after=2026-09-01T00:00:00Z").await;
    assert_eq!(after["total_count"], 2);
    let window = h
        .json("/billing/v2beta1/invoices?billing_period_start_after=2026-08-15T00:00:00Z&billing_period_start_before=2026-09-15T00:00:00Z")
        .await;
    assert_eq!(window["invoices"][0]["billing_period"], "2026-09-01T00:00:00Z");
    assert_eq!(window["total_count"], 1);
    let asc = h.json("/billing/v2beta1/invoices?order_by=start_date_asc").await;
    assert_eq!(asc["invoices"][0]["billing_period"], "2026-08-01T00:00:00Z");
    let by_total = h.json("/billing/v2beta1/invoices?order_by=total_untaxed_asc").await;
    let totals: Vec<Decimal> =
        by_total["invoices"].as_array().unwrap().iter().map(|i| money(&i["total_untaxed"])).collect();
    assert!(totals.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(h.json("/billing/v2beta1/invoices?invoice_type=periodic").await["total_count"], 3);
    assert_eq!(h.json("/billing/v2beta1/invoices?invoice_type=credit_note").await["total_count"], 0);
    assert_eq!(h.get("/billing/v2beta1/invoices?invoice_type=refund").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(h.get("/billing/v2beta1/invoices?order_by=number").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        h.get("/billing/v2beta1/invoices?billing_period_start_after=yesterday").await.status(),
        StatusCode::BAD_REQUEST
    );

    // The clock moves: November is invoiced in December, restatement credit included; the ids are stable.
    h.sim.set_billing_today(date("2026-12-01"));
    let later = h.all_b("/billing/v2beta1/invoices?order_by=invoice_number_asc", "invoices").await;
    assert_eq!(later.len(), 4);
    assert_eq!(later[2]["id"], invoices[0]["id"]);
    assert_eq!(later[2]["state"], "paid");
    assert_eq!(later[3]["state"], "issued");
    assert_eq!(
        money(&later[3]["total_untaxed"]),
        truth.total(None, date("2026-11-01"), date("2026-11-30")) - truth.restatement.credit
    );
    h.sim.set_billing_today(date("2026-08-20"));
    assert_eq!(h.json("/billing/v2beta1/invoices").await["total_count"], 0);
}

#[tokio::test]
async fn charges_walk_sums_to_the_daily_costs() {
    let h = Harness::start("").await;
    let truth = h.truth();
    let org = organization(h.config());
    let invoices = h.all_b("/billing/v2beta1/invoices", "invoices").await;
    let october_invoice =
        invoices.iter().find(|i| i["billing_period"] == "2026-10-01T00:00:00Z").unwrap()["id"].clone();

    let charges = h.all_charges("start_date_after=2026-10-25T00:00:00Z&end_date_before=2026-11-30T00:00:00Z").await;
    let mut sums: BTreeMap<(NaiveDate, String, String), Decimal> = BTreeMap::new();
    let inventory = org.billable_ids();
    let mut unknown: BTreeMap<String, Vec<NaiveDate>> = BTreeMap::new();
    let mut previous_day = date("2026-10-25");
    for c in &charges {
        let start = c["start_date"].as_str().unwrap();
        let day = date(&start[..10]);
        assert!(day >= previous_day, "ordered by start date");
        previous_day = day;
        assert_eq!(start, format!("{day}T00:00:00Z"));
        assert_eq!(c["end_date"], format!("{day}T23:59:59.999999Z"));
        assert_eq!(c["updated_at"], "2026-11-22T03:00:00Z");
        assert_eq!(c["organization_id"], h.config().organization_id.as_str());
        let expected_invoice = if day < date("2026-11-01") { october_invoice.clone() } else { Value::from("") };
        assert_eq!(c["invoice_id"], expected_invoice, "{c}");
        let project = c["project_id"].as_str().unwrap();
        let name = &org.projects.iter().find(|p| p.id == project).unwrap().name;
        assert_eq!(c["project_name"], name.as_str());
        let sku = c["sku"].as_str().unwrap();
        let resource = c["resource_id"].as_str().unwrap();
        if sku == "/network/bandwidth/egress/fr-par" {
            assert_eq!(resource, "");
        } else if !inventory.contains(resource) {
            unknown.entry(resource.to_string()).or_default().push(day);
        }
        if sku.starts_with("/compute/") {
            assert!(c["resource_name"].is_string(), "{c}");
            let server = org.servers.iter().chain(&org.managed_servers).find(|s| s.id == resource);
            if let Some(server) = server {
                assert_eq!(c["resource_name"], server.name.as_str());
            }
        } else if sku.starts_with("/network/loadbalancer/") || sku.starts_with("/rdb/") {
            let lb = org.load_balancer(resource).map(|l| &l.name);
            let named = lb.or_else(|| org.database(resource).map(|d| &d.name)).expect("a collected resource");
            assert_eq!(c["resource_name"], named.as_str(), "{c}");
        } else {
            assert!(c["resource_name"].is_null(), "{c}");
        }
        *sums.entry((day, project.to_string(), sku.to_string())).or_default() += money(&c["price"]);
    }
    assert_eq!(previous_day, date("2026-11-21"), "only complete days before the billing clock");
    let expected: BTreeMap<(NaiveDate, String, String), Decimal> = truth
        .daily
        .iter()
        .filter(|d| d.day >= date("2026-10-25") && d.day <= date("2026-11-21"))
        .map(|d| ((d.day, d.project_id.clone(), d.sku.clone()), d.cost))
        .collect();
    assert_eq!(sums, expected);

    // The two resources billed without being in the inventory: the ghost (3 days) and the drift's server.
    let ghost = &truth.billed_without_resource;
    assert_eq!(unknown.len(), 2, "{unknown:?}");
    assert_eq!(unknown[&ghost.resource_id], ghost.days);
    let ghost_charge = charges.iter().find(|c| c["resource_id"] == ghost.resource_id.as_str()).unwrap();
    assert_eq!(ghost_charge["resource_name"], "decommissioned-api");
    assert_eq!(ghost_charge["sku"], ghost.sku.as_str());
    assert_eq!(money(&ghost_charge["price"]), ghost.daily_cost);
    let drift_days: Vec<NaiveDate> = unknown.iter().find(|(id, _)| **id != ghost.resource_id).unwrap().1.clone();
    assert_eq!(drift_days.first(), Some(&truth.drift.from));
    // The unbilled server never appears, its volume and IP do.
    let unbilled = org.server(&truth.unbilled_resource_id).unwrap();
    assert!(charges.iter().all(|c| c["resource_id"] != unbilled.id.as_str()));
    for id in org.ips.iter().filter(|i| i.server.as_ref().is_some_and(|s| s.id == unbilled.id)).map(|i| &i.id) {
        assert!(charges.iter().any(|c| c["resource_id"] == id.as_str()));
    }
    let none = h.all_charges(&format!("resource_ids={}", unbilled.id)).await;
    assert!(none.is_empty());

    // Default window = the current period; filters; descending order; bad tokens.
    let current = h.all_charges("").await;
    assert_eq!(current.first().unwrap()["start_date"], "2026-11-01T00:00:00Z");
    assert_eq!(current.last().unwrap()["start_date"], "2026-11-21T00:00:00Z");
    assert_eq!(current.len(), charges.iter().filter(|c| c["start_date"].as_str().unwrap() >= "2026-11").count());
    let p1 = &org.projects[1].id;
    let in_p1 = h.all_charges(&format!("project_ids={p1}&skus=/network/bandwidth/egress/fr-par")).await;
    assert_eq!(in_p1.len(), 21);
    let anomaly = in_p1.iter().find(|c| c["start_date"] == format!("{}T00:00:00Z", truth.anomaly.day)).unwrap();
    assert_eq!(money(&anomaly["price"]), truth.anomaly.cost);
    let desc = h.json("/billing/v2beta1/charges?order_by=start_date_desc&page_size=5").await;
    assert_eq!(desc["charges"][0]["start_date"], "2026-11-21T00:00:00Z");
    let first = h.json("/billing/v2beta1/charges?page_size=3").await;
    assert_eq!(first["charges"].as_array().unwrap().len(), 3);
    assert!(first["next_page_token"].is_string());
    assert_eq!(h.get("/billing/v2beta1/charges?page_token=!!").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(h.get("/billing/v2beta1/charges?page_size=500").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(h.get("/billing/v2beta1/charges?order_by=price").await.status(), StatusCode::BAD_REQUEST);
    let empty = h
        .json("/billing/v2beta1/charges?start_date_after=2026-12-01T00:00:00Z&end_date_before=2027-01-01T00:00:00Z")
        .await;
    assert_eq!(empty, serde_json::json!({"charges": [], "next_page_token": null}));
}

#[tokio::test]
async fn taxes_and_discounts() {
    let h = Harness::start("").await;
    let truth = h.truth();
    let taxes = h.json("/billing/v2beta1/taxes").await;
    assert_eq!(taxes["total_count"], 1);
    assert_eq!(taxes["updated_at"], "2026-11-22T03:00:00.000000Z");
    let tax = &taxes["taxes"][0];
    assert_eq!((tax["description"].as_str(), tax["currency"].as_str()), (Some("VAT 20%"), Some("EUR")));
    assert_eq!(tax["rate"].to_string(), "0.2");
    let mtd = truth.month_to_date_total(None, date("2026-11-01"), date(TODAY));
    assert_eq!(float(&tax["total_tax_value"]), half_up(mtd * Decimal::new(2, 1)));
    let october = h.json("/billing/v2beta1/taxes?billing_period=2026-10").await;
    let october_total = truth.total(None, date("2026-10-01"), date("2026-10-31"));
    assert_eq!(float(&october["taxes"][0]["total_tax_value"]), half_up(october_total * Decimal::new(2, 1)));
    h.sim.set_billing_today(date("2026-12-01"));
    let empty = h.json("/billing/v2beta1/taxes").await;
    assert_eq!(empty["total_count"], 0);
    assert_eq!(empty["taxes"], serde_json::json!([]));

    let discounts = h.json("/billing/v2beta1/discounts").await;
    assert_eq!(ordered_keys(&discounts), ["total_count", "discounts"]);
    let d = &discounts["discounts"][0];
    assert_eq!(d["description"], "Startup program voucher");
    assert_eq!(
        (d["value"].to_string(), d["value_used"].to_string(), d["value_remaining"].to_string()),
        ("100.0".into(), "37.5".into(), "62.5".into())
    );
    assert_eq!(d["mode"], "discount_mode_value");
    assert_eq!(d["coupon"], serde_json::json!({"description": "Welcome offer"}));
    assert_eq!(d["filters"], serde_json::json!([]));
    assert_eq!(d["organization_id"], h.config().organization_id.as_str());
    let other = h.json("/billing/v2beta1/discounts?organization_id=00000000-0000-4000-8000-000000000000").await;
    assert_eq!(other["total_count"], 0);
}

#[tokio::test]
async fn billing_shapes_match_the_fixtures() {
    let h = Harness::start("").await;
    let cases = [
        ("consumptions_list.json", "consumptions", "/billing/v2beta1/consumptions"),
        ("invoices_list.json", "invoices", "/billing/v2beta1/invoices"),
        ("charges_list_page1.SYNTHETIC.json", "charges", "/billing/v2beta1/charges?page_size=100"),
        ("taxes_list.SYNTHETIC.json", "taxes", "/billing/v2beta1/taxes"),
        ("discounts_list.SYNTHETIC.json", "discounts", "/billing/v2beta1/discounts"),
    ];
    for (file, key, path) in cases {
        let recorded = fixture(&format!("billing/{file}"));
        let served = h.json(path).await;
        assert_eq!(keys(&served), keys(&recorded), "{file}: envelope");
        let items = served[key].as_array().unwrap();
        assert!(!items.is_empty(), "{file}: nothing served");
        let expected = &recorded[key][0];
        for item in items {
            assert_eq!(keys(item), keys(expected), "{file}: {item}");
            for (field, value) in expected.as_object().unwrap() {
                if value.is_object() {
                    assert_eq!(keys(&item[field]), keys(value), "{file}: {field}");
                }
            }
        }
        // The recorded lists keep their recorded (alphabetical) key order.
        if !file.contains("SYNTHETIC") {
            assert_eq!(ordered_keys(&items[0]), ordered_keys(expected), "{file}");
            assert_eq!(ordered_keys(&served), ordered_keys(&recorded), "{file}");
        } else {
            assert_eq!(ordered_keys(&items[0]), ordered_keys(expected), "{file}");
        }
    }
    let charges = h.json("/billing/v2beta1/charges?page_size=100").await;
    let bandwidth = charges["charges"].as_array().unwrap().iter().find(|c| c["resource_id"] == "").unwrap();
    assert!(bandwidth["resource_name"].is_null());
}

#[tokio::test]
async fn permissions_faults_and_money_as_strings() {
    let paths = [
        ("/billing/v2beta1/consumptions", "consumption"),
        ("/billing/v2beta1/invoices", "invoice"),
        ("/billing/v2beta1/charges", "charge"),
        ("/billing/v2beta1/taxes", "tax"),
        ("/billing/v2beta1/discounts", "discount"),
    ];
    let denied = |resource: &str| serde_json::json!({"details":[{"action":"read","resource":resource}],"message":"insufficient permissions","type":"permissions_denied"});
    let h = Harness::start("deny=charges").await;
    for (path, resource) in paths {
        let response = h.get(path).await;
        if resource == "charge" {
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            assert_eq!(response.json::<Value>().await.unwrap(), denied(resource));
        } else {
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
    }
    assert_eq!(h.get("/account/v3/projects").await.status(), StatusCode::OK);

    let h = Harness::start("deny=billing").await;
    for (path, resource) in paths {
        let response = h.get(path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap(), denied(resource));
    }
    assert_eq!(h.get("/instance/v1/zones/fr-par-1/servers").await.status(), StatusCode::OK);
    // Authentication comes first.
    let anonymous = h.http.get(format!("{}/billing/v2beta1/invoices", h.sim.base_url())).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let h = Harness::start("burst_429=1").await;
    assert_eq!(h.get("/billing/v2beta1/taxes").await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(h.get("/billing/v2beta1/taxes").await.status(), StatusCode::OK);

    let h = Harness::start("money_as_strings=true").await;
    let consumptions = h.json("/billing/v2beta1/consumptions").await;
    assert!(consumptions["total_count"].is_string());
    let value = &consumptions["consumptions"][0]["value"];
    assert!(value["units"].is_string() && value["nanos"].is_string(), "{value}");
    let invoices = h.json("/billing/v2beta1/invoices").await;
    assert_eq!(invoices["total_count"], "3");
    assert!(invoices["invoices"][0]["total_untaxed"]["units"].is_string());
    let charges = h.json("/billing/v2beta1/charges").await;
    assert!(charges["charges"][0]["price"]["nanos"].is_string());
    assert_eq!(h.json("/billing/v2beta1/taxes").await["total_count"], "1");
    assert_eq!(h.json("/billing/v2beta1/discounts").await["total_count"], "1");
}

#[tokio::test]
async fn tags_and_the_inventory_oracle() {
    let config = config("");
    let org = organization(&config);
    let h = Harness::start("").await;
    let servers = h.json("/instance/v1/zones/fr-par-1/servers?per_page=100").await;
    let volumes = h.json("/block/v1/zones/fr-par-1/volumes?page_size=100").await;
    let tags_of = |items: &Value, id: &str| -> Vec<String> {
        let item = items.as_array().unwrap().iter().find(|i| i["id"] == id).unwrap();
        serde_json::from_value(item["tags"].clone()).unwrap()
    };
    let mut p2_tags = Vec::new();
    for s in org.servers.iter().filter(|s| s.zone == "fr-par-1") {
        let served = tags_of(&servers["servers"], &s.id);
        assert_eq!(served, s.tags);
        if s.id == org.ghosts.stopped_server {
            assert_eq!(served, ["legacy"]);
        } else if s.project_id == org.projects[0].id {
            assert_eq!(served, ["team=platform", "env:prod"]);
        } else if s.project_id == org.projects[1].id {
            assert_eq!(served, ["team=checkout", "env=prod", "critical"]);
        }
    }
    for s in org.servers.iter().filter(|s| s.project_id == org.projects[2].id) {
        p2_tags.push(s.tags.clone());
    }
    assert!(p2_tags.len() >= 4);
    for (i, tags) in p2_tags.iter().enumerate() {
        let expected: Vec<String> = if i % 2 == 0 { vec!["team=data".into()] } else { vec![] };
        assert_eq!(*tags, expected);
    }
    // Attached block volumes copy their server's tags; free ones have none.
    for v in volumes["volumes"].as_array().unwrap() {
        let tags: Vec<String> = serde_json::from_value(v["tags"].clone()).unwrap();
        match v["references"].as_array().unwrap().first() {
            Some(r) => assert_eq!(tags, org.server(r["product_resource_id"].as_str().unwrap()).unwrap().tags),
            None => assert!(tags.is_empty()),
        }
    }

    // The inventory oracle does not see billing at all.
    let ghosts = planted(&config);
    assert_eq!(ghosts.len(), 11);
    let euros: Vec<String> = ghosts.iter().map(|g| g.monthly_cost.map(|c| c.to_string()).unwrap_or_default()).collect();
    assert_eq!(euros, ["6.3656", "170.893", "43.07", "27.5575", "", "2.92", "2.92", "1.7885", "7.154", "1.0731", ""]);
    let truth = billing(&config);
    assert!(ghosts.iter().all(|g| g.resource_id != truth.billed_without_resource.resource_id));
    assert!(ghosts.iter().all(|g| g.resource_id != truth.unbilled_resource_id));
    assert_eq!(month_of(date(TODAY)), date("2026-11-01"));
}
