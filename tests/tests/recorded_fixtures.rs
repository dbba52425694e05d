//! The collectors against real recorded Scaleway responses (tests/fixtures/scaleway, provenance in its
//! SOURCES.md): every recorded list they cover decodes into its dataset, the pager walks recorded pages with
//! their recorded headers over real HTTP, and the recorded error envelopes become clear errors.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Decimal128Type, UInt64Type};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use costlake_ingest::dataset::{DatasetSpec, RowContext};
use costlake_ingest::scaleway::{ApiError, ClientOptions, ListShape, Pager, ScalewayClient, Scheme};
use costlake_ingest::sources::{account, billing, block, catalog, instance, ipam, k8s};
use serde_json::Value;

fn fixture(path: &str) -> Value {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/scaleway").join(path);
    serde_json::from_slice(&std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))).unwrap()
}

fn items(body: &Value, key: &str) -> Vec<Value> {
    match &body[key] {
        Value::Array(items) => items.clone(),
        // Instance products/servers: a map keyed by commercial type, as the pager presents it.
        Value::Object(map) => map
            .iter()
            .map(|(name, item)| {
                let mut item = item.clone();
                item["commercial_type"] = Value::from(name.as_str());
                item
            })
            .collect(),
        other => panic!("{key}: unexpected {other}"),
    }
}

fn context() -> RowContext {
    RowContext {
        run_id: "20261122T080000Z-00000000".into(),
        snapshot_at: "2026-11-22T08:00:00Z".parse().unwrap(),
        organization_id: "105bdce1-64c0-48ab-899d-868455867ecf".into(),
        locality: "fr-par-1".into(),
        extras: Vec::new(),
    }
}

fn build(spec: &DatasetSpec, items: &[Value]) -> RecordBatch {
    spec.build(items, &context(), &|i| format!("{}[{i}]", spec.name)).unwrap_or_else(|e| panic!("{}: {e}", spec.name))
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let array = batch.column_by_name(column).unwrap_or_else(|| panic!("no column {column}")).as_string::<i32>();
    (0..array.len()).map(|i| array.is_valid(i).then(|| array.value(i).to_string())).collect()
}

#[test]
fn every_recorded_list_decodes_into_its_dataset() {
    let cases: Vec<(&str, &str, DatasetSpec)> = vec![
        ("account/projects_list.json", "projects", account::projects()),
        ("account/projects_list_page1.json", "projects", account::projects()),
        ("instance/servers_list_fr-par-1.json", "servers", instance::servers()),
        ("instance/servers_list_fr-par-1_9servers.json", "servers", instance::servers()),
        ("instance/servers_list_fr-par-2.json", "servers", instance::servers()),
        ("instance/ips_list_with_orphan.json", "ips", instance::ips()),
        ("instance/volumes_list_unattached.json", "volumes", instance::volumes()),
        ("instance/snapshots_list.json", "snapshots", instance::snapshots()),
        ("instance/products_servers_page1.json", "servers", instance::server_types()),
        ("instance/products_servers_page2.json", "servers", instance::server_types()),
        ("instance/products_servers_page3.json", "servers", instance::server_types()),
        ("block/v1_volumes_list.json", "volumes", block::volumes()),
        ("block/v1_snapshots_list.json", "snapshots", block::snapshots()),
        ("product_catalog/public_catalog_products_instance_page1.json", "products", catalog::products()),
        ("k8s/clusters_list.json", "clusters", k8s::clusters()),
        ("k8s/pools_list.json", "pools", k8s::pools()),
        ("k8s/nodes_list.json", "nodes", k8s::nodes()),
        ("ipam/ips_list.json", "ips", ipam::ips()),
    ];
    for (path, key, spec) in cases {
        let body = fixture(path);
        let items = items(&body, key);
        let batch = build(&spec, &items);
        assert_eq!(batch.num_rows(), items.len(), "{path}");
        // Nothing is lost: `raw` holds each whole object, unknown fields included.
        for (row, item) in strings(&batch, "raw").iter().zip(&items) {
            let kept: Value = serde_json::from_str(row.as_deref().unwrap()).unwrap();
            assert_eq!(&kept, item, "{path}");
        }
    }
}

