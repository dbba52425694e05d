//! The Cockpit collection bounds the points of answers a region holds at once (`points_held_per_region`): its
//! projects wait for points, never for each other. With the tightest budget, every answer takes all of it, so a
//! project asking for its next answer while its current one is written waits for that write: if a write waited
//! for points too, the region would wait forever.

use std::time::Duration;

use costlake_ingest::scaleway::{ClientOptions, ScalewayClient};
use costlake_ingest::sources::cockpit::CockpitSettings;
use costlake_simulator::{SimConfig, Simulator};

async fn samples_collected(simulator: &Simulator, config: &SimConfig, points_held_per_region: u32) -> u64 {
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
        localities: None,
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
    manifest.datasets.iter().find(|d| d.name == "cockpit_metric_points").map_or(0, |d| d.rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tightest_points_budget_collects_every_sample_and_ends() {
    // 20 servers a project: a metric's 31 days at 5 minutes are more points than one query asks for, so each
    // project asks for its next answer while its current one is written.
    let config = SimConfig { servers: 40, projects: 2, ..SimConfig::default() };
    let simulator = Simulator::start(config.clone(), None).await.unwrap();
    let unbounded = samples_collected(&simulator, &config, u32::MAX).await;
    assert!(unbounded > 10_000, "the simulator serves metrics: {unbounded} samples");
    // One point: each answer needs the region's whole budget, so they are held one at a time.
    assert_eq!(samples_collected(&simulator, &config, 1).await, unbounded);
    // The default, the same.
    assert_eq!(samples_collected(&simulator, &config, 0).await, unbounded);
}
