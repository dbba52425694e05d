//! The Autoscaling APIs (v1alpha1 lists and events, v1alpha2 group summaries) over real HTTP on 127.0.0.1, and the
//! scaling oracle checked against what is served, as a collector would see it.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, Utc};
use costlake_simulator::{
    AUTOSCALING_V2_ZONES, AUTOSCALING_ZONES, DEFAULT_SECRET_KEY, INSTANCE_ZONES, SCALE_DOWN, SCALE_UP, organization,
    scaling,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Harness, count, fixture};

const V1: &str = "/autoscaling/v1alpha1/zones";
const V2: &str = "/autoscaling/v1alpha2/zones";

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn v1alpha1_lists_have_the_fixture_shapes() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let cases = [
        ("instance-groups", "instance_groups", "v1alpha1_instance_groups_list.SYNTHETIC.json"),
        ("instance-templates", "instance_templates", "v1alpha1_instance_templates_list.SYNTHETIC.json"),
    ];
    let mut seen_groups = Vec::new();
    for (path, key, file) in cases {
        let recorded = fixture(&format!("autoscaling/{file}"));
        let first = &recorded[key][0];
        for zone in AUTOSCALING_ZONES {
            let (items, envelope) = h.all_b_and_envelope(&format!("{V1}/{zone}/{path}"), key).await;
            assert_eq!(keys(&envelope), keys(&recorded), "{zone}: envelope");
            for item in &items {
                assert_eq!(keys(item), keys(first), "{zone}: {item}");
                assert_eq!(item["zone"], zone);
                for ts in ["created_at", "updated_at"] {
                    assert!(item[ts].as_str().unwrap().ends_with('Z') && item[ts].as_str().unwrap().len() == 27);
                }
                if key == "instance_groups" {
                    assert_eq!(keys(&item["capacity"]), keys(&first["capacity"]));
                    assert_eq!(keys(&item["loadbalancer"]), keys(&first["loadbalancer"]));
                    seen_groups.push(item.clone());
                } else {
                    assert_eq!(keys(&item["volumes"]["0"]), keys(&first["volumes"]["0"]));
                    let t = item["commercial_type"].as_str().unwrap();
                    assert!(org.prices.server_type(t).is_some() && INSTANCE_ZONES.contains(&zone), "{t}");
                    assert_eq!(item["image_id"], org.image.0.as_str());
                }
            }
            // created_at_desc by default, created_at_asc on demand.
            let dates: Vec<_> = items.iter().map(|i| at(&i["created_at"])).collect();
            assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{zone} {path}");
            let asc = h.json(&format!("{V1}/{zone}/{path}?order_by=created_at_asc")).await;
            let mut reversed = ids(&items);
            reversed.reverse();
            assert_eq!(ids(asc[key].as_array().unwrap()), reversed);
        }
    }
    let names: Vec<&str> = seen_groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["api-asg", "web-asg", "batch-asg"]);
    let web = &seen_groups[1];
    assert_eq!(web["capacity"], json!({"max_replicas": 6, "min_replicas": 2, "cooldown_delay": "300s"}));
    assert_eq!(web["project_id"], org.projects[0].id.as_str());
    // web-asg registers its members behind web-lb.
    let web_lb = org.load_balancers.iter().find(|l| l.name == "web-lb").unwrap();
    assert_eq!(web["loadbalancer"]["id"], web_lb.id.as_str());
    assert_eq!(web["loadbalancer"]["backend_ids"], json!([web_lb.backends[0].id]));
    assert_eq!(seen_groups[2]["capacity"]["cooldown_delay"], "120s");
    assert_eq!(seen_groups[0]["capacity"]["cooldown_delay"], "600s");

    // TotalCount paging: one group per page in fr-par-1, then an empty page.
    let path = format!("{V1}/fr-par-1/instance-groups?page_size=1");
    let (p1, p2, p3) = (
        h.json(&format!("{path}&page=1")).await,
        h.json(&format!("{path}&page=2")).await,
        h.json(&format!("{path}&page=3")).await,
    );
    assert_eq!((count(&p1["total_count"]), count(&p3["total_count"])), (2, 2));
    assert_eq!(
        (p1["instance_groups"][0]["name"].clone(), p2["instance_groups"][0]["name"].clone()),
        (json!("api-asg"), json!("web-asg"))
    );
    assert_eq!(p3["instance_groups"], json!([]));
    // No project filter: the list ignores project_id.
    let other = h.json(&format!("{V1}/fr-par-1/instance-groups?project_id={}", org.projects[1].id)).await;
    assert_eq!(count(&other["total_count"]), 2);
    for bad in ["order_by=name_asc", "page=0", "page_size=101"] {
        let response = h.get(&format!("{V1}/fr-par-1/instance-groups?{bad}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let unknown = h.get(&format!("{V1}/it-mil-1/instance-groups")).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(unknown.json::<Value>().await.unwrap()["type"], "unknown_resource");
}

#[tokio::test]
async fn policies_need_a_group() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let recorded = fixture("autoscaling/v1alpha1_instance_policies_list.SYNTHETIC.json");
    for g in &org.scaling_groups {
        let body = h.json(&format!("{V1}/{}/instance-policies?instance_group_id={}", g.zone, g.id)).await;
        assert_eq!(keys(&body), keys(&recorded));
        let policies = body["policies"].as_array().unwrap();
        assert_eq!(count(&body["total_count"]), 2);
        for p in policies {
            assert_eq!(keys(p), keys(&recorded["policies"][0]));
            assert_eq!(keys(&p["metric"]), keys(&recorded["policies"][0]["metric"]));
            assert_eq!(p["instance_group_id"], g.id.as_str());
        }
        let summary: Vec<_> = policies
            .iter()
            .map(|p| (p["action"].clone(), p["metric"]["operator"].clone(), p["metric"]["threshold"].clone()))
            .collect();
        assert_eq!(
            summary,
            [
                (json!("scale_up"), json!("operator_greater_than"), json!(70.0)),
                (json!("scale_down"), json!("operator_less_than"), json!(30.0)),
            ]
        );
    }
    let missing = h.get(&format!("{V1}/fr-par-1/instance-policies")).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["type"], "invalid_arguments");
    assert!(body["fields"]["instance_group_id"].is_array(), "{body}");
    // A group of another zone has no policy here.
    let web = &org.scaling_groups[0];
    let elsewhere = h.json(&format!("{V1}/fr-par-2/instance-policies?instance_group_id={}", web.id)).await;
    assert_eq!(count(&elsewhere["total_count"]), 0);
}

