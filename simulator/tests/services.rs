//! The Load Balancer and Managed Database APIs over real HTTP on 127.0.0.1, the databases' Cockpit series, and the
//! idle-services oracle checked against what is served, as a collector would see it.

use std::collections::BTreeMap;

use costlake_simulator::{
    DB_CONNECTIONS_METRIC, DB_CPU_METRIC, DEFAULT_SECRET_KEY, LB_ZONES, RDB_REGIONS, organization, services,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Harness, fixture};

/// 2026-11-22 04:00 UTC: the metrics clock of the suite's configuration.
const CLOCK: i64 = 1_795_320_000;
const DAY: i64 = 86_400;

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

fn names(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["name"].as_str().unwrap()).collect()
}

/// The field set of the Go SDK's `Backend` (api/lb/v1/lb_sdk.go), in its order.
const BACKEND_FIELDS: [&str; 25] = [
    "id",
    "name",
    "forward_protocol",
    "forward_port",
    "forward_port_algorithm",
    "sticky_sessions",
    "sticky_sessions_cookie_name",
    "health_check",
    "pool",
    "lb",
    "send_proxy_v2",
    "timeout_server",
    "timeout_connect",
    "timeout_tunnel",
    "on_marked_down_action",
    "proxy_protocol",
    "created_at",
    "updated_at",
    "failover_host",
    "ssl_bridging",
    "ignore_ssl_server_verify",
    "redispatch_attempt_count",
    "max_retries",
    "max_connections",
    "timeout_queue",
];

