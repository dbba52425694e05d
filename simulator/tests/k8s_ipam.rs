//! The Kubernetes Kapsule and IPAM APIs over real HTTP on 127.0.0.1, the Kapsule nodes' Cockpit series, and the
//! Kapsule oracle checked against what is served, as a collector would see it.

use std::collections::{BTreeMap, HashMap};

use costlake_simulator::{
    CPU_METRIC, DEFAULT_SECRET_KEY, IPAM_REGIONS, K8S_REGIONS, VCPU_METRIC, kapsule, organization,
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

fn list<'a>(body: &'a Value, key: &str) -> &'a [Value] {
    body[key].as_array().unwrap_or_else(|| panic!("no {key} in {body}"))
}

#[tokio::test]
async fn clusters_pools_and_nodes_have_the_recorded_shapes() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let truth = kapsule(h.config());
    let (clusters_rec, pools_rec, nodes_rec) =
        (fixture("k8s/clusters_list.json"), fixture("k8s/pools_list.json"), fixture("k8s/nodes_list.json"));
    let (cluster_rec, pool_rec, node_rec) =
        (&clusters_rec["clusters"][0], &pools_rec["pools"][0], &nodes_rec["nodes"][0]);

    let mut seen = Vec::new();
    for region in K8S_REGIONS {
        let (clusters, envelope) =
            h.all_b_and_envelope(&format!("/k8s/v1/regions/{region}/clusters"), "clusters").await;
        assert_eq!(keys(&envelope), keys(&clusters_rec), "{region}: envelope");
        for c in &clusters {
            assert_eq!(keys(c), keys(cluster_rec), "{c}");
            for nested in ["autoscaler_config", "auto_upgrade", "open_id_connect_config"] {
                assert_eq!(keys(&c[nested]), keys(&cluster_rec[nested]), "{nested}");
            }
            assert_eq!((&c["region"], &c["type"], &c["status"]), (&json!(region), &json!("kapsule"), &json!("ready")));
            assert_eq!(c["organization_id"], org.id.as_str());
            let id = c["id"].as_str().unwrap();
            assert_eq!(c["cluster_url"], format!("https://{id}.api.k8s.{region}.scw.cloud:6443"));
            for at in ["created_at", "updated_at", "commitment_ends_at"] {
                let t = c[at].as_str().unwrap();
                assert!(t.ends_with('Z') && t.len() == 27, "{t}");
            }

            let (pools, envelope) =
                h.all_b_and_envelope(&format!("/k8s/v1/regions/{region}/clusters/{id}/pools"), "pools").await;
            assert_eq!(keys(&envelope), keys(&pools_rec));
            for p in &pools {
                assert_eq!(keys(p), keys(pool_rec), "{p}");
                assert_eq!(keys(&p["upgrade_policy"]), keys(&pool_rec["upgrade_policy"]));
                assert_eq!((&p["cluster_id"], &p["region"], &p["version"]), (&c["id"], &c["region"], &c["version"]));
            }
            let (nodes, envelope) =
                h.all_b_and_envelope(&format!("/k8s/v1/regions/{region}/clusters/{id}/nodes"), "nodes").await;
            assert_eq!(keys(&envelope), keys(&nodes_rec));
            for n in &nodes {
                assert_eq!(keys(n), keys(node_rec), "{n}");
                assert_eq!(keys(&n["conditions"]), keys(&node_rec["conditions"]));
                assert_eq!((&n["cluster_id"], &n["status"]), (&c["id"], &json!("ready")));
                let pool = pools.iter().find(|p| p["id"] == n["pool_id"]).expect("the node's pool is listed");
                // The name: scw-{cluster}-{pool}-{first 10 hex digits of the node id}.
                let hex: String = n["id"].as_str().unwrap().replace('-', "")[..10].to_string();
                assert_eq!(
                    n["name"],
                    format!("scw-{}-{}-{hex}", c["name"].as_str().unwrap(), pool["name"].as_str().unwrap())
                );
                // The provider id names the node's Instance, in the pool's zone; the oracle lists the same Instance.
                let provider = n["provider_id"].as_str().unwrap();
                let zone = pool["zone"].as_str().unwrap();
                let instance = provider.strip_prefix(&format!("scaleway://instance/{zone}/")).unwrap();
                let judged = truth.pool(pool["name"].as_str().unwrap()).unwrap();
                assert!(judged.node_ids.iter().any(|i| i == instance), "{provider}");
                assert_eq!(n["created_at"], pool["created_at"]);
            }
            let sizes: u64 = pools.iter().map(|p| p["size"].as_u64().unwrap()).sum();
            assert_eq!(nodes.len() as u64, sizes, "one node per unit of size");
            for p in &pools {
                seen.push((
                    c["name"].as_str().unwrap().to_string(),
                    p["name"].as_str().unwrap().to_string(),
                    p["node_type"].as_str().unwrap().to_string(),
                    p["zone"].as_str().unwrap().to_string(),
                    (p["size"].clone(), p["min_size"].clone(), p["max_size"].clone(), p["autoscaling"].clone()),
                ));
            }
        }
    }
    let row = |c: &str, p: &str, t: &str, z: &str, bounds: (u32, u32, u32, bool)| {
        (
            c.to_string(),
            p.to_string(),
            t.to_string(),
            z.to_string(),
            (json!(bounds.0), json!(bounds.1), json!(bounds.2), json!(bounds.3)),
        )
    };
    assert_eq!(
        seen,
        [
            row("prod-k8s", "default", "gp1_xs", "fr-par-1", (3, 3, 6, true)),
            row("prod-k8s", "batch", "pro2_s", "fr-par-1", (4, 4, 8, true)),
            row("prod-k8s", "ci", "dev1_m", "fr-par-1", (2, 2, 2, false)),
            row("staging-k8s", "staging", "gp1_xs", "nl-ams-1", (2, 2, 2, false)),
        ]
    );
    // Each node's Instance is served by the Instance API, running, with its pool's type.
    for pool in &truth.pools {
        let servers = h.json(&format!("/instance/v1/zones/{}/servers?per_page=100", pool.zone)).await;
        let served: HashMap<&str, &Value> =
            list(&servers, "servers").iter().map(|s| (s["id"].as_str().unwrap(), s)).collect();
        for id in &pool.node_ids {
            let instance = served.get(id.as_str()).unwrap_or_else(|| panic!("node {id} is not served"));
            assert_eq!(instance["commercial_type"], pool.commercial_type.as_str());
            assert_eq!((&instance["state"], &instance["project"]), (&json!("running"), &json!(pool.project_id)));
        }
    }
}

