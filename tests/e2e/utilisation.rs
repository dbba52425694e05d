//! Utilisation end to end, through the real binary: the simulator's Cockpit (control plane, temporary tokens, a
//! Prometheus data plane per data source) → collect → lake → load → the rightsizing report, checked against the
//! simulator's own oracle of planted cases.

mod common;

use std::str::FromStr;

use common::{decimal, sandbox_with_metrics as sandbox, scalar, simulator};
use costlake_simulator::{SimConfig, billing, kapsule, organization, scaling, services, utilisation};
use rust_decimal::Decimal;
use serde_json::Value;

fn dec(value: &Value) -> Decimal {
    Decimal::from_str(value.as_str().unwrap_or_else(|| panic!("money as a decimal string, got {value}"))).unwrap()
}

/// Samples collected twice, and holes in a series (a missing 5-minute step inside what was collected).
async fn duplicates_and_gaps(sandbox: &costlake_tests::sandbox::Sandbox) -> (u64, u64) {
    let duplicates = scalar(
        sandbox,
        "SELECT count() - uniqExact(metric, resource_id, labels, ts) FROM raw_cockpit_metric_points \
         WHERE run_id IN (SELECT run_id FROM runs)",
    )
    .await;
    let gaps = scalar(
        sandbox,
        "SELECT countIf(step > 300) FROM (SELECT dateDiff('second', lagInFrame(ts) OVER w, ts) AS step, \
         row_number() OVER w AS n FROM (SELECT DISTINCT metric, resource_id, ts FROM raw_cockpit_metric_points \
         WHERE run_id IN (SELECT run_id FROM runs)) WINDOW w AS (PARTITION BY metric, resource_id ORDER BY ts \
         ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)) WHERE n > 1",
    )
    .await;
    (duplicates, gaps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rightsizing_names_every_planted_case_with_its_euros_and_flags_no_healthy_instance() {
    let simulator = simulator("").await;
    let sandbox = sandbox(&simulator);
    sandbox.ok(&["run"]).await;
    assert!(simulator.cockpit_live_tokens().is_empty(), "no temporary Cockpit token outlives the run");

    let truth = utilisation(simulator.config());
    let rows = sandbox.ok(&["-q", "report", "rightsizing", "--format", "json"]).await.json();
    let rows = rows.as_array().unwrap();
    let flagged: Vec<_> = truth.planted.iter().filter(|p| p.recommendation != "ok").collect();
    assert_eq!(rows.len(), flagged.len(), "exactly the planted cases, no healthy Instance: {rows:#?}");
    for planted in &flagged {
        let row = rows
            .iter()
            .find(|r| r["resource_id"] == planted.server_id.as_str())
            .unwrap_or_else(|| panic!("{} is not reported: {rows:#?}", planted.name));
        assert_eq!(row["recommendation"], planted.recommendation, "{}", planted.name);
        assert_eq!(row["name"], planted.name.as_str());
        assert_eq!(row["commercial_type"], planted.commercial_type.as_str());
        assert_eq!(row["recommended_type"].as_str(), planted.recommended_type, "{}", planted.name);
        assert_eq!(dec(&row["monthly_cost"]), planted.monthly_cost, "{}", planted.name);
        // No change proposed saves nothing.
        let savings = planted.monthly_savings.unwrap_or(Decimal::ZERO);
        assert_eq!(dec(&row["monthly_savings"]), savings, "{}", planted.name);
        assert_eq!(row["currency"], "EUR");
        let days = row["days_of_data"].as_u64().unwrap();
        if planted.recommendation == "insufficient_data" {
            assert!(days < 14, "{}: {days}", planted.name);
        } else {
            assert!(days >= 30, "{}: {days} days of data", planted.name);
        }
    }
    // Without a memory series, the reason says so; with one (2.9 GiB in use at most), DEV1-S's 2 GiB are ruled out.
    let oversized = rows.iter().find(|r| r["name"] == "util-oversized-api").unwrap();
    assert!(oversized["reason"].as_str().unwrap().contains("memory not considered"), "{oversized}");
    let memory_bound = rows.iter().find(|r| r["name"] == "util-memory-bound-app").unwrap();
    let reason = memory_bound["reason"].as_str().unwrap();
    assert!(reason.contains("DEV1-M keeps it and its memory under 80 %; peak memory 2.8"), "{memory_bound}");
    assert!(!reason.contains("not considered"), "{memory_bound}");

    // With the healthy ones: every running Instance is judged but the Kapsule nodes (their pool is: see
    // kapsule-pools), the restarted one is fine (a counter reset is a restart, not negative use) and no
    // utilisation is negative or above 100 %.
    let all = sandbox.ok(&["-q", "report", "rightsizing", "-p", "include_ok=true", "--format", "json"]).await.json();
    let all = all.as_array().unwrap();
    let running = scalar(
        &sandbox,
        "SELECT count() FROM inventory_latest WHERE resource_type = 'instance_server' AND state = 'running'",
    )
    .await;
    let nodes: Vec<String> = kapsule(simulator.config()).pools.into_iter().flat_map(|p| p.node_ids).collect();
    assert!(!nodes.is_empty());
    assert_eq!(all.len() as u64, running - nodes.len() as u64, "every running Instance but the nodes is judged");
    assert!(all.iter().all(|r| !nodes.iter().any(|n| r["resource_id"] == n.as_str())), "{all:#?}");
    // A scaling group's members are judged, and their reason names the group, whose template is what changes.
    let org = organization(simulator.config());
    for group in &org.scaling_groups {
        for member in &group.members {
            let row = all
                .iter()
                .find(|r| r["resource_id"] == member.server_id.as_str())
                .unwrap_or_else(|| panic!("{} of {} is not judged: {all:#?}", member.name, group.name));
            let reason = row["reason"].as_str().unwrap();
            assert!(reason.ends_with(&format!("; a member of scaling group {}", group.name)), "{row}");
        }
    }
    let restarted = truth.planted.iter().find(|p| p.recommendation == "ok").expect("the restarted server");
    let row = all.iter().find(|r| r["resource_id"] == restarted.server_id.as_str()).unwrap();
    assert_eq!(row["recommendation"], "ok");
    assert_eq!(scalar(&sandbox, "SELECT countIf(cpu_max > 1.0001 OR cpu_p95 < 0) FROM instance_cpu_daily").await, 0);

    // The table ends with what each kind of change saves.
    let table = sandbox.ok(&["-q", "report", "rightsizing"]).await.stdout;
    assert!(table.contains("Total monthly_savings per recommendation:"), "{table}");
    let expected: Decimal = flagged.iter().filter_map(|p| p.monthly_savings).sum();
    assert!(table.contains(&format!("All {} rows: {:.2} EUR\n", flagged.len(), expected.round_dp(2))), "{table}");
    assert_eq!(duplicates_and_gaps(&sandbox).await, (0, 0));

    idle_services_are_the_planted_ones(&sandbox, simulator.config()).await;
    scaling_groups_are_the_planted_ones(&sandbox, simulator.config()).await;
    kapsule_pools_are_the_planted_ones(&sandbox, simulator.config()).await;
    efficiency_agrees_with_the_bill(&sandbox, simulator.config()).await;
}

/// The same run, for kapsule-pools: every pool with its bounds, the nodes it could do without and their exact
/// euros; the healthy and the too-new pools propose nothing.
async fn kapsule_pools_are_the_planted_ones(sandbox: &costlake_tests::sandbox::Sandbox, config: &SimConfig) {
    let truth = kapsule(config);
    let rows = sandbox.ok(&["-q", "report", "kapsule-pools", "--format", "json"]).await.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), truth.pools.len(), "{rows:#?}");
    assert!(truth.pools.iter().any(|p| p.recommendation == "shrink"));
    assert!(truth.pools.iter().any(|p| p.recommendation == "ok"));
    for pool in &truth.pools {
        let row = rows
            .iter()
            .find(|r| r["pool_id"] == pool.pool_id.as_str())
            .unwrap_or_else(|| panic!("{} is not reported: {rows:#?}", pool.pool_name));
        let context = format!("{}/{}", pool.cluster_name, pool.pool_name);
        assert_eq!(row["cluster_name"], pool.cluster_name.as_str(), "{context}");
        assert_eq!(row["cluster_id"], pool.cluster_id.as_str(), "{context}");
        assert_eq!(row["pool_name"], pool.pool_name.as_str(), "{context}");
        assert_eq!(row["project_id"], pool.project_id.as_str(), "{context}");
        assert_eq!(row["zone"], pool.zone.as_str(), "{context}");
        assert_eq!(row["commercial_type"], pool.commercial_type.as_str(), "{context}");
        assert_eq!(row["size"], pool.size, "{context}");
        assert_eq!(row["min_size"], pool.min_size, "{context}");
        assert_eq!(row["max_size"], pool.max_size, "{context}");
        assert_eq!(row["autoscaling"], pool.autoscaling, "{context}");
        assert_eq!(row["nodes"], pool.node_ids.len(), "{context}");
        assert_eq!(row["recommendation"], pool.recommendation, "{context}: {row}");
        assert_eq!(row["spare_nodes"], pool.nodes_that_could_go, "{context}: {row}");
        assert_eq!(dec(&row["monthly_cost"]), pool.monthly_cost, "{context}");
        assert_eq!(dec(&row["monthly_savings"]), pool.monthly_savings, "{context}");
        assert_eq!(row["currency"], "EUR", "{context}");
        let reason = row["reason"].as_str().unwrap();
        match pool.recommendation {
            "shrink" if pool.autoscaling => assert!(reason.contains("min_size"), "{context}: {reason}"),
            "shrink" => assert!(reason.contains("fixed size"), "{context}: {reason}"),
            "insufficient_data" => assert!(reason.contains("days with metrics"), "{context}: {reason}"),
            _ => assert!(reason.contains("it under 80 %"), "{context}: {reason}"),
        }
    }
    let nodes: Vec<&str> = truth.pools.iter().flat_map(|p| p.node_ids.iter().map(String::as_str)).collect();
    let measured = scalar(
        sandbox,
        &format!(
            "SELECT uniqExact(resource_id) FROM instance_cpu_daily WHERE resource_id IN ('{}')",
            nodes.join("','")
        ),
    )
    .await;
    assert_eq!(measured as usize, nodes.len(), "every node is measured as its Instance");

    // A price written down for a node type in any zone (a wildcard override) wins over the collected one.
    let batch = truth.pools.iter().find(|p| p.recommendation == "shrink" && p.autoscaling).unwrap();
    let insert = format!(
        "INSERT INTO price_overrides VALUES ('server_hour', '', '{}', 0.3, 'EUR', 'our contract')",
        batch.commercial_type
    );
    sandbox.ok(&["-q", "sql", &insert]).await;
    let rows = sandbox.ok(&["-q", "report", "kapsule-pools", "--format", "json"]).await.json();
    let row = rows.as_array().unwrap().iter().find(|r| r["pool_id"] == batch.pool_id.as_str()).cloned().unwrap();
    let contract = Decimal::new(3, 1) * Decimal::from(730);
    assert_eq!(dec(&row["monthly_savings"]), contract * Decimal::from(batch.nodes_that_could_go), "{row}");
    assert_eq!(dec(&row["monthly_cost"]), contract * Decimal::from(batch.size), "{row}");
    // Changed by a mutation, which the engine applies in the background: `sql` waits for it before it refreshes.
    let update = "ALTER TABLE price_overrides UPDATE unit_price = 0.4 WHERE note = 'our contract'";
    sandbox.ok(&["-q", "sql", update]).await;
    let rows = sandbox.ok(&["-q", "report", "kapsule-pools", "--format", "json"]).await.json();
    let row = rows.as_array().unwrap().iter().find(|r| r["pool_id"] == batch.pool_id.as_str()).cloned().unwrap();
    assert_eq!(dec(&row["monthly_cost"]), Decimal::new(4, 1) * Decimal::from(730) * Decimal::from(batch.size), "{row}");
    sandbox.ok(&["-q", "sql", "DELETE FROM price_overrides WHERE note = 'our contract'"]).await;
}

