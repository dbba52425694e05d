//! End-to-end checks of the simulator over real HTTP on 127.0.0.1.

use costlake_simulator::{SimConfig, SimStats, Simulator, planted};
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Harness, client, config, fixture};

impl Harness {
    /// Every item of a scheme-A (Instance) list.
    async fn all_a(&self, path: &str, key: &str) -> Vec<Value> {
        let mut items = Vec::new();
        for page in 1.. {
            let response = self.get(&format!("{path}?page={page}&per_page=100")).await;
            let total: usize = response.headers()["x-total-count"].to_str().unwrap().parse().unwrap();
            let body: Value = response.json().await.unwrap();
            let batch = body[key].as_array().unwrap().clone();
            let empty = batch.is_empty();
            items.extend(batch);
            if items.len() >= total || empty {
                break;
            }
        }
        items
    }
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// Top-level keys, ignoring the deliberate unknown field of the schema-drift edge cases.
fn keys_without_drift(v: &Value) -> Vec<String> {
    keys(v).into_iter().filter(|k| k != "future_field").collect()
}

#[tokio::test]
async fn same_config_serves_byte_identical_bodies() {
    let a = Harness::start("servers=30").await;
    let b = Harness::start("servers=30").await;
    let paths = [
        "/account/v3/projects",
        "/instance/v1/zones/fr-par-1/servers",
        "/instance/v1/zones/fr-par-1/ips",
        "/instance/v1/zones/fr-par-1/volumes",
        "/instance/v1/zones/fr-par-1/snapshots",
        "/instance/v1/zones/fr-par-2/products/servers",
        "/block/v1/zones/fr-par-1/volumes?page_size=100",
        "/block/v1/zones/fr-par-1/snapshots",
        "/block/v1/zones/nl-ams-1/volume-types",
        "/product-catalog/v2alpha1/public-catalog/products?page_size=100",
    ];
    for path in paths {
        let (ra, rb) = (a.get(path).await, b.get(path).await);
        assert_eq!(ra.status(), StatusCode::OK, "{path}");
        assert_eq!(ra.headers().get("link"), rb.headers().get("link"), "{path}");
        assert_eq!(ra.bytes().await.unwrap(), rb.bytes().await.unwrap(), "{path}");
    }
    let other = Harness::start("servers=30,seed=7").await;
    let path = "/instance/v1/zones/fr-par-1/servers";
    assert_ne!(a.get(path).await.bytes().await.unwrap(), other.get(path).await.bytes().await.unwrap());
}

#[tokio::test]
async fn instance_lists_paginate_with_headers() {
    let h = Harness::start("servers=200").await;
    // 120 healthy servers + the stopped ghost + the hibernating edge case + the 6 planted utilisation servers, then
    // the 9 Kapsule nodes and 6 scaling groups' members of the zone.
    let total = 143;
    let page = |n: usize| format!("/instance/v1/zones/fr-par-1/servers?page={n}");

    let p1 = h.get(&page(1)).await;
    assert_eq!(p1.headers()["x-total-count"], total.to_string().as_str());
    assert_eq!(
        p1.headers()["link"],
        r#"</servers?page=2&per_page=50&>; rel="next",</servers?page=3&per_page=50&>; rel="last""#
    );
    let body1: Value = p1.json().await.unwrap();
    assert!(body1.get("total_count").is_none(), "scheme A has no total_count in the body");
    assert_eq!(body1["servers"].as_array().unwrap().len(), 50);

    let p2 = h.get(&page(2)).await;
    assert_eq!(
        p2.headers()["link"],
        concat!(
            r#"</servers?page=1&per_page=50&>; rel="first",</servers?page=1&per_page=50&>; rel="previous","#,
            r#"</servers?page=3&per_page=50&>; rel="next",</servers?page=3&per_page=50&>; rel="last""#
        )
    );

    let p3 = h.get(&page(3)).await;
    assert_eq!(
        p3.headers()["link"],
        concat!(
            r#"</servers?page=1&per_page=50&>; rel="first",</servers?page=2&per_page=50&>; rel="previous","#,
            r#"</servers?page=3&per_page=50&>; rel="last""#
        )
    );
    let body3: Value = p3.json().await.unwrap();
    assert_eq!(body3["servers"].as_array().unwrap().len(), total - 100);

    // Other query parameters are echoed after `per_page=N&`, as recorded.
    let ordered = h.get("/instance/v1/zones/fr-par-1/servers?order=creation_date_desc&per_page=100").await;
    assert_eq!(
        ordered.headers()["link"],
        r#"</servers?page=2&per_page=100&order=creation_date_desc>; rel="next",</servers?page=2&per_page=100&order=creation_date_desc>; rel="last""#
    );

    let all = h.all_a("/instance/v1/zones/fr-par-1/servers", "servers").await;
    let ids: std::collections::HashSet<_> = all.iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), total);
    // Default order is creation_date_desc.
    let dates: Vec<&str> = all.iter().map(|s| s["creation_date"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]));

    // The map of products/servers is paginated the same way, over its sorted keys.
    let products = h.get("/instance/v1/zones/fr-par-1/products/servers?per_page=3&page=2").await;
    assert_eq!(products.headers()["x-total-count"], "8");
    let body: Value = products.json().await.unwrap();
    assert_eq!(keys(&body["servers"]), ["GP1-XS", "PLAY2-PICO", "POP2-2C-8G"]);
}