fn backend_fields() -> Vec<String> {
    BACKEND_FIELDS.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn load_balancers_have_the_recorded_shape_and_page() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let recorded = fixture("lb/lbs_list.json");
    let first = &recorded["lbs"][0];

    let mut seen = Vec::new();
    for zone in LB_ZONES {
        let (items, envelope) = h.all_b_and_envelope(&format!("/lb/v1/zones/{zone}/lbs"), "lbs").await;
        assert_eq!(keys(&envelope), keys(&recorded), "{zone}: envelope");
        for lb in &items {
            assert_eq!(keys(lb), keys(first), "{zone}: {lb}");
            assert_eq!(keys(&lb["instances"][0]), keys(&first["instances"][0]));
            assert_eq!(keys(&lb["ip"][0]), keys(&first["ip"][0]));
            assert_eq!((&lb["zone"], &lb["region"]), (&json!(zone), &json!(&zone[..6])));
            assert_eq!(lb["organization_id"], org.id.as_str());
            assert_eq!(lb["ip"][0]["lb_id"], lb["id"]);
            assert_eq!(lb["subscriber"], Value::Null);
            for at in ["created_at", "updated_at"] {
                let t = lb[at].as_str().unwrap();
                assert!(t.ends_with('Z') && t.len() == 27, "{t}");
            }
            let reverse = lb["ip"][0]["reverse"].as_str().unwrap();
            assert_eq!(
                reverse,
                format!(
                    "{}.lb.{}.scw.cloud",
                    lb["ip"][0]["ip_address"].as_str().unwrap().replace('.', "-"),
                    &zone[..6]
                )
            );
            seen.push((lb["name"].as_str().unwrap().to_string(), zone, lb["type"].as_str().unwrap().to_string()));
        }
    }
    seen.sort();
    let expected = [
        ("api-lb", "fr-par-2", "lb-gp-m"),
        ("lb-legacy-frontend", "fr-par-1", "lb-s"),
        ("lb-staging-gateway", "nl-ams-1", "lb-gp-m"),
        ("web-lb", "fr-par-1", "lb-s"),
    ];
    let seen: Vec<(&str, &str, &str)> = seen.iter().map(|(n, z, t)| (n.as_str(), *z, t.as_str())).collect();
    assert_eq!(seen, expected);

    // Paging: total_count on every page, an empty page past the end, 20 by default.
    let zone = "/lb/v1/zones/fr-par-1/lbs";
    let page2 = h.json(&format!("{zone}?page=2&page_size=1")).await;
    assert_eq!((page2["total_count"].clone(), page2["lbs"].as_array().unwrap().len()), (json!(2), 1));
    let page3 = h.json(&format!("{zone}?page=3&page_size=1")).await;
    assert_eq!((page3["total_count"].clone(), page3["lbs"].as_array().unwrap().len()), (json!(2), 0));
    // Oldest first by default: web-lb (300 days) before lb-legacy-frontend (120 days).
    let all = h.json(zone).await;
    assert_eq!(names(all["lbs"].as_array().unwrap()), ["web-lb", "lb-legacy-frontend"]);
    let desc = h.json(&format!("{zone}?order_by=created_at_desc")).await;
    assert_eq!(names(desc["lbs"].as_array().unwrap()), ["lb-legacy-frontend", "web-lb"]);
    let by_name = h.json(&format!("{zone}?order_by=name_desc")).await;
    assert_eq!(names(by_name["lbs"].as_array().unwrap()), ["web-lb", "lb-legacy-frontend"]);
    assert_eq!(h.get(&format!("{zone}?order_by=sideways")).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(h.get(&format!("{zone}?page_size=101")).await.status(), StatusCode::BAD_REQUEST);

    // Filters.
    let (p0, p1) = (org.projects[0].id.as_str(), org.projects[1].id.as_str());
    assert_eq!(h.json(&format!("{zone}?project_id={p0}")).await["total_count"], 2);
    assert_eq!(h.json(&format!("{zone}?project_id={p1}")).await["total_count"], 0);
    assert_eq!(h.json(&format!("{zone}?organization_id={}", org.id)).await["total_count"], 2);
    assert_eq!(h.json(&format!("{zone}?organization_id=00000000-0000-4000-8000-000000000000")).await["total_count"], 0);
    let legacy = h.json(&format!("{zone}?name=legacy")).await;
    assert_eq!(names(legacy["lbs"].as_array().unwrap()), ["lb-legacy-frontend"]);

    // Zones outside the API, authentication, permissions.
    let unknown = h.get("/lb/v1/zones/fr-par-3/lbs").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(unknown.json::<Value>().await.unwrap()["type"], "unknown_resource");
    assert_eq!(h.get_with(zone, None).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn backends_follow_their_load_balancer() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    for zone in ["fr-par-1", "fr-par-2", "nl-ams-1"] {
        for lb in h.all_b(&format!("/lb/v1/zones/{zone}/lbs"), "lbs").await {
            let id = lb["id"].as_str().unwrap();
            let (backends, envelope) =
                h.all_b_and_envelope(&format!("/lb/v1/zones/{zone}/lbs/{id}/backends"), "backends").await;
            assert_eq!(keys(&envelope), ["backends", "total_count"]);
            assert_eq!(json!(backends.len()), lb["backend_count"], "{}", lb["name"]);
            for b in &backends {
                assert_eq!(keys(b), backend_fields(), "{b}");
                assert_eq!(b["lb"], lb, "the whole load balancer is nested");
                assert_eq!(
                    keys(&b["health_check"]),
                    [
                        "port",
                        "check_delay",
                        "check_timeout",
                        "check_max_retries",
                        "tcp_config",
                        "check_send_proxy",
                        "transient_check_delay"
                    ]
                );
                assert!(
                    b["pool"].as_array().unwrap().iter().all(|a| a
                        .as_str()
                        .unwrap()
                        .parse::<std::net::Ipv4Addr>()
                        .is_ok())
                );
                assert!(b["timeout_server"].as_str().unwrap().ends_with('s'));
            }
            // A frontend forwards to a backend: none without one.
            if backends.is_empty() {
                assert_eq!(lb["frontend_count"], 0);
            }
        }
    }
    let web = &org.load_balancers[0];
    let served = h.json(&format!("/lb/v1/zones/fr-par-1/lbs/{}/backends", web.id)).await;
    let pool: Vec<&str> =
        served["backends"][0]["pool"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(pool.len(), 2);
    // The pool holds the public addresses of servers the Instance API lists as running.
    let servers = h.json("/instance/v1/zones/fr-par-1/servers?per_page=100").await;
    for address in pool {
        let server = servers["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["public_ips"].as_array().is_some_and(|ips| ips.iter().any(|i| i["address"] == address)))
            .unwrap_or_else(|| panic!("no server has {address}"));
        assert_eq!((&server["state"], &server["project"]), (&json!("running"), &json!(web.project_id)));
    }
    let api = &org.load_balancers[1];
    let two = h.json(&format!("/lb/v1/zones/fr-par-2/lbs/{}/backends?page_size=1&page=2", api.id)).await;
    assert_eq!((two["total_count"].clone(), two["backends"].as_array().unwrap().len()), (json!(2), 1));

    // 404 in Scaleway's shape for an unknown load balancer, and for a known one asked in another zone.
    let unknown = "00000000-0000-4000-8000-000000000000";
    for (zone, id) in [("fr-par-1", unknown), ("fr-par-1", api.id.as_str())] {
        let response = h.get(&format!("/lb/v1/zones/{zone}/lbs/{id}/backends")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(
            response.text().await.unwrap(),
            format!(r#"{{"message":"resource is not found","resource":"lb","resource_id":"{id}","type":"not_found"}}"#)
        );
    }
    assert_eq!(h.get(&format!("/lb/v1/zones/it-mil-1/lbs/{}/backends", web.id)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        h.get(&format!("/lb/v1/zones/fr-par-1/lbs/{}/backends?order_by=bogus", web.id)).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn databases_have_the_recorded_shape_and_page() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let recorded = fixture("rdb/instances_list.json");
    let first = &recorded["instances"][0];
    let mut seen = Vec::new();
    for region in RDB_REGIONS {
        let (items, envelope) = h.all_b_and_envelope(&format!("/rdb/v1/regions/{region}/instances"), "instances").await;
        assert_eq!(keys(&envelope), keys(&recorded), "{region}: envelope");
        for d in &items {
            assert_eq!(keys(d), keys(first), "{d}");
            for nested in ["backup_schedule", "volume", "logs_policy", "encryption"] {
                assert_eq!(keys(&d[nested]), keys(&first[nested]), "{nested}");
            }
            assert_eq!(keys(&d["endpoints"][0]), keys(&first["endpoints"][0]));
            assert_eq!(keys(&d["endpoints"][0]["private_network"]), keys(&first["endpoints"][0]["private_network"]));
            assert_eq!(keys(&d["settings"][0]), keys(&first["settings"][0]));
            assert_eq!(
                (&d["region"], &d["engine"], &d["status"]),
                (&json!(region), &json!("PostgreSQL-16"), &json!("ready"))
            );
            assert!(d["volume"]["size"].as_u64().unwrap() % 1_000_000_000 == 0);
            let t = d["created_at"].as_str().unwrap();
            assert!(t.ends_with('Z') && t.len() == 27, "{t}");
            seen.push((
                d["name"].as_str().unwrap().to_string(),
                region,
                d["node_type"].as_str().unwrap().to_string(),
                d["is_ha_cluster"].as_bool().unwrap(),
            ));
        }
    }
    seen.sort();
    let seen: Vec<(&str, &str, &str, bool)> =
        seen.iter().map(|(n, r, t, ha)| (n.as_str(), *r, t.as_str(), *ha)).collect();
    assert_eq!(
        seen,
        [
            ("db-archive-2023", "fr-par", "db-dev-m", false),
            ("db-main", "fr-par", "db-pro2-xxs", true),
            ("db-orders", "fr-par", "db-dev-m", false),
            ("db-staging-orphan", "nl-ams", "db-dev-s", false),
        ]
    );
    let path = "/rdb/v1/regions/fr-par/instances";
    let all = h.json(path).await;
    assert_eq!(names(all["instances"].as_array().unwrap()), ["db-archive-2023", "db-main", "db-orders"]);
    let page = h.json(&format!("{path}?page=2&page_size=2")).await;
    assert_eq!(
        (page["total_count"].clone(), names(page["instances"].as_array().unwrap())),
        (json!(3), vec!["db-orders"])
    );
    assert_eq!(h.json(&format!("{path}?page=3&page_size=2")).await["instances"], json!([]));
    let p1 = org.projects[1].id.as_str();
    assert_eq!(names(h.json(&format!("{path}?project_id={p1}")).await["instances"].as_array().unwrap()), ["db-orders"]);
    assert_eq!(names(h.json(&format!("{path}?name=main")).await["instances"].as_array().unwrap()), ["db-main"]);
    assert_eq!(
        names(h.json(&format!("{path}?order_by=name_asc")).await["instances"].as_array().unwrap()),
        ["db-archive-2023", "db-main", "db-orders"]
    );
    assert_eq!(h.get("/rdb/v1/regions/it-mil/instances").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(h.get_with(path, None).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn permissions_and_withdrawn_apis() {
    let h = Harness::start("deny=lb,withdrawn=rdb").await;
    let denied = h.get("/lb/v1/zones/fr-par-1/lbs").await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert_eq!(denied.json::<Value>().await.unwrap()["details"][0]["resource"], "lb");
    assert_eq!(h.get("/rdb/v1/regions/fr-par/instances").await.status(), StatusCode::NOT_FOUND);
    let h = Harness::start("deny=rdb,money_as_strings=true").await;
    let denied = h.get("/rdb/v1/regions/fr-par/instances").await;
    assert_eq!(denied.json::<Value>().await.unwrap()["details"][0]["resource"], "instance");
    assert_eq!(h.json("/lb/v1/zones/fr-par-1/lbs").await["total_count"], "2");
}

// ---------------------------------------------------------------------------------------------------------------
// The databases' metrics, as a collector reads them

impl Harness {
    /// A metrics token's secret and the data plane URL of a project's metrics data source in a region.
    async fn data_plane(&self, region: &str, project: &str) -> (String, String) {
        let body = json!({"project_id": project, "name": "costlake-collector", "token_scopes": ["read_only_metrics"]});
        let response = self
            .http
            .post(format!("{}/cockpit/v1/regions/{region}/tokens", self.sim.base_url()))
            .header("X-Auth-Token", DEFAULT_SECRET_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let secret = response.json::<Value>().await.unwrap()["secret_key"].as_str().unwrap().to_string();
        let sources =
            self.json(&format!("/cockpit/v1/regions/{region}/data-sources?project_id={project}&types=metrics")).await;
        (secret, sources["data_sources"][0]["url"].as_str().unwrap().to_string())
    }

    async fn prom(&self, url: &str, path: &str, secret: &str, query: &[(&str, &str)]) -> Value {
        let response = self
            .http
            .get(format!("{url}/prometheus/api/v1/{path}"))
            .query(query)
            .header("X-Token", secret)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path} {query:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "success");
        body["data"].clone()
    }

    /// The series of one metric of one database over the whole retention, at the sample step, by `mode` (`""`
    /// for the gauge): (timestamp, value) pairs.
    async fn db_series(&self, url: &str, secret: &str, metric: &str, id: &str) -> BTreeMap<String, Vec<(i64, f64)>> {
        let query = format!(r#"{metric}{{resource_id="{id}"}}"#);
        let (start, end) = ((CLOCK - 31 * DAY).to_string(), CLOCK.to_string());
        let data = self
            .prom(url, "query_range", secret, &[("query", &query), ("start", &start), ("end", &end), ("step", "300")])
            .await;
        assert_eq!(data["resultType"], "matrix");
        let mut out = BTreeMap::new();
        for series in data["result"].as_array().unwrap() {
            let mode = series["metric"]["mode"].as_str().unwrap_or("").to_string();
            let points = series["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_i64().unwrap(), p[1].as_str().unwrap().parse::<f64>().unwrap()))
                .collect();
            out.insert(mode, points);
        }
        out
    }
}

/// Per complete UTC day: the highest 5-minute CPU utilisation, `Δ(user + system) / Δ(idle + user + system)`.
fn daily_cpu_peaks(cpu: &BTreeMap<String, Vec<(i64, f64)>>) -> BTreeMap<i64, f64> {
    let (idle, system, user) = (&cpu["idle"], &cpu["system"], &cpu["user"]);
    assert!(idle.len() == system.len() && system.len() == user.len());
    let first_day = idle[0].0.div_euclid(DAY) + 1;
    let last_day = idle.last().unwrap().0.div_euclid(DAY) - 1;
    let mut peaks = BTreeMap::new();
    for i in 1..idle.len() {
        let t = idle[i].0;
        assert_eq!(t - idle[i - 1].0, 300);
        let busy = user[i].1 + system[i].1 - user[i - 1].1 - system[i - 1].1;
        let all = busy + idle[i].1 - idle[i - 1].1;
        let day = (t - 1).div_euclid(DAY);
        if (first_day..=last_day).contains(&day) {
            let peak = peaks.entry(day).or_insert(0.0f64);
            *peak = peak.max(busy / all);
        }
    }
    peaks
}

#[tokio::test]
async fn database_metrics_show_what_the_oracle_says() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let truth = services(h.config());
    let db = |name: &str| org.databases.iter().find(|d| d.name == name).unwrap();
    let (p0, p1) = (org.projects[0].id.as_str(), org.projects[1].id.as_str());

    let (secret, url) = h.data_plane("fr-par", p0).await;
    // Discovery finds the database metrics, and their labels.
    let names =
        h.prom(&url, "label/__name__/values", &secret, &[("match[]", r#"{__name__=~"rdb_instance_.*"}"#)]).await;
    assert_eq!(names, json!([DB_CPU_METRIC, DB_CONNECTIONS_METRIC]));
    let series = h.prom(&url, "series", &secret, &[("match[]", DB_CPU_METRIC)]).await;
    let series = series.as_array().unwrap();
    assert_eq!(series.len(), 2 * 3, "db-main and db-archive-2023, three modes each");
    for s in series {
        assert_eq!(keys(s), ["__name__", "mode", "region", "resource_id", "resource_name"]);
        let d = org.database(s["resource_id"].as_str().unwrap()).unwrap();
        assert_eq!((s["resource_name"].as_str().unwrap(), s["region"].as_str().unwrap()), (d.name.as_str(), "fr-par"));
    }
    let gauges = h.prom(&url, "series", &secret, &[("match[]", DB_CONNECTIONS_METRIC)]).await;
    assert_eq!(keys(&gauges[0]), ["__name__", "region", "resource_id", "resource_name"]);
    let modes = h.prom(&url, "label/mode/values", &secret, &[]).await;
    assert_eq!(modes, json!(["idle", "system", "user"]));

    // db-main: busy every day, with connections.
    let main = db("db-main");
    let peaks = daily_cpu_peaks(&h.db_series(&url, &secret, DB_CPU_METRIC, &main.id).await);
    assert!(peaks.len() >= 29);
    assert!(peaks.values().all(|p| (0.40..=0.70).contains(p)), "{peaks:?}");
    let conns = &h.db_series(&url, &secret, DB_CONNECTIONS_METRIC, &main.id).await[""];
    assert!(conns.iter().all(|(_, c)| *c >= 4.0) && conns.iter().any(|(_, c)| *c >= 30.0));

    // db-archive-2023: never above 8 % CPU, yet one to three connections.
    let archive = db("db-archive-2023");
    let peaks = daily_cpu_peaks(&h.db_series(&url, &secret, DB_CPU_METRIC, &archive.id).await);
    assert!(peaks.len() >= 29);
    assert!(peaks.values().all(|p| *p <= 0.08), "{peaks:?}");
    let conns = &h.db_series(&url, &secret, DB_CONNECTIONS_METRIC, &archive.id).await[""];
    assert_eq!(conns.len() as i64, 31 * DAY / 300 + 1);
    assert!(conns.iter().all(|(_, c)| (1.0..=3.0).contains(c)));

    // db-staging-orphan (nl-ams, project 1): its CPU is not idle, but nobody ever connected.
    let (secret, url) = h.data_plane("nl-ams", p1).await;
    let orphan = db("db-staging-orphan");
    let peaks = daily_cpu_peaks(&h.db_series(&url, &secret, DB_CPU_METRIC, &orphan.id).await);
    assert!(peaks.len() >= 29);
    assert!(peaks.values().all(|p| (0.30..=0.40).contains(p)), "{peaks:?}");
    let conns = &h.db_series(&url, &secret, DB_CONNECTIONS_METRIC, &orphan.id).await[""];
    assert!(!conns.is_empty() && conns.iter().all(|(_, c)| *c == 0.0));

    // The oracle names exactly these two, and the served inventory agrees on the rest.
    let idle: Vec<(&str, &str)> = truth.idle_databases.iter().map(|s| (s.name.as_str(), s.reason)).collect();
    assert_eq!(idle, [("db-archive-2023", "low_cpu"), ("db-staging-orphan", "no_connection")]);
    assert_eq!(truth.idle_databases[0].resource_id, archive.id);
    assert!(truth.healthy.contains(&main.id));

    // The 11,000-point limit holds for the database series too.
    let query = format!(r#"{DB_CPU_METRIC}{{resource_id="{}"}}"#, orphan.id);
    let response = h
        .http
        .get(format!("{url}/prometheus/api/v1/query_range"))
        .query(&[("query", query.as_str()), ("start", "0"), ("end", "3300000"), ("step", "300")])
        .header("X-Token", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["errorType"], "bad_data");
}

#[tokio::test]
async fn idle_load_balancers_are_served_as_the_oracle_says() {
    let h = Harness::start("").await;
    let truth = services(h.config());
    let mut served: BTreeMap<String, (Value, Vec<Value>)> = BTreeMap::new();
    for zone in LB_ZONES {
        for lb in h.all_b(&format!("/lb/v1/zones/{zone}/lbs"), "lbs").await {
            let id = lb["id"].as_str().unwrap().to_string();
            let backends = h.all_b(&format!("/lb/v1/zones/{zone}/lbs/{id}/backends"), "backends").await;
            served.insert(id, (lb, backends));
        }
    }
    assert_eq!(served.len(), truth.idle_load_balancers.len() + 2);
    for s in &truth.idle_load_balancers {
        let (lb, backends) = &served[&s.resource_id];
        assert_eq!((lb["name"].as_str().unwrap(), lb["zone"].as_str().unwrap()), (s.name.as_str(), s.zone.as_str()));
        assert_eq!(lb["project_id"], s.project_id.as_str());
        assert_eq!(lb["created_at"].as_str().unwrap()[..10], s.since.to_string());
        match s.reason {
            "no_backend" => assert!(backends.is_empty() && lb["backend_count"] == 0),
            "empty_pools" => {
                assert!(!backends.is_empty());
                assert!(backends.iter().all(|b| b["pool"] == json!([])));
            }
            other => panic!("{other}"),
        }
    }
    for id in truth.healthy.iter().filter(|id| served.contains_key(*id)) {
        let (lb, backends) = &served[id];
        assert!(!backends.is_empty(), "{}", lb["name"]);
        assert!(backends.iter().all(|b| !b["pool"].as_array().unwrap().is_empty()), "{}", lb["name"]);
    }
    let costs: Vec<String> = truth.idle_load_balancers.iter().map(|s| s.monthly_cost.to_string()).collect();
    assert_eq!(costs, ["9.052", "63.802"]);
}

/// A load balancer, a Kapsule cluster and a scaling group each answer their own GET as their list shows them;
/// `vanished` deletes one of each once listed: still listed, its GET and every list under it answer 404.
#[tokio::test]
async fn each_resource_answers_its_get_until_vanished_deletes_it() {
    let organization = organization(&common::config(""));
    let lb = organization.load_balancers.iter().find(|l| !l.backends.is_empty()).unwrap();
    let cluster = &organization.kapsule_clusters[0];
    let group = &organization.scaling_groups[0];
    let region = &cluster.region;
    let get_lb = format!("/lb/v1/zones/{}/lbs/{}", lb.zone, lb.id);
    let get_cluster = format!("/k8s/v1/regions/{region}/clusters/{}", cluster.id);
    let get_group = format!("/autoscaling/v1alpha1/zones/{}/instance-groups/{}", group.zone, group.id);
    let under = [
        format!("{get_lb}/backends"),
        format!("{get_cluster}/pools"),
        format!("{get_cluster}/nodes"),
        format!("{get_group}/events"),
        format!("/autoscaling/v1alpha2/zones/{}/servers?group_id={}", group.zone, group.id),
        format!("/autoscaling/v1alpha2/zones/{}/groups/{}", group.zone, group.id),
    ];

    let h = Harness::start("").await;
    let listed = |body: Value, key: &str, id: &str| {
        body[key].as_array().unwrap().iter().find(|i| i["id"] == id).cloned().unwrap()
    };
    let lbs = h.json(&format!("/lb/v1/zones/{}/lbs", lb.zone)).await;
    assert_eq!(h.json(&get_lb).await, listed(lbs, "lbs", &lb.id));
    let clusters = h.json(&format!("/k8s/v1/regions/{region}/clusters")).await;
    assert_eq!(h.json(&get_cluster).await, listed(clusters, "clusters", &cluster.id));
    let groups = h.json(&format!("/autoscaling/v1alpha1/zones/{}/instance-groups", group.zone)).await;
    assert_eq!(h.json(&get_group).await, listed(groups, "instance_groups", &group.id));
    for path in &under {
        assert_eq!(h.get(path).await.status(), StatusCode::OK, "{path}");
    }
    let elsewhere =
        format!("/lb/v1/zones/{}/lbs/{}", if lb.zone == "fr-par-1" { "nl-ams-1" } else { "fr-par-1" }, lb.id);
    assert_eq!(h.get(&elsewhere).await.status(), StatusCode::NOT_FOUND);

    let h = Harness::start("vanished=lb+k8s+autoscaling").await;
    assert_eq!(h.sim.vanished(), [lb.id.clone(), cluster.id.clone(), group.id.clone()]);
    let lbs = h.json(&format!("/lb/v1/zones/{}/lbs", lb.zone)).await;
    assert!(lbs["lbs"].as_array().unwrap().iter().any(|l| l["id"] == lb.id.as_str()), "still listed");
    for path in [&get_lb, &get_cluster, &get_group].into_iter().chain(&under) {
        let response = h.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap()["type"], "not_found", "{path}");
    }
    let refused = common::config("").with_knobs("vanished=rdb").unwrap_err();
    assert!(refused.contains("lb | k8s | autoscaling"), "{refused}");
}
