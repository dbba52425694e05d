//! Shared by the simulator's HTTP suites: a simulator pinned to 2026-11-22 and a client that talks to it.

// Each suite compiles this module on its own and uses a different part of it.
#![allow(dead_code)]

use std::path::PathBuf;

use chrono::NaiveDate;
use costlake_simulator::{DEFAULT_SECRET_KEY, SimConfig, Simulator};
use reqwest::StatusCode;
use serde_json::Value;

pub fn config(knobs: &str) -> SimConfig {
    let base = SimConfig { today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), ..SimConfig::default() };
    base.with_knobs(knobs).unwrap()
}

/// A recorded response from the repository's own `tests/fixtures/scaleway/<path>`.
pub fn fixture(path: &str) -> Value {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/scaleway").join(path);
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))).unwrap()
}

pub fn client() -> reqwest::Client {
    // reqwest is built without a bundled crypto provider; plain http needs none, but building a client does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

/// A count the API sends as a number, or as a numeric string under `money_as_strings`.
pub fn count(v: &Value) -> usize {
    match v {
        Value::String(s) => s.parse().unwrap(),
        v => v.as_u64().unwrap() as usize,
    }
}

pub struct Harness {
    pub sim: Simulator,
    pub http: reqwest::Client,
}

impl Harness {
    pub async fn start(knobs: &str) -> Harness {
        Harness { sim: Simulator::start(config(knobs), None).await.unwrap(), http: client() }
    }

    pub fn config(&self) -> &SimConfig {
        self.sim.config()
    }

    pub async fn get_with(&self, path: &str, key: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.sim.base_url()));
        if let Some(key) = key {
            request = request.header("X-Auth-Token", key);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(path, Some(DEFAULT_SECRET_KEY)).await
    }

    pub async fn json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        response.json().await.unwrap()
    }

    /// Every item of a scheme-B list, following pages until `total_count` items were seen.
    pub async fn all_b(&self, path: &str, key: &str) -> Vec<Value> {
        self.all_b_and_envelope(path, key).await.0
    }

    /// Every item of a scheme-B list, and page 1's envelope.
    pub async fn all_b_and_envelope(&self, path: &str, key: &str) -> (Vec<Value>, Value) {
        let mut items = Vec::new();
        let mut first = Value::Null;
        for page in 1.. {
            let sep = if path.contains('?') { '&' } else { '?' };
            let body = self.json(&format!("{path}{sep}page={page}&page_size=100")).await;
            let batch = body[key].as_array().unwrap().clone();
            let total = count(&body["total_count"]);
            let empty = batch.is_empty();
            items.extend(batch);
            if page == 1 {
                first = body;
            }
            if items.len() >= total || empty {
                assert_eq!(items.len(), total, "{path}");
                break;
            }
        }
        (items, first)
    }
}
