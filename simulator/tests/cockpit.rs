//! The Cockpit API over real HTTP on 127.0.0.1: data sources, tokens, the data plane's Prometheus API, and the
//! planted utilisation cases as a collector would measure them from the served counters.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate};
use costlake_simulator::{
    CPU_METRIC, DB_CONNECTIONS_METRIC, DB_CPU_METRIC, DEFAULT_SECRET_KEY, MEMORY_METRIC, VCPU_METRIC, organization,
    utilisation,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Harness, fixture};

/// 2026-11-22 04:00 UTC: the metrics clock of the suite's configuration.
const CLOCK: i64 = 1_795_320_000;
const DAY: i64 = 86_400;

const UNAUTHORIZED: &str = r#"{"status":"error","errorType":"unauthorized","error":"invalid token"}"#;

impl Harness {
    async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.sim.base_url()))
            .header("X-Auth-Token", DEFAULT_SECRET_KEY)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn delete(&self, path: &str) -> reqwest::Response {
        self.http
            .delete(format!("{}{path}", self.sim.base_url()))
            .header("X-Auth-Token", DEFAULT_SECRET_KEY)
            .send()
            .await
            .unwrap()
    }

    /// Creates a token and returns (id, secret).
    async fn token(&self, region: &str, project: &str, scopes: &[&str]) -> (String, String) {
        let body = json!({"project_id": project, "name": "costlake-collector", "token_scopes": scopes});
        let response = self.post_json(&format!("/cockpit/v1/regions/{region}/tokens"), &body).await;
        assert_eq!(response.status(), StatusCode::OK);
        let token: Value = response.json().await.unwrap();
        (token["id"].as_str().unwrap().to_string(), token["secret_key"].as_str().unwrap().to_string())
    }

    /// The data plane URL of a project's metrics data source in a region.
    async fn metrics_url(&self, region: &str, project: &str) -> String {
        let body =
            self.json(&format!("/cockpit/v1/regions/{region}/data-sources?project_id={project}&types=metrics")).await;
        assert_eq!(body["total_count"], 1);
        body["data_sources"][0]["url"].as_str().unwrap().to_string()
    }

    async fn prom(&self, url: &str, path: &str, secret: Option<&str>, query: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.http.get(format!("{url}/prometheus/api/v1/{path}")).query(query);
        if let Some(secret) = secret {
            request = request.header("X-Token", secret);
        }
        request.send().await.unwrap()
    }

    async fn prom_json(&self, url: &str, path: &str, secret: &str, query: &[(&str, &str)]) -> Value {
        let response = self.prom(url, path, Some(secret), query).await;
        assert_eq!(response.status(), StatusCode::OK, "{path} {query:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "success");
        body["data"].clone()
    }
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn data_sources_per_project_and_region() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let all = h.json("/cockpit/v1/regions/fr-par/data-sources").await;
    assert_eq!(all["total_count"], 6, "metrics and logs for each of the 3 projects");
    assert_eq!(keys(&all), ["data_sources", "total_count"]);
    let recorded = fixture("cockpit/data_sources_list_scaleway_origin.json");
    for (served, recorded) in
        all["data_sources"].as_array().unwrap().iter().zip(recorded["data_sources"].as_array().unwrap())
    {
        assert_eq!(keys(served), keys(recorded));
    }
    for ds in all["data_sources"].as_array().unwrap() {
        assert_eq!(
            (&ds["region"], &ds["origin"], &ds["synchronized_with_grafana"]),
            (&json!("fr-par"), &json!("scaleway"), &json!(true))
        );
        match ds["type"].as_str().unwrap() {
            "metrics" => {
                assert_eq!((&ds["name"], &ds["retention_days"]), (&json!("Scaleway Metrics"), &json!(31)));
                let id = ds["id"].as_str().unwrap();
                assert_eq!(ds["url"], format!("{}/cockpit-data/{id}", h.sim.base_url()));
            }
            "logs" => assert_eq!((&ds["name"], &ds["retention_days"]), (&json!("Scaleway Logs"), &json!(7))),
            other => panic!("type {other}"),
        }
    }
    let p1 = &org.projects[1].id;
    let mine = h.json(&format!("/cockpit/v1/regions/fr-par/data-sources?project_id={p1}")).await;
    assert_eq!(mine["total_count"], 2);
    assert!(mine["data_sources"].as_array().unwrap().iter().all(|d| d["project_id"] == p1.as_str()));
    assert_eq!(h.json("/cockpit/v1/regions/nl-ams/data-sources?types=metrics").await["total_count"], 3);
    assert_eq!(h.json("/cockpit/v1/regions/pl-waw/data-sources?types=metrics,logs").await["total_count"], 6);
    assert_eq!(h.json("/cockpit/v1/regions/pl-waw/data-sources?types=metrics&types=logs").await["total_count"], 6);
    assert_eq!(h.json("/cockpit/v1/regions/fr-par/data-sources?origin=scaleway&types=logs").await["total_count"], 3);
    assert_eq!(h.json("/cockpit/v1/regions/fr-par/data-sources?origin=custom").await["total_count"], 0);
    let paged = h.json("/cockpit/v1/regions/fr-par/data-sources?page_size=4&page=2").await;
    assert_eq!((paged["total_count"].clone(), paged["data_sources"].as_array().unwrap().len()), (json!(6), 2));
    // The data sources of different regions are different.
    let other = h.json("/cockpit/v1/regions/nl-ams/data-sources").await;
    assert_ne!(other["data_sources"][0]["id"], all["data_sources"][0]["id"]);

    assert_eq!(h.get("/cockpit/v1/regions/fr-par/data-sources?types=bogus").await.status(), StatusCode::BAD_REQUEST);
    let unknown = h.get("/cockpit/v1/regions/it-mil/data-sources").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(unknown.json::<Value>().await.unwrap()["type"], "unknown_resource");
    assert_eq!(h.get_with("/cockpit/v1/regions/fr-par/data-sources", None).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_are_created_listed_deleted_and_guard_the_data_plane() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let (p0, p1) = (org.projects[0].id.as_str(), org.projects[1].id.as_str());

    // Invalid requests.
    for body in [
        json!({"project_id": "00000000-0000-4000-8000-000000000000", "name": "x", "token_scopes": ["read_only_metrics"]}),
        json!({"project_id": p0, "name": "x", "token_scopes": []}),
        json!({"project_id": p0, "name": "x"}),
        json!({"project_id": p0, "name": "x", "token_scopes": ["read_everything"]}),
    ] {
        let response = h.post_json("/cockpit/v1/regions/fr-par/tokens", &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(response.json::<Value>().await.unwrap()["type"], "invalid_arguments");
    }

    let response = h
        .post_json(
            "/cockpit/v1/regions/fr-par/tokens",
            &json!({"project_id": p0, "name": "collector", "token_scopes": ["read_only_metrics"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        keys(&created),
        ["id", "project_id", "name", "created_at", "updated_at", "scopes", "secret_key", "region"]
    );
    assert_eq!(
        (&created["project_id"], &created["region"], &created["scopes"]),
        (&json!(p0), &json!("fr-par"), &json!(["read_only_metrics"]))
    );
    let (id, secret) = (created["id"].as_str().unwrap(), created["secret_key"].as_str().unwrap());
    assert!(uuid_like(id) && uuid_like(secret) && id != secret);
    let (logs_only, logs_secret) = h.token("fr-par", p0, &["read_only_logs"]).await;
    let (other_project, other_secret) = h.token("fr-par", p1, &["full_access_metrics_rules"]).await;
    let (_, ams_secret) = h.token("nl-ams", p0, &["read_only_metrics"]).await;
    assert_eq!(h.sim.cockpit_live_tokens().len(), 4);

    let listed = h.json("/cockpit/v1/regions/fr-par/tokens").await;
    assert_eq!(listed["total_count"], 3);
    assert!(listed["tokens"].as_array().unwrap().iter().all(|t| t.get("secret_key").is_none()));
    assert_eq!(listed["tokens"][0]["id"], id);
    assert_eq!(h.json(&format!("/cockpit/v1/regions/fr-par/tokens?project_id={p1}")).await["total_count"], 1);
    assert_eq!(
        h.json("/cockpit/v1/regions/fr-par/tokens?page_size=2&page=2").await["tokens"].as_array().unwrap().len(),
        1
    );
    assert_eq!(h.json("/cockpit/v1/regions/nl-ams/tokens").await["total_count"], 1);

    // The data plane wants a live token of the data source's project and region, with a metrics read scope.
    let url = h.metrics_url("fr-par", p0).await;
    let values = "label/__name__/values";
    for bad in [
        None,
        Some("nope"),
        Some(logs_secret.as_str()),
        Some(other_secret.as_str()),
        Some(ams_secret.as_str()),
        Some(DEFAULT_SECRET_KEY),
    ] {
        let response = h.prom(&url, values, bad, &[]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad:?}");
        assert_eq!(response.text().await.unwrap(), UNAUTHORIZED);
    }
    assert_eq!(h.prom(&url, values, Some(secret), &[]).await.status(), StatusCode::OK);
    // full_access_metrics_rules reads too, in its own project.
    let url1 = h.metrics_url("fr-par", p1).await;
    assert_eq!(h.prom(&url1, values, Some(&other_secret), &[]).await.status(), StatusCode::OK);
    // An unknown data source, or a logs one, has no Prometheus API.
    let logs = h.json(&format!("/cockpit/v1/regions/fr-par/data-sources?project_id={p0}&types=logs")).await;
    let logs_id = logs["data_sources"][0]["id"].as_str().unwrap();
    for ds in ["00000000-0000-4000-8000-000000000000", logs_id] {
        let response = h.prom(&format!("{}/cockpit-data/{ds}", h.sim.base_url()), values, Some(secret), &[]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    assert_eq!(h.delete(&format!("/cockpit/v1/regions/fr-par/tokens/{id}")).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(h.delete(&format!("/cockpit/v1/regions/fr-par/tokens/{id}")).await.status(), StatusCode::NOT_FOUND);
    // A token is deleted in its own region only.
    assert_eq!(
        h.delete(&format!("/cockpit/v1/regions/nl-ams/tokens/{logs_only}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let after = h.prom(&url, values, Some(secret), &[]).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(h.json("/cockpit/v1/regions/fr-par/tokens").await["total_count"], 2);
    assert!(!h.sim.cockpit_live_tokens().contains(&id.to_string()));
    assert!(h.sim.cockpit_live_tokens().contains(&other_project));
    assert_eq!(h.sim.cockpit_live_tokens().len(), 3);
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn permissions_and_withdrawal() {
    let h = Harness::start("deny=cockpit").await;
    let denied = h.get("/cockpit/v1/regions/fr-par/data-sources").await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert_eq!(denied.json::<Value>().await.unwrap()["details"][0]["resource"], "data_source");
    let p0 = organization(h.config()).projects[0].id.clone();
    let body = json!({"project_id": p0, "name": "x", "token_scopes": ["read_only_metrics"]});
    assert_eq!(h.post_json("/cockpit/v1/regions/fr-par/tokens", &body).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(h.get("/instance/v1/zones/fr-par-1/servers").await.status(), StatusCode::OK);

    for (knobs, status) in
        [("withdrawn=cockpit", StatusCode::NOT_FOUND), ("down=cockpit", StatusCode::SERVICE_UNAVAILABLE)]
    {
        let h = Harness::start(knobs).await;
        assert_eq!(h.get("/cockpit/v1/regions/fr-par/tokens").await.status(), status, "{knobs}");
        let any = format!("{}/cockpit-data/x/prometheus/api/v1/series", h.sim.base_url());
        assert_eq!(h.http.get(any).send().await.unwrap().status(), status, "{knobs}");
        assert_eq!(h.get("/billing/v2beta1/invoices").await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn label_values_and_series() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let p0 = org.projects[0].id.as_str();
    let (_, secret) = h.token("fr-par", p0, &["read_only_metrics"]).await;
    let url = h.metrics_url("fr-par", p0).await;

    let names =
        h.prom_json(&url, "label/__name__/values", &secret, &[("match[]", r#"{__name__=~"instance_.*"}"#)]).await;
    // Memory only for util-memory-bound-app, in project 0 in Paris.
    assert_eq!(names, json!([CPU_METRIC, MEMORY_METRIC, VCPU_METRIC]));
    let none =
        h.prom_json(&url, "label/__name__/values", &secret, &[("match[]", r#"{__name__=~"object_storage_.*"}"#)]).await;
    assert_eq!(none, json!([]));
    // Without a selector, every name, the databases' too (db-main and db-archive-2023 are in project 0, fr-par).
    assert_eq!(
        h.prom_json(&url, "label/__name__/values", &secret, &[]).await,
        json!([CPU_METRIC, MEMORY_METRIC, VCPU_METRIC, DB_CPU_METRIC, DB_CONNECTIONS_METRIC])
    );
    let rdb = h.prom_json(&url, "label/__name__/values", &secret, &[("match[]", r#"{__name__=~"rdb_.*"}"#)]).await;
    assert_eq!(rdb, json!([DB_CPU_METRIC, DB_CONNECTIONS_METRIC]));

    // The running servers of project 0 in the Paris zones, and the members of its scaling groups there.
    let members: Vec<(&str, &str, &str)> = org
        .scaling_groups
        .iter()
        .filter(|g| g.project_id == p0 && g.zone.starts_with("fr-par-"))
        .flat_map(|g| g.members.iter().map(move |m| (m.server_id.as_str(), m.name.as_str(), g.zone.as_str())))
        .collect();
    assert_eq!(members.len(), 6, "web-asg's and api-asg's");
    let expected: Vec<&str> = {
        let mut ids: Vec<&str> = org
            .servers
            .iter()
            .filter(|s| s.state == "running" && s.project_id == p0 && s.zone.starts_with("fr-par-"))
            .map(|s| s.id.as_str())
            .chain(members.iter().map(|m| m.0))
            .collect();
        ids.sort_unstable();
        ids
    };
    let series = h.prom_json(&url, "series", &secret, &[("match[]", VCPU_METRIC)]).await;
    let series = series.as_array().unwrap();
    let mut ids: Vec<&str> = series.iter().map(|s| s["resource_id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, expected);
    for s in series {
        assert_eq!(keys(s), ["__name__", "az", "project_id", "region", "resource_id", "resource_name"]);
        assert_eq!(
            (&s["__name__"], &s["project_id"], &s["region"]),
            (&json!(VCPU_METRIC), &json!(p0), &json!("fr-par"))
        );
        let id = s["resource_id"].as_str().unwrap();
        let (name, zone) = org.server(id).map_or_else(
            || members.iter().find(|m| m.0 == id).map(|m| (m.1, m.2)).unwrap(),
            |server| (server.name.as_str(), server.zone.as_str()),
        );
        assert_eq!((s["resource_name"].as_str().unwrap(), s["az"].as_str().unwrap()), (name, zone));
    }
    let both = h.prom_json(&url, "series", &secret, &[("match[]", CPU_METRIC), ("match[]", VCPU_METRIC)]).await;
    assert_eq!(both.as_array().unwrap().len(), 2 * expected.len());
    // Only the series with a sample in [start, end]: the canary was created 5 days ago.
    let ten_days_ago = (CLOCK - 10 * DAY).to_string();
    let older = h
        .prom_json(
            &url,
            "series",
            &secret,
            &[("match[]", VCPU_METRIC), ("start", &ten_days_ago), ("end", &(CLOCK - 9 * DAY).to_string())],
        )
        .await;
    assert_eq!(older.as_array().unwrap().len(), expected.len() - 1);
    assert!(older.as_array().unwrap().iter().all(|s| s["resource_name"] != "util-new-canary"));
    // A label other than the name.
    let names =
        h.prom_json(&url, "label/resource_name/values", &secret, &[("match[]", r#"{resource_name=~"util-.*"}"#)]).await;
    assert_eq!(
        names,
        json!([
            "util-idle-batch",
            "util-memory-bound-app",
            "util-new-canary",
            "util-restarted-web",
            "util-watch-worker"
        ])
    );

    let no_match = h.prom(&url, "series", Some(&secret), &[]).await;
    assert_eq!(no_match.status(), StatusCode::BAD_REQUEST);
    assert_eq!(no_match.json::<Value>().await.unwrap()["errorType"], "bad_data");
    let bad = h.prom(&url, "series", Some(&secret), &[("match[]", "rate(x[5m])")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn query_range_shape_steps_and_limits() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let p0 = org.projects[0].id.as_str();
    let (_, secret) = h.token("fr-par", p0, &["read_only_metrics"]).await;
    let url = h.metrics_url("fr-par", p0).await;
    let idle = org.servers.iter().find(|s| s.name == "util-idle-batch").unwrap();

    let start = (CLOCK - 3600).to_string();
    let end = CLOCK.to_string();
    let query = format!(r#"{CPU_METRIC}{{resource_id="{}"}}"#, idle.id);
    let range = |step: &'static str| {
        [("query", query.clone()), ("start", start.clone()), ("end", end.clone()), ("step", step.to_string())]
    };
    let as_pairs = |r: &[(&'static str, String); 4]| r.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let before = h.sim.cockpit_points_served();
    let response = h
        .http
        .get(format!("{url}/prometheus/api/v1/query_range"))
        .query(&as_pairs(&range("300")))
        .header("X-Token", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(keys(&body), ["status", "data"]);
    assert_eq!(body["data"]["resultType"], "matrix");
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1);
    assert_eq!(result[0]["metric"]["resource_name"], "util-idle-batch");
    assert_eq!(result[0]["metric"]["__name__"], CPU_METRIC);
    let values = result[0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 13);
    assert_eq!(values[0][0], json!(CLOCK - 3600));
    assert!(values.iter().all(|p| p[0].is_i64() && p[1].as_str().unwrap().parse::<f64>().is_ok()));
    assert_eq!(h.sim.cockpit_points_served() - before, 13);
    // The recorded shape's points are [number, "string"] too.
    let recorded = fixture("cockpit/prometheus_query_range_instance_cpu.SYNTHETIC.json");
    assert!(
        recorded["data"]["result"][0]["values"][0][0].is_number()
            && recorded["data"]["result"][0]["values"][0][1].is_string()
    );

    // `300`, `300s` and `5m` are the same step; a form POST is the same query.
    for step in ["300s", "5m"] {
        let other = h
            .http
            .get(format!("{url}/prometheus/api/v1/query_range"))
            .query(&as_pairs(&range(step)))
            .header("X-Token", &secret)
            .send()
            .await
            .unwrap();
        assert_eq!(other.text().await.unwrap(), text, "{step}");
    }
    let form: String = as_pairs(&range("300"))
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.replace('%', "%25").replace('{', "%7B").replace('}', "%7D").replace('"', "%22").replace('=', "%3D")
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let posted = h
        .http
        .post(format!("{url}/prometheus/api/v1/query_range"))
        .header("X-Token", &secret)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.text().await.unwrap(), text);

    // Evaluation between samples takes the latest one; fractional and RFC 3339 times are accepted.
    let shifted = h
        .prom_json(
            &url,
            "query_range",
            &secret,
            &[
                ("query", &query),
                ("start", &format!("{}.5", CLOCK - 3599)),
                ("end", "2026-11-22T04:00:00Z"),
                ("step", "600"),
            ],
        )
        .await;
    let shifted = shifted["result"][0]["values"].as_array().unwrap();
    assert_eq!(shifted.len(), 6);
    assert_eq!(shifted[0][0].to_string(), format!("{}.5", CLOCK - 3599));
    assert_eq!(shifted[0][1], values[0][1]);
    assert_eq!(shifted[1][1], values[2][1]);
    // Past the clock, the last sample serves less than 300 s more (exactly 300 s old is stale), then nothing.
    let future = h
        .prom_json(
            &url,
            "query_range",
            &secret,
            &[("query", &query), ("start", &end), ("end", &(CLOCK + 900).to_string()), ("step", "150")],
        )
        .await;
    assert_eq!(future["result"][0]["values"].as_array().unwrap().len(), 2);
    // Before boot (or retention), nothing at all.
    let old = h
        .prom_json(
            &url,
            "query_range",
            &secret,
            &[
                ("query", &query),
                ("start", &(CLOCK - 40 * DAY).to_string()),
                ("end", &(CLOCK - 35 * DAY).to_string()),
                ("step", "3600"),
            ],
        )
        .await;
    assert_eq!(old["result"], json!([]));
    // Every metric of the data source, both planes of a server.
    let all = h
        .prom_json(
            &url,
            "query_range",
            &secret,
            &[
                ("query", r#"{__name__=~"instance_.*", resource_id="ID"}"#.replace("ID", &idle.id).as_str()),
                ("start", &start),
                ("end", &end),
                ("step", "1h"),
            ],
        )
        .await;
    let all = all["result"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1]["metric"]["__name__"], VCPU_METRIC);
    assert_eq!(all[1]["values"][0][1], "4");

    // 11,000 points per series at most.
    let limit = |end: i64| {
        let end = end.to_string();
        let start = (CLOCK - 10_999 * 60).to_string();
        (start, end)
    };
    let (s, e) = limit(CLOCK);
    assert_eq!(
        h.prom(
            &url,
            "query_range",
            Some(&secret),
            &[("query", CPU_METRIC), ("start", &s), ("end", &e), ("step", "60")]
        )
        .await
        .status(),
        StatusCode::OK
    );
    let (s, e) = limit(CLOCK + 60);
    let refused = h
        .prom(&url, "query_range", Some(&secret), &[("query", CPU_METRIC), ("start", &s), ("end", &e), ("step", "60")])
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.json::<Value>().await.unwrap(),
        json!({"status": "error", "errorType": "bad_data", "error": "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"})
    );
    for bad in [
        vec![("query", CPU_METRIC), ("start", "yesterday"), ("end", "1"), ("step", "60")],
        vec![("query", CPU_METRIC), ("start", "10"), ("end", "1"), ("step", "60")],
        vec![("query", CPU_METRIC), ("start", "1"), ("end", "10"), ("step", "0")],
        vec![("query", CPU_METRIC), ("start", "1"), ("end", "10"), ("step", "fast")],
        vec![("query", "rate(instance_server_cpu_seconds_total[5m])"), ("start", "1"), ("end", "10"), ("step", "60")],
        vec![("start", "1"), ("end", "10"), ("step", "60")],
    ] {
        let response = h.prom(&url, "query_range", Some(&secret), &bad).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!((&body["status"], &body["errorType"]), (&json!("error"), &json!("bad_data")), "{bad:?}");
    }
}

/// The 5-minute utilisations of a server over [from, to], from its counter and gauge: Δcounter / (300 × vcpus),
/// a drop read as a restart (Δ = the new value). Returns (interval end, utilisation) and the number of drops.
async fn utilisations(h: &Harness, url: &str, secret: &str, id: &str, from: i64, to: i64) -> (Vec<(i64, f64)>, usize) {
    let query = |metric: &str| format!(r#"{metric}{{resource_id="{id}"}}"#);
    let points = |data: &Value| -> Vec<(i64, f64)> {
        let result = data["result"].as_array().unwrap();
        assert_eq!(result.len(), 1, "{data}");
        result[0]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_i64().unwrap(), p[1].as_str().unwrap().parse().unwrap()))
            .collect()
    };
    let (start, end) = (from.to_string(), to.to_string());
    let range = |q: String| [("query", q), ("start", start.clone()), ("end", end.clone()), ("step", "300".to_string())];
    let pairs = |r: [(&'static str, String); 4]| r.into_iter().collect::<Vec<_>>();
    let get = |q: String| {
        let request = h
            .http
            .get(format!("{url}/prometheus/api/v1/query_range"))
            .query(&pairs(range(q)))
            .header("X-Token", secret);
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            body["data"].clone()
        }
    };
    let counter = points(&get(query(CPU_METRIC)).await);
    let vcpus: BTreeMap<i64, f64> = points(&get(query(VCPU_METRIC)).await).into_iter().collect();
    let mut out = Vec::new();
    let mut drops = 0;
    for w in counter.windows(2) {
        let ((_, a), (t, b)) = (w[0], w[1]);
        assert_eq!(w[1].0 - w[0].0, 300, "consecutive samples");
        let delta = if b < a {
            drops += 1;
            b
        } else {
            assert!(b > a, "strictly increasing within a life");
            b - a
        };
        out.push((t, delta / (300.0 * vcpus[&t])));
    }
    (out, drops)
}

/// The p95 of each complete UTC day (288 intervals ending in it).
fn daily_p95(points: &[(i64, f64)]) -> Vec<(NaiveDate, f64)> {
    let mut days: BTreeMap<NaiveDate, Vec<f64>> = BTreeMap::new();
    for (t, u) in points {
        // An interval belongs to the day it starts in.
        let day = DateTime::from_timestamp(t - 300, 0).unwrap().date_naive();
        days.entry(day).or_default().push(*u);
    }
    days.into_iter()
        .filter(|(_, v)| v.len() == 288)
        .map(|(day, mut v)| {
            v.sort_by(f64::total_cmp);
            (day, v[(v.len() * 95).div_ceil(100) - 1])
        })
        .collect()
}

#[tokio::test]
async fn planted_utilisation_is_measurable_from_the_served_counters() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let truth = utilisation(h.config());
    assert_eq!(
        truth.planted.iter().map(|p| (p.name.as_str(), p.recommendation)).collect::<Vec<_>>(),
        [
            ("util-idle-batch", "idle"),
            ("util-oversized-api", "downsize"),
            ("util-watch-worker", "watch"),
            ("util-new-canary", "insufficient_data"),
            ("util-restarted-web", "ok"),
            ("util-memory-bound-app", "downsize")
        ]
    );
    let mut secrets = BTreeMap::new();
    for p in &truth.planted {
        if !secrets.contains_key(&p.project_id) {
            let (_, secret) = h.token("fr-par", &p.project_id, &["read_only_metrics"]).await;
            secrets.insert(p.project_id.clone(), (secret, h.metrics_url("fr-par", &p.project_id).await));
        }
    }
    let (from, to) = (CLOCK - 30 * DAY, CLOCK);
    for p in &truth.planted {
        let (secret, url) = &secrets[&p.project_id];
        let (points, drops) = utilisations(&h, url, secret, &p.server_id, from, to).await;
        let p95 = daily_p95(&points);
        let lo = p95.iter().map(|(_, v)| *v).fold(f64::INFINITY, f64::min);
        let hi = p95.iter().map(|(_, v)| *v).fold(0.0, f64::max);
        let peak = points.iter().map(|(_, u)| *u).fold(0.0, f64::max);
        eprintln!(
            "{}: {} complete days, daily p95 {:.4}..{:.4}, peak {:.4}, drops {drops}",
            p.name,
            p95.len(),
            lo,
            hi,
            peak
        );
        assert_eq!(drops, usize::from(p.name == "util-restarted-web"), "{}", p.name);
        match p.recommendation {
            "idle" => assert!(hi < 0.05, "{}", p.name),
            "downsize" => {
                assert!(lo >= 0.05 && hi < 0.20, "{}", p.name);
                // PRO2-S (8 vCPUs) -> PRO2-XXS (2); DEV1-L (4) -> DEV1-S (2) by CPU alone.
                let vcpus = if p.commercial_type == "PRO2-S" { 8.0 } else { 4.0 };
                assert!(0.8 * 2.0 > peak * vcpus, "{}: 2 vCPUs hold the peak at 80 %", p.name);
            }
            "watch" => assert!(lo >= 0.20 && hi < 0.35, "{}", p.name),
            _ => assert!(lo >= 0.35, "{}", p.name),
        }
        if p.recommendation == "insufficient_data" {
            let span = points.last().unwrap().0 - points.first().unwrap().0;
            assert!(span < 14 * DAY, "{span}");
            assert!(points.first().unwrap().0 > CLOCK - 6 * DAY);
        } else {
            assert_eq!(points.len(), 30 * 288);
            assert_eq!(p95.len(), 29);
        }
    }
    // The restart happened 10 days before `today`, at 13:37 UTC: the first sample after it is lower.
    let restarted = &truth.planted[4];
    let (secret, url) = &secrets[&restarted.project_id];
    let reset = NaiveDate::from_ymd_opt(2026, 11, 12).unwrap().and_hms_opt(13, 37, 0).unwrap().and_utc().timestamp();
    let aligned = reset - reset % 300;
    let (around, drops) = utilisations(&h, url, secret, &restarted.server_id, aligned - 300, aligned + 600).await;
    assert_eq!((drops, around.len()), (1, 3));
    // The 180 s of the new life in the 300 s interval.
    assert!(around[1].1 < 0.8 * around[0].1 && around[1].1 > 0.2 * around[0].1, "{around:?}");

    // Every other running server has a healthy profile: sample a few.
    let p0 = &org.projects[0].id;
    let (secret, url) = &secrets[p0];
    let healthy: Vec<_> = org
        .servers
        .iter()
        .filter(|s| {
            s.state == "running" && &s.project_id == p0 && s.zone.starts_with("fr-par") && !s.name.starts_with("util-")
        })
        .take(3)
        .collect();
    assert_eq!(healthy.len(), 3);
    for s in healthy {
        let (points, drops) = utilisations(&h, url, secret, &s.id, CLOCK - 3 * DAY, CLOCK).await;
        let p95 = daily_p95(&points);
        assert_eq!(drops, 0);
        assert!(p95.iter().all(|(_, v)| *v >= 0.35 && *v < 1.0), "{}: {p95:?}", s.name);
    }
    // Non-running servers have no metrics.
    let stopped = org.server(&org.ghosts.stopped_server).unwrap();
    let q = format!(r#"{VCPU_METRIC}{{resource_id="{}"}}"#, stopped.id);
    let none = h
        .prom_json(
            url,
            "query_range",
            secret,
            &[("query", &q), ("start", &(CLOCK - DAY).to_string()), ("end", &CLOCK.to_string()), ("step", "300")],
        )
        .await;
    assert_eq!(none["result"], json!([]));
}

#[tokio::test]
async fn the_metrics_clock_follows_the_billing_clock() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let p0 = org.projects[0].id.as_str();
    let (_, secret) = h.token("fr-par", p0, &["read_only_metrics"]).await;
    let url = h.metrics_url("fr-par", p0).await;
    let window = [("query", VCPU_METRIC), ("start", "1795299900"), ("end", "1795500000"), ("step", "300")];
    let last = |data: &Value| data["result"][0]["values"].as_array().unwrap().last().unwrap()[0].as_i64().unwrap();
    // The last evaluation time with a fresh sample is the clock's own (a sample 300 s old is stale).
    assert_eq!(last(&h.prom_json(&url, "query_range", &secret, &window).await), CLOCK);
    h.sim.set_billing_today(h.config().today + Days::new(1));
    assert_eq!(last(&h.prom_json(&url, "query_range", &secret, &window).await), CLOCK + DAY);
}

#[tokio::test]
async fn same_config_serves_byte_identical_cockpit_bodies() {
    let a = Harness::start("servers=30").await;
    let b = Harness::start("servers=30").await;
    let p1 = organization(a.config()).projects[1].id.clone();
    let mut bodies = Vec::new();
    for h in [&a, &b] {
        let body = json!({"project_id": p1, "name": "c", "token_scopes": ["read_only_metrics"]});
        let token = h.post_json("/cockpit/v1/regions/fr-par/tokens", &body).await.text().await.unwrap();
        let secret = serde_json::from_str::<Value>(&token).unwrap()["secret_key"].as_str().unwrap().to_string();
        let sources = h.get("/cockpit/v1/regions/fr-par/data-sources").await.text().await.unwrap();
        let url = h.metrics_url("fr-par", &p1).await;
        let query = [("query", CPU_METRIC), ("start", "1793000000"), ("end", "1795320000"), ("step", "3600")];
        let range = h.prom(&url, "query_range", Some(&secret), &query).await.text().await.unwrap();
        let series =
            h.prom(&url, "series", Some(&secret), &[("match[]", r#"{__name__=~".+"}"#)]).await.text().await.unwrap();
        // The data sources' URLs name the simulator's own port.
        bodies.push([token, sources.replace(&h.sim.base_url(), "BASE"), range, series]);
    }
    assert_eq!(bodies[0], bodies[1]);
    let other = Harness::start("servers=30,seed=7").await;
    let sources = other.get("/cockpit/v1/regions/fr-par/data-sources").await.text().await.unwrap();
    assert_ne!(sources.replace(&other.sim.base_url(), "BASE"), bodies[0][1]);
}