#[test]
fn recorded_servers_keep_their_states_volumes_and_projects() {
    let body = fixture("instance/servers_list_fr-par-2.json");
    let servers = items(&body, "servers");
    let batch = build(&instance::servers(), &servers);
    assert_eq!(strings(&batch, "state"), vec![Some("running".to_string()); 2]);
    assert_eq!(strings(&batch, "commercial_type")[0].as_deref(), Some("L40S-2-48G"));

    // SBS volumes come back reduced to {boot, id, state, volume_type, zone}: no name, no size.
    let attachments = instance::explode_server_volumes(&servers);
    let volumes = build(&instance::server_volumes(), &attachments);
    let types = strings(&volumes, "volume_type");
    let sizes = volumes.column_by_name("size").unwrap().as_primitive::<UInt64Type>();
    for (index, kind) in types.iter().enumerate() {
        match kind.as_deref() {
            Some("sbs_volume") => assert!(sizes.is_null(index)),
            Some("scratch") => assert_eq!(sizes.value(index), 3_200_000_000_000),
            other => panic!("unexpected volume type {other:?}"),
        }
    }

    // The standby state, with its space, is kept verbatim.
    let standby = fixture("instance/server_get_stopped_in_place.json");
    let batch = build(&instance::servers(), &[standby["server"].clone()]);
    assert_eq!(strings(&batch, "state")[0].as_deref(), Some("stopped in place"));
}

#[test]
fn recorded_orphans_are_recognisable() {
    let ips = build(&instance::ips(), &items(&fixture("instance/ips_list_with_orphan.json"), "ips"));
    assert_eq!(strings(&ips, "server_id").iter().filter(|s| s.is_none()).count(), 1);
    let volumes = build(&instance::volumes(), &items(&fixture("instance/volumes_list_unattached.json"), "volumes"));
    assert_eq!(strings(&volumes, "server_id"), vec![None]);
    let block_body = fixture("block/v1_volumes_list.json");
    let block_volumes = items(&block_body, "volumes");
    assert!(block::explode_references(&block_volumes).is_empty(), "both recorded SBS volumes are unattached");
    let snapshots = build(&block::snapshots(), &items(&fixture("block/v1_snapshots_list.json"), "snapshots"));
    assert_eq!(strings(&snapshots, "parent_volume_type"), vec![Some("sbs_5k".to_string()); 2]);
}

#[test]
fn recorded_kapsule_nodes_name_their_instances_and_ipam_keeps_unattached_addresses() {
    let nodes = build(&k8s::nodes(), &items(&fixture("k8s/nodes_list.json"), "nodes"));
    for provider in strings(&nodes, "provider_id") {
        assert!(provider.unwrap().starts_with("scaleway://instance/fr-par-1/"));
    }
    let pools = build(&k8s::pools(), &items(&fixture("k8s/pools_list.json"), "pools"));
    assert_eq!(strings(&pools, "node_type"), vec![Some("pro2_xxs".to_string())]);
    let body = fixture("ipam/ips_list.json");
    let mut ips = items(&body, "ips");
    // The recording holds attached addresses only; an orphan is the same shape with `resource: null`.
    let mut orphan = ips[0].clone();
    orphan["resource"] = Value::Null;
    ips.push(orphan);
    let batch = build(&ipam::ips(), &ips);
    let unattached = ips.iter().filter(|ip| ip["resource"].is_null()).count();
    assert_eq!(unattached, 1);
    assert_eq!(strings(&batch, "resource_type").iter().filter(|t| t.is_none()).count(), unattached);
    assert!(strings(&batch, "resource_type").iter().any(|t| t.as_deref() == Some("mgdb_instance")));
}

#[test]
fn recorded_prices_are_exact_decimals() {
    let types = build(&instance::server_types(), &items(&fixture("instance/products_servers_page1.json"), "servers"));
    let names = strings(&types, "commercial_type");
    let hourly = types.column_by_name("hourly_price").unwrap().as_primitive::<Decimal128Type>();
    let monthly = types.column_by_name("monthly_price").unwrap().as_primitive::<Decimal128Type>();
    let at = names.iter().position(|n| n.as_deref() == Some("BASIC2-A12C-24G")).unwrap();
    assert_eq!(hourly.value(at), 157_800_000, "0.1578 EUR/hour, exactly");
    assert_eq!(monthly.value(at), 115_194_000_000, "monthly_price = hourly x 730 = 115.194");

    let catalog = build(
        &catalog::products(),
        &items(&fixture("product_catalog/public_catalog_products_instance_page1.json"), "products"),
    );
    let skus = strings(&catalog, "sku");
    let price = catalog.column_by_name("retail_price").unwrap().as_primitive::<Decimal128Type>();
    let at = skus.iter().position(|s| s.as_deref() == Some("/compute/basic3_x2c_4g/run_par1")).unwrap();
    assert_eq!(price.value(at), 39_449_000, "units 0, nanos 39449000 = 0.039449 EUR");
    assert_eq!(strings(&catalog, "currency")[at].as_deref(), Some("EUR"));
    assert_eq!(strings(&catalog, "instance_offer_id")[at].as_deref(), Some("BASIC3-X2C-4G"));
    assert_eq!(strings(&catalog, "zone")[at].as_deref(), Some("fr-par-1"));
}

