//! The materialised models, maintained run by run, against the same models computed in one pass over
//! everything: on both warehouse backends, with series that cross a month, overlap between runs, restart their
//! counter, arrive out of order (a backfill of an older month) or not at all (a run without metrics); the
//! inventory's current state (resources, projects, newest runs, the Instances of Kapsule pools) through renames,
//! deletions, a detachment, a node moving pools, a run collecting some products only and a backfill; and the
//! prices that apply through a price override written and deleted by another client; and the daily costs and
//! their baselines through a missed collection, a late state of a month and a backfill of an older one.

use costlake_tests::clickhouse_front::ClickHouseFront;
use costlake_tests::engine::chdb_library;
use costlake_transform::migrate::migrate;
use costlake_transform::models::{MATERIALISED, refresh_fingerprinted, refresh_with, stale};
use costlake_transform::warehouse::Warehouse;
use costlake_transform::warehouse::chdb::EmbeddedWarehouse;

/// The tables computed from `price_overrides` as well: the prices that apply, and what is priced from them (the idle
/// load balancers, what ghost-cost compares).
const PRICED: [&str; 3] = ["applied_prices", "idle_lb_findings", "ghost_cost_resources"];

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn tsv(warehouse: &dyn Warehouse, sql: &str, values: &[(&str, &str)]) -> String {
    let out = warehouse.query(sql, &params(values), "TabSeparated").await.unwrap();
    String::from_utf8_lossy(&out).trim().to_string()
}

async fn ledger(warehouse: &dyn Warehouse, run: &str) {
    warehouse
        .execute(
            "INSERT INTO _load_ledger (run_id, organization_id, snapshot_date, snapshot_at, loaded_at, rows, datasets, manifest) \
             SELECT {run:String}, 'org-1', today(), now64(6), now64(3), 0, ['cockpit_metric_points'], '{}'",
            &params(&[("run", run)]),
        )
        .await
        .unwrap();
}

/// `count` samples of one series every 5 minutes from `start`: value = offset + step x n.
struct Series<'a> {
    metric: &'a str,
    resource: &'a str,
    labels: &'a str,
    start: &'a str,
    count: u32,
    offset: f64,
    step: f64,
}

async fn points(warehouse: &dyn Warehouse, run: &str, series: Series<'_>) {
    let (count, offset, step) = (series.count.to_string(), series.offset.to_string(), series.step.to_string());
    warehouse
        .execute(
            "INSERT INTO raw_cockpit_metric_points (run_id, snapshot_at, organization_id, region, project_id, \
             data_source_id, metric, resource_id, resource_name, zone, labels, ts, value) \
             SELECT {run:String}, now64(6), 'org-1', 'fr-par', 'project-1', 'source-1', {metric:String}, \
             {resource:String}, concat('name-', {resource:String}), 'fr-par-1', {labels:String}, \
             parseDateTime64BestEffort({start:String}, 6, 'UTC') + toIntervalSecond(300 * number), \
             {offset:Float64} + {step:Float64} * number \
             FROM numbers({count:UInt32})",
            &params(&[
                ("run", run),
                ("metric", series.metric),
                ("resource", series.resource),
                ("labels", series.labels),
                ("start", series.start),
                ("count", &count),
                ("offset", &offset),
                ("step", &step),
            ]),
        )
        .await
        .unwrap();
}

