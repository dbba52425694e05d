//! Migrations and models on the real engine: every migration file is applied and recorded with its checksum, an
//! applied migration whose text changed is refused by name, a warehouse from before checksums is adopted, and
//! models are recreated only when their text changed (a model whose file is gone is dropped). A table of the
//! newest runs that a migration adds is filled at once, not at the next load.

use costlake_tests::engine::chdb_library;
use costlake_transform::migrate::{MIGRATIONS, MODEL_FILES, checksum, migrate, models};
use costlake_transform::warehouse::Warehouse;
use costlake_transform::warehouse::chdb::EmbeddedWarehouse;

async fn rows(warehouse: &dyn Warehouse, sql: &str) -> Vec<String> {
    let out = warehouse.query(sql, &[], "TabSeparated").await.unwrap();
    String::from_utf8_lossy(&out).lines().map(str::to_string).collect()
}

async fn open() -> (tempfile::TempDir, EmbeddedWarehouse) {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    (dir, warehouse)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_is_applied_once_with_its_checksum_and_every_model_exists() {
    let (_dir, warehouse) = open().await;
    let first = migrate(&warehouse).await.unwrap();
    assert_eq!(first.migrations, MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>());
    assert_eq!(first.models.len(), MODEL_FILES.len());

    let recorded = rows(&warehouse, "SELECT version, name, checksum FROM _migrations FINAL ORDER BY version").await;
    let expected: Vec<String> =
        MIGRATIONS.iter().map(|m| format!("{}\t{}\t{}", m.version, m.name, m.checksum())).collect();
    assert_eq!(recorded, expected, "every migration file is applied and recorded with its checksum");

    let views = rows(
        &warehouse,
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'View' ORDER BY name",
    )
    .await;
    let mut names: Vec<String> = MODEL_FILES.iter().map(|(name, _)| name.to_string()).collect();
    names.sort();
    assert_eq!(views, names, "the views are exactly the model files");

    let again = migrate(&warehouse).await.unwrap();
    assert!(again.is_empty(), "a second migrate does nothing: {again:?}");
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_migration_that_changed_is_refused_by_name() {
    let (_dir, warehouse) = open().await;
    migrate(&warehouse).await.unwrap();
    // As if 0002 had been applied with another text than the file holds today.
    warehouse
        .execute(
            "INSERT INTO _migrations (version, name, applied_at, checksum) \
             SELECT 2, 'price_overrides', now64(3) + 1, {checksum:String}",
            &[("checksum".into(), checksum("CREATE TABLE something_else (x UInt8) ENGINE = Memory"))],
        )
        .await
        .unwrap();
    let error = migrate(&warehouse).await.unwrap_err().to_string();
    assert!(error.contains("transform/migrations/0002_price_overrides.sql"), "{error}");
    assert!(error.contains("edited after it was applied"), "{error}");
    assert!(error.contains("new migration file"), "{error}");
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_migration_is_applied_and_a_warehouse_without_checksums_is_adopted() {
    let (_dir, warehouse) = open().await;
    migrate(&warehouse).await.unwrap();
    // A warehouse from before checksums (the column did not exist) that also lacks migration 3's record.
    warehouse.execute("DELETE FROM _migrations WHERE version = 3", &[]).await.unwrap();
    warehouse.execute("ALTER TABLE _migrations DROP COLUMN checksum", &[]).await.unwrap();

    let applied = migrate(&warehouse).await.unwrap();
    assert_eq!(applied.migrations, vec![3], "the unrecorded migration is applied (its statements are idempotent)");
    let recorded = rows(&warehouse, "SELECT version, checksum FROM _migrations FINAL ORDER BY version").await;
    let expected: Vec<String> = MIGRATIONS.iter().map(|m| format!("{}\t{}", m.version, m.checksum())).collect();
    assert_eq!(recorded, expected, "the older records get today's checksums");
    assert!(migrate(&warehouse).await.unwrap().is_empty());
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_are_recreated_when_their_text_changed_and_dropped_when_gone() {
    let (_dir, warehouse) = open().await;
    migrate(&warehouse).await.unwrap();
    // rate_card as an older costlake defined it, and a view a later costlake no longer ships.
    warehouse.execute("CREATE OR REPLACE VIEW rate_card AS SELECT 1 AS stale", &[]).await.unwrap();
    warehouse.execute("CREATE OR REPLACE VIEW retired_model AS SELECT 1 AS x", &[]).await.unwrap();
    warehouse
        .execute(
            "INSERT INTO _models (name, checksum, created_at) VALUES \
             ('rate_card', 'older', now64(3)), ('retired_model', 'older', now64(3))",
            &[],
        )
        .await
        .unwrap();

    let migrated = migrate(&warehouse).await.unwrap();
    let order: Vec<&str> = models().unwrap().iter().map(|m| m.name).collect();
    assert_eq!(migrated.models, order, "every model is recreated, in dependency order");
    let columns = rows(
        &warehouse,
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'rate_card' ORDER BY position",
    )
    .await;
    assert_eq!(columns, ["price_kind", "zone", "match_key", "monthly_price", "currency", "source", "priority"]);
    let retired = rows(
        &warehouse,
        "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'retired_model'",
    )
    .await;
    assert_eq!(retired, ["0"], "a model whose file is gone is dropped");
    assert!(migrate(&warehouse).await.unwrap().is_empty());
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

/// A warehouse holding `rows` (statements writing them), as a costlake before migration `version` left it: without
/// `tables`, which that migration adds; then upgraded by this costlake.
async fn upgraded_from(warehouse: &EmbeddedWarehouse, rows: &[&str], tables: &[&str], version: u32) {
    migrate(warehouse).await.unwrap();
    for statement in rows {
        warehouse.execute(statement, &[]).await.unwrap();
    }
    for table in tables {
        warehouse.execute(&format!("DROP TABLE {table}"), &[]).await.unwrap();
    }
    warehouse.execute(&format!("DELETE FROM _migrations WHERE version = {version}"), &[]).await.unwrap();
    let upgraded = migrate(warehouse).await.unwrap();
    assert_eq!(upgraded.migrations, [version]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_of_the_newest_runs_that_a_migration_adds_is_filled_at_once() {
    let (_dir, warehouse) = open().await;
    // A loaded inventory run holding a stopped server.
    let inventory = [
        "INSERT INTO newest_runs VALUES ('org-1', 'instance_servers', 'inv', '2026-11-10 04:00:00')",
        "INSERT INTO raw_instance_servers (run_id, snapshot_at, organization_id, zone, id, name, state, tags, raw) \
         VALUES ('inv', '2026-11-10 04:00:00', 'org-1', 'fr-par-1', 's1', 'legacy-api', 'stopped', [], '{}')",
    ];
    upgraded_from(&warehouse, &inventory, &["ghost_findings"], 17).await;
    let found = rows(&warehouse, "SELECT kind, resource_id FROM ghost_findings").await;
    assert_eq!(found, ["stopped_server\ts1"], "ghost-resources has its findings before any load");
    // Not recorded as computed: the next load computes it as it does every table.
    let recorded = rows(&warehouse, "SELECT count() FROM _refresh_runs WHERE table_name = 'ghost_findings'").await;
    assert_eq!(recorded, ["0"]);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_table_that_a_migration_adds_is_filled_at_once() {
    let (_dir, warehouse) = open().await;
    // A loaded run listing a Kapsule node.
    let nodes = [
        "INSERT INTO _load_ledger (run_id, organization_id, snapshot_date, snapshot_at, loaded_at, rows, datasets, \
         manifest) VALUES ('k8s', 'org-1', '2026-11-10', '2026-11-10 04:00:00', now64(3), 1, ['k8s_nodes'], '{}')",
        "INSERT INTO raw_k8s_nodes (run_id, snapshot_at, organization_id, region, id, pool_id, provider_id, raw) \
         VALUES ('k8s', '2026-11-10 04:00:00', 'org-1', 'fr-par', 'n1', 'pool-1', \
         'scaleway://instance/fr-par-1/srv-1', '{}')",
    ];
    upgraded_from(&warehouse, &nodes, &["k8s_pool_instances"], 22).await;
    let found = rows(&warehouse, "SELECT organization_id, instance_id, pool_id FROM k8s_pool_instances").await;
    assert_eq!(found, ["org-1\tsrv-1\tpool-1"], "kapsule-pools has its pools' Instances before any load");
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_by_day_computed_from_the_daily_costs_that_a_migration_adds_is_filled_at_once() {
    let (_dir, warehouse) = open().await;
    // Two days of a service's usage, as a load left them in billing_daily.
    let costs =
        ["INSERT INTO billing_daily (organization_id, billing_period, day, project_id, sku, product_name, currency, \
         cost, quantity, charge_class, spread_days, late, observed_at) VALUES \
         ('org-1', '2026-11-01', '2026-11-01', 'p-1', '/compute/dev1_s', 'Compute', 'EUR', 10, 1, '', 1, false, \
          '2026-11-02 04:00:00'), \
         ('org-1', '2026-11-01', '2026-11-02', 'p-1', '/compute/dev1_s', 'Compute', 'EUR', 12, 1, '', 1, false, \
          '2026-11-03 04:00:00')"];
    upgraded_from(&warehouse, &costs, &["cost_baselines"], 24).await;
    let found = rows(&warehouse, "SELECT day, toString(cost), history_days FROM cost_baselines ORDER BY day").await;
    assert_eq!(found, ["2026-11-01\t10\t0", "2026-11-02\t12\t1"], "cost-anomalies has its baselines before any load");
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghost_costs_last_charges_that_a_migration_adds_are_filled_at_once() {
    let (_dir, warehouse) = open().await;
    // Two running servers of the newest inventory, one of a priced type charged on the 1st and 2nd, one of a type
    // without a price; a deleted server charged on the 1st; the organisation billed in CHF.
    let charges = [
        "INSERT INTO resources (organization_id, resource_type, resource_id, dataset, zone, state, resource_class, \
         tags, first_seen_at, last_seen_at, present) VALUES \
         ('org-1', 'instance_server', 's1', 'instance_servers', 'fr-par-1', 'running', 'DEV1-S', [], \
          '2026-10-01 04:00:00', '2026-11-10 04:00:00', true), \
         ('org-1', 'instance_server', 's2', 'instance_servers', 'fr-par-1', 'running', 'DEV1-M', [], \
          '2026-10-01 04:00:00', '2026-11-10 04:00:00', true)",
        "INSERT INTO applied_prices VALUES ('server_hour', 'fr-par-1', 'DEV1-S', 7.3, 'EUR')",
        "INSERT INTO billing_daily (organization_id, billing_period, day, project_id, sku, product_name, currency, \
         cost, quantity, charge_class, spread_days, late, observed_at) VALUES \
         ('org-1', '2026-11-01', '2026-11-01', 'p-1', '/compute/dev1_s', 'Compute', 'CHF', 10, 1, '', 1, false, \
          '2026-11-02 04:00:00')",
        "INSERT INTO resource_charges (organization_id, project_id, sku, resource_id, start_date, end_date, price, \
         currency, collected_at) VALUES \
         ('org-1', 'p-1', '/compute/dev1_s/run_fr-par-1', 's1', '2026-11-01', '2026-11-02', 1, 'EUR', now64()), \
         ('org-1', 'p-1', '/compute/dev1_s/run_fr-par-1', 's1', '2026-11-02', '2026-11-03', 1, 'EUR', now64()), \
         ('org-1', 'p-1', '/compute/dev1_s/run_fr-par-1', 'gone', '2026-11-01', '2026-11-02', 1, 'EUR', now64())",
    ];
    upgraded_from(&warehouse, &charges, &["resource_charge_months", "ghost_cost_resources"], 26).await;
    let found = rows(
        &warehouse,
        "SELECT resource_id, present, last_charged, toString(expected_monthly_cost), currency, \
         (SELECT count() FROM resource_charge_months) FROM ghost_cost_resources ORDER BY resource_id",
    )
    .await;
    let expected =
        ["gone\tfalse\t2026-11-01\t\\N\t\\N\t2", "s1\ttrue\t2026-11-02\t7.3\tEUR\t2", "s2\ttrue\t\\N\t\\N\tCHF\t2"];
    assert_eq!(found, expected, "ghost-cost has its resources, their prices and last charges");
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tag_lists_that_a_migration_adds_are_filled_at_once() {
    let (_dir, warehouse) = open().await;
    let tagged = ["INSERT INTO resources (organization_id, resource_type, resource_id, dataset, zone, tags, \
                   first_seen_at, last_seen_at, present) VALUES \
                   ('org-1', 'instance_server', 's1', 'instance_servers', 'fr-par-1', ['team=web', 'critical', 'env:prod'], \
                    '2026-10-01 04:00:00', '2026-11-10 04:00:00', true)"];
    upgraded_from(&warehouse, &tagged, &["resource_tag_lists"], 27).await;
    let found = rows(&warehouse, "SELECT resource_id, keys, tag_values FROM resource_tag_lists").await;
    assert_eq!(found, ["s1\t['critical','env','team']\t['true','prod','web']"], "cost-allocation has its tags");
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}
