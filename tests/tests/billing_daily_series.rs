//! billing_daily on the real engine, from hand-written month-to-date states of one SKU: a month boundary, a
//! missed day, a re-run of the same day, a restatement, a SKU that appears then vanishes, late data.

use std::str::FromStr;

use costlake_queries::query;
use costlake_tests::engine::chdb_library;
use costlake_transform::migrate;
use costlake_transform::warehouse::Warehouse;
use costlake_transform::warehouse::chdb::EmbeddedWarehouse;
use rust_decimal::Decimal;

const ORG: &str = "org-1";

/// One collection run holding month-to-date consumption states: (period, updated_at, sku, value).
async fn pull(warehouse: &dyn Warehouse, run: &str, states: &[(&str, &str, &str, &str)]) {
    warehouse
        .execute(
            "INSERT INTO _load_ledger (run_id, organization_id, snapshot_date, snapshot_at, loaded_at, rows, datasets, manifest) \
             SELECT {run:String}, {org:String}, today(), now64(6), now64(3), 0, ['billing_consumptions'], '{}'",
            &[("run".into(), run.into()), ("org".into(), ORG.into())],
        )
        .await
        .unwrap();
    for (period, updated_at, sku, value) in states {
        warehouse
            .execute(
                "INSERT INTO raw_billing_consumptions (run_id, snapshot_at, organization_id, locality, billing_period, updated_at, \
                 project_id, category_name, product_name, sku, unit, billed_quantity, value, currency, raw) \
                 SELECT {run:String}, now64(6), {org:String}, 'global', {period:String}, \
                 parseDateTime64BestEffort({updated:String}, 6, 'UTC'), 'p1', 'Compute', 'DEV1-S', {sku:String}, 'hour', \
                 toDecimal128({value:String}, 9) * 10, toDecimal128({value:String}, 9), 'EUR', '{}'",
                &[
                    ("run".into(), run.into()),
                    ("org".into(), ORG.into()),
                    ("period".into(), period.to_string()),
                    ("updated".into(), updated_at.to_string()),
                    ("sku".into(), sku.to_string()),
                    ("value".into(), value.to_string()),
                ],
            )
            .await
            .unwrap();
    }
}

type Row = (String, String, Decimal, String, u64, bool);

async fn daily(warehouse: &dyn Warehouse) -> Vec<Row> {
    costlake_transform::models::refresh(warehouse).await.unwrap();
    let result = query(
        warehouse,
        "SELECT toString(day), sku, cost, charge_class, spread_days, late FROM billing_daily ORDER BY day, sku, cost",
        &[],
    )
    .await
    .unwrap();
    result
        .rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
                Decimal::from_str(r[2].as_str().unwrap()).unwrap(),
                r[3].as_str().unwrap().to_string(),
                r[4].as_u64().unwrap(),
                r[5].as_bool().unwrap(),
            )
        })
        .collect()
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_costs_from_month_to_date_states() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    migrate(&warehouse).await.unwrap();

    // The first state of October: 28 complete days at 1 euro, spread evenly (nothing earlier was seen).
    pull(&warehouse, "a", &[("2026-10", "2026-10-29T03:00:00Z", "S", "28")]).await;
    // One more day.
    pull(&warehouse, "b", &[("2026-10", "2026-10-30T03:00:00Z", "S", "29")]).await;
    // The pull of the 31st was missed: the next one covers two days, spread.
    pull(&warehouse, "c", &[("2026-10", "2026-11-01T03:00:00Z", "S", "31.5")]).await;
    // November starts; October's total is unchanged.
    pull(
        &warehouse,
        "d",
        &[("2026-11", "2026-11-02T03:00:00Z", "S", "2"), ("2026-10", "2026-11-02T03:00:00Z", "S", "31.5")],
    )
    .await;
    pull(&warehouse, "e", &[("2026-11", "2026-11-03T03:00:00Z", "S", "3.5")]).await;
    // The same state collected again (a re-run): it must count once.
    pull(&warehouse, "e-again", &[("2026-11", "2026-11-03T03:00:00Z", "S", "3.5")]).await;
    // A restatement: the total goes down; and a new SKU appears.
    pull(
        &warehouse,
        "f",
        &[("2026-11", "2026-11-04T03:00:00Z", "S", "2"), ("2026-11", "2026-11-04T03:00:00Z", "S2", "0.8")],
    )
    .await;
    // S2 vanishes from the list: restated to zero.
    pull(&warehouse, "g", &[("2026-11", "2026-11-05T03:00:00Z", "S", "3")]).await;
    // A late correction of October, after its first days of November.
    pull(&warehouse, "h", &[("2026-10", "2026-11-06T03:00:00Z", "S", "31")]).await;

    let rows = daily(&warehouse).await;
    let october: Vec<&Row> = rows.iter().filter(|r| r.0.starts_with("2026-10")).collect();
    // Oct 1..28: 1 euro each, an even split of the first state.
    for day in 1..=28 {
        let date = format!("2026-10-{day:02}");
        let row = october.iter().find(|r| r.0 == date).unwrap_or_else(|| panic!("{date} missing"));
        assert_eq!((row.2, row.4), (d("1"), 28), "{date}");
    }
    assert!(october.iter().any(|r| **r == ("2026-10-29".into(), "S".into(), d("1"), "".into(), 1, false)));
    assert!(october.iter().any(|r| **r == ("2026-10-30".into(), "S".into(), d("1.25"), "".into(), 2, false)));
    assert!(october.iter().any(|r| **r == ("2026-10-31".into(), "S".into(), d("1.25"), "".into(), 2, false)));
    assert!(october.iter().any(|r| **r == ("2026-10-31".into(), "S".into(), d("-0.5"), "Correction".into(), 1, true)));
    assert_eq!(october.len(), 28 + 4);
    // A period's days always add up to its newest total.
    assert_eq!(october.iter().map(|r| r.2).sum::<Decimal>(), d("31"));

    let november: Vec<Row> = rows.iter().filter(|r| r.0.starts_with("2026-11")).cloned().collect();
    assert_eq!(
        november,
        vec![
            ("2026-11-01".into(), "S".into(), d("2"), "".into(), 1, false),
            ("2026-11-02".into(), "S".into(), d("1.5"), "".into(), 1, false),
            ("2026-11-03".into(), "S".into(), d("-1.5"), "Correction".into(), 1, false),
            ("2026-11-03".into(), "S2".into(), d("0.8"), "".into(), 1, false),
            ("2026-11-04".into(), "S".into(), d("1"), "".into(), 1, false),
            ("2026-11-04".into(), "S2".into(), d("-0.8"), "Correction".into(), 1, false),
        ]
    );
    assert_eq!(november.iter().map(|r| r.2).sum::<Decimal>(), d("3"));

    // Collecting the same states again changes nothing.
    pull(&warehouse, "h-again", &[("2026-10", "2026-11-06T03:00:00Z", "S", "31")]).await;
    assert_eq!(daily(&warehouse).await, rows);

    // An uneven split keeps every cent: 10 euros over 3 days.
    pull(&warehouse, "x1", &[("2026-09", "2026-09-02T03:00:00Z", "T", "0")]).await;
    pull(&warehouse, "x2", &[("2026-09", "2026-09-05T03:00:00Z", "T", "10")]).await;
    let september: Vec<Row> = daily(&warehouse).await.into_iter().filter(|r| r.1 == "T").collect();
    assert_eq!(september.len(), 3);
    assert_eq!(september.iter().map(|r| r.2).sum::<Decimal>(), d("10"));
    assert_eq!(september[0].2, d("3.333333333"));
    assert_eq!(september[2].2, d("3.333333334"));
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}