#[tokio::test]
async fn scheme_b_lists_count_and_end_with_an_empty_page() {
    let h = Harness::start("").await;
    // 36 healthy server volumes + the stopped ghost's + the hibernating one's + "old-data" + the 6 planted
    // utilisation servers' boot volumes.
    let body = h.json("/block/v1/zones/fr-par-1/volumes?page_size=10&page=5").await;
    assert_eq!(body["total_count"], 45);
    assert_eq!(body["volumes"].as_array().unwrap().len(), 5);
    let past = h.json("/block/v1/zones/fr-par-1/volumes?page_size=10&page=6").await;
    assert_eq!(past["total_count"], 45);
    assert_eq!(past["volumes"].as_array().unwrap().len(), 0);

    // Default page size is 20.
    let default = h.json("/block/v1/zones/fr-par-1/volumes").await;
    assert_eq!(default["volumes"].as_array().unwrap().len(), 20);

    let projects = h.json("/account/v3/projects").await;
    assert_eq!(projects["total_count"], 3);
    let names: Vec<&str> =
        projects["projects"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default", "web-shop", "data-platform"]);
    let org = h.sim.config().organization_id.clone();
    assert_eq!(projects["projects"][0]["id"], org.as_str());
    assert_eq!(projects["projects"][0]["organization_id"], org.as_str());

    // Filters.
    let other_org = h.json("/account/v3/projects?organization_id=00000000-0000-4000-8000-000000000000").await;
    assert_eq!(other_org["total_count"], 0);
    let p1 = projects["projects"][1]["id"].as_str().unwrap();
    let in_p1 = h.all_b(&format!("/block/v1/zones/fr-par-1/volumes?project_id={p1}"), "volumes").await;
    assert!(!in_p1.is_empty() && in_p1.iter().all(|v| v["project_id"] == p1));
    let servers = h.all_a(&format!("/instance/v1/zones/fr-par-1/servers?project={p1}"), "servers").await;
    assert!(servers.iter().all(|s| s["project"] == p1));

    let types = h.json("/block/v1/zones/fr-par-1/volume-types").await;
    assert_eq!(
        types.to_string(),
        concat!(
            r#"{"volume_types":[{"type":"sbs_5k","pricing":{"currency_code":"EUR","units":0,"nanos":118000},"#,
            r#""snapshot_pricing":{"currency_code":"EUR","units":0,"nanos":49000},"specs":{"perf_iops":5000,"class":"sbs"}},"#,
            r#"{"type":"sbs_15k","pricing":{"currency_code":"EUR","units":0,"nanos":151000},"#,
            r#""snapshot_pricing":{"currency_code":"EUR","units":0,"nanos":49000},"specs":{"perf_iops":15000,"class":"sbs"}}],"#,
            r#""total_count":2}"#
        )
    );
}

#[tokio::test]
async fn authentication_permissions_and_errors() {
    let h = Harness::start("deny=block").await;
    let expected_401 = fixture("errors/401_denied_authentication.json")["body"].clone();
    for key in [Some("00000000-0000-4000-8000-000000000000"), None] {
        let response = h.get_with("/instance/v1/zones/fr-par-1/servers", key).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = response.text().await.unwrap();
        assert_eq!(body, serde_json::to_string(&expected_401).unwrap());
    }
    // Price lists are public.
    assert_eq!(h.get_with("/instance/v1/zones/fr-par-1/products/servers", None).await.status(), StatusCode::OK);
    let catalog = h.get_with("/product-catalog/v2alpha1/public-catalog/products", None).await;
    assert_eq!(catalog.status(), StatusCode::OK);

    let denied = h.get("/block/v1/zones/fr-par-1/snapshots").await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let body: Value = denied.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"details":[{"action":"read","resource":"snapshot"}],"message":"insufficient permissions","type":"permissions_denied"})
    );
    assert_eq!(h.get("/account/v3/projects").await.status(), StatusCode::OK);

    let unknown_zone = h.get("/instance/v1/zones/xx-yyy-9/servers").await;
    assert_eq!(unknown_zone.status(), StatusCode::NOT_FOUND);
    let body: Value = unknown_zone.json().await.unwrap();
    assert_eq!(body["type"], "unknown_resource");

    let bad_page = h.get("/instance/v1/zones/fr-par-1/servers?page=0").await;
    assert_eq!(bad_page.status(), StatusCode::BAD_REQUEST);
    let body: Value = bad_page.json().await.unwrap();
    assert_eq!(body["type"], "invalid_arguments");
    assert_eq!(body["message"], "invalid argument(s)");
    assert!(body["fields"]["page"].is_array());
    assert_eq!(h.get("/account/v3/projects?page_size=1000").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(h.get("/account/v3/projects?order_by=sideways").await.status(), StatusCode::BAD_REQUEST);

    // Billing v2 (budgets) is not simulated.
    let missing = h.get("/billing/v2/budgets").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"message": "resource is not found", "type": "not_found"}));

    assert_eq!(
        h.sim.stats(),
        SimStats {
            requests: 11,
            ok: 3,
            rate_limited: 0,
            server_errors: 0,
            unauthorized: 2,
            forbidden: 1,
            query_range_most_in_flight: 0
        }
    );
}