/// The same run, for efficiency: paid capacity holds what was used, and each project's compute euros are the
/// bill's to the nano over the complete days of this month (what one run knows day by day: earlier months come
/// as month totals, spread over their days until daily runs have seen them).
async fn efficiency_agrees_with_the_bill(sandbox: &costlake_tests::sandbox::Sandbox, config: &SimConfig) {
    let rows = sandbox.ok(&["-q", "report", "efficiency", "--format", "json"]).await.json();
    let rows = rows.as_array().unwrap();
    let mut measured = 0;
    for row in rows {
        let (paid, used) = (row["vcpu_hours_paid"].as_f64().unwrap(), row["vcpu_hours_used"].as_f64().unwrap());
        assert!(used <= paid, "{row}");
        if used > 0.0 {
            measured += 1;
            let idle = row["idle_percent"].as_f64().unwrap();
            assert!((0.0..100.0).contains(&idle), "{row}");
            assert!(dec(&row["cost_per_used_vcpu_hour"]) > Decimal::ZERO, "{row}");
        }
    }
    assert!(measured >= 2, "{rows:#?}");

    // The report ends the day before the newest day with metrics. The simulator has samples up to its metrics
    // clock (today 04:00 UTC), and the run collects up to its own start less Cockpit's ingestion delay: a run in
    // the first minutes after midnight has none of today yet.
    use chrono::Datelike;
    use costlake_ingest::sources::cockpit::{DEFAULT_STEP_SECONDS as STEP, INGESTION_DELAY_SECONDS};
    let started = scalar(sandbox, "SELECT toUnixTimestamp(max(snapshot_at)) FROM runs").await;
    let end = (started - INGESTION_DELAY_SECONDS) / STEP * STEP;
    // The simulator's metrics clock (`metrics_clock_ms`, private to it).
    let clock = config.today.and_hms_opt(4, 0, 0).unwrap().and_utc().timestamp() as u64;
    let day_of = |unix: u64| chrono::DateTime::from_timestamp(unix as i64, 0).unwrap().date_naive();
    let last_day = day_of(clock.min(end)).pred_opt().unwrap();
    // And it starts with the first interval of the 31 days collected (an interval counts on the day it ends): in
    // the first minutes of the 2nd after a 31-day month, on the 2nd of that month, not its 1st.
    let first_sample = (end - 31 * 86_400).div_ceil(STEP) * STEP;
    let first_metrics_day = day_of(first_sample + STEP);
    // The report's days: the month of its last day (on the 1st, the previous month), from its 1st or the first
    // day with metrics.
    let month_start = last_day.with_day(1).unwrap();
    let bill = billing(config);
    let days = format!("days={}", last_day.day());
    let rows = sandbox.ok(&["-q", "report", "efficiency", "-p", &days, "--format", "json"]).await.json();
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty());
    let date = |v: &Value| chrono::NaiveDate::parse_from_str(v.as_str().unwrap(), "%Y-%m-%d").unwrap();
    let (from, to) = (date(&rows[0]["from_day"]), date(&rows[0]["to_day"]));
    assert_eq!((from, to), (month_start.max(first_metrics_day), last_day), "{rows:#?}");
    assert_eq!(rows[0]["days_judged"], (to - from).num_days() + 1);
    // One run knows a month as one month-to-date state, spread evenly over the days it covers (those of the month
    // before the billing clock: billing_daily's spread_days), each SKU's total divided to the nano, the last day
    // taking the remainder. The report's days are all those days unless the run started in the first minutes
    // after midnight: its metrics then stop a day short of the bill (and may start a day late), and its days hold
    // an even share of the month so far. Either way the loaded bill is the simulator's over the days covered, to
    // the nano.
    let month_end = (month_start + chrono::Months::new(1)).pred_opt().unwrap();
    let covered_end = config.billing_date().pred_opt().unwrap().min(month_end);
    assert!(to == covered_end || Some(to) == covered_end.pred_opt(), "{to} against {covered_end}");
    let covered_days = covered_end.day();
    // The report's days before the last one covered, each an even share.
    let shared_days = Decimal::from((to.min(covered_end.pred_opt().unwrap()) - from).num_days() + 1);
    for row in rows {
        let project = row["project_id"].as_str().unwrap();
        let mut per_sku = std::collections::BTreeMap::<&str, Decimal>::new();
        for d in bill.daily.iter().filter(|d| {
            d.project_id == project && d.sku.starts_with("/compute/") && d.day >= month_start && d.day <= covered_end
        }) {
            *per_sku.entry(d.sku.as_str()).or_default() += d.cost;
        }
        let expected: Decimal = per_sku
            .values()
            .map(|total| {
                let share = (total / Decimal::from(covered_days)).trunc_with_scale(9);
                let last = total - share * Decimal::from(covered_days - 1);
                share * shared_days + if to == covered_end { last } else { Decimal::ZERO }
            })
            .sum();
        let context = format!("{project} {from}..{to}, billed {month_start}..{covered_end}");
        let loaded = format!(
            "SELECT toString(sum(cost)) AS cost FROM billing_daily WHERE startsWith(sku, '/compute/') \
             AND project_id = '{project}' AND day BETWEEN '{month_start}' AND '{covered_end}'"
        );
        assert_eq!(decimal(sandbox, &loaded).await, per_sku.values().sum::<Decimal>(), "{context}");
        assert_eq!(dec(&row["compute_cost"]), expected, "{context}");
        assert_eq!(row["currency"], "EUR", "{context}");
    }
}

