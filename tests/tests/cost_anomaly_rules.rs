//! The cost-anomalies rules on the real engine, from hand-written daily series: the z-score threshold is
//! decided exactly (a float square root would miss an excess of exactly 3 sigma), and a series with under 21
//! days of history is compared as a normalised month. A day whose cost was spread evenly over several (a first
//! collection, a missed one) is neither examined nor part of a baseline.

use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate};
use costlake_queries::{ResultSet, find, run};
use costlake_tests::engine::chdb_library;
use costlake_transform::migrate;
use costlake_transform::models::MATERIALISED;
use costlake_transform::warehouse::Warehouse;
use costlake_transform::warehouse::chdb::EmbeddedWarehouse;
use rust_decimal::Decimal;
use serde_json::Value;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// Daily usage costs of one (project, service, SKU), observed day by day, written straight into billing_daily.
async fn series(warehouse: &dyn Warehouse, project: &str, service: &str, days: &[(NaiveDate, Decimal)]) {
    let observed: Vec<(NaiveDate, Decimal, u32)> = days.iter().map(|(day, cost)| (*day, *cost, 1)).collect();
    spread_series(warehouse, project, service, &observed).await;
}

/// The same with each day's `spread_days`: over 1, the day's cost is its share of a difference spread evenly.
async fn spread_series(warehouse: &dyn Warehouse, project: &str, service: &str, days: &[(NaiveDate, Decimal, u32)]) {
    let rows: Vec<String> = days
        .iter()
        .map(|(day, cost, spread)| {
            format!(
                r#"{{"organization_id":"org-1","billing_period":"{}","day":"{day}","project_id":"{project}","sku":"/{service}/sku","product_name":"{service}","currency":"EUR","cost":"{cost}","quantity":"1","charge_class":"","spread_days":{spread},"late":false,"observed_at":"2026-11-11 04:00:00"}}"#,
                day.format("%Y-%m-01")
            )
        })
        .collect();
    warehouse.execute(&format!("INSERT INTO billing_daily FORMAT JSONEachRow {}", rows.join("\n")), &[]).await.unwrap();
}

/// Computes the baselines the report reads (the table cost_baselines, which a load keeps) from billing_daily as
/// written: no run was loaded, so no load would.
async fn compute_baselines(warehouse: &dyn Warehouse) {
    let model = MATERIALISED.iter().find(|m| m.table == "cost_baselines").unwrap();
    let (source, bounds) = model.whole();
    warehouse.execute("TRUNCATE TABLE cost_baselines", &[]).await.unwrap();
    warehouse.execute(&format!("INSERT INTO cost_baselines SELECT * FROM {source}"), &bounds).await.unwrap();
}