/// A Money object's amount in nanos, straight from the JSON (`units` and `nanos` carry the same sign).
fn money_nanos(money: &Value) -> i128 {
    let units = money["units"].as_i64().unwrap_or(0) as i128;
    let nanos = money["nanos"].as_i64().unwrap_or(0) as i128;
    units * 1_000_000_000 + nanos
}

fn decimals(batch: &RecordBatch, column: &str) -> Vec<Option<i128>> {
    let array = batch.column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
    let array = array.as_primitive::<Decimal128Type>();
    (0..array.len()).map(|i| array.is_valid(i).then(|| array.value(i))).collect()
}

#[test]
fn recorded_billing_lists_decode_to_the_nano() {
    // Month-to-date consumption: 333 recorded rows across projects; every value is kept exactly, and the
    // list's `updated_at` (outside the rows) rides along as an extra.
    let body = fixture("billing/consumptions_list.json");
    let rows = items(&body, "consumptions");
    let mut context = context();
    context.extras = vec![("billing_period", Value::from("2025-01")), ("updated_at", body["updated_at"].clone())];
    let batch = billing::consumptions().build(&rows, &context, &|i| format!("consumptions[{i}]")).unwrap();
    assert_eq!(batch.num_rows(), 333);
    let values = decimals(&batch, "value");
    let expected: i128 = rows.iter().map(|r| money_nanos(&r["value"])).sum();
    assert_eq!(values.iter().map(|v| v.unwrap()).sum::<i128>(), expected);
    assert!(expected > 0);
    assert!(strings(&batch, "currency").iter().all(|c| c.as_deref() == Some("EUR")));
    assert!(strings(&batch, "billing_period").iter().all(|p| p.as_deref() == Some("2025-01")));
    // billed_quantity is a decimal string on the wire ("22", "1841"): exact too.
    let quantities = decimals(&batch, "billed_quantity");
    for (row, quantity) in rows.iter().zip(&quantities) {
        let wire: rust_decimal::Decimal = row["billed_quantity"].as_str().unwrap().parse().unwrap();
        assert_eq!(rust_decimal::Decimal::from_i128_with_scale(quantity.unwrap(), 9), wire);
    }

    // Invoices: negative Money (a discount) keeps its sign in units and nanos.
    let invoices = items(&fixture("billing/invoices_list.json"), "invoices");
    let batch = build(&billing::invoices(), &invoices);
    assert_eq!(batch.num_rows(), 62);
    for column in ["total_untaxed", "total_taxed", "total_discount", "total_undiscount"] {
        let decoded: i128 = decimals(&batch, column).iter().map(|v| v.unwrap()).sum();
        let wire: i128 = invoices.iter().map(|i| money_nanos(&i[column])).sum();
        assert_eq!(decoded, wire, "{column}");
    }
    let discounts = decimals(&batch, "total_discount");
    assert_eq!(discounts[0], Some(-4_661_380_000_000), "-4661.38 EUR");

    // The FinOps lists (synthetic, shaped after the API reference): charges, taxes, discounts.
    let charges: Vec<Value> =
        ["billing/charges_list_page1.SYNTHETIC.json", "billing/charges_list_page2.SYNTHETIC.json"]
            .iter()
            .flat_map(|page| items(&fixture(page), "charges"))
            .collect();
    let batch = build(&billing::charges(), &charges);
    let decoded: i128 = decimals(&batch, "price").iter().map(|v| v.unwrap()).sum();
    assert_eq!(decoded, charges.iter().map(|c| money_nanos(&c["price"])).sum::<i128>());
    let taxes = items(&fixture("billing/taxes_list.SYNTHETIC.json"), "taxes");
    assert_eq!(build(&billing::taxes(), &taxes).num_rows(), taxes.len());
    let discounts = items(&fixture("billing/discounts_list.SYNTHETIC.json"), "discounts");
    assert_eq!(build(&billing::discounts(), &discounts).num_rows(), discounts.len());
}