/// The same run, for scaling-groups: every group's bounds, events, flaps and replicas' euros as planted; only
/// the flapping one is flagged.
async fn scaling_groups_are_the_planted_ones(sandbox: &costlake_tests::sandbox::Sandbox, config: &SimConfig) {
    let truth = scaling(config);
    let rows = sandbox.ok(&["-q", "report", "scaling-groups", "--format", "json"]).await.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), truth.groups.len(), "{rows:#?}");
    assert!(truth.groups.iter().any(|g| g.flapping) && truth.groups.iter().any(|g| !g.flapping));
    for group in &truth.groups {
        let row = rows
            .iter()
            .find(|r| r["group_id"] == group.id.as_str())
            .unwrap_or_else(|| panic!("{} is not reported: {rows:#?}", group.name));
        let context = group.name.as_str();
        assert_eq!(row["name"], group.name.as_str(), "{context}");
        assert_eq!(row["zone"], group.zone.as_str(), "{context}");
        assert_eq!(row["project_id"], group.project_id.as_str(), "{context}");
        assert_eq!(row["min_replicas"], group.min_replicas, "{context}");
        assert_eq!(row["max_replicas"], group.max_replicas, "{context}");
        assert_eq!(row["cooldown_seconds"], group.cooldown_seconds, "{context}");
        assert_eq!(row["current_size"], group.current_size, "{context}");
        assert_eq!(row["scale_ups"], group.scale_ups, "{context}");
        assert_eq!(row["scale_downs"], group.scale_downs, "{context}");
        assert_eq!(row["other_events"], group.other_events, "{context}");
        assert_eq!(row["flaps"], group.flaps, "{context}");
        assert_eq!(row["flapping"], group.flapping, "{context}");
        assert_eq!(row["commercial_type"], group.commercial_type.as_str(), "{context}");
        assert_eq!(dec(&row["monthly_cost"]), group.monthly_cost, "{context}");
        let at_max = if group.current_size == group.max_replicas { 100.0 } else { 0.0 };
        assert_eq!(row["at_max_percent"].as_f64(), Some(at_max), "{context}: one collection");
        // CPU around its scaling events: its members' CPU in the hour before each, averaged, rounded to 0.1.
        for (column, expected) in [
            ("cpu_before_scale_ups_percent", group.cpu_before_scale_ups_percent),
            ("cpu_before_scale_downs_percent", group.cpu_before_scale_downs_percent),
        ] {
            match (row[column].as_f64(), expected) {
                (Some(got), Some(want)) => assert!((got - want).abs() <= 0.051, "{context} {column}: {got} vs {want}"),
                (got, want) => assert_eq!(got, want, "{context} {column}"),
            }
        }
    }
    // The flapping group scales both ways between its thresholds (30 % and 70 %); the one at its maximum is hot.
    let batch = truth.group("batch-asg").unwrap();
    assert!(batch.cpu_before_scale_ups_percent.is_some_and(|c| c < 70.0), "{batch:?}");
    assert!(batch.cpu_before_scale_downs_percent.is_some_and(|c| c > 30.0), "{batch:?}");
}

