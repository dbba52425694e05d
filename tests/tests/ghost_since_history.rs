//! `since` in ghost-resources, from the history of runs, on the real engine with hand-written raw rows:
//! a state's start comes from the API's timestamp only when the history does not contradict it.

use costlake_queries::{find, run};
use costlake_tests::engine::chdb_library;
use costlake_transform::migrate;
use costlake_transform::models::refresh;
use costlake_transform::warehouse::Warehouse;
use costlake_transform::warehouse::chdb::EmbeddedWarehouse;

const ORG: &str = "org-1";

async fn ledger(warehouse: &dyn Warehouse, run: &str, at: &str) {
    warehouse
        .execute(
            "INSERT INTO _load_ledger (run_id, organization_id, snapshot_date, snapshot_at, loaded_at, rows, datasets, manifest) \
             SELECT {run:String}, {org:String}, toDate(parseDateTime64BestEffort({at:String}, 6, 'UTC')), \
             parseDateTime64BestEffort({at:String}, 6, 'UTC'), now64(3), 0, \
             ['instance_servers', 'instance_ips', 'instance_volumes', 'instance_snapshots', 'instance_server_volumes', \
              'block_volumes', 'block_snapshots', 'block_volume_references'], '{}'",
            &[("run".into(), run.into()), ("org".into(), ORG.into()), ("at".into(), at.into())],
        )
        .await
        .unwrap();
}

async fn server(warehouse: &dyn Warehouse, run: &str, at: &str, id: &str, state: &str, modified: &str) {
    warehouse
        .execute(
            "INSERT INTO raw_instance_servers (run_id, snapshot_at, organization_id, zone, id, name, project_id, commercial_type, state, modification_date, raw) \
             SELECT {run:String}, parseDateTime64BestEffort({at:String}, 6, 'UTC'), {org:String}, 'fr-par-1', {id:String}, {id:String}, 'p', 'DEV1-S', {state:String}, \
             parseDateTime64BestEffort({modified:String}, 6, 'UTC'), '{}'",
            &[
                ("run".into(), run.into()),
                ("at".into(), at.into()),
                ("org".into(), ORG.into()),
                ("id".into(), id.into()),
                ("state".into(), state.into()),
                ("modified".into(), modified.into()),
            ],
        )
        .await
        .unwrap();
}