type Canned = (StatusCode, Vec<(&'static str, String)>, String);

/// Serves canned responses over real HTTP on loopback. Responses registered for the same path and `page`
/// are served in order, one per request, the last one repeating (for retry tests).
async fn serve(routes: Vec<(&'static str, &'static str, Canned)>) -> String {
    let mut table: std::collections::HashMap<String, Vec<Canned>> = std::collections::HashMap::new();
    for (path, page, canned) in routes {
        let key = match page.strip_prefix("token:") {
            Some(token) => format!("{path}?page_token={token}"),
            None => format!("{path}?page={page}"),
        };
        table.entry(key).or_default().push(canned);
    }
    let table = std::sync::Arc::new(table);
    let served = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::<String, usize>::new()));
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (table, served) = (table.clone(), served.clone());
        async move {
            let param = |name: &str| uri.query().and_then(|q| q.split('&').find_map(|p| p.strip_prefix(name)));
            // Token-paginated lists are keyed by their token, the others by page number.
            let key = match param("page_token=") {
                Some(token) => format!("{}?page_token={token}", uri.path()),
                None => format!("{}?page={}", uri.path(), param("page=").unwrap_or("1")),
            };
            let Some(responses) = table.get(&key) else {
                return (StatusCode::NOT_FOUND, format!("no route for {key}")).into_response();
            };
            let n = {
                let mut served = served.lock().unwrap();
                let n = served.entry(key).or_default();
                *n += 1;
                *n
            };
            let (status, headers, body) = &responses[(n - 1).min(responses.len() - 1)];
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                map.insert(HeaderName::from_static(name), HeaderValue::from_str(value).unwrap());
            }
            (*status, map, body.clone()).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn client(url: &str) -> ScalewayClient {
    let _ = rustls::crypto::ring::default_provider().install_default();
    ScalewayClient::new(ClientOptions {
        api_url: url.into(),
        secret_key: Some("00000000-0000-4000-8000-000000000000".to_string().into()),
        secret_origin: "SCW_SECRET_KEY".into(),
        retry_base: Duration::from_millis(5),
        max_rps: 1000,
        ..ClientOptions::default()
    })
    .unwrap()
}

fn raw(path: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/scaleway").join(path)).unwrap()
}

#[tokio::test]
async fn the_pager_walks_recorded_pages_with_their_recorded_headers() {
    // Link and X-Total-Count exactly as recorded (tests/fixtures/scaleway/SOURCES.md).
    let link1 =
        r#"</products/servers?page=2&per_page=50&>; rel="next",</products/servers?page=3&per_page=50&>; rel="last""#;
    let link2 = r#"</products/servers?page=1&per_page=50&>; rel="first",</products/servers?page=1&per_page=50&>; rel="previous",</products/servers?page=3&per_page=50&>; rel="next",</products/servers?page=3&per_page=50&>; rel="last""#;
    let link3 = r#"</products/servers?page=1&per_page=50&>; rel="first",</products/servers?page=2&per_page=50&>; rel="previous",</products/servers?page=3&per_page=50&>; rel="last""#;
    let path = "/instance/v1/zones/fr-par-1/products/servers";
    let url = serve(vec![
        (
            path,
            "1",
            (
                StatusCode::OK,
                vec![("x-total-count", "136".into()), ("link", link1.into())],
                raw("instance/products_servers_page1.json"),
            ),
        ),
        (
            path,
            "2",
            (
                StatusCode::OK,
                vec![("x-total-count", "136".into()), ("link", link2.into())],
                raw("instance/products_servers_page2.json"),
            ),
        ),
        (
            path,
            "3",
            (
                StatusCode::OK,
                vec![("x-total-count", "136".into()), ("link", link3.into())],
                raw("instance/products_servers_page3.json"),
            ),
        ),
    ])
    .await;
    let client = client(&url);
    let shape = ListShape::Map { key: "servers", name_field: "commercial_type" };
    let mut pager = Pager::new(&client, Scheme::Legacy, path, Vec::new(), shape);
    let mut names = HashSet::new();
    let mut pages = 0;
    while let Some(page) = pager.next().await.unwrap() {
        pages += 1;
        for item in page.items.iter().cloned() {
            assert!(names.insert(item["commercial_type"].as_str().unwrap().to_string()), "a type came twice");
        }
    }
    assert_eq!((pages, names.len()), (3, 136), "a client that trusts one page loses 86 server types");
    assert_eq!(client.stats().pages, 3);
}

/// A redirect would carry the API key (a custom header, which reqwest does not strip) to wherever it points:
/// it is an error, never followed.
#[tokio::test]
async fn a_redirect_is_an_error_and_is_never_followed() {
    // Following it would end in "connection refused" on port 1.
    let moved = (StatusCode::FOUND, vec![("location", "http://127.0.0.1:1/stolen".to_string())], String::new());
    let url = serve(vec![("/account/v3/projects", "1", moved)]).await;
    let error = client(&url).get("/account/v3/projects", &[("page".into(), "1".into())]).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("302") && !message.contains("refused"), "{message}");
}