/// The same run, for idle-services: every planted idle load balancer and database with its exact euros, its
/// start and its reason, and no healthy one; ghost-resources lists the load balancers too.
async fn idle_services_are_the_planted_ones(sandbox: &costlake_tests::sandbox::Sandbox, config: &SimConfig) {
    let truth = services(config);
    let rows = sandbox.ok(&["-q", "report", "idle-services", "--format", "json"]).await.json();
    let rows = rows.as_array().unwrap();
    let planted: Vec<_> = truth.idle_load_balancers.iter().chain(&truth.idle_databases).collect();
    assert!(!truth.idle_load_balancers.is_empty() && !truth.idle_databases.is_empty());
    assert_eq!(rows.len(), planted.len(), "exactly the planted idle services: {rows:#?}");
    for idle in &planted {
        let row = rows
            .iter()
            .find(|r| r["resource_id"] == idle.resource_id.as_str())
            .unwrap_or_else(|| panic!("{} is not reported: {rows:#?}", idle.name));
        let context = format!("{} {}", idle.kind, idle.name);
        assert_eq!(row["kind"], idle.kind, "{context}");
        assert_eq!(row["name"], idle.name.as_str(), "{context}");
        assert_eq!(row["project_id"], idle.project_id.as_str(), "{context}");
        assert_eq!(row["zone"], idle.zone.as_str(), "{context}");
        assert_eq!(row["since"], idle.since.to_string().as_str(), "{context}");
        assert_eq!(dec(&row["monthly_cost"]), idle.monthly_cost, "{context}");
        assert_eq!(row["currency"], "EUR", "{context}");
        let reason = row["reason"].as_str().unwrap();
        let expected = match idle.reason {
            "no_backend" => "with no backend",
            "empty_pools" => "no server in its pool",
            "low_cpu" => "daily max CPU at most",
            "no_connection" => "no connection in 30 days",
            other => panic!("unknown planted reason {other}"),
        };
        assert!(reason.contains(expected), "{context}: {reason}");
    }
    for healthy in &truth.healthy {
        assert!(rows.iter().all(|r| r["resource_id"] != healthy.as_str()), "{healthy} is healthy: {rows:#?}");
    }

    let ghosts = sandbox.ok(&["-q", "report", "ghost-resources", "--format", "json"]).await.json();
    let listed: Vec<&str> = ghosts
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["kind"] == "idle_load_balancer")
        .map(|g| g["resource_id"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = truth.idle_load_balancers.iter().map(|lb| lb.resource_id.as_str()).collect();
    let mut listed = listed;
    listed.sort_unstable();
    expected.sort_unstable();
    assert_eq!(listed, expected, "ghost-resources lists the idle load balancers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_incremental_and_a_killed_run_leaves_no_gap_and_no_duplicate() {
    let simulator = simulator("servers=20").await;
    let mut sandbox = sandbox(&simulator);
    sandbox.set("COSTLAKE_SOURCES", "account,instance,catalog,cockpit");

    // Killed after collecting everything, before its commit: nothing of it counts.
    sandbox.set("COSTLAKE_FAILPOINT", "collect.pause_before_commit");
    let mut paused = sandbox.start_until(&["run"], "failpoint collect.pause_before_commit reached").await;
    paused.kill().await.expect("kill -9 the paused run");
    sandbox.unset("COSTLAKE_FAILPOINT");
    assert!(simulator.cockpit_live_tokens().is_empty(), "the tokens were deleted before the commit point");

    let first_points = simulator.cockpit_points_served();
    let first_ranges = simulator.cockpit_ranges_served().len();
    sandbox.ok(&["run"]).await;
    let collected = simulator.cockpit_points_served() - first_points;
    let first_end = simulator.cockpit_ranges_served()[first_ranges..].iter().map(|r| r.1).max().expect("queried");
    let loaded = scalar(&sandbox, "SELECT count() FROM raw_cockpit_metric_points").await;
    assert_eq!(loaded, collected, "the re-run collected the whole window again, and only it was loaded");
    assert!(loaded > 20 * 2 * 8000, "31 days of two metrics for every running server: {loaded}");

    // A second run right after fetches only what is new: nothing, or the last few minutes.
    let before = simulator.cockpit_points_served();
    let second_ranges = simulator.cockpit_ranges_served().len();
    sandbox.ok(&["run"]).await;
    let again = simulator.cockpit_points_served() - before;
    assert!(again < 20 * 2 * 12, "an incremental run fetched {again} points");
    // Whatever the hour (the simulator's samples stop at 04:00 UTC, so the points alone would show nothing
    // fetched twice after then), every query starts after the end of the run before.
    let asked = &simulator.cockpit_ranges_served()[second_ranges..];
    assert!(asked.iter().all(|r| r.0 > first_end), "asked again from before {first_end}: {asked:?}");
    assert_eq!(duplicates_and_gaps(&sandbox).await, (0, 0));
    assert!(simulator.cockpit_live_tokens().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_cockpit_token_fails_only_cockpit_and_leaves_no_temporary_token_behind() {
    let simulator = simulator("servers=10").await;
    let mut sandbox = sandbox(&simulator);
    let project = costlake_simulator::organization(simulator.config()).projects[0].id.clone();
    let planted_secret = "7e1b0c5a-dead-4bee-8000-00000000c0c0";
    sandbox.set("COSTLAKE_COCKPIT_TOKENS", format!("{project}={planted_secret}"));
    let outcome = sandbox.run(&["run"]).await;
    assert_eq!(outcome.code, Some(3), "{}", outcome.stderr);
    let error = outcome.error_line().unwrap();
    assert!(error.contains("cockpit: ") && error.contains("the Cockpit token was refused"), "{error}");
    assert!(!outcome.stderr.contains(planted_secret) && !outcome.stdout.contains(planted_secret));
    for file in sandbox.files_under("lake") {
        let bytes = std::fs::read(&file).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(planted_secret), "{} holds the token", file.display());
    }
    assert!(simulator.cockpit_live_tokens().is_empty(), "the other projects' temporary tokens were deleted");
    assert!(scalar(&sandbox, "SELECT count() FROM inventory_latest").await > 0, "the rest is loaded");
}
