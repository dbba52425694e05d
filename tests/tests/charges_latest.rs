//! charges_latest (the table resource_charges, refreshed as a load does) on the real engine, from hand-written
//! runs of FinOps charges: each day comes from the newest loaded run that collected it, so a re-collected charge
//! counts once, a restated price replaces the old one, a charge the newer run no longer lists is gone, and a run
//! that never finished loading is ignored.

use std::str::FromStr;

use costlake_queries::query;
use costlake_tests::engine::chdb_library;
use costlake_transform::migrate;
use costlake_transform::models::refresh;
use costlake_transform::warehouse::Warehouse;
use costlake_transform::warehouse::chdb::EmbeddedWarehouse;
use rust_decimal::Decimal;

const ORG: &str = "org-1";

/// A run at `at` holding charges (resource, day, price); ledgered (loaded) unless `loaded` is false.
async fn run(warehouse: &dyn Warehouse, run: &str, at: &str, loaded: bool, charges: &[(&str, &str, &str)]) {
    if loaded {
        warehouse
            .execute(
                "INSERT INTO _load_ledger (run_id, organization_id, snapshot_date, snapshot_at, loaded_at, rows, datasets, manifest) \
                 SELECT {run:String}, {org:String}, toDate(parseDateTime64BestEffort({at:String}, 6, 'UTC')), \
                 parseDateTime64BestEffort({at:String}, 6, 'UTC'), now64(3), 0, ['billing_charges'], '{}'",
                &[("run".into(), run.into()), ("org".into(), ORG.into()), ("at".into(), at.into())],
            )
            .await
            .unwrap();
    }
    for (resource, day, price) in charges {
        warehouse
            .execute(
                "INSERT INTO raw_billing_charges (run_id, snapshot_at, organization_id, locality, project_id, sku, \
                 resource_id, price, currency, start_date, end_date, raw) \
                 SELECT {run:String}, parseDateTime64BestEffort({at:String}, 6, 'UTC'), {org:String}, 'global', 'p1', \
                 '/compute/dev1_s/run_fr-par-1', {resource:String}, toDecimal128({price:String}, 9), 'EUR', \
                 toDateTime64({day:String}, 6, 'UTC'), toDateTime64({day:String}, 6, 'UTC') + toIntervalDay(1), '{}'",
                &[
                    ("run".into(), run.into()),
                    ("at".into(), at.into()),
                    ("org".into(), ORG.into()),
                    ("resource".into(), resource.to_string()),
                    ("day".into(), day.to_string()),
                    ("price".into(), price.to_string()),
                ],
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_day_comes_from_the_newest_run_that_collected_it() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    migrate(&warehouse).await.unwrap();

    // Nov 3: the month so far. Nov 4: the same days again, the 2nd restated for r1, r2 gone from the 2nd.
    run(
        &warehouse,
        "a",
        "2026-11-03T04:00:00Z",
        true,
        &[("r1", "2026-11-01", "1"), ("r2", "2026-11-01", "2"), ("r1", "2026-11-02", "1"), ("r2", "2026-11-02", "2")],
    )
    .await;
    // Loaded as a load does: the table follows run a, then run b's days are folded in over it.
    refresh(&warehouse).await.unwrap();
    run(
        &warehouse,
        "b",
        "2026-11-04T04:00:00Z",
        true,
        &[("r1", "2026-11-01", "1"), ("r2", "2026-11-01", "2"), ("r1", "2026-11-02", "0.5"), ("r1", "2026-11-03", "1")],
    )
    .await;
    // A later run whose load never finished (no ledger row): not the truth for any day.
    run(&warehouse, "c", "2026-11-05T04:00:00Z", false, &[("r1", "2026-11-01", "99")]).await;
    refresh(&warehouse).await.unwrap();

    let result = query(
        &warehouse,
        "SELECT resource_id, toString(toDate(start_date)), price FROM charges_latest ORDER BY 2, 1",
        &[],
    )
    .await
    .unwrap();
    let rows: Vec<(String, String, Decimal)> = result
        .rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
                Decimal::from_str(r[2].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    let expected =
        [("r1", "2026-11-01", "1"), ("r2", "2026-11-01", "2"), ("r1", "2026-11-02", "0.5"), ("r1", "2026-11-03", "1")];
    let expected: Vec<(String, String, Decimal)> =
        expected.iter().map(|(r, d, p)| (r.to_string(), d.to_string(), Decimal::from_str(p).unwrap())).collect();
    assert_eq!(rows, expected);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}