#[tokio::test]
async fn recorded_error_envelopes_become_clear_errors() {
    let envelope = |path: &str| fixture(path);
    let unauthorized = envelope("errors/401_denied_authentication.json");
    let forbidden = envelope("errors/403_permissions_denied_block.json");
    let rate_limited = envelope("errors/429_rate_limited_block.json");
    let recorded_headers = |e: &Value| -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        for (name, value) in e["headers"].as_object().unwrap() {
            let name: &'static str = Box::leak(name.to_ascii_lowercase().into_boxed_str());
            if !matches!(name, "content-length" | "date" | "content-type") {
                headers.push((name, value.as_str().unwrap().to_string()));
            }
        }
        headers
    };
    let body = |e: &Value| {
        if e["body"].is_null() { String::new() } else { e["body"].to_string() }
    };
    let url = serve(vec![
        ("/account/v3/projects", "1", (StatusCode::UNAUTHORIZED, vec![], body(&unauthorized))),
        ("/block/v1/zones/fr-par-1/snapshots", "1", (StatusCode::FORBIDDEN, vec![], body(&forbidden))),
        // The recorded 429 (empty body, X-Envoy-Ratelimited, no Retry-After) twice, then the list.
        (
            "/block/v1/zones/pl-waw-3/snapshots",
            "1",
            (StatusCode::TOO_MANY_REQUESTS, recorded_headers(&rate_limited), body(&rate_limited)),
        ),
        (
            "/block/v1/zones/pl-waw-3/snapshots",
            "1",
            (StatusCode::TOO_MANY_REQUESTS, recorded_headers(&rate_limited), body(&rate_limited)),
        ),
        ("/block/v1/zones/pl-waw-3/snapshots", "1", (StatusCode::OK, vec![], raw("block/v1_snapshots_list.json"))),
    ])
    .await;
    let client = client(&url);

    let walk = |path: &'static str, key: &'static str| {
        let client = client.clone();
        async move {
            let mut pager = Pager::new(&client, Scheme::TotalCount, path, Vec::new(), ListShape::Array(key));
            let mut n = 0;
            while let Some(page) = pager.next().await? {
                n += page.items.len();
            }
            Ok::<usize, ApiError>(n)
        }
    };
    let error = walk("/account/v3/projects", "projects").await.unwrap_err();
    assert!(matches!(error, ApiError::Unauthorized { .. }), "{error}");
    assert!(
        error.to_string().contains("authentication is denied") && error.to_string().contains("SCW_SECRET_KEY"),
        "{error}"
    );
    assert!(!error.to_string().contains("00000000-0000-4000-8000-000000000000"));

    let error = walk("/block/v1/zones/fr-par-1/snapshots", "snapshots").await.unwrap_err();
    assert!(
        error.to_string().contains("`read` on `snapshot`") && error.to_string().contains("BlockStorageReadOnly"),
        "{error}"
    );

    let collected = walk("/block/v1/zones/pl-waw-3/snapshots", "snapshots").await.unwrap();
    assert_eq!(collected, 2);
    assert_eq!((client.stats().rate_limited, client.stats().retries), (2, 2));
}