#[tokio::test]
async fn events_match_the_oracle() {
    let h = Harness::start("").await;
    let config = h.config().clone();
    let org = organization(&config);
    let truth = scaling(&config);
    let recorded = fixture("autoscaling/v1alpha1_instance_group_events_list.SYNTHETIC.json");
    let window_start = (config.today - Days::new(28)).and_hms_opt(0, 0, 0).unwrap().and_utc();
    let today = config.today.and_hms_opt(0, 0, 0).unwrap().and_utc();
    for t in &truth.groups {
        let g = org.scaling_group(&t.id).unwrap();
        let path = format!("{V1}/{}/instance-groups/{}/events", g.zone, g.id);
        let (events, envelope) = h.all_b_and_envelope(&path, "instance_events").await;
        assert_eq!(keys(&envelope), keys(&recorded));
        for e in &events {
            assert_eq!(keys(e), keys(&recorded["instance_events"][0]), "{e}");
            let created = at(&e["created_at"]);
            assert!(created >= window_start && created < today, "{e}");
        }
        let dates: Vec<_> = events.iter().map(|e| at(&e["created_at"])).collect();
        assert!(dates.windows(2).all(|w| w[0] > w[1]), "newest first");
        let mut kinds: BTreeMap<(&str, &str), u32> = BTreeMap::new();
        for e in &events {
            *kinds.entry((e["source"].as_str().unwrap(), e["name"].as_str().unwrap())).or_default() += 1;
        }
        let ups = kinds.get(&("scaler", SCALE_UP)).copied().unwrap_or(0);
        let downs = kinds.get(&("scaler", SCALE_DOWN)).copied().unwrap_or(0);
        assert_eq!((ups, downs, events.len() as u32 - ups - downs), (t.scale_ups, t.scale_downs, t.other_events));
        for e in events.iter().filter(|e| e["source"] == "scaler") {
            let details = if e["name"] == SCALE_UP { "1 instance created" } else { "1 instance deleted" };
            assert_eq!((e["level"].clone(), e["details"].clone()), (json!("success"), json!(details)));
        }

        // The flaps, recomputed from what is served.
        let mut scale: Vec<(DateTime<Utc>, bool)> = events
            .iter()
            .filter(|e| e["source"] == "scaler")
            .map(|e| (at(&e["created_at"]), e["name"] == SCALE_UP))
            .collect();
        scale.sort();
        let window = chrono::Duration::seconds((3 * t.cooldown_seconds).max(900) as i64);
        let mut by_day: BTreeMap<_, u32> = BTreeMap::new();
        for w in scale.windows(2) {
            if w[0].1 != w[1].1 && w[1].0 - w[0].0 < window {
                *by_day.entry(w[1].0.date_naive()).or_default() += 1;
            }
        }
        assert_eq!(by_day.values().sum::<u32>(), t.flaps, "{}", t.name);
        assert_eq!(by_day.values().any(|n| *n >= 3), t.flapping, "{}", t.name);
    }
    let web = truth.group("web-asg").unwrap();
    assert_eq!((web.flaps, web.flapping), (0, false));
    let batch = truth.group("batch-asg").unwrap();
    assert!(batch.flapping && batch.flaps >= 7);
    let api = truth.group("api-asg").unwrap();
    assert_eq!((api.current_size, api.max_replicas, api.flaps), (3, 3, 0));

    // Paging and order of the events.
    let web_group = org.scaling_group(&web.id).unwrap();
    let path = format!("{V1}/fr-par-1/instance-groups/{}/events", web.id);
    let p1 = h.json(&format!("{path}?page_size=50")).await;
    let p2 = h.json(&format!("{path}?page_size=50&page=2")).await;
    assert_eq!(count(&p1["total_count"]), web_group.events.len());
    assert_eq!(p1["instance_events"].as_array().unwrap().len() + p2["instance_events"].as_array().unwrap().len(), 58);
    let asc = h.json(&format!("{path}?order_by=created_at_asc&page_size=1")).await;
    assert_eq!(asc["instance_events"][0]["id"], web_group.events[0].id.as_str());

    // Unknown group, or a group of another zone: 404 in Scaleway's shape.
    for (zone, id) in [("fr-par-1", "00000000-0000-4000-8000-000000000000"), ("fr-par-2", web.id.as_str())] {
        let response = h.get(&format!("{V1}/{zone}/instance-groups/{id}/events")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"message": "resource is not found", "resource": "instance_group", "resource_id": id, "type": "not_found"})
        );
    }
}