#[tokio::test]
async fn burst_429_then_success() {
    let h = Harness::start("burst_429=2").await;
    let path = "/block/v1/zones/pl-waw-3/snapshots?page=1";
    for _ in 0..2 {
        let response = h.get(path).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let headers = response.headers().clone();
        assert_eq!(headers["x-envoy-ratelimited"], "true");
        assert_eq!(headers["server"], "Scaleway API Gateway (fr-par-3;edge01)");
        let request_id = headers["x-request-id"].to_str().unwrap();
        assert_eq!(request_id.len(), 36);
        assert!(headers.get("content-type").is_none());
        assert!(headers.get("retry-after").is_none());
        assert!(response.bytes().await.unwrap().is_empty());
    }
    assert_eq!(h.get(path).await.status(), StatusCode::OK);
    // A different URL has its own burst; unauthenticated price lists too.
    assert_eq!(h.get("/block/v1/zones/pl-waw-3/snapshots?page=2").await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        h.get_with("/instance/v1/zones/fr-par-1/products/servers", None).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let stats = h.sim.stats();
    assert_eq!((stats.requests, stats.rate_limited, stats.ok), (5, 4, 1));
}

#[tokio::test]
async fn random_faults_are_reproducible() {
    let run = || async {
        let h = Harness::start("rate_429=0.3,rate_5xx=0.2,seed=3").await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            let response = h.get("/account/v3/projects").await;
            if response.status() == StatusCode::SERVICE_UNAVAILABLE {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body, serde_json::json!({"message": "service unavailable", "type": "internal_error"}));
                statuses.push(503);
            } else {
                statuses.push(response.status().as_u16());
            }
        }
        (statuses, h.sim.stats())
    };
    let (first, stats) = run().await;
    assert_eq!(first, run().await.0);
    assert!(first.contains(&429) && first.contains(&503) && first.contains(&200), "{first:?}");
    assert_eq!(stats.rate_limited + stats.server_errors + stats.ok, 40);
}

#[tokio::test]
async fn malformed_modes() {
    let h = Harness::start("malformed=instance-servers").await;
    let body = h.json("/instance/v1/zones/fr-par-1/servers").await;
    assert_eq!(body["servers"][1]["creation_date"], "yesterday");
    assert_ne!(body["servers"][0]["creation_date"], "yesterday");
    let other_zone = h.json("/instance/v1/zones/fr-par-2/servers").await;
    assert_ne!(other_zone["servers"][1]["creation_date"], "yesterday");

    let h = Harness::start("malformed=block-volumes").await;
    let response = h.get("/block/v1/zones/fr-par-1/volumes").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    assert!(text.starts_with("{\"total_count\":"));
    assert!(serde_json::from_str::<Value>(&text).is_err(), "truncated body must not parse");
    // 44 volumes in fr-par-1: page 2 is full.
    assert_eq!(h.json("/block/v1/zones/fr-par-1/volumes?page=2").await["volumes"].as_array().unwrap().len(), 20);

    let h = Harness::start("malformed=projects").await;
    let body = h.json("/account/v3/projects").await;
    assert_eq!(body, serde_json::json!({"total_count": 3, "projects": "oops"}));
}

