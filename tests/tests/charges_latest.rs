//! charges_latest (the table resource_charges, refreshed as a load does) on the real engine, from hand-written
//! runs of FinOps charges: each day comes from the newest loaded run that collected it, so a re-collected charge
//! counts once, a restated price replaces the old one, a charge the newer run no longer lists is gone, and a run
//! that never finished loading is ignored; each resource's last charge, which ghost-cost compares with the inventory
//! (resource_charge_months, ghost_cost_resources), follows, restatements included. And ghost-cost without any charge (an API key without FinOps
//! rights) compares at SKU level: a compute SKU billed with no server of its type, a type running and not billed.

use std::str::FromStr;

use costlake_queries::{find, query, run as run_report};
use costlake_tests::engine::chdb_library;
use costlake_transform::migrate;
use costlake_transform::models::{MATERIALISED, refresh};
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
    assert_eq!(last_charges(&warehouse).await, ["r1 false 2026-11-02", "r2 false 2026-11-02"]);
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
    // ghost-cost's last charges follow: r2's charge of the 2nd was restated away, its last charge is the 1st again
    // (neither is in any inventory: both are charged while absent from it).
    assert_eq!(last_charges(&warehouse).await, ["r1 false 2026-11-03", "r2 false 2026-11-01"]);
    as_computed_whole(&warehouse).await;
    // Nov 5: the 3rd again without r1 (its charge restated away: its last charge goes back to the 2nd, a day this
    // run did not collect), and October 31st for r3: the months of both days are computed again.
    run(&warehouse, "d", "2026-11-05T05:00:00Z", true, &[("r2", "2026-11-03", "2"), ("r3", "2026-10-31", "1")]).await;
    refresh(&warehouse).await.unwrap();
    assert_eq!(last_charges(&warehouse).await, ["r1 false 2026-11-02", "r2 false 2026-11-03", "r3 false 2026-10-31"]);
    as_computed_whole(&warehouse).await;
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

/// Each table of the charges holds what its source computes over every run at once, row for row.
async fn as_computed_whole(warehouse: &dyn Warehouse) {
    for table in ["resource_charges", "resource_charge_months", "ghost_cost_resources"] {
        let model = MATERIALISED.iter().find(|m| m.table == table).unwrap();
        let (everything, bounds) = model.whole();
        let count = |from: &str| format!("SELECT toString(count()) FROM {from}");
        let rows = query(warehouse, &count(table), &[]).await.unwrap().rows;
        let expected = query(warehouse, &count(&everything), &bounds).await.unwrap().rows;
        assert_eq!(rows, expected, "{table}: rows");
        for (from, to) in [(everything.as_str(), table), (table, everything.as_str())] {
            let missing = format!("SELECT toString(count()) FROM (SELECT * FROM {from} EXCEPT SELECT * FROM {to})");
            let missing = query(warehouse, &missing, &bounds).await.unwrap();
            assert_eq!(missing.rows[0][0].as_str(), Some("0"), "{table}: rows of {from} not in {to}");
        }
    }
}

/// ghost_cost_resources' rows: resource, whether the newest inventory holds it, its last charge.
async fn last_charges(warehouse: &dyn Warehouse) -> Vec<String> {
    let sql = "SELECT concat(resource_id, ' ', toString(present), ' ', toString(last_charged)) \
               FROM ghost_cost_resources ORDER BY resource_id";
    let result = query(warehouse, sql, &[]).await.unwrap();
    result.rows.iter().map(|r| r[0].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_charges_ghost_cost_compares_skus_with_the_types_running() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    migrate(&warehouse).await.unwrap();
    // org-1 has an inventory: a DEV1-S and two PRO2-S running in p1, a stopped GP1-XS in p2. org-2 has a bill
    // and no inventory: nothing to compare it with, so nothing is said of it.
    let statements = [
        "INSERT INTO newest_runs VALUES ('org-1', 'instance_servers', 'inv', '2026-11-10 04:00:00')",
        "INSERT INTO resources (organization_id, resource_type, resource_id, dataset, name, project_id, zone, state, \
         resource_class, first_seen_at, last_seen_at, present) VALUES \
         ('org-1', 'instance_server', 's1', 'instance_servers', 'web-1', 'p1', 'fr-par-1', 'running', 'DEV1-S', \
          '2026-10-01 04:00:00', '2026-11-10 04:00:00', true), \
         ('org-1', 'instance_server', 's2', 'instance_servers', 'db-1', 'p1', 'fr-par-1', 'running', 'PRO2-S', \
          '2026-10-01 04:00:00', '2026-11-10 04:00:00', true), \
         ('org-1', 'instance_server', 's3', 'instance_servers', 'api-1', 'p1', 'fr-par-1', 'running', 'PRO2-S', \
          '2026-10-01 04:00:00', '2026-11-10 04:00:00', true), \
         ('org-1', 'instance_server', 's4', 'instance_servers', 'old-1', 'p2', 'fr-par-1', 'stopped', 'GP1-XS', \
          '2026-10-01 04:00:00', '2026-11-10 04:00:00', true)",
    ];
    for statement in statements {
        warehouse.execute(statement, &[]).await.unwrap();
    }
    // Five days of consumption: DEV1-S billed in p1 (its server runs), GP1-XS billed in p1 (no GP1-XS there: the
    // stopped one is in p2), and org-2's DEV1-L.
    let mut rows = Vec::new();
    for day in 5..=9 {
        for (organization, project, sku, cost) in [
            ("org-1", "p1", "/compute/dev1_s/run_fr-par-1", "0.24"),
            ("org-1", "p1", "/compute/gp1_xs/run_fr-par-1", "2.1"),
            ("org-2", "q1", "/compute/dev1_l/run_fr-par-1", "1"),
        ] {
            rows.push(format!(
                r#"{{"organization_id":"{organization}","billing_period":"2026-11-01","day":"2026-11-0{day}","project_id":"{project}","sku":"{sku}","product_name":"Compute","currency":"EUR","cost":"{cost}","quantity":"24","charge_class":"","spread_days":1,"late":false,"observed_at":"2026-11-10 04:00:00"}}"#
            ));
        }
    }
    warehouse.execute(&format!("INSERT INTO billing_daily FORMAT JSONEachRow {}", rows.join("\n")), &[]).await.unwrap();

    let report = find("ghost-cost").unwrap();
    let result = run_report(&warehouse, &report, &[]).await.unwrap();
    let column = |name: &str| result.columns.iter().position(|(n, _)| n == name).unwrap();
    let text = |row: &Vec<serde_json::Value>, name: &str| row[column(name)].as_str().map(str::to_string);
    let found: Vec<[Option<String>; 5]> = result
        .rows
        .iter()
        .map(|row| {
            [text(row, "finding"), text(row, "project_id"), text(row, "sku"), text(row, "billed"), text(row, "detail")]
        })
        .collect();
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        found,
        [
            // The last 3 days of consumption (the default window): 3 x 2.1.
            [
                some("billed_without_resource"),
                some("p1"),
                some("/compute/gp1_xs/run_fr-par-1"),
                some("6.3"),
                some("no GP1-XS server in the project")
            ],
            [
                some("resource_without_billing"),
                some("p1"),
                None,
                some("0"),
                some("2 PRO2-S server(s) running, the type is not billed")
            ],
        ],
        "{:?}",
        result.rows
    );
    let names = result.rows[1][column("name")].as_str().unwrap();
    assert_eq!(names, "api-1, db-1", "the servers of the type, named in order");
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}