/// The `days` days to `as_of` examined, first in that order, then the euro and percent floors at zero: only the
/// z-score decides.
fn without_floors(as_of: NaiveDate, days: u32) -> Vec<(String, String)> {
    [("as_of", as_of.to_string()), ("days", days.to_string()), ("min_delta", "0".into()), ("min_percent", "0".into())]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

fn rows(result: &ResultSet) -> Vec<serde_json::Map<String, Value>> {
    result
        .rows
        .iter()
        .map(|row| result.columns.iter().map(|(n, _)| n.clone()).zip(row.iter().cloned()).collect())
        .collect()
}

fn money(row: &serde_json::Map<String, Value>, column: &str) -> Decimal {
    d(row[column].as_str().unwrap_or_else(|| panic!("{column} is not a decimal string: {}", row[column])))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_z_threshold_is_exact_and_short_histories_use_a_normalised_month() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    migrate(&warehouse).await.unwrap();
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 10).unwrap();

    // 28 days of 10.1 and 9.9 by alternate weeks: every weekday's mean is 10, the spread exactly 0.1. On
    // as_of, one service costs 10.3 (z = 3 exactly), the other a nano less.
    let baseline = |last: Decimal| -> Vec<(NaiveDate, Decimal)> {
        let mut days: Vec<(NaiveDate, Decimal)> = (1..=28)
            .map(|back: i64| {
                let week = (back - 1) / 7;
                (as_of - Duration::days(back), if week % 2 == 0 { d("10.1") } else { d("9.9") })
            })
            .collect();
        days.push((as_of, last));
        days
    };
    series(&warehouse, "p-edge", "Edge", &baseline(d("10.3"))).await;
    series(&warehouse, "p-under", "Under", &baseline(d("10.299999999"))).await;

    // A service first billed on Oct 25 (16 days before as_of): 5 a day in October, 20 a day in November.
    let young: Vec<(NaiveDate, Decimal)> = NaiveDate::from_ymd_opt(2026, 10, 25)
        .unwrap()
        .iter_days()
        .take_while(|day| *day <= as_of)
        .map(|day| (day, if day.month0() == 9 { d("5") } else { d("20") }))
        .collect();
    series(&warehouse, "p-young", "Young", &young).await;

    compute_baselines(&warehouse).await;
    let report = find("cost-anomalies").unwrap();
    let params = without_floors(as_of, 1);
    let found = rows(&run(&warehouse, &report, &params).await.unwrap());

    let edge = found.iter().find(|r| r["project_id"] == "p-edge").expect("an excess of exactly 3 sigma is flagged");
    assert_eq!(edge["method"], "weekday_baseline");
    assert_eq!((money(edge, "expected"), money(edge, "actual"), money(edge, "excess")), (d("10"), d("10.3"), d("0.3")));
    assert_eq!(edge["z"].as_f64(), Some(3.0));
    assert!(found.iter().all(|r| r["project_id"] != "p-under"), "a nano under 3 sigma is not: {found:?}");

    let young = found.iter().find(|r| r["project_id"] == "p-young").expect("the young series, normalised");
    assert_eq!(young["method"], "normalized_month");
    assert_eq!(young["start_date"], "2026-11-01");
    assert_eq!(young["days"], Value::from(10));
    // October's total, against November's 200 over 10 days stretched to October's 31.
    assert_eq!((money(young, "expected"), money(young, "actual")), (d("35"), d("620")));
    assert!(young["z"].is_null());
    assert_eq!(found.len(), 2, "{found:?}");

    // The floors still hold: the default 10 euros and 20 % leave the 0.3 excess out.
    let defaults = rows(&run(&warehouse, &report, &params[..2]).await.unwrap());
    assert_eq!(defaults.iter().map(|r| r["project_id"].as_str().unwrap()).collect::<Vec<_>>(), vec!["p-young"]);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_whose_cost_was_spread_are_neither_examined_nor_a_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    migrate(&warehouse).await.unwrap();
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 10).unwrap();
    let day = |m: u32, d: u32| NaiveDate::from_ymd_opt(2026, m, d).unwrap();

    // A first collection on November 11: October's total spread over its 31 days (10 a day), November's ten days
    // over theirs (30 a day). Flat days would make a zero spread and every November day a day-one anomaly.
    let mut first: Vec<(NaiveDate, Decimal, u32)> =
        day(10, 1).iter_days().take(31).map(|date| (date, d("10"), 31)).collect();
    first.extend(day(11, 1).iter_days().take(10).map(|date| (date, d("30"), 10)));
    spread_series(&warehouse, "p-first", "First", &first).await;

    // Collected daily for 28 days, but for one missed day (its difference split over two days, 20 each, which an
    // observed day would make an anomaly), then 12 on as_of against the weekday's mean of 10.
    let mut daily: Vec<(NaiveDate, Decimal, u32)> = (1..=28)
        .map(|back: i64| {
            let week = (back - 1) / 7;
            let missed = back == 4 || back == 5;
            let cost = if missed {
                d("20")
            } else if week % 2 == 0 {
                d("10.1")
            } else {
                d("9.9")
            };
            (as_of - Duration::days(back), cost, if missed { 2 } else { 1 })
        })
        .collect();
    daily.push((as_of, d("12"), 1));
    spread_series(&warehouse, "p-daily", "Daily", &daily).await;

    // Collected daily but for missed days on each of as_of's weekday in the window (and the day after): 21
    // observed days, none of that weekday, so no mean to compare as_of with (it was 0, and 12 an anomaly).
    let gaps: Vec<(NaiveDate, Decimal, u32)> = (1..=28)
        .map(|back: i64| {
            let spread = back % 7 == 0 || (back % 7 == 1 && back > 1);
            (as_of - Duration::days(back), if spread { d("5") } else { d("10") }, if spread { 2 } else { 1 })
        })
        .chain([(as_of, d("12"), 1)])
        .collect();
    spread_series(&warehouse, "p-gaps", "Gaps", &gaps).await;

    compute_baselines(&warehouse).await;
    let report = find("cost-anomalies").unwrap();
    let params = without_floors(as_of, 10);
    let found = rows(&run(&warehouse, &report, &params).await.unwrap());

    // The spread series: no day examined; the month normalised against October's total.
    let first: Vec<_> = found.iter().filter(|r| r["project_id"] == "p-first").collect();
    assert_eq!(first.len(), 1, "{found:?}");
    assert_eq!(first[0]["method"], "normalized_month");
    assert_eq!((money(first[0], "expected"), money(first[0], "actual")), (d("310"), d("930")));

    // The daily series: its two spread days are not anomalies, nor in the baseline; as_of is, against the mean of
    // its weekday (10), and the 26 observed days are enough history.
    let daily: Vec<_> = found.iter().filter(|r| r["project_id"] == "p-daily").collect();
    assert_eq!(daily.len(), 1, "{found:?}");
    assert_eq!(daily[0]["method"], "weekday_baseline");
    assert_eq!(daily[0]["start_date"], as_of.to_string());
    assert_eq!((money(daily[0], "expected"), money(daily[0], "actual")), (d("10"), d("12")));
    assert!(found.iter().all(|r| r["project_id"] != "p-gaps"), "no weekday to compare with: {found:?}");
    assert_eq!(found.len(), 2, "{found:?}");
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}