async fn ip(warehouse: &dyn Warehouse, run: &str, at: &str, id: &str, server: Option<&str>) {
    warehouse
        .execute(
            "INSERT INTO raw_instance_ips (run_id, snapshot_at, organization_id, zone, id, address, project_id, type, state, server_id, raw) \
             SELECT {run:String}, parseDateTime64BestEffort({at:String}, 6, 'UTC'), {org:String}, 'fr-par-1', {id:String}, {id:String}, 'p', 'routed_ipv4', \
             if({server:String} = '', 'detached', 'attached'), nullIf({server:String}, ''), '{}'",
            &[
                ("run".into(), run.into()),
                ("at".into(), at.into()),
                ("org".into(), ORG.into()),
                ("id".into(), id.into()),
                ("server".into(), server.unwrap_or("").into()),
            ],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_follows_the_history_of_runs() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    migrate(&warehouse).await.unwrap();
    let (a, b, c) = ("2026-11-01T06:00:00Z", "2026-11-10T06:00:00Z", "2026-11-20T06:00:00Z");
    // Stopped since before costlake's first run: the API's timestamp is the best answer.
    for (run, at) in [("run-a", a), ("run-b", b), ("run-c", c)] {
        server(&warehouse, run, at, "always-stopped", "stopped", "2026-10-20T12:00:00Z").await;
    }
    // Running on the 1st, stopped on the 10th, with a timestamp in between: the timestamp.
    server(&warehouse, "run-a", a, "stopped-on-the-5th", "running", "2026-10-01T00:00:00Z").await;
    server(&warehouse, "run-b", b, "stopped-on-the-5th", "stopped", "2026-11-05T09:00:00Z").await;
    server(&warehouse, "run-c", c, "stopped-on-the-5th", "stopped", "2026-11-05T09:00:00Z").await;
    // Stopped, but its modification date predates a run that saw it running: the history wins.
    server(&warehouse, "run-a", a, "stale-timestamp", "running", "2026-09-01T00:00:00Z").await;
    server(&warehouse, "run-b", b, "stale-timestamp", "running", "2026-09-01T00:00:00Z").await;
    server(&warehouse, "run-c", c, "stale-timestamp", "stopped in place", "2026-09-01T00:00:00Z").await;
    // Stopped, restarted, stopped again: only the last streak counts.
    server(&warehouse, "run-a", a, "flapping", "stopped", "2026-10-30T00:00:00Z").await;
    server(&warehouse, "run-b", b, "flapping", "running", "2026-11-08T00:00:00Z").await;
    server(&warehouse, "run-c", c, "flapping", "stopped", "2026-11-08T00:00:00Z").await;
    // IPs have no timestamp: orphaned since the first run that saw them so.
    ip(&warehouse, "run-a", a, "ip-orphaned-throughout", None).await;
    ip(&warehouse, "run-b", b, "ip-orphaned-throughout", None).await;
    ip(&warehouse, "run-c", c, "ip-orphaned-throughout", None).await;
    ip(&warehouse, "run-a", a, "ip-released-later", Some("always-stopped")).await;
    ip(&warehouse, "run-b", b, "ip-released-later", None).await;
    ip(&warehouse, "run-c", c, "ip-released-later", None).await;
    // Seen orphaned once, then attached: not a ghost any more.
    ip(&warehouse, "run-a", a, "ip-reattached", None).await;
    ip(&warehouse, "run-c", c, "ip-reattached", Some("always-stopped")).await;
    // Committed and loaded one after the other, as daily loads do: the streaks are folded in run by run.
    for (run, at) in [("run-a", a), ("run-b", b), ("run-c", c)] {
        ledger(&warehouse, run, at).await;
        refresh(&warehouse).await.unwrap();
    }

    let report = find("ghost-resources").unwrap();
    let result = run(&warehouse, &report, &[]).await.unwrap();
    let name_at = result.column("name").unwrap();
    let since_at = result.column("since").unwrap();
    let age_at = result.column("age_days").unwrap();
    let since = |name: &str| -> (String, i64) {
        let row = result.rows.iter().find(|r| r[name_at] == name).unwrap_or_else(|| panic!("{name} missing"));
        (row[since_at].as_str().unwrap().to_string(), row[age_at].as_i64().unwrap())
    };
    assert_eq!(since("always-stopped"), ("2026-10-20".into(), 31));
    assert_eq!(since("stopped-on-the-5th"), ("2026-11-05".into(), 15));
    assert_eq!(since("stale-timestamp"), ("2026-11-20".into(), 0));
    assert_eq!(since("flapping"), ("2026-11-20".into(), 0));
    assert_eq!(since("ip-orphaned-throughout"), ("2026-11-01".into(), 19));
    assert_eq!(since("ip-released-later"), ("2026-11-10".into(), 10));
    assert!(result.rows.iter().all(|r| r[name_at] != "ip-reattached"));
    assert_eq!(result.rows.len(), 6);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_costlake_does_not_know_is_reported_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    migrate(&warehouse).await.unwrap();
    let at = "2026-11-20T06:00:00Z";
    ledger(&warehouse, "run-a", at).await;
    server(&warehouse, "run-a", at, "hibernating-server", "hibernating", "2026-11-02T00:00:00Z").await;
    server(&warehouse, "run-a", at, "busy-server", "running", "2026-11-02T00:00:00Z").await;
    server(&warehouse, "run-a", at, "parked-server", "stopped", "2026-11-02T00:00:00Z").await;
    for (id, status) in [("archived-volume", "archived"), ("available-volume", "available"), ("used-volume", "in_use")]
    {
        warehouse
            .execute(
                "INSERT INTO raw_block_volumes (run_id, snapshot_at, organization_id, zone, id, name, project_id, type, size, status, created_at, raw) \
                 SELECT 'run-a', parseDateTime64BestEffort({at:String}, 6, 'UTC'), {org:String}, 'fr-par-1', {id:String}, {id:String}, 'p', \
                 'sbs_5k', 10000000000, {status:String}, parseDateTime64BestEffort('2026-11-03T00:00:00Z', 6, 'UTC'), '{}'",
                &[
                    ("at".into(), at.into()),
                    ("org".into(), ORG.into()),
                    ("id".into(), id.into()),
                    ("status".into(), status.into()),
                ],
            )
            .await
            .unwrap();
    }
    refresh(&warehouse).await.unwrap();
    let report = find("ghost-resources").unwrap();
    let result = run(&warehouse, &report, &[]).await.unwrap();
    let (kind_at, name_at, state_at, cost_at, reason_at) = (
        result.column("kind").unwrap(),
        result.column("name").unwrap(),
        result.column("state").unwrap(),
        result.column("monthly_cost").unwrap(),
        result.column("reason").unwrap(),
    );
    let row = |name: &str| result.rows.iter().find(|r| r[name_at] == name);
    for (name, state) in [("hibernating-server", "hibernating"), ("archived-volume", "archived")] {
        let found = row(name).unwrap_or_else(|| panic!("{name} was dropped: {:?}", result.rows));
        assert_eq!(found[kind_at], "unknown_state", "{name}");
        assert_eq!(found[state_at], state, "{name}");
        assert!(found[cost_at].is_null(), "{name}: its cost is unknown, not zero");
        assert!(found[reason_at].as_str().unwrap().contains("unknown to costlake"), "{name}");
    }
    assert_eq!(row("parked-server").unwrap()[kind_at], "stopped_server");
    assert_eq!(row("available-volume").unwrap()[kind_at], "unattached_volume");
    assert!(row("busy-server").is_none() && row("used-volume").is_none(), "known healthy states stay out");
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_in_standby_pays_for_each_of_its_parts() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = EmbeddedWarehouse::open(dir.path().join("warehouse"), Some(chdb_library())).await.unwrap();
    migrate(&warehouse).await.unwrap();
    let at = "2026-11-20T06:00:00Z";
    ledger(&warehouse, "run-a", at).await;
    server(&warehouse, "run-a", at, "standby", "stopped in place", "2026-11-02T00:00:00Z").await;
    // Two local volumes of the same type and size: each is billed.
    for volume in ["vol-1", "vol-2"] {
        warehouse
            .execute(
                "INSERT INTO raw_instance_server_volumes (run_id, snapshot_at, organization_id, zone, server_id, \
                 volume_id, volume_type, size, raw) \
                 SELECT 'run-a', parseDateTime64BestEffort({at:String}, 6, 'UTC'), {org:String}, 'fr-par-1', \
                 'standby', {volume:String}, 'l_ssd', 20000000000, '{}'",
                &[("at".into(), at.into()), ("org".into(), ORG.into()), ("volume".into(), volume.into())],
            )
            .await
            .unwrap();
    }
    ip(&warehouse, "run-a", at, "ip-of-standby", Some("standby")).await;
    // Prices per hour: compute 0.01, a GB of local volume 0.0001, an IP 0.004 (x 730 hours a month).
    warehouse
        .execute(
            "INSERT INTO price_overrides VALUES ('server_hour', '', 'DEV1-S', 0.01, 'EUR', 'test'), \
             ('volume_gb_hour', '', 'l_ssd', 0.0001, 'EUR', 'test'), ('ip_hour', '', 'routed_ipv4', 0.004, 'EUR', 'test')",
            &[],
        )
        .await
        .unwrap();
    refresh(&warehouse).await.unwrap();
    let report = find("ghost-resources").unwrap();
    let result = run(&warehouse, &report, &[]).await.unwrap();
    let (name_at, cost_at, reason_at) =
        (result.column("name").unwrap(), result.column("monthly_cost").unwrap(), result.column("reason").unwrap());
    let row = result.rows.iter().find(|r| r[name_at] == "standby").expect("the server in standby");
    // 730 x (0.01 + 2 x 20 x 0.0001 + 0.004) = 730 x 0.018 = 13.14
    assert_eq!(row[cost_at].as_str(), Some("13.14"), "{row:?}");
    let reason = row[reason_at].as_str().unwrap();
    assert_eq!(reason.matches("l_ssd volume 20.00 GB").count(), 2, "{reason}");
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}
