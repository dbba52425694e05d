//! Billing end to end: 35 days of daily billing collections replayed against the simulator (one missed, one
//! re-run), loaded by the real binary, then every billing report and the FOCUS export checked against the
//! simulator's own billing oracle, to the cent and below.

mod common;

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate};
use common::BIN;
use costlake_simulator::{BillingTruth, SimConfig, Simulator, billing};
use costlake_tests::replay::Replay;
use costlake_tests::sandbox::Sandbox;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;

const TODAY: &str = "2026-11-22";

struct World {
    simulator: Simulator,
    sandbox: Sandbox,
    truth: BillingTruth,
    today: NaiveDate,
    missed: NaiveDate,
}

async fn world() -> World {
    let config = SimConfig::default().with_knobs(&format!("today={TODAY}")).unwrap();
    let simulator = Simulator::start(config, None).await.unwrap();
    let today = simulator.config().today;
    let missed = today - Duration::days(15);
    let mut sandbox = Sandbox::new(BIN);
    sandbox.use_simulator(&simulator);
    let replay = Replay {
        simulator: &simulator,
        from: today - Duration::days(35),
        missed: vec![missed],
        twice: vec![today - Duration::days(12)],
    };
    let manifests = replay.run(&sandbox.lake_dir()).await;
    assert_eq!(manifests.len(), 35 - 1 + 1 + 1, "34 days collected, one twice, and the full run");
    let loaded = sandbox.ok(&["load"]).await;
    assert!(loaded.stderr.contains("loaded 36 runs"), "{}", loaded.stderr);
    let truth = billing(simulator.config());
    World { simulator, sandbox, truth, today, missed }
}

fn dec(value: &Value) -> Decimal {
    match value {
        Value::String(s) => Decimal::from_str(s).unwrap_or_else(|_| panic!("not a decimal: {value}")),
        Value::Number(n) => Decimal::from_str(&n.to_string()).unwrap(),
        other => panic!("expected money as a decimal string, got {other}"),
    }
}

fn date(value: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(value.as_str().unwrap(), "%Y-%m-%d").unwrap()
}

