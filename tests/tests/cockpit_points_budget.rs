//! The Cockpit collection bounds the points of answers a region holds at once (`points_held_per_region`): its
//! projects wait for points, never for each other. With the tightest budget, every answer takes all of it, so a
//! project asking for its next answer while its current one is written waits for that write: if a write waited
//! for points too, the region would wait forever.

use std::time::Duration;

use costlake_ingest::scaleway::{ClientOptions, ScalewayClient};
use costlake_ingest::sources::cockpit::CockpitSettings;
use costlake_simulator::{SimConfig, Simulator};

/// The samples a collection of one region's metrics wrote, and the most `query_range` requests the simulator
/// had in flight at once.
async fn collect_region(points_held_per_region: u32) -> (u64, u64) {
    // 30 servers a project, about 24 of them in fr-par: a metric's 31 days at 5 minutes are more points than
    // one query asks for (125,000), so each project asks for its next answer while its current one is written.
    // 20 ms a request keeps the two projects' requests in flight side by side.
    let config = SimConfig { servers: 60, projects: 2, latency_ms: 20, ..SimConfig::default() };
    let simulator = Simulator::start(config.clone(), None).await.unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = ScalewayClient::new(ClientOptions {
        api_url: simulator.base_url(),
        secret_key: Some(config.secret_key.clone().into()),
        secret_origin: "SCW_SECRET_KEY".into(),
        max_rps: 10_000,
        ..ClientOptions::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lake = costlake_lake::Lake::open(&costlake_lake::LakeLocation::Local(dir.path().join("lake"))).unwrap();
    let options = costlake_ingest::CollectOptions {
        organization_id: config.organization_id.clone(),
        localities: Some(vec!["fr-par".to_string()]),
        now: None,
        orphan_grace: None,
        cockpit: CockpitSettings { points_held_per_region, ..Default::default() },
    };
    let cockpit = costlake_ingest::sources::select(&["cockpit".to_string()]).unwrap();
    let collected = costlake_ingest::collect(&lake, &client, &cockpit, &options);
    let manifest = tokio::time::timeout(Duration::from_secs(60), collected)
        .await
        .unwrap_or_else(|_| panic!("a budget of {points_held_per_region} points: the collection never ended"))
        .unwrap();
    assert!(manifest.failed_sources.is_empty(), "{:?}", manifest.failed_sources);
    let samples = manifest.datasets.iter().find(|d| d.name == "cockpit_metric_points").map_or(0, |d| d.rows);
    (samples, simulator.stats().query_range_most_in_flight)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tightest_points_budget_collects_every_sample_one_answer_at_a_time_and_ends() {
    let (unbounded, side_by_side) = collect_region(u32::MAX).await;
    assert!(unbounded > 100_000, "the simulator serves metrics: {unbounded} samples");
    assert!(side_by_side >= 2, "with no budget, the projects' answers are asked for side by side: {side_by_side}");
    // One point: each answer needs the region's whole budget, so one is held, asked for or written, at a time.
    assert_eq!(collect_region(1).await, (unbounded, 1));
    // The default budget: every sample.
    assert_eq!(collect_region(0).await.0, unbounded);
}