/// An Instance's CPU counter (`share` of its 2 vCPUs busy) and vCPU gauge, `count` samples from `start`.
async fn instance(warehouse: &dyn Warehouse, run: &str, resource: &str, start: &str, count: u32, offset: f64) {
    let labels = format!(r#"{{"resource_id":"{resource}"}}"#);
    let cpu = Series {
        metric: "instance_server_cpu_seconds_total",
        resource,
        labels: &labels,
        start,
        count,
        offset,
        step: 300.0 * 2.0 * 0.3,
    };
    points(warehouse, run, cpu).await;
    let vcpus = Series {
        metric: "instance_server_vcpu_count",
        resource,
        labels: &labels,
        start,
        count,
        offset: 2.0,
        step: 0.0,
    };
    points(warehouse, run, vcpus).await;
}

/// A PostgreSQL database's CPU counters (idle and user, from their `first`th sample) and its connections.
async fn database(warehouse: &dyn Warehouse, run: &str, resource: &str, start: &str, count: u32, first: u32) {
    for (mode, step) in [("idle", 270.0), ("user", 30.0)] {
        let labels = format!(r#"{{"mode":"{mode}"}}"#);
        let series = Series {
            metric: "rdb_instance_postgresql_node_cpu_seconds_total",
            resource,
            labels: &labels,
            start,
            count,
            offset: step * f64::from(first),
            step,
        };
        points(warehouse, run, series).await;
    }
    let labels = r#"{"datname":"app"}"#;
    let connections = Series {
        metric: "rdb_instance_postgresql_pg_stat_database_numbackends",
        resource,
        labels,
        start,
        count,
        offset: 3.0,
        step: 0.0,
    };
    points(warehouse, run, connections).await;
}

/// Rows of `from` that `to` lacks, each a table or a source (its parameters in `bounds`), columns compared as
/// values (aggregate states finalised, floats rounded: sums of floats depend on the order the engine adds them in).
async fn missing(warehouse: &dyn Warehouse, table: &str, from: &str, to: &str, bounds: &[(&str, &str)]) -> u64 {
    let columns = tsv(
        warehouse,
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {table:String} \
         ORDER BY position",
        &[("table", table)],
    )
    .await;
    let values: Vec<String> = columns
        .lines()
        .map(|line| {
            let (name, kind) = line.split_once('\t').unwrap();
            if kind.starts_with("AggregateFunction") {
                format!("arrayMap(x -> round(x, 9), finalizeAggregation(`{name}`))")
            } else if kind.contains("Float") {
                format!("round(`{name}`, 6)")
            } else {
                format!("`{name}`")
            }
        })
        .collect();
    let values = values.join(", ");
    let rows = tsv(warehouse, &format!("SELECT {values} FROM {from} EXCEPT SELECT {values} FROM {to}"), bounds).await;
    if !rows.is_empty() {
        eprintln!("rows of {from} missing from {to}:\n{rows}");
    }
    rows.lines().count() as u64
}

/// Refreshes (from at most `rows` raw rows per statement: a day's points are about 600 here), then checks that
/// each table holds exactly what its model computes over every day at once.
async fn refresh_and_compare(warehouse: &dyn Warehouse, step: &str, rows: u64) {
    assert_eq!(stale(warehouse).await.unwrap().len(), MATERIALISED.len(), "{step}: a new run makes every table stale");
    refresh_with(warehouse, rows).await.unwrap();
    assert!(stale(warehouse).await.unwrap().is_empty(), "{step}: every table is current");
    for model in MATERIALISED {
        let (everything, bounds) = model.whole();
        let bounds: Vec<(&str, &str)> = bounds.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        let rows: u64 = tsv(warehouse, &format!("SELECT count() FROM {}", model.table), &[]).await.parse().unwrap();
        let expected: u64 =
            tsv(warehouse, &format!("SELECT count() FROM {everything}"), &bounds).await.parse().unwrap();
        assert_eq!(rows, expected, "{step}: {} rows", model.table);
        let table = model.table;
        assert_eq!(missing(warehouse, table, &everything, table, &bounds).await, 0, "{step}: {table}");
        assert_eq!(missing(warehouse, table, table, &everything, &bounds).await, 0, "{step}: {table}");
        // One part per partition: a report looking a few resources up by the sort key reads a granule per part.
        let split = tsv(
            warehouse,
            "SELECT partition_id, count() FROM system.parts WHERE database = currentDatabase() \
             AND table = {table:String} AND active GROUP BY partition_id HAVING count() > 1",
            &[("table", table)],
        )
        .await;
        assert_eq!(split, "", "{step}: {table}'s partitions (id, parts) swapped in unmerged");
    }
}

async fn parts(warehouse: &dyn Warehouse, table: &str, partition: &str) -> String {
    tsv(
        warehouse,
        "SELECT groupArray(name) FROM (SELECT name FROM system.parts WHERE database = currentDatabase() \
         AND table = {table:String} AND partition_id = {partition:String} AND active ORDER BY name)",
        &[("table", table), ("partition", partition)],
    )
    .await
}

async fn models_follow_the_runs(warehouse: &dyn Warehouse) {
    migrate(warehouse).await.unwrap();

    // Across the end of November, with a database.
    ledger(warehouse, "run-1").await;
    instance(warehouse, "run-1", "srv-a", "2026-11-29 00:00:00", 3 * 288 + 100, 0.0).await;
    database(warehouse, "run-1", "db-1", "2026-11-30 12:00:00", 288, 0).await;
    refresh_and_compare(warehouse, "run-1", 1).await;
    let hours: u64 = tsv(warehouse, "SELECT count() FROM instance_cpu_hourly", &[]).await.parse().unwrap();
    assert!(hours > 70, "three days and a bit of hours: {hours}");

    // Overlapping the last hour of run-1, then a counter restart; a second Instance starting before midnight.
    ledger(warehouse, "run-2").await;
    instance(warehouse, "run-2", "srv-a", "2026-12-02 07:20:00", 12 + 100, 3.0 * 288.0 * 180.0 + 88.0 * 180.0).await;
    instance(warehouse, "run-2", "srv-a", "2026-12-02 17:00:00", 50, 0.0).await;
    instance(warehouse, "run-2", "srv-b", "2026-12-01 23:10:00", 40, 0.0).await;
    database(warehouse, "run-2", "db-1", "2026-12-01 11:55:00", 100, 287).await;
    refresh_and_compare(warehouse, "run-2", 1000).await;

    // A run without metrics changes no partition.
    let november = parts(warehouse, "instance_cpu_hourly", "202611").await;
    let december = parts(warehouse, "instance_cpu_hourly", "202612").await;
    ledger(warehouse, "run-3").await;
    refresh_and_compare(warehouse, "run-3", 1).await;
    assert_eq!(parts(warehouse, "instance_cpu_hourly", "202612").await, december, "run-3 recomputed December");

    // A backfill of October recomputes October alone.
    ledger(warehouse, "run-4").await;
    instance(warehouse, "run-4", "srv-c", "2026-10-10 10:00:00", 200, 5.0).await;
    refresh_and_compare(warehouse, "run-4", u64::MAX).await;
    assert_eq!(parts(warehouse, "instance_cpu_hourly", "202611").await, november, "run-4 recomputed November");
    assert_eq!(parts(warehouse, "instance_cpu_hourly", "202612").await, december, "run-4 recomputed December");
    assert_ne!(parts(warehouse, "instance_cpu_hourly", "202610").await, "[]", "October is there");

    // Other models (an upgrade): every table is rebuilt whole, with the same rows.
    warehouse.execute("TRUNCATE TABLE _refresh_runs", &[]).await.unwrap();
    ledger(warehouse, "run-5").await;
    refresh_and_compare(warehouse, "rebuilt", 1000).await;

    // A table holding a run the ledger does not have is rebuilt once, then current.
    warehouse
        .execute(
            "INSERT INTO _refresh_runs (table_name, models, run_id, refreshed_at) \
             SELECT 'billing_daily', any(models), 'run-gone', now64(3) FROM _refresh_runs \
             WHERE table_name = 'billing_daily'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(stale(warehouse).await.unwrap(), ["billing_daily"]);
    assert_eq!(refresh_with(warehouse, 1000).await.unwrap(), ["billing_daily"]);
    assert!(stale(warehouse).await.unwrap().is_empty(), "the run the ledger lacks is forgotten");

    // A price written down by another client, no run: the prices that apply (and what is priced from them) are
    // behind it until a refresh, which recomputes them alone; and again when it is deleted.
    let flat = "SELECT toString(monthly_price), currency FROM rate_card_best \
                WHERE price_kind = 'server_hour' AND zone = '' AND match_key = ''";
    warehouse
        .execute("INSERT INTO price_overrides VALUES ('server_hour', '', '', 0.5, 'EUR', 'flat rate')", &[])
        .await
        .unwrap();
    assert_eq!(stale(warehouse).await.unwrap(), PRICED);
    assert_eq!(tsv(warehouse, flat, &[]).await, "", "applied at the refresh, not before");
    assert_eq!(refresh_with(warehouse, 1000).await.unwrap(), PRICED);
    assert!(stale(warehouse).await.unwrap().is_empty(), "the prices apply the override");
    assert_eq!(tsv(warehouse, flat, &[]).await, "365\tEUR");
    warehouse.execute("DELETE FROM price_overrides WHERE note = 'flat rate'", &[]).await.unwrap();
    assert_eq!(stale(warehouse).await.unwrap(), PRICED);
    assert_eq!(refresh_with(warehouse, 1000).await.unwrap(), PRICED);
    assert_eq!(tsv(warehouse, flat, &[]).await, "", "the deleted override no longer applies");
    assert!(stale(warehouse).await.unwrap().is_empty());

    // A price written down while a loaded run is not in the tables yet (a load interrupted before its refresh): the
    // priced tables wait for the next load, which computes them from tables holding that run; recorded as holding it
    // now, computed from tables that lack it, that load would skip them.
    ledger(warehouse, "run-interrupted").await;
    warehouse
        .execute("INSERT INTO price_overrides VALUES ('server_hour', '', '', 0.5, 'EUR', 'flat rate')", &[])
        .await
        .unwrap();
    assert!(refresh_fingerprinted(warehouse).await.unwrap().is_empty(), "left to the next load");
    assert_eq!(stale(warehouse).await.unwrap().len(), MATERIALISED.len());
    assert_eq!(refresh_with(warehouse, 1000).await.unwrap().len(), MATERIALISED.len());
    assert_eq!(tsv(warehouse, flat, &[]).await, "365\tEUR");
    // With every table current, a written price applies at once.
    warehouse.execute("DELETE FROM price_overrides WHERE note = 'flat rate'", &[]).await.unwrap();
    assert_eq!(refresh_fingerprinted(warehouse).await.unwrap(), PRICED);
    assert_eq!(tsv(warehouse, flat, &[]).await, "");
    assert!(stale(warehouse).await.unwrap().is_empty());
}

/// A committed run at `at` that collected `datasets`.
async fn ledger_at(warehouse: &dyn Warehouse, run: &str, at: &str, datasets: &[&str]) {
    let datasets = costlake_transform::warehouse::string_array(datasets);
    warehouse
        .execute(
            &format!(
                "INSERT INTO _load_ledger (run_id, organization_id, snapshot_date, snapshot_at, loaded_at, rows, \
                 datasets, manifest) SELECT {{run:String}}, 'org-1', toDate(t), t, now64(3), 0, {datasets}, '{{}}' \
                 FROM (SELECT parseDateTime64BestEffort({{at:String}}, 6, 'UTC') AS t)"
            ),
            &params(&[("run", run), ("at", at)]),
        )
        .await
        .unwrap();
}

/// Inserts rows into a raw table, each run's rows at its snapshot time.
async fn listing(warehouse: &dyn Warehouse, table: &str, run: &str, at: &str, columns: &str, rows: &str) {
    warehouse
        .execute(
            &format!(
                "INSERT INTO {table} (run_id, snapshot_at, organization_id, {columns}) \
                 SELECT {{run:String}}, parseDateTime64BestEffort({{at:String}}, 6, 'UTC'), 'org-1', * \
                 FROM values('{rows_types}', {rows})",
                rows_types = match table {
                    "raw_instance_servers" =>
                        "zone String, id String, name Nullable(String), state Nullable(String), tags Array(String)",
                    "raw_instance_volumes" =>
                        "zone String, id String, name Nullable(String), server_id Nullable(String)",
                    "raw_k8s_nodes" =>
                        "region String, id String, pool_id Nullable(String), provider_id Nullable(String)",
                    "raw_lb_load_balancers" =>
                        "zone String, id String, name Nullable(String), type Nullable(String), created_at Nullable(String)",
                    "raw_billing_consumptions" =>
                        "billing_period String, project_id String, product_name String, sku String, value Decimal(38, 9)",
                    _ => "locality String, id String, name Nullable(String)",
                },
            ),
            &params(&[("run", run), ("at", at)]),
        )
        .await
        .unwrap();
}

async fn servers(warehouse: &dyn Warehouse, run: &str, at: &str, rows: &str) {
    listing(warehouse, "raw_instance_servers", run, at, "zone, id, name, state, tags", rows).await;
}

async fn volumes(warehouse: &dyn Warehouse, run: &str, at: &str, rows: &str) {
    listing(warehouse, "raw_instance_volumes", run, at, "zone, id, name, server_id", rows).await;
}

async fn projects(warehouse: &dyn Warehouse, run: &str, at: &str, rows: &str) {
    listing(warehouse, "raw_account_projects", run, at, "locality, id, name", rows).await;
}

/// Kapsule nodes: (region, id, pool_id, provider_id) rows.
async fn nodes(warehouse: &dyn Warehouse, run: &str, at: &str, rows: &str) {
    listing(warehouse, "raw_k8s_nodes", run, at, "region, id, pool_id, provider_id", rows).await;
}

/// Month-to-date consumption states: (billing_period, project_id, product_name, sku, value) rows.
async fn consumptions(warehouse: &dyn Warehouse, run: &str, at: &str, rows: &str) {
    listing(
        warehouse,
        "raw_billing_consumptions",
        run,
        at,
        "billing_period, project_id, product_name, sku, value",
        rows,
    )
    .await;
}

/// The daily costs and their baselines (`billing_daily`, `cost_baselines`) through daily collections across a
/// month's end, a missed day, a late state of October raising its last day, which changes the baselines of the
/// 28 days after it (a load recomputes those days too, in the month the runs did not touch), and a backfill of
/// August, which moves the series' first day back and so their history counts in October.
async fn baselines_follow_the_billing_periods(warehouse: &dyn Warehouse) {
    migrate(warehouse).await.unwrap();
    let october = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    // Compute costs 10 a day, 16 on Mondays; Storage 2 a day.
    let mut to_date = std::collections::BTreeMap::<String, (u32, u32)>::new();
    let mut collect = |day: chrono::NaiveDate| {
        let period = day.format("%Y-%m").to_string();
        let total = to_date.entry(period.clone()).or_default();
        total.0 += if day.format("%u").to_string() == "1" { 16 } else { 10 };
        total.1 += 2;
        let (compute, storage) = *total;
        let at = format!("{} 04:00:00", day + chrono::Duration::days(1));
        let rows = format!(
            "('{period}', 'p-1', 'Compute', '/compute/dev1_s', {compute}), ('{period}', 'p-1', 'Storage', '/storage/sbs', {storage})"
        );
        (format!("run-{day}"), at, rows)
    };
    let mut runs: Vec<(String, String, String)> = october.iter_days().take(45).map(&mut collect).collect();
    // The state of November 6 was not collected: November 5's cost and 6's are spread over the two days.
    runs.retain(|(run, _, _)| run != "run-2026-11-05");
    for (run, at, rows) in &runs[..31] {
        ledger_at(warehouse, run, at, &["billing_consumptions"]).await;
        consumptions(warehouse, run, at, rows).await;
    }
    refresh_and_compare(warehouse, "October", 1).await;
    for (run, at, rows) in &runs[31..] {
        ledger_at(warehouse, run, at, &["billing_consumptions"]).await;
        consumptions(warehouse, run, at, rows).await;
    }
    refresh_and_compare(warehouse, "to November 14", 1000).await;
    let baseline = "SELECT toString(expected), history_days, same_weekdays, toString(variance) FROM cost_baselines \
                    WHERE service = 'Compute' AND day = '2026-11-09'";
    let monday = tsv(warehouse, baseline, &[]).await;
    assert!(monday.starts_with("16\t26\t4\t"), "a Monday, against the four before it: {monday}");

    // October's total raised by a state after its end (its last day's cost, late): November's baselines follow.
    let late =
        "('2026-10', 'p-1', 'Compute', '/compute/dev1_s', 370), ('2026-10', 'p-1', 'Storage', '/storage/sbs', 62)";
    ledger_at(warehouse, "run-late", "2026-11-03 05:00:00", &["billing_consumptions"]).await;
    consumptions(warehouse, "run-late", "2026-11-03 05:00:00", late).await;
    refresh_and_compare(warehouse, "October restated", 1000).await;
    assert_ne!(tsv(warehouse, baseline, &[]).await, monday, "a November baseline reads October 31");

    // August, collected late (spread over its days: its first state): the series starts on August 1, so October's
    // first days have 28 days of history, beyond the 28 days after August the touched days would otherwise end at.
    let first = "SELECT history_days FROM cost_baselines WHERE service = 'Storage' AND day = '2026-10-02'";
    assert_eq!(tsv(warehouse, first, &[]).await, "1");
    let august =
        "('2026-08', 'p-1', 'Compute', '/compute/dev1_s', 310), ('2026-08', 'p-1', 'Storage', '/storage/sbs', 62)";
    ledger_at(warehouse, "run-august", "2026-09-01 04:00:00", &["billing_consumptions"]).await;
    consumptions(warehouse, "run-august", "2026-09-01 04:00:00", august).await;
    refresh_and_compare(warehouse, "August backfilled", 1000).await;
    assert_eq!(tsv(warehouse, first, &[]).await, "28", "the series starts in August: September's days count, as zeros");
}

async fn resources_follow_the_runs(warehouse: &dyn Warehouse) {
    migrate(warehouse).await.unwrap();
    let resource = |id: &'static str| async move {
        tsv(
            warehouse,
            "SELECT name, attached_to, present, toDate(first_seen_at), toDate(last_seen_at) FROM resources \
             WHERE resource_id = {id:String}",
            &[("id", id)],
        )
        .await
    };
    let all = ["instance_servers", "instance_volumes", "account_projects"];

    let at = "2026-11-01 04:00:00";
    ledger_at(warehouse, "inv-1", at, &[&all[..], &["lb_load_balancers", "lb_backends"]].concat()).await;
    // A load balancer with no backend: idle since its creation.
    let lb = "('fr-par-1', 'lb-idle', 'idle', 'lb-s', '2026-10-29 04:00:00')";
    listing(warehouse, "raw_lb_load_balancers", "inv-1", at, "zone, id, name, type, created_at", lb).await;
    let tagged = "('fr-par-1', 'srv-a', 'a', 'running', ['team=web', 'critical', 'team:ops']), \
                  ('fr-par-1', 'srv-b', 'b', 'stopped', [])";
    servers(warehouse, "inv-1", at, tagged).await;
    volumes(warehouse, "inv-1", at, "('fr-par-1', 'vol-1', 'v', 'srv-a')").await;
    projects(warehouse, "inv-1", at, "('global', 'p1', 'Web')").await;
    nodes(
        warehouse,
        "inv-1",
        at,
        "('fr-par', 'node-1', 'pool-a', 'scaleway://instance/fr-par-1/srv-n1'), \
         ('fr-par', 'node-2', NULL, 'scaleway://instance/fr-par-1/srv-n2'), ('fr-par', 'node-3', 'pool-a', NULL)",
    )
    .await;
    refresh_and_compare(warehouse, "inv-1", 1000).await;
    assert_eq!(resource("vol-1").await, "v\tsrv-a\ttrue\t2026-11-01\t2026-11-01");

    // srv-a renamed, srv-b deleted, vol-1 detached: the newest listing, nulls included.
    let at = "2026-11-02 04:00:00";
    ledger_at(warehouse, "inv-2", at, &all).await;
    servers(warehouse, "inv-2", at, "('fr-par-1', 'srv-a', 'a2', 'running', ['team=api'])").await;
    volumes(warehouse, "inv-2", at, "('fr-par-1', 'vol-1', 'v', NULL)").await;
    // The Instance of node-1 moved to another pool (a node re-registered); node-2 is gone.
    nodes(warehouse, "inv-2", at, "('fr-par', 'node-9', 'pool-b', 'scaleway://instance/fr-par-1/srv-n1')").await;
    refresh_and_compare(warehouse, "inv-2", 1000).await;
    // Every pool each Instance was a node of, in any run; a node without an Instance is none.
    assert_eq!(
        tsv(
            warehouse,
            "SELECT groupArray((instance_id, pool_id)) FROM (SELECT * FROM k8s_pool_instances ORDER BY ALL)",
            &[]
        )
        .await,
        "[('srv-n1','pool-a'),('srv-n1','pool-b'),('srv-n2','')]"
    );
    assert_eq!(resource("srv-a").await, "a2\t\\N\ttrue\t2026-11-01\t2026-11-02");
    assert_eq!(resource("srv-b").await, "b\t\\N\tfalse\t2026-11-01\t2026-11-01");
    // The tags of the newest listing, a key once.
    let tags = "SELECT resource_id, keys, tag_values FROM resource_tag_lists ORDER BY resource_id";
    assert_eq!(tsv(warehouse, tags, &[]).await, "srv-a\t['team']\t['api']");
    assert_eq!(resource("vol-1").await, "v\t\\N\ttrue\t2026-11-01\t2026-11-02");

    // A run collecting the servers only leaves the volumes as the newest run of theirs listed them.
    let at = "2026-11-03 04:00:00";
    ledger_at(warehouse, "inv-3", at, &["instance_servers"]).await;
    servers(warehouse, "inv-3", at, "('fr-par-1', 'srv-a', 'a2', 'running', ['team=api'])").await;
    refresh_and_compare(warehouse, "inv-3", 1000).await;
    assert_eq!(resource("vol-1").await, "v\t\\N\ttrue\t2026-11-01\t2026-11-02");
    assert_eq!(
        tsv(warehouse, "SELECT run_id FROM latest_dataset_runs WHERE dataset = 'instance_volumes'", &[]).await,
        "inv-2"
    );

    // A backfill of an older run: first seen moves back, nothing newer is overwritten.
    let at = "2026-10-31 04:00:00";
    ledger_at(warehouse, "inv-0", at, &all).await;
    let tagged =
        "('fr-par-1', 'srv-a', 'a0', 'running', ['team=old']), ('fr-par-1', 'srv-old', 'o', 'running', ['env:prod'])";
    servers(warehouse, "inv-0", at, tagged).await;
    projects(warehouse, "inv-0", at, "('global', 'p1', 'Old')").await;
    refresh_and_compare(warehouse, "inv-0", 1000).await;
    assert_eq!(resource("srv-a").await, "a2\t\\N\ttrue\t2026-10-31\t2026-11-03");
    assert_eq!(resource("srv-old").await, "o\t\\N\tfalse\t2026-10-31\t2026-10-31");
    assert_eq!(tsv(warehouse, "SELECT name FROM project_names WHERE id = 'p1'", &[]).await, "Web");

    // The idle load balancer, unpriced (no price collected for lb-s), then priced by an override another client
    // writes: the prices that apply come first, and the load balancers are priced from them.
    let idle = "SELECT toString(since), toString(monthly_cost), currency FROM idle_load_balancers \
                WHERE resource_id = 'lb-idle'";
    assert_eq!(tsv(warehouse, idle, &[]).await, "2026-10-29\t\\N\t\\N");
    warehouse
        .execute("INSERT INTO price_overrides VALUES ('lb_hour', 'fr-par-1', 'lb-s', 0.01, 'EUR', 'contract')", &[])
        .await
        .unwrap();
    assert_eq!(stale(warehouse).await.unwrap(), PRICED);
    assert_eq!(refresh_with(warehouse, 1000).await.unwrap(), PRICED);
    assert_eq!(tsv(warehouse, idle, &[]).await, "2026-10-29\t7.3\tEUR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_resources_follow_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    resources_follow_the_runs(&warehouse).await;
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_models_follow_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    models_follow_the_runs(&warehouse).await;
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_baselines_follow_the_billing_periods() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    baselines_follow_the_billing_periods(&warehouse).await;
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_baselines_follow_the_billing_periods() {
    let dir = tempfile::tempdir().unwrap();
    let engine = EmbeddedWarehouse::open(dir.path().join("engine"), Some(chdb_library())).await.unwrap();
    let front = ClickHouseFront::start(Box::new(engine), "costlake", "front-secret").await.unwrap();
    let warehouse = front.connect().await.unwrap();
    baselines_follow_the_billing_periods(&warehouse).await;
    drop(front);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_models_follow_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let engine = EmbeddedWarehouse::open(dir.path().join("engine"), Some(chdb_library())).await.unwrap();
    let front = ClickHouseFront::start(Box::new(engine), "costlake", "front-secret").await.unwrap();
    let warehouse = front.connect().await.unwrap();
    models_follow_the_runs(&warehouse).await;
    drop(front);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}