async fn json(sandbox: &Sandbox, args: &[&str]) -> Vec<Value> {
    let mut full = vec!["-q"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--format", "json"]);
    sandbox.ok(&full).await.json().as_array().unwrap().clone()
}

/// The cost the oracle says a (project, sku) had on a day.
fn cost(truth: &BillingTruth, project: &str, sku: &str, day: NaiveDate) -> Decimal {
    truth.daily.iter().filter(|d| d.project_id == project && d.sku == sku && d.day == day).map(|d| d.cost).sum()
}

/// What billing_daily books on a day, all SKUs of a project (or all projects): usage, and the restatement
/// credit on the day its month-to-date drop covers.
fn booked(truth: &BillingTruth, project: Option<&str>, day: NaiveDate) -> Decimal {
    let usage: Decimal =
        truth.daily.iter().filter(|d| d.day == day && project.is_none_or(|p| d.project_id == p)).map(|d| d.cost).sum();
    let restatement = &truth.restatement;
    let credited =
        day == restatement.visible_from - Duration::days(1) && project.is_none_or(|p| p == restatement.project_id);
    if credited { usage - restatement.credit } else { usage }
}

fn round2(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// ClickHouse's Decimal(38, 9) division: truncated to 9 decimals.
fn div9(value: Decimal, by: i64) -> Decimal {
    (value / Decimal::from(by)).round_dp_with_strategy(9, RoundingStrategy::ToZero)
}

fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_costs_drift_anomalies_and_forecast_match_the_oracle() {
    let World { simulator: _simulator, sandbox, truth, today, missed } = world().await;
    let last = today - Duration::days(1);
    let november = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let october = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();

    // --- The daily series, against the oracle, cell by cell.
    let rows =
        json(&sandbox, &["sql", "SELECT project_id, sku, day, cost, spread_days, charge_class FROM billing_daily"])
            .await;
    let mut series: BTreeMap<(String, String, NaiveDate), (Decimal, u64, String)> = BTreeMap::new();
    for row in &rows {
        let key = (
            row["project_id"].as_str().unwrap().to_string(),
            row["sku"].as_str().unwrap().to_string(),
            date(&row["day"]),
        );
        let entry = series.entry(key).or_insert((Decimal::ZERO, 0, String::new()));
        entry.0 += dec(&row["cost"]);
        entry.1 = entry.1.max(row["spread_days"].as_u64().unwrap());
        if !row["charge_class"].as_str().unwrap().is_empty() {
            entry.2 = row["charge_class"].as_str().unwrap().to_string();
        }
    }
    let restatement = &truth.restatement;
    let corrected_day = restatement.visible_from - Duration::days(1);
    let mut checked = 0;
    for daily in truth.daily.iter().filter(|d| d.day >= today - Duration::days(35) && d.day <= last) {
        let key = (daily.project_id.clone(), daily.sku.clone(), daily.day);
        let (booked, spread, class) = series.get(&key).cloned().unwrap_or_default();
        if daily.day == missed || daily.day == missed - Duration::days(1) {
            // The missed morning: the two days share their sum evenly.
            let pair = cost(&truth, &daily.project_id, &daily.sku, missed)
                + cost(&truth, &daily.project_id, &daily.sku, missed - Duration::days(1));
            assert_eq!(spread, 2, "{key:?}");
            assert!((booked - pair / Decimal::TWO).abs() <= Decimal::new(1, 9), "{key:?}: {booked} vs half of {pair}");
        } else if daily.day == corrected_day
            && daily.project_id == restatement.project_id
            && daily.sku == restatement.sku
        {
            // The restatement: the month-to-date total went down; the day carries it as a correction.
            assert_eq!(booked, daily.cost - restatement.credit, "{key:?}");
            assert!(booked < Decimal::ZERO);
            assert_eq!(class, "Correction");
        } else {
            assert_eq!(booked, daily.cost, "{key:?}");
            assert_eq!((spread, class.as_str()), (1, ""), "{key:?}");
        }
        checked += 1;
    }
    assert!(checked > 1000, "{checked} cells checked");
    // Each period adds up to its newest month-to-date total, across the month boundary.
    let october_total: Decimal =
        series.iter().filter(|(k, _)| k.2 >= october && k.2 < november).map(|(_, v)| v.0).sum();
    assert_eq!(october_total, truth.total(None, october, NaiveDate::from_ymd_opt(2026, 10, 31).unwrap()));
    let november_total: Decimal = series.iter().filter(|(k, _)| k.2 >= november).map(|(_, v)| v.0).sum();
    assert_eq!(november_total, truth.total(None, november, last) - restatement.credit);
    assert_eq!(november_total, truth.month_to_date_total(None, november, today));
    // October's days before the first collection are an even split of what it found, and say so; September,
    // collected as the previous period, arrives closed and is spread over its 30 days.
    let early: Vec<_> = series.iter().filter(|(k, _)| k.2 >= october && k.2 < today - Duration::days(35)).collect();
    assert!(!early.is_empty() && early.iter().all(|(_, v)| v.1 == 17), "Oct 1-17 spread over 17 days: {early:?}");
    let september: Vec<_> = series.iter().filter(|(k, _)| k.2 < october).collect();
    assert!(!september.is_empty() && september.iter().all(|(_, v)| v.1 == 30), "{september:?}");
    let september_total: Decimal = september.iter().map(|(_, v)| v.0).sum();
    let september_first = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    assert_eq!(september_total, truth.total(None, september_first, october - Duration::days(1)));

    // --- cost-drift: this month to date against the same days of October.
    let drift = json(&sandbox, &["report", "cost-drift"]).await;
    let planted = &truth.drift;
    let new_sku = drift.iter().find(|r| r["sku"] == planted.sku.as_str()).expect("the drift SKU is listed");
    let drift_days = (last - planted.from).num_days() + 1;
    assert_eq!(new_sku["status"], "new");
    assert_eq!(new_sku["project_id"], planted.project_id.as_str());
    assert_eq!(dec(&new_sku["current_cost"]), planted.daily_cost * Decimal::from(drift_days));
    assert_eq!(dec(&new_sku["previous_cost"]), Decimal::ZERO);
    let egress = drift
        .iter()
        .find(|r| r["sku"] == truth.anomaly.sku.as_str() && r["project_id"] == truth.anomaly.project_id.as_str());
    let egress = egress.expect("the anomalous egress moves the month");
    let expected_delta: Decimal =
        days(november, last).map(|d| cost(&truth, &truth.anomaly.project_id, &truth.anomaly.sku, d)).sum::<Decimal>()
            - days(october, october + Duration::days(20))
                .map(|d| cost(&truth, &truth.anomaly.project_id, &truth.anomaly.sku, d))
                .sum::<Decimal>();
    assert_eq!(dec(&egress["delta"]), expected_delta);
    let credited = drift
        .iter()
        .find(|r| r["sku"] == restatement.sku.as_str() && r["project_id"] == restatement.project_id.as_str());
    assert_eq!(dec(&credited.expect("the credit moves the month")["delta"]), -restatement.credit);
    assert_eq!(drift.len(), 3, "only changes over the floors: {drift:#?}");
    // Floors are parameters: lowering them lists more.
    let noisy = json(&sandbox, &["report", "cost-drift", "-p", "min_delta=0.5", "-p", "min_percent=1"]).await;
    assert!(noisy.len() > drift.len());
    // By project.
    let by_project = json(&sandbox, &["report", "cost-drift", "-p", "group_by=project", "-p", "min_percent=0"]).await;
    let platform = by_project.iter().find(|r| r["project_id"] == planted.project_id.as_str()).unwrap();
    let expected: Decimal = days(november, last).map(|d| booked(&truth, Some(&planted.project_id), d)).sum::<Decimal>()
        - days(october, october + Duration::days(20))
            .map(|d| booked(&truth, Some(&planted.project_id), d))
            .sum::<Decimal>();
    assert_eq!(dec(&platform["delta"]), expected);

    // --- cost-anomalies: the egress spike, and the drift as it starts.
    let anomalies = json(&sandbox, &["report", "cost-anomalies"]).await;
    let planted_anomaly = &truth.anomaly;
    let spike = anomalies.iter().find(|r| r["project_id"] == planted_anomaly.project_id.as_str()).expect("the spike");
    assert_eq!(date(&spike["start_date"]), planted_anomaly.day);
    assert_eq!(spike["days"], 1);
    assert_eq!(spike["service"], planted_anomaly.product_name.as_str());
    assert_eq!(dec(&spike["actual"]), planted_anomaly.cost);
    // Expected: the mean of the same weekday over the 28 days before.
    let same_weekdays: Decimal = (1..=4)
        .map(|w| {
            cost(&truth, &planted_anomaly.project_id, &planted_anomaly.sku, planted_anomaly.day - Duration::days(7 * w))
        })
        .sum();
    assert_eq!(dec(&spike["expected"]), div9(same_weekdays, 4).round_dp(6));
    assert!(spike["skus"].as_str().unwrap().starts_with(&planted_anomaly.sku));
    let jump =
        anomalies.iter().find(|r| r["project_id"] == planted.project_id.as_str()).expect("the drift's first days");
    assert_eq!(date(&jump["start_date"]), planted.from);
    let run_days = jump["days"].as_u64().unwrap() as i64;
    assert!(run_days >= 3, "{jump}");
    assert_eq!(dec(&jump["excess"]), planted.daily_cost * Decimal::from(run_days));
    assert_eq!(anomalies.len(), 2, "{anomalies:#?}");

    // --- forecast: month to date, projections, last month.
    let forecast = json(&sandbox, &["report", "forecast"]).await;
    let organisation = forecast.iter().find(|r| r["level"] == "organisation").unwrap();
    let month_to_date: Decimal = days(november, last).map(|d| booked(&truth, None, d)).sum();
    assert_eq!(dec(&organisation["month_to_date"]), month_to_date);
    assert_eq!(dec(&organisation["run_rate_forecast"]), round2(div9(month_to_date, 21) * Decimal::from(30)));
    // The weekday projection: each remaining day costs the mean of its weekday over the last 28 days.
    let weekday_mean = |weekday: u32| -> Decimal {
        let same_weekday =
            days(last - Duration::days(27), last).filter(|d| d.weekday().number_from_monday() == weekday);
        div9(same_weekday.map(|d| booked(&truth, None, d)).sum(), 4)
    };
    let remaining: Vec<(NaiveDate, Decimal)> = days(today, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap())
        .map(|d| (d, weekday_mean(d.weekday().number_from_monday())))
        .collect();
    let remaining_total: Decimal = remaining.iter().map(|(_, c)| *c).sum();
    assert_eq!(dec(&organisation["weekday_forecast"]), round2(month_to_date + remaining_total));
    assert_eq!(
        dec(&organisation["last_month"]),
        round2(truth.total(None, october, NaiveDate::from_ymd_opt(2026, 10, 31).unwrap()))
    );
    assert!(organisation["budget_status"].is_null());

    // --- Budgets: one the organisation will cross (between month to date and the projection), one the
    // drifting project is already over, and one nobody reaches.
    let organisation_budget = (month_to_date + remaining_total / Decimal::TWO).round_dp(2);
    let project_month_to_date: Decimal =
        days(november, last).map(|d| booked(&truth, Some(&planted.project_id), d)).sum();
    let project_budget = (project_month_to_date / Decimal::TWO).round_dp(2);
    let budgets = [
        "--budget".to_string(),
        format!("*={organisation_budget}"),
        "--budget".to_string(),
        format!("{}={project_budget}", planted.project_id),
        "--budget".to_string(),
        "web-shop=1000000".to_string(),
    ];
    let mut args = vec!["report", "forecast"];
    args.extend(budgets.iter().map(String::as_str));
    let forecast = json(&sandbox, &args).await;
    let organisation = forecast.iter().find(|r| r["level"] == "organisation").unwrap();
    let mut cumulative = month_to_date;
    let will_cross = remaining.iter().find(|(_, c)| {
        cumulative += *c;
        cumulative >= organisation_budget
    });
    assert_eq!(organisation["budget_status"], "will cross");
    assert_eq!(organisation["budget_crossed_on"], will_cross.unwrap().0.to_string().as_str());
    let project = forecast.iter().find(|r| r["project_id"] == planted.project_id.as_str()).unwrap();
    let mut cumulative = Decimal::ZERO;
    let crossed = days(november, last).find(|d| {
        cumulative += booked(&truth, Some(&planted.project_id), *d);
        cumulative >= project_budget
    });
    assert_eq!(project["budget_status"], "over");
    assert_eq!(project["budget_crossed_on"], crossed.unwrap().to_string().as_str());
    // Budgets match a project by name too.
    let shop = forecast.iter().find(|r| r["project_id"] == truth.anomaly.project_id.as_str()).unwrap();
    assert_eq!(shop["budget_status"], "within");
    assert!(shop["budget_crossed_on"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghost_cost_allocation_and_the_focus_export_match_the_oracle() {
    let World { simulator: _simulator, sandbox, truth, today, .. } = world().await;
    let last = today - Duration::days(1);
    let november = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();

    // --- ghost-cost: billing against inventory over the last 3 days.
    let ghost = json(&sandbox, &["report", "ghost-cost"]).await;
    let deleted = &truth.billed_without_resource;
    let row = ghost.iter().find(|r| r["resource_id"] == deleted.resource_id.as_str()).expect("the deleted server");
    assert_eq!(row["finding"], "billed_without_resource");
    assert_eq!(dec(&row["billed"]), deleted.daily_cost * Decimal::from(deleted.days.len() as i64));
    assert_eq!(row["days_billed"], deleted.days.len());
    assert_eq!(row["sku"], deleted.sku.as_str());
    let drift = ghost
        .iter()
        .find(|r| r["sku"] == truth.drift.sku.as_str())
        .expect("the drift's servers are in no inventory either");
    assert_eq!(dec(&drift["billed"]), truth.drift.daily_cost * Decimal::from(3));
    let unbilled =
        ghost.iter().find(|r| r["resource_id"] == truth.unbilled_resource_id.as_str()).expect("the unbilled server");
    assert_eq!(unbilled["finding"], "resource_without_billing");
    assert_eq!(dec(&unbilled["expected_monthly_cost"]), Decimal::from_str("14.454").unwrap(), "DEV1-M: 0.0198 x 730");
    assert_eq!(ghost.len(), 3, "{ghost:#?}");

    // --- cost-allocation by team: every euro charged this month lands on a value or on "untagged".
    let allocation = json(&sandbox, &["report", "cost-allocation", "-p", "tag_key=team"]).await;
    let charged_total = truth.total(None, november, last);
    let allocated: Decimal = allocation.iter().map(|r| dec(&r["cost"])).sum();
    assert_eq!(allocated, charged_total);
    let teams: Vec<&str> = allocation.iter().filter_map(|r| r["tag_value"].as_str()).collect();
    assert_eq!(teams.len(), 3, "{teams:?}");
    for team in ["platform", "checkout", "data"] {
        assert!(teams.contains(&team), "{teams:?}");
    }
    let untagged = allocation.iter().find(|r| r["tag_value"].is_null()).expect("an untagged share");
    assert!(dec(&untagged["cost"]) > Decimal::ZERO);
    let shares: Decimal = allocation.iter().map(|r| dec(&r["share_percent"])).sum();
    assert!((shares - Decimal::from(100)).abs() <= Decimal::new(2, 1), "{shares}");
    // The table's totals: every tag key splits the same spend, so it is said once and never summed over keys.
    let table = sandbox.ok(&["-q", "report", "cost-allocation"]).await.stdout;
    let keys: std::collections::BTreeSet<String> = json(&sandbox, &["report", "cost-allocation"])
        .await
        .iter()
        .map(|r| r["tag_key"].as_str().unwrap().to_string())
        .collect();
    assert!(keys.len() > 1, "{keys:?}");
    let each = format!("Each tag_key splits the same cost: {:.2} EUR", charged_total.round_dp(2));
    assert!(table.contains(&each), "{each}\n{table}");
    assert!(!table.contains("All "), "{table}");

    // --- FOCUS 1.2, as Parquet: mandatory columns, their types, no nulls where FOCUS forbids them.
    let path = sandbox.path("focus.parquet");
    sandbox.ok(&["export", "focus", "--format", "parquet", "--output", path.to_str().unwrap()]).await;
    let file = std::fs::File::open(&path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let batches: Vec<arrow::array::RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    use arrow::datatypes::DataType;
    let decimal = |ty: &DataType| matches!(ty, DataType::Decimal128(_, 9) | DataType::Decimal256(_, 9));
    let timestamp = |ty: &DataType| matches!(ty, DataType::Timestamp(_, _));
    let string =
        |ty: &DataType| matches!(ty, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Binary);
    // (column, type check, may be null) for FOCUS 1.2's mandatory columns.
    type TypeCheck<'a> = &'a dyn Fn(&DataType) -> bool;
    let mandatory: &[(&str, TypeCheck, bool)] = &[
        ("BilledCost", &decimal, false),
        ("BillingAccountId", &string, false),
        ("BillingAccountName", &string, true),
        ("BillingCurrency", &string, false),
        ("BillingPeriodEnd", &timestamp, false),
        ("BillingPeriodStart", &timestamp, false),
        ("ChargeCategory", &string, false),
        ("ChargeClass", &string, true),
        ("ChargeDescription", &string, true),
        ("ChargePeriodEnd", &timestamp, false),
        ("ChargePeriodStart", &timestamp, false),
        ("ContractedCost", &decimal, false),
        ("EffectiveCost", &decimal, false),
        ("InvoiceIssuer", &string, false),
        ("ListCost", &decimal, false),
        ("PricingQuantity", &decimal, true),
        ("PricingUnit", &string, true),
        ("Provider", &string, false),
        ("Publisher", &string, false),
        ("ServiceCategory", &string, false),
        ("ServiceName", &string, false),
    ];
    for (name, type_ok, nullable) in mandatory {
        let field = schema.field_with_name(name).unwrap_or_else(|_| panic!("FOCUS column {name} is missing"));
        assert!(type_ok(field.data_type()), "{name}: {:?}", field.data_type());
        if !nullable {
            let nulls: usize = batches.iter().map(|b| b.column_by_name(name).unwrap().null_count()).sum();
            assert_eq!(nulls, 0, "{name} must never be null");
        }
    }
    for name in ["SkuId", "SubAccountId", "SubAccountName", "ResourceId", "Tags", "ChargeFrequency"] {
        assert!(schema.field_with_name(name).is_ok(), "{name}");
    }
    // Values FOCUS allows, and the euros: November's rows (from the charges) add up to the bill.
    let rows = json(&sandbox, &["sql", "SELECT ServiceCategory, ChargeCategory, toString(toDate(ChargePeriodStart)) AS day, BilledCost, Tags, SubAccountName, ResourceId FROM focus_costs"]).await;
    let allowed = [
        "AI and Machine Learning",
        "Analytics",
        "Business Applications",
        "Compute",
        "Databases",
        "Developer Tools",
        "Multicloud",
        "Identity",
        "Integration",
        "Internet of Things",
        "Management and Governance",
        "Media",
        "Migration",
        "Mobile",
        "Networking",
        "Security",
        "Storage",
        "Web",
        "Other",
    ];
    assert!(rows.iter().all(|r| allowed.contains(&r["ServiceCategory"].as_str().unwrap())));
    assert!(rows.iter().all(|r| {
        ["Usage", "Purchase", "Tax", "Credit", "Adjustment"].contains(&r["ChargeCategory"].as_str().unwrap())
    }));
    // Every billing period adds up to its bill, to the nano: the month-to-date consumption total, which is the
    // invoice's untaxed total once the month is over. November's charges lack the restatement credit; one row
    // carries it.
    let periods = json(&sandbox, &["sql", "SELECT toString(toDate(BillingPeriodStart)) AS period, toString(sum(BilledCost)) AS billed, countIf(InvoiceId IS NULL) AS without_invoice FROM focus_costs GROUP BY period ORDER BY period"]).await;
    let invoices = json(&sandbox, &["sql", "SELECT toString(toDate(billing_period)) AS period, toString(argMax(total_untaxed, snapshot_at)) AS total FROM raw_billing_invoices WHERE type = 'periodic' GROUP BY period"]).await;
    assert!(periods.len() >= 3, "{periods:#?}");
    for period in &periods {
        let month = date(&period["period"]);
        let billed = dec(&period["billed"]);
        assert_eq!(billed, truth.month_to_date_total(None, month, today), "{month}: FOCUS against the consumption");
        if month < november {
            assert_eq!(billed, truth.invoice_total(month), "{month}: FOCUS against the simulator's invoice");
            let invoice = invoices.iter().find(|i| i["period"] == period["period"]).expect("the month's invoice");
            assert_eq!(billed, dec(&invoice["total"]), "{month}: FOCUS against the collected invoice");
            assert_eq!(period["without_invoice"], 0, "{month}: every row names the month's invoice");
        }
    }
    let credits = json(&sandbox, &["sql", "SELECT ChargeCategory, ChargeClass, x_Source, SkuId, SubAccountId, toString(toDate(ChargePeriodStart)) AS day, BilledCost FROM focus_costs WHERE x_Source = 'reconciliation'"]).await;
    assert_eq!(credits.len(), 1, "{credits:#?}");
    let credit = &credits[0];
    let restatement = &truth.restatement;
    assert_eq!(dec(&credit["BilledCost"]), -restatement.credit);
    assert_eq!((credit["ChargeCategory"].as_str(), credit["ChargeClass"].as_str()), (Some("Credit"), None));
    assert_eq!(credit["SkuId"], restatement.sku.as_str());
    assert_eq!(credit["SubAccountId"], restatement.project_id.as_str());
    assert_eq!(date(&credit["day"]), restatement.visible_from - Duration::days(1), "the day billing_daily books it");
    // Tags: FOCUS key/value JSON; `k=v` and `k:v` split, a bare tag is true. (Rows come in no order, and some
    // web-shop resources carry other tags: the planted ghosts and utilisation servers keep their own.)
    let checkout = rows
        .iter()
        .find(|r| {
            r["SubAccountName"] == "web-shop"
                && r["ResourceId"] != truth.unbilled_resource_id.as_str()
                && r["Tags"].as_str().is_some_and(|t| t.contains("\"team\""))
        })
        .expect("a web-shop resource with its team's tags");
    let tags: Value = serde_json::from_str(checkout["Tags"].as_str().unwrap()).unwrap();
    assert_eq!(tags["team"], "checkout");
    assert_eq!(tags["env"], "prod");
    assert_eq!(tags["critical"], true);
    // CSV, to stdout.
    let csv = sandbox.ok(&["export", "focus"]).await.stdout;
    let header = csv.lines().next().unwrap();
    for (name, _, _) in mandatory {
        assert!(
            header.contains(&format!("\"{name}\"")) || header.split(',').any(|h| h == *name),
            "{name} not in {header}"
        );
    }
    assert_eq!(csv.lines().count() - 1, rows.len());
    assert!(!csv.contains("\\N"), "a CSV null is an empty field, as in the reports' CSV");
    // Exported a billing month at a time, the Parquet file holds every row once.
    let months: std::collections::BTreeSet<&str> = rows.iter().map(|r| &r["day"].as_str().unwrap()[..7]).collect();
    assert!(months.len() >= 3, "{months:?}");
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), rows.len());
    // A date range keeps the charge periods that start in it, both ends included.
    let from = november + Duration::days(9);
    let november_rows = rows.iter().filter(|r| {
        let day = date(&r["day"]);
        day >= from && day <= last
    });
    let range = sandbox.ok(&["export", "focus", "--from", &from.to_string(), "--to", &last.to_string()]).await.stdout;
    assert_eq!(range.lines().count() - 1, november_rows.count());
    // `| head`: the reader leaves after a few lines; the export ends quietly, successfully.
    let head = sandbox.run_then_close_stdout(&["-q", "export", "focus"], 3).await;
    assert_eq!((head.code, head.stderr.as_str()), (Some(0), ""), "{}", head.stderr);
    assert_eq!(head.stdout.lines().count(), 3);
    // A FORMAT clause, as a ClickHouse user types it: the engine's output as it is.
    let tsv =
        sandbox.ok(&["-q", "sql", "SELECT BillingCurrency, count() > 0 FROM focus_costs GROUP BY 1 FORMAT TSV;"]).await;
    assert_eq!(tsv.stdout, "EUR\t1\n");
    let bad = sandbox.run(&["export", "focus", "--from", "last tuesday"]).await;
    assert!(!bad.success());
    assert!(bad.stderr.contains("--from \"last tuesday\" is not a date (YYYY-MM-DD)"), "{}", bad.stderr);
    let backwards = sandbox.run(&["export", "focus", "--from", &last.to_string(), "--to", &from.to_string()]).await;
    assert!(backwards.code == Some(2) && backwards.stderr.contains(" is after --to "), "{}", backwards.stderr);
    // Dates as written, without their zeros, are not taken for others.
    let unpadded = sandbox.run(&["export", "focus", "--from", "2026-9-1"]).await;
    assert!(unpadded.code == Some(2) && unpadded.stderr.contains("is not a date (YYYY-MM-DD)"), "{}", unpadded.stderr);
    // A range without charges: the columns, and a warning saying which days the warehouse holds.
    let later = (last + Duration::days(400)).to_string();
    let none = sandbox.ok(&["export", "focus", "--from", &later]).await;
    assert_eq!(none.stdout.lines().count(), 1, "{}", none.stdout);
    assert!(none.stderr.contains("no charges to export: the warehouse holds charges from "), "{}", none.stderr);
    // A file in a directory that is not there: its name as given.
    let nowhere = sandbox.path("missing/focus.csv").display().to_string();
    let error = sandbox.run(&["export", "focus", "--output", &nowhere]).await;
    assert!(!error.success() && error.stderr.contains(&format!("cannot write {nowhere}:")), "{}", error.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_warehouse_exports_the_focus_columns_and_no_rows() {
    let sandbox = Sandbox::new(BIN);
    // A load of an empty lake creates the warehouse, its tables and no rows.
    sandbox.ok(&["-q", "load"]).await;
    let csv = sandbox.ok(&["-q", "export", "focus"]).await.stdout;
    assert_eq!(csv.lines().count(), 1, "{csv}");
    assert!(csv.starts_with("\"BilledCost\",\"BillingAccountId\""), "{csv}");
    // Parquet, as the file's name says.
    let path = sandbox.path("empty.parquet");
    sandbox.ok(&["-q", "export", "focus", "-o", path.to_str().unwrap()]).await;
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
            .unwrap();
    assert!(reader.schema().field_with_name("BilledCost").is_ok());
    assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
    assert!(!sandbox.path("empty.parquet.partial").exists());
}