#[tokio::test]
async fn the_pager_follows_page_tokens_and_refuses_a_repeated_one() {
    let path = "/billing/v2beta1/charges";
    let page1 = raw("billing/charges_list_page1.SYNTHETIC.json");
    let page2 = raw("billing/charges_list_page2.SYNTHETIC.json");
    let url = serve(vec![
        (path, "1", (StatusCode::OK, vec![], page1.clone())),
        (path, "token:c3ludGhldGljLXBhZ2UtMg", (StatusCode::OK, vec![], page2)),
    ])
    .await;
    let tokens = client(&url);
    let mut pager = Pager::new(&tokens, Scheme::Token, path, Vec::new(), ListShape::Array("charges"));
    let mut charges = 0;
    while let Some(page) = pager.next().await.unwrap() {
        charges += page.items.len();
    }
    let expected = items(&fixture("billing/charges_list_page1.SYNTHETIC.json"), "charges").len()
        + items(&fixture("billing/charges_list_page2.SYNTHETIC.json"), "charges").len();
    assert_eq!(charges, expected);

    // A server that hands back the token it was given would loop forever: it is a malformed response.
    let mut again: Value = serde_json::from_str(&raw("billing/charges_list_page2.SYNTHETIC.json")).unwrap();
    again["next_page_token"] = Value::from("c3ludGhldGljLXBhZ2UtMg");
    let looping = serve(vec![
        (path, "1", (StatusCode::OK, vec![], page1)),
        (path, "token:c3ludGhldGljLXBhZ2UtMg", (StatusCode::OK, vec![], again.to_string())),
    ])
    .await;
    let repeats = client(&looping);
    let mut pager = Pager::new(&repeats, Scheme::Token, path, Vec::new(), ListShape::Array("charges"));
    pager.next().await.unwrap();
    let error = pager.next().await.unwrap_err().to_string();
    assert!(error.contains("next_page_token \"c3ludGhldGljLXBhZ2UtMg\" was already returned"), "{error}");
}

#[tokio::test]
async fn a_total_count_the_pages_do_not_hold_is_a_warning() {
    // Before: a total_count larger than the list passed unnoticed.
    let path = "/block/v1/zones/fr-par-1/snapshots";
    let mut body: Value = serde_json::from_str(&raw("block/v1_snapshots_list.json")).unwrap();
    let held = body["snapshots"].as_array().unwrap().len();
    body["total_count"] = Value::from(held + 40);
    let mut empty = body.clone();
    empty["snapshots"] = Value::Array(vec![]);
    let url = serve(vec![
        (path, "1", (StatusCode::OK, vec![], body.to_string())),
        (path, "2", (StatusCode::OK, vec![], empty.to_string())),
    ])
    .await;
    let lying = client(&url);
    let mut pager = Pager::new(&lying, Scheme::TotalCount, path, Vec::new(), ListShape::Array("snapshots"));
    let mut collected = 0;
    while let Some(page) = pager.next().await.unwrap() {
        collected += page.items.len();
    }
    assert_eq!(collected, held, "what was served is kept");
    let warnings = lying.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains(&format!("declared {} items but its pages held {held}", held + 40)), "{warnings:?}");

    // A count that adds up says nothing.
    let mut honest = body.clone();
    honest["total_count"] = Value::from(held);
    let url = serve(vec![(path, "1", (StatusCode::OK, vec![], honest.to_string()))]).await;
    let good = client(&url);
    let mut pager = Pager::new(&good, Scheme::TotalCount, path, Vec::new(), ListShape::Array("snapshots"));
    while pager.next().await.unwrap().is_some() {}
    assert!(good.warnings().is_empty());
}

/// The first column of every row of a query, as strings.
async fn first_column(warehouse: &dyn costlake_transform::warehouse::Warehouse, sql: &str) -> Vec<String> {
    let result = costlake_queries::query(warehouse, sql, &[]).await.unwrap();
    result.rows.iter().map(|r| r[0].as_str().unwrap_or_else(|| panic!("{sql}: {r:?}")).to_string()).collect()
}

