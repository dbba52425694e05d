//! Replays a billing history into a lake, as a daily job would have collected it: the simulator's billing clock
//! walks day by day and a billing-only collection runs each morning (real HTTP to the simulator, real Parquet
//! into the lake), then one full collection runs on the last day. Billing APIs only answer "month to date, as
//! of now", so a history cannot be fetched afterwards: it has to be collected day after day.

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use costlake_ingest::scaleway::{ClientOptions, ScalewayClient};
use costlake_ingest::{CollectOptions, collect, sources};
use costlake_lake::{Lake, LakeLocation, Manifest};
use costlake_simulator::Simulator;

pub struct Replay<'a> {
    pub simulator: &'a Simulator,
    /// Collect on these days (the last full collection runs on the simulator's `today`).
    pub from: NaiveDate,
    /// Days whose collection is skipped (a job that did not run).
    pub missed: Vec<NaiveDate>,
    /// Days collected twice (a job re-run the same morning).
    pub twice: Vec<NaiveDate>,
}

fn client(simulator: &Simulator) -> ScalewayClient {
    let _ = rustls::crypto::ring::default_provider().install_default();
    ScalewayClient::new(ClientOptions {
        api_url: simulator.base_url(),
        secret_key: Some(simulator.config().secret_key.clone().into()),
        secret_origin: "the simulator's key".into(),
        retry_base: Duration::from_millis(5),
        max_rps: 10_000,
        ..ClientOptions::default()
    })
    .expect("client")
}

impl Replay<'_> {
    /// Collects into the local lake at `lake_dir`; returns the manifests in order.
    pub async fn run(&self, lake_dir: &Path) -> Vec<Manifest> {
        let lake = Lake::open(&LakeLocation::Local(lake_dir.to_path_buf())).expect("lake");
        let client = client(self.simulator);
        let config = self.simulator.config();
        let billing = sources::select(&["billing".to_string()]).expect("billing source");
        let mut manifests = Vec::new();
        let mut day = self.from;
        while day < config.today {
            if !self.missed.contains(&day) {
                let times = if self.twice.contains(&day) { 2 } else { 1 };
                for _ in 0..times {
                    manifests.push(self.collect_on(&lake, &client, &billing, day).await);
                }
            }
            day = day.succ_opt().expect("valid date");
        }
        manifests.push(self.collect_on(&lake, &client, &sources::all(), config.today).await);
        manifests
    }

    async fn collect_on(
        &self,
        lake: &Lake,
        client: &ScalewayClient,
        sources: &[Box<dyn sources::Product>],
        day: NaiveDate,
    ) -> Manifest {
        self.simulator.set_billing_today(day);
        let options = CollectOptions {
            organization_id: self.simulator.config().organization_id.clone(),
            localities: None,
            now: Some(day.and_hms_opt(4, 0, 0).expect("valid time").and_utc()),
            orphan_grace: None,
            cockpit: Default::default(),
        };
        collect(lake, client, sources, &options).await.unwrap_or_else(|e| panic!("collection of {day} failed: {e}"))
    }
}