#[tokio::test]
async fn kapsule_lists_page_filter_and_fail_like_the_api() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let prod = &org.kapsule_clusters[0];
    let base = format!("/k8s/v1/regions/fr-par/clusters/{}", prod.id);

    // Paging: total_count on every page, an empty page past the end, 20 by default.
    let nodes = format!("{base}/nodes");
    let all = h.json(&nodes).await;
    assert_eq!((all["total_count"].clone(), list(&all, "nodes").len()), (json!(9), 9));
    let page3 = h.json(&format!("{nodes}?page=3&page_size=4")).await;
    assert_eq!((page3["total_count"].clone(), list(&page3, "nodes").len()), (json!(9), 1));
    let page4 = h.json(&format!("{nodes}?page=4&page_size=4")).await;
    assert_eq!((page4["total_count"].clone(), list(&page4, "nodes").len()), (json!(9), 0));
    assert_eq!(keys(&page4), ["total_count", "nodes"]);
    for bad in ["page_size=101", "page=0", "order_by=sideways"] {
        let response = h.get(&format!("{nodes}?{bad}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(response.json::<Value>().await.unwrap()["type"], "invalid_arguments");
    }

    // Filters: the pool of a node, names, statuses (`unknown` is what the SDK sends: no filter), orders.
    let batch = &prod.pools[1];
    let of_batch = h.json(&format!("{nodes}?pool_id={}", batch.id)).await;
    assert_eq!(of_batch["total_count"], 4);
    assert!(list(&of_batch, "nodes").iter().all(|n| n["pool_id"] == batch.id.as_str()));
    assert_eq!(h.json(&format!("{nodes}?pool_id=00000000-0000-4000-8000-000000000000")).await["total_count"], 0);
    assert_eq!(h.json(&format!("{nodes}?status=unknown&page_size=100")).await["total_count"], 9);
    assert_eq!(h.json(&format!("{nodes}?status=deleting")).await["total_count"], 0);
    let pools = format!("{base}/pools");
    assert_eq!(names(list(&h.json(&pools).await, "pools")), ["default", "batch", "ci"]);
    assert_eq!(
        names(list(&h.json(&format!("{pools}?order_by=created_at_desc")).await, "pools")),
        ["ci", "batch", "default"]
    );
    assert_eq!(names(list(&h.json(&format!("{pools}?order_by=name_asc")).await, "pools")), ["batch", "ci", "default"]);
    assert_eq!(names(list(&h.json(&format!("{pools}?name=ci&status=ready")).await, "pools")), ["ci"]);

    let clusters = "/k8s/v1/regions/fr-par/clusters";
    let (p0, p1) = (org.projects[0].id.as_str(), org.projects[1].id.as_str());
    assert_eq!(names(list(&h.json(&format!("{clusters}?project_id={p1}")).await, "clusters")), ["prod-k8s"]);
    assert_eq!(h.json(&format!("{clusters}?project_id={p0}")).await["total_count"], 0);
    assert_eq!(h.json(&format!("{clusters}?organization_id={}", org.id)).await["total_count"], 1);
    assert_eq!(
        h.json(&format!("{clusters}?organization_id=00000000-0000-4000-8000-000000000000")).await["total_count"],
        0
    );
    assert_eq!(h.json(&format!("{clusters}?status=unknown")).await["total_count"], 1);
    assert_eq!(h.json("/k8s/v1/regions/pl-waw/clusters").await, json!({"total_count": 0, "clusters": []}));

    // 404 in Scaleway's shape for an unknown cluster, and for a known one asked in another region.
    let recorded = fixture("errors/404_not_found_k8s.json")["body"].clone();
    let unknown = "03495d0c-fd17-41c8-abd7-a9504098cd3a";
    for path in [
        format!("/k8s/v1/regions/fr-par/clusters/{unknown}/pools"),
        format!("/k8s/v1/regions/fr-par/clusters/{unknown}/nodes"),
    ] {
        let response = h.get(&path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap(), recorded, "{path}");
    }
    let elsewhere = h.get(&format!("/k8s/v1/regions/nl-ams/clusters/{}/pools", prod.id)).await;
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    assert_eq!(elsewhere.json::<Value>().await.unwrap()["resource"], "cluster");

    // Regions outside the API, authentication.
    let region = h.get("/k8s/v1/regions/it-mil/clusters").await;
    assert_eq!(region.status(), StatusCode::NOT_FOUND);
    assert_eq!(region.json::<Value>().await.unwrap()["type"], "unknown_resource");
    assert_eq!(h.get_with(clusters, None).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn kapsule_and_ipam_sit_behind_the_gate() {
    let h = Harness::start("deny=k8s+ipam").await;
    for (path, resource) in [
        ("/k8s/v1/regions/fr-par/clusters", "cluster"),
        ("/k8s/v1/regions/fr-par/clusters/x/pools", "pool"),
        ("/k8s/v1/regions/fr-par/clusters/x/nodes", "node"),
        ("/ipam/v1/regions/fr-par/ips", "ip"),
    ] {
        let denied = h.get(path).await;
        assert_eq!(denied.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(denied.json::<Value>().await.unwrap()["details"][0]["resource"], resource);
    }
    assert_eq!(h.get("/rdb/v1/regions/fr-par/instances").await.status(), StatusCode::OK);
    for (knobs, status) in [("withdrawn=k8s", StatusCode::NOT_FOUND), ("down=ipam", StatusCode::SERVICE_UNAVAILABLE)] {
        let h = Harness::start(knobs).await;
        let path =
            if knobs.contains("k8s") { "/k8s/v1/regions/fr-par/clusters" } else { "/ipam/v1/regions/fr-par/ips" };
        assert_eq!(h.get(path).await.status(), status, "{knobs}");
        assert_eq!(h.get("/lb/v1/zones/fr-par-1/lbs").await.status(), StatusCode::OK);
    }
    let faulty = Harness::start("burst_429=1").await;
    assert_eq!(faulty.get("/k8s/v1/regions/fr-par/clusters").await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(faulty.get("/k8s/v1/regions/fr-par/clusters").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn kapsule_nodes_are_measured_like_instances() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let truth = kapsule(h.config());
    let p1 = org.projects[1].id.as_str();
    let body = json!({"project_id": p1, "name": "collector", "token_scopes": ["read_only_metrics"]});
    let token: Value = h
        .http
        .post(format!("{}/cockpit/v1/regions/fr-par/tokens", h.sim.base_url()))
        .header("X-Auth-Token", DEFAULT_SECRET_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = token["secret_key"].as_str().unwrap();
    let sources = h.json(&format!("/cockpit/v1/regions/fr-par/data-sources?project_id={p1}&types=metrics")).await;
    let url = sources["data_sources"][0]["url"].as_str().unwrap();
    let prom = |path: &str, query: Vec<(&str, String)>| {
        let request = h.http.get(format!("{url}/prometheus/api/v1/{path}")).query(&query).header("X-Token", secret);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()["data"].clone()
        }
    };

    // Every node of prod-k8s has its Instance's two series, labelled like a server's.
    let series = prom("series", vec![("match[]", r#"{resource_name=~"scw-prod-k8s-.*"}"#.to_string())]).await;
    let series = series.as_array().unwrap();
    let pools: Vec<_> = truth.pools.iter().filter(|p| p.cluster_name == "prod-k8s").collect();
    let nodes: usize = pools.iter().map(|p| p.node_ids.len()).sum();
    assert_eq!(series.len(), 2 * nodes);
    for s in series {
        assert_eq!(keys(s), ["__name__", "az", "project_id", "region", "resource_id", "resource_name"]);
        let id = s["resource_id"].as_str().unwrap();
        let pool = pools.iter().find(|p| p.node_ids.iter().any(|n| n == id)).expect("a node's Instance");
        assert_eq!((&s["az"], &s["project_id"], &s["region"]), (&json!(pool.zone), &json!(p1), &json!("fr-par")));
        assert!(s["resource_name"].as_str().unwrap().starts_with(&format!("scw-prod-k8s-{}-", pool.pool_name)));
    }
    // Series are in Prometheus' order: by name, then by the other labels.
    let order: Vec<(String, String)> = series
        .iter()
        .map(|s| (s["__name__"].as_str().unwrap().to_string(), s["resource_id"].as_str().unwrap().to_string()))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);

    // The gauge is the node type's vCPUs; the counter of the `ci` nodes starts at their creation, 6 days ago.
    let vcpus: BTreeMap<&str, &str> = [("default", "4"), ("batch", "8"), ("ci", "3")].into_iter().collect();
    for pool in &pools {
        let id = &pool.node_ids[0];
        let range = |metric: &str, start: i64| {
            vec![
                ("query", format!(r#"{metric}{{resource_id="{id}"}}"#)),
                ("start", start.to_string()),
                ("end", CLOCK.to_string()),
                ("step", "3600".to_string()),
            ]
        };
        let gauge = prom("query_range", range(VCPU_METRIC, CLOCK - DAY)).await;
        assert_eq!(gauge["result"][0]["values"][0][1], vcpus[pool.pool_name.as_str()], "{}", pool.pool_name);
        let counter = prom("query_range", range(CPU_METRIC, CLOCK - 10 * DAY)).await;
        let first = counter["result"][0]["values"][0][0].as_i64().unwrap();
        if pool.pool_name == "ci" {
            assert!(first > CLOCK - 7 * DAY && first < CLOCK - 5 * DAY, "{first}");
        } else {
            assert_eq!(first, CLOCK - 10 * DAY);
        }
    }
}

#[tokio::test]
async fn ipam_lists_every_address_with_the_recorded_shape() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let recorded = fixture("ipam/ips_list.json");
    let ip_rec = &recorded["ips"][0];

    let mut all = Vec::new();
    for region in IPAM_REGIONS {
        let (ips, envelope) = h.all_b_and_envelope(&format!("/ipam/v1/regions/{region}/ips"), "ips").await;
        assert_eq!(keys(&envelope), keys(&recorded), "{region}: envelope");
        for ip in &ips {
            assert_eq!(keys(ip), keys(ip_rec), "{ip}");
            assert_eq!(ip["region"], region);
            if !ip["resource"].is_null() {
                assert_eq!(keys(&ip["resource"]), keys(&ip_rec["resource"]), "{ip}");
            }
            let source = keys(&ip["source"]);
            assert!(source == ["zonal"] || source == ["subnet_id"], "{ip}");
            // The default order is the newest first.
            for at in ["created_at", "updated_at"] {
                assert!(ip[at].as_str().unwrap().ends_with('Z'));
            }
        }
        let created: Vec<&str> = ips.iter().map(|i| i["created_at"].as_str().unwrap()).collect();
        assert!(created.windows(2).all(|w| w[0] >= w[1]), "{region}: created_at_desc by default");
        all.extend(ips);
    }
    assert_eq!(all.len(), org.ips.len() + org.load_balancers.len() + org.databases.len());
    let by_id: BTreeMap<&str, &Value> = all.iter().map(|i| (i["id"].as_str().unwrap(), i)).collect();
    assert_eq!(by_id.len(), all.len());

    // Flexible IPs under the ipam_id the Instance API gives them, attached to their server or to nothing.
    for f in &org.ips {
        let ip = by_id[f.ipam_id.as_str()];
        assert_eq!((&ip["address"], &ip["zone"]), (&json!(format!("{}/32", f.address)), &json!(f.zone)));
        assert_eq!((&ip["source"], &ip["project_id"]), (&json!({"zonal": f.zone}), &json!(f.project_id)));
        match &f.server {
            Some(s) => {
                assert_eq!((&ip["resource"]["type"], &ip["resource"]["id"]), (&json!("instance_server"), &json!(s.id)));
                assert_eq!(ip["resource"]["name"], s.name.as_str());
            }
            None => assert_eq!(ip["resource"], Value::Null),
        }
    }
    let instance_ips = h.json("/instance/v1/zones/fr-par-1/ips?per_page=100").await;
    for ip in list(&instance_ips, "ips") {
        assert!(by_id.contains_key(ip["ipam_id"].as_str().unwrap()), "{ip}");
    }
    for lb in &org.load_balancers {
        let ip = by_id[lb.ip.id.as_str()];
        assert_eq!(ip["resource"], json!({"type": "lb_server", "id": lb.id, "mac_address": null, "name": lb.name}));
        assert_eq!(ip["address"], format!("{}/32", lb.ip.address));
    }
    let dbs: Vec<&&Value> = by_id.values().filter(|i| i["resource"]["type"] == "rdb_instance").collect();
    assert_eq!(dbs.len(), org.databases.len());
    for d in &org.databases {
        let ip = dbs.iter().find(|i| i["resource"]["id"] == d.id.as_str()).unwrap();
        assert_eq!((&ip["zone"], &ip["region"]), (&Value::Null, &json!(d.region)));
        assert_eq!(ip["address"], format!("{}/24", d.endpoint.ip));
    }

    // Filters and paging.
    let ips = "/ipam/v1/regions/fr-par/ips";
    let total = h.json(ips).await["total_count"].as_u64().unwrap();
    let detached = h.json(&format!("{ips}?attached=false")).await;
    let ghost = org.ip(&org.ghosts.orphaned_ips[0]).unwrap();
    assert_eq!(detached["total_count"], 1, "{detached}");
    assert_eq!(detached["ips"][0]["id"], ghost.ipam_id.as_str());
    assert_eq!(h.json(&format!("{ips}?attached=true")).await["total_count"], total - 1);
    assert_eq!(h.get(&format!("{ips}?attached=maybe")).await.status(), StatusCode::BAD_REQUEST);
    let rdb = h.json(&format!("{ips}?resource_type=rdb_instance")).await;
    assert_eq!(rdb["total_count"], org.databases.iter().filter(|d| d.region == "fr-par").count());
    let lbs = h.json(&format!("{ips}?resource_type=lb_server&order_by=created_at_asc")).await;
    let lb_names: Vec<&str> = list(&lbs, "ips").iter().map(|i| i["resource"]["name"].as_str().unwrap()).collect();
    assert_eq!(lb_names, ["web-lb", "api-lb", "lb-legacy-frontend"]);
    let p1 = org.projects[1].id.as_str();
    let mine = h.all_b(&format!("{ips}?project_id={p1}"), "ips").await;
    assert!(!mine.is_empty() && mine.iter().all(|i| i["project_id"] == p1));
    assert_eq!(h.json(&format!("{ips}?organization_id=00000000-0000-4000-8000-000000000000")).await["total_count"], 0);
    let page = h.json(&format!("{ips}?page=2&page_size=5")).await;
    assert_eq!((page["total_count"].as_u64().unwrap(), list(&page, "ips").len()), (total, 5));
    assert_eq!(keys(&page), ["total_count", "ips"]);
    assert_eq!(h.get(&format!("{ips}?order_by=sideways")).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(h.get("/ipam/v1/regions/it-mil/ips").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(h.get_with(ips, None).await.status(), StatusCode::UNAUTHORIZED);
}