#[tokio::test]
async fn money_as_strings() {
    let h = Harness::start("money_as_strings=true").await;
    let types = h.json("/block/v1/zones/fr-par-1/volume-types").await;
    assert_eq!(types["total_count"], "2");
    assert_eq!(
        types["volume_types"][0]["pricing"],
        serde_json::json!({"currency_code": "EUR", "units": "0", "nanos": "118000"})
    );
    let catalog =
        h.json("/product-catalog/v2alpha1/public-catalog/products?product_types=instance&zone=fr-par-1").await;
    assert_eq!(catalog["total_count"], "8");
    assert_eq!(catalog["products"][0]["price"]["retail_price"]["nanos"], "8800000");
    assert_eq!(h.json("/account/v3/projects").await["total_count"], "3");
    // Sizes and Instance prices stay numbers.
    let products = h.json("/instance/v1/zones/fr-par-1/products/servers").await;
    assert_eq!(products["servers"]["DEV1-M"]["hourly_price"].to_string(), "0.0198");
}

#[tokio::test]
async fn catalog_filters_and_prices() {
    let h = Harness::start("").await;
    let all = h.all_b("/product-catalog/v2alpha1/public-catalog/products", "products").await;
    // 8 types and 2 IPs in 10 zones, 3 Load Balancer offers in 8 zones, 3 database node types in 3 regions.
    assert_eq!(all.len(), 100 + 24 + 9);
    let instance =
        h.json("/product-catalog/v2alpha1/public-catalog/products?product_types=instance&page_size=100").await;
    assert_eq!(instance["total_count"], 80);
    assert!(instance["products"].as_array().unwrap().iter().all(|p| p["product_category"] == "Instance"));
    let zone = h.json("/product-catalog/v2alpha1/public-catalog/products?zone=nl-ams-1").await;
    assert_eq!(zone["total_count"], 10 + 3);
    let lbs =
        h.json("/product-catalog/v2alpha1/public-catalog/products?product_types=load_balancer&zone=fr-par-1").await;
    let skus: Vec<&str> = lbs["products"].as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap()).collect();
    assert_eq!(
        skus,
        [
            "/network/loadbalancer/lb-s/run_fr-par-1",
            "/network/loadbalancer/lb-gp-m/run_fr-par-1",
            "/network/loadbalancer/lb-gp-l/run_fr-par-1"
        ]
    );
    assert_eq!(lbs["products"][0]["product"], "LB-S");
    assert_eq!(lbs["products"][1]["price"]["retail_price"]["nanos"], 87_400_000);
    let dbs = h
        .json(
            "/product-catalog/v2alpha1/public-catalog/products?product_types=managed_relational_database&region=nl-ams",
        )
        .await;
    assert_eq!(dbs["total_count"], 3);
    for p in dbs["products"].as_array().unwrap() {
        assert_eq!(
            (&p["product_category"], &p["locality"]),
            (&json!("Managed Database"), &json!({"region": "nl-ams"}))
        );
        assert_eq!(p["unit_of_measure"], json!({"unit": "hour", "size": 1}));
    }
    // A zone selects zoned products only; a region selects the zoned and the regional ones.
    let region = h.json("/product-catalog/v2alpha1/public-catalog/products?region=pl-waw&page_size=100").await;
    assert_eq!(region["total_count"], 3 * 10 + 3 * 3 + 3);
    let ip = all.iter().find(|p| p["sku"] == "/network/flexip/ip/run_fr-par-1").unwrap();
    assert_eq!(ip["price"]["retail_price"], serde_json::json!({"currency_code": "EUR", "units": 0, "nanos": 4000000}));
    assert_eq!(ip["unit_of_measure"], serde_json::json!({"unit": "hour", "size": 1}));
    assert!(
        all.iter().any(|p| p["sku"] == "/network/flexip/ipv6/run_it-mil-1" && p["price"]["retail_price"]["nanos"] == 0)
    );
    let pro2s = all.iter().find(|p| p["sku"] == "/compute/pro2_s/run_fr-par-2").unwrap();
    assert_eq!(pro2s["price"]["retail_price"]["nanos"], 219000000);

    let types = h.json("/instance/v1/zones/it-mil-1/products/servers").await;
    assert_eq!(types["servers"]["PRO2-S"]["hourly_price"].to_string(), "0.219");
    assert_eq!(types["servers"]["PRO2-S"]["monthly_price"].to_string(), "159.87");
    assert_eq!(h.get("/block/v1/zones/it-mil-1/volumes").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn served_objects_have_the_recorded_shapes() {
    let h = Harness::start("").await;
    let zone = "/instance/v1/zones/fr-par-1";
    let cases: [(&str, &str, &str, Value); 8] = [
        (
            "servers",
            "instance/servers_list_fr-par-1.json",
            "servers",
            h.json(&format!("{zone}/servers?per_page=100")).await,
        ),
        ("ips", "instance/ips_list_with_orphan.json", "ips", h.json(&format!("{zone}/ips?per_page=100")).await),
        ("volumes", "instance/volumes_list_unattached.json", "volumes", h.json(&format!("{zone}/volumes")).await),
        ("snapshots", "instance/snapshots_list.json", "snapshots", h.json(&format!("{zone}/snapshots")).await),
        (
            "block volumes",
            "block/v1_volumes_list.json",
            "volumes",
            h.json("/block/v1/zones/fr-par-1/volumes?page_size=100").await,
        ),
        (
            "block snapshots",
            "block/v1_snapshots_list.json",
            "snapshots",
            h.json("/block/v1/zones/fr-par-1/snapshots?page_size=100").await,
        ),
        ("projects", "account/projects_list.json", "projects", h.json("/account/v3/projects").await),
        (
            "catalog",
            "product_catalog/public_catalog_products_instance_page1.json",
            "products",
            h.json("/product-catalog/v2alpha1/public-catalog/products?product_types=instance&page_size=100").await,
        ),
    ];
    for (what, file, key, served) in cases {
        let recorded = fixture(file);
        let expected = keys(&recorded[key][0]);
        let items = served[key].as_array().unwrap();
        assert!(!items.is_empty(), "{what}: nothing served");
        for item in items {
            assert_eq!(keys_without_drift(item), expected, "{what}: {item}");
        }
        assert_eq!(keys(&served), keys(&recorded), "{what}: envelope");
    }

    // The SBS entries inside a server are reduced, like the recorded ones; local volumes are complete.
    let recorded_sbs = fixture("instance/servers_list_fr-par-1.json")["servers"][0]["volumes"]["0"].clone();
    let servers = h.json(&format!("{zone}/servers?per_page=100")).await;
    let mut local_seen = false;
    for server in servers["servers"].as_array().unwrap() {
        for volume in server["volumes"].as_object().unwrap().values() {
            if volume["volume_type"] == "sbs_volume" {
                assert_eq!(keys(volume), keys(&recorded_sbs));
            } else {
                local_seen = true;
                assert_eq!(volume["server"]["id"], server["id"]);
                let recorded_local =
                    fixture("instance/servers_list_fr-par-2.json")["servers"][0]["volumes"]["1"].clone();
                assert_eq!(keys(volume), keys(&recorded_local));
            }
        }
        let created = server["creation_date"].as_str().unwrap();
        assert!(created.ends_with("+00:00") && created.len() == 32, "{created}");
    }
    assert!(local_seen);
    let recorded_type = fixture("instance/products_servers_page1.json")["servers"]["DEV1-S"].clone();
    let types = h.json(&format!("{zone}/products/servers")).await;
    for (name, t) in types["servers"].as_object().unwrap() {
        assert_eq!(keys(t), keys(&recorded_type), "{name}");
    }
    let volumes = h.json("/block/v1/zones/fr-par-1/volumes").await;
    let created = volumes["volumes"][0]["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 27, "{created}");
    // The schema-drift edge cases are present.
    assert!(
        servers["servers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["state"] == "hibernating" && s["future_field"]["x"] == 1)
    );
}

#[tokio::test]
async fn planted_ghosts_are_served_as_described() {
    let config = config("");
    let h = Harness { sim: Simulator::start(config.clone(), None).await.unwrap(), http: client() };
    let ghosts = planted(&config);
    assert_eq!(ghosts.len(), 11);
    for ghost in &ghosts {
        let zone = &ghost.zone;
        let (item, state_key) = match ghost.kind {
            "stopped_server" => (
                find(&h.all_a(&format!("/instance/v1/zones/{zone}/servers"), "servers").await, &ghost.resource_id),
                "state",
            ),
            "orphaned_ip" => {
                let ip = find(&h.all_a(&format!("/instance/v1/zones/{zone}/ips"), "ips").await, &ghost.resource_id);
                assert!(ip["server"].is_null());
                assert_eq!(ip["address"], ghost.name.as_str());
                (ip, "state")
            }
            "unattached_volume" if ghost.monthly_cost.is_none() => {
                let v =
                    find(&h.all_a(&format!("/instance/v1/zones/{zone}/volumes"), "volumes").await, &ghost.resource_id);
                assert!(v["server"].is_null());
                (v, "state")
            }
            "unattached_volume" => {
                let v = find(&h.all_b(&format!("/block/v1/zones/{zone}/volumes"), "volumes").await, &ghost.resource_id);
                assert_eq!(v["references"], serde_json::json!([]));
                (v, "status")
            }
            "orphaned_snapshot" if ghost.monthly_cost.is_none() => (
                find(&h.all_a(&format!("/instance/v1/zones/{zone}/snapshots"), "snapshots").await, &ghost.resource_id),
                "state",
            ),
            _ => {
                let s =
                    find(&h.all_b(&format!("/block/v1/zones/{zone}/snapshots"), "snapshots").await, &ghost.resource_id);
                assert_eq!(s["parent_volume"].is_null(), ghost.kind == "orphaned_snapshot", "{}", ghost.name);
                (s, "status")
            }
        };
        assert_eq!(item[state_key], ghost.state.as_str(), "{}", ghost.name);
        if ghost.kind != "orphaned_ip" {
            assert_eq!(item["name"], ghost.name.as_str());
        }
        let project_key = if item.get("project_id").is_some() { "project_id" } else { "project" };
        assert_eq!(item[project_key], ghost.project_id.as_str(), "{}", ghost.name);
    }
    // Healthy population: exactly `servers` running servers, the 6 planted utilisation ones, the 11 Kapsule nodes
    // and the 8 scaling groups' members.
    let mut running = 0;
    for zone in ["fr-par-1", "fr-par-2", "nl-ams-1"] {
        let servers = h.all_a(&format!("/instance/v1/zones/{zone}/servers"), "servers").await;
        running += servers.iter().filter(|s| s["state"] == "running").count();
    }
    assert_eq!(running, 85);
}

fn find(items: &[Value], id: &str) -> Value {
    items.iter().find(|i| i["id"] == id).cloned().unwrap_or_else(|| panic!("{id} not served"))
}

#[tokio::test]
async fn latency_covers_every_answer() {
    let h = Harness::start("latency_ms=60").await;
    // An answer (a list, an error, a refused key) leaves no sooner than the latency after its request.
    for (path, status) in
        [("/account/v3/projects", StatusCode::OK), ("/instance/v1/zones/fr-par-1/nowhere", StatusCode::NOT_FOUND)]
    {
        let started = std::time::Instant::now();
        assert_eq!(h.get(path).await.status(), status, "{path}");
        assert!(started.elapsed() >= std::time::Duration::from_millis(60), "{path}: {:?}", started.elapsed());
    }
    let started = std::time::Instant::now();
    let refused = client().get(format!("{}/account/v3/projects", h.sim.base_url())).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(started.elapsed() >= std::time::Duration::from_millis(60), "{:?}", started.elapsed());
}

#[tokio::test]
async fn shutdown_is_prompt_with_pooled_connections() {
    let h = Harness::start("latency_ms=5").await;
    let base = h.sim.base_url();
    // Leaves a keep-alive connection in the client's pool.
    assert_eq!(h.get("/account/v3/projects").await.status(), StatusCode::OK);
    assert_eq!(h.sim.stats().ok, 1);
    let started = std::time::Instant::now();
    h.sim.shutdown().await;
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "{:?}", started.elapsed());
    let fresh = client();
    assert!(fresh.get(format!("{base}/account/v3/projects")).send().await.is_err());
}

#[tokio::test]
async fn rejects_invalid_configurations() {
    let bad = SimConfig { projects: 1, ..SimConfig::default() };
    let err = Simulator::start(bad, None).await.err().unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