#[tokio::test]
async fn v1alpha2_summarises_the_same_groups() {
    let h = Harness::start("").await;
    let org = organization(h.config());
    let truth = scaling(h.config());
    let recorded = fixture("autoscaling/v1alpha2_group_create_response.json");
    let mut summaries = Vec::new();
    for zone in AUTOSCALING_V2_ZONES {
        // Token paging, one group per page.
        let mut token: Option<String> = None;
        loop {
            let query = token.as_ref().map_or(String::new(), |t| format!("&page_token={t}"));
            let body = h.json(&format!("{V2}/{zone}/groups?page_size=1{query}")).await;
            assert_eq!(keys(&body), ["group_summaries", "next_page_token", "total_count"]);
            summaries.extend(body["group_summaries"].as_array().unwrap().iter().cloned());
            match &body["next_page_token"] {
                Value::String(t) => token = Some(t.clone()),
                Value::Null => break,
                other => panic!("{other}"),
            }
        }
    }
    assert_eq!(summaries.len(), org.scaling_groups.len());
    for s in &summaries {
        assert_eq!(
            keys(s),
            [
                "id",
                "name",
                "project_id",
                "zone",
                "status",
                "current_size",
                "minimum_size",
                "maximum_size",
                "template_id",
                "created_at",
                "updated_at"
            ]
        );
        for shared in ["status", "current_size", "created_at"] {
            assert_eq!(s[shared].is_string(), recorded[shared].is_string(), "{shared}");
        }
        assert_eq!(s["created_at"].as_str().unwrap().len(), recorded["created_at"].as_str().unwrap().len());
        let t = truth.groups.iter().find(|t| t.id == s["id"].as_str().unwrap()).unwrap();
        let g = org.scaling_group(&t.id).unwrap();
        assert_eq!(
            (s["name"].clone(), s["zone"].clone(), s["current_size"].clone(), s["template_id"].clone()),
            (json!(t.name), json!(t.zone), json!(t.current_size), json!(g.template.id))
        );
        assert_eq!(
            (s["minimum_size"].clone(), s["maximum_size"].clone()),
            (json!(t.min_replicas), json!(t.max_replicas))
        );
        assert_eq!(s["status"], "active");
    }
    // project_id filters.
    let p1 = h.json(&format!("{V2}/fr-par-2/groups?project_id={}", org.projects[1].id)).await;
    assert_eq!(count(&p1["total_count"]), 1);
    let p0 = h.json(&format!("{V2}/fr-par-2/groups?project_id={}", org.projects[0].id)).await;
    assert_eq!((count(&p0["total_count"]), p0["next_page_token"].clone()), (0, Value::Null));
    // Outside the v1alpha2 zones: 404 unknown_resource.
    let response = h.get(&format!("{V2}/nl-ams-1/groups")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.json::<Value>().await.unwrap()["type"], "unknown_resource");
    assert_eq!(h.get(&format!("{V2}/fr-par-1/groups?page_token=garbage%25")).await.status(), StatusCode::BAD_REQUEST);

    // Each group's members (the SDK's Server: `server_id` only), Token paging, two per page.
    for g in &org.scaling_groups {
        let mut served = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let query = token.as_ref().map_or(String::new(), |t| format!("&page_token={t}"));
            let body = h.json(&format!("{V2}/{}/servers?group_id={}&page_size=2{query}", g.zone, g.id)).await;
            assert_eq!(keys(&body), ["servers", "next_page_token", "total_count"]);
            assert_eq!(count(&body["total_count"]), g.members.len());
            for server in body["servers"].as_array().unwrap() {
                assert_eq!(keys(server), ["server_id"]);
                served.push(server["server_id"].as_str().unwrap().to_string());
            }
            match &body["next_page_token"] {
                Value::String(t) => token = Some(t.clone()),
                _ => break,
            }
        }
        let members: Vec<String> = g.members.iter().map(|m| m.server_id.clone()).collect();
        assert_eq!((served, g.current_size as usize), (members, g.members.len()), "{}", g.name);
    }
    let missing = h.get(&format!("{V2}/fr-par-1/servers")).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let batch = org.scaling_groups.iter().find(|g| g.zone == "fr-par-2").unwrap();
    let elsewhere = h.get(&format!("{V2}/fr-par-1/servers?group_id={}", batch.id)).await;
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    // The group itself, as the list summarises it; 404 `not_found` in another zone.
    let own = h.json(&format!("{V2}/fr-par-2/groups/{}", batch.id)).await;
    let listed = h.json(&format!("{V2}/fr-par-2/groups?project_id={}", batch.project_id)).await;
    assert_eq!(own, listed["group_summaries"][0]);
    let elsewhere = h.get(&format!("{V2}/fr-par-1/groups/{}", batch.id)).await;
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    assert_eq!(elsewhere.json::<Value>().await.unwrap()["resource"], "group");
}

#[tokio::test]
async fn the_gate_covers_autoscaling() {
    let paths = [
        format!("{V1}/fr-par-1/instance-groups"),
        format!("{V1}/fr-par-1/instance-templates"),
        format!("{V2}/fr-par-1/groups"),
    ];
    let h = Harness::start("").await;
    for path in &paths {
        assert_eq!(h.get_with(path, None).await.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(h.get_with(path, Some(DEFAULT_SECRET_KEY)).await.status(), StatusCode::OK, "{path}");
    }
    let denied = Harness::start("deny=autoscaling").await;
    let response = denied.get(&paths[0]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.json::<Value>().await.unwrap()["details"][0]["resource"], "instance_group");
    assert_eq!(denied.get(&paths[2]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(denied.get("/lb/v1/zones/fr-par-1/lbs").await.status(), StatusCode::OK);
    let withdrawn = Harness::start("withdrawn=autoscaling").await;
    assert_eq!(withdrawn.get(&paths[1]).await.status(), StatusCode::NOT_FOUND);
    let down = Harness::start("down=autoscaling").await;
    assert_eq!(down.get(&paths[2]).await.status(), StatusCode::SERVICE_UNAVAILABLE);
}