/// The recorded billing responses through the whole path: served over loopback HTTP, collected by the billing
/// collector into a local lake as Parquet, loaded into the embedded engine, and summed there to the nano.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_billing_responses_load_and_sum_to_the_nano() {
    let ok = |path: &str| (StatusCode::OK, Vec::new(), raw(path));
    let url = serve(vec![
        ("/billing/v2beta1/consumptions", "1", ok("billing/consumptions_list.json")),
        ("/billing/v2beta1/invoices", "1", ok("billing/invoices_list.json")),
        ("/billing/v2beta1/charges", "1", ok("billing/charges_list_page1.SYNTHETIC.json")),
        ("/billing/v2beta1/charges", "token:c3ludGhldGljLXBhZ2UtMg", ok("billing/charges_list_page2.SYNTHETIC.json")),
        ("/billing/v2beta1/taxes", "1", ok("billing/taxes_list.SYNTHETIC.json")),
        ("/billing/v2beta1/discounts", "1", ok("billing/discounts_list.SYNTHETIC.json")),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let lake = costlake_lake::Lake::open(&costlake_lake::LakeLocation::Local(dir.path().join("lake"))).unwrap();
    let options = costlake_ingest::CollectOptions {
        organization_id: "105bdce1-64c0-48ab-899d-868455867ecf".into(),
        localities: None,
        now: Some("2025-01-22T14:00:00Z".parse().unwrap()),
        orphan_grace: None,
        cockpit: Default::default(),
    };
    let billing = costlake_ingest::sources::select(&["billing".to_string()]).unwrap();
    let manifest = costlake_ingest::collect(&lake, &client(&url), &billing, &options).await.unwrap();
    assert!(manifest.warnings.is_empty(), "{:?}", manifest.warnings);

    let warehouse = costlake_transform::warehouse::chdb::EmbeddedWarehouse::open(
        dir.path().join("warehouse"),
        Some(costlake_tests::engine::chdb_library()),
    )
    .await
    .unwrap();
    costlake_transform::load::load(&lake, &warehouse, &costlake_ingest::sources::known_datasets()).await.unwrap();
    let nanos = |total: i128| rust_decimal::Decimal::from_i128_with_scale(total, 9).normalize().to_string();

    // The same recorded list answered for both periods the run asks for (this one and the previous one).
    let consumptions = items(&fixture("billing/consumptions_list.json"), "consumptions");
    let expected: String = nanos(consumptions.iter().map(|c| money_nanos(&c["value"])).sum());
    assert_eq!(
        first_column(
            &warehouse,
            "SELECT toString(sum(value)) FROM raw_billing_consumptions GROUP BY billing_period ORDER BY billing_period"
        )
        .await,
        vec![expected.clone(), expected.clone()]
    );
    let invoices = items(&fixture("billing/invoices_list.json"), "invoices");
    for column in ["total_untaxed", "total_discount", "total_undiscount"] {
        let sql = format!("SELECT toString(sum({column})) FROM raw_billing_invoices");
        let expected = nanos(invoices.iter().map(|i| money_nanos(&i[column])).sum());
        assert_eq!(first_column(&warehouse, &sql).await, vec![expected], "{column}");
    }
    let charges: Vec<Value> =
        ["billing/charges_list_page1.SYNTHETIC.json", "billing/charges_list_page2.SYNTHETIC.json"]
            .iter()
            .flat_map(|page| items(&fixture(page), "charges"))
            .collect();
    assert_eq!(
        first_column(&warehouse, "SELECT toString(sum(price)) FROM raw_billing_charges").await,
        vec![nanos(charges.iter().map(|c| money_nanos(&c["price"])).sum())]
    );
    // FOCUS: each billing period's rows add up to its bill (the consumption total). The synthetic charges are
    // of a month whose consumption was not collected: no bill to reconcile with, they stand alone.
    let per_period = |table: &str, period: &str, money: &str| {
        format!("SELECT toString(sum({money})) FROM {table} GROUP BY {period} ORDER BY {period}")
    };
    let focus = first_column(&warehouse, &per_period("focus_costs", "BillingPeriodStart", "BilledCost")).await;
    let daily = first_column(&warehouse, &per_period("billing_daily", "billing_period", "cost")).await;
    assert_eq!(daily, vec![expected.clone(), expected.clone()]);
    assert_eq!(
        focus,
        vec![expected.clone(), expected.clone(), nanos(charges.iter().map(|c| money_nanos(&c["price"])).sum())]
    );
    let sources =
        first_column(&warehouse, "SELECT arrayStringConcat(arraySort(groupUniqArray(x_Source)), ',') FROM focus_costs")
            .await;
    assert_eq!(sources, vec!["charges,consumptions".to_string()]);
    tokio::task::spawn_blocking(costlake_transform::warehouse::chdb::shutdown).await.unwrap();
}
