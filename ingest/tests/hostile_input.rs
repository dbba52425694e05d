//! Hostile input, generated: whatever JSON an API page holds, decoding it into any dataset of any product gives
//! rows or an error naming the item and field, never a panic; the same for Cockpit's Prometheus answers, for
//! error bodies, and for manifests read back from a lake. A bounded number of cases runs in CI.

use chrono::Utc;
use costlake_ingest::dataset::RowContext;
use costlake_ingest::sources;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Any JSON value, nested a few levels, with the shapes Scaleway uses (money objects, timestamps, strings of
/// digits) mixed with hostile ones (control characters, huge numbers, wrong types).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
        "[0-9]{1,30}(\\.[0-9]{0,12})?".prop_map(Value::from),
        "(19|20|99)[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|\\+00:00)?"
            .prop_map(Value::from),
        (any::<i64>(), any::<i32>(), "[A-Z]{0,4}").prop_map(|(units, nanos, currency)| {
            json!({"units": units, "nanos": nanos, "currency_code": currency})
        }),
        "[\\x00-\\x1f\\x7f]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_.]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// An item: an object whose keys are those the datasets read, plus noise, each with any value.
fn item() -> impl Strategy<Value = Value> {
    let keys: Vec<&'static str> = vec![
        "id",
        "name",
        "project_id",
        "state",
        "status",
        "commercial_type",
        "creation_date",
        "modification_date",
        "created_at",
        "updated_at",
        "size",
        "volume_type",
        "tags",
        "zone",
        "server",
        "volumes",
        "public_ips",
        "value",
        "price",
        "billed_quantity",
        "sku",
        "start_date",
        "end_date",
        "hourly_price",
        "ncpus",
        "ram",
        "references",
        "parent_volume",
        "specs",
        "pricing",
        "total_untaxed",
        "billing_period",
        "origin",
        "type",
        "url",
        "retention_days",
        "address",
    ];
    prop::collection::vec((prop::sample::select(keys), json_value()), 0..16)
        .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

fn row() -> RowContext {
    RowContext {
        run_id: "20261122T040000Z-00000001".into(),
        snapshot_at: Utc::now(),
        organization_id: "org".into(),
        locality: "fr-par-1".into(),
        extras: vec![("billing_period", Value::from("2026-11")), ("updated_at", Value::from("2026-11-22T04:00:00Z"))],
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_page_decodes_into_any_dataset_or_names_its_error(items in prop::collection::vec(item(), 0..6)) {
        for product in sources::all() {
            for spec in product.datasets() {
                match spec.build(&items, &row(), &|i| format!("items[{i}]")) {
                    Ok(batch) => prop_assert_eq!(batch.num_rows(), items.len()),
                    Err(error) => prop_assert!(error.starts_with("items["), "{}: {error}", spec.name),
                }
            }
        }
    }

    #[test]
    fn any_error_body_is_described_without_a_panic(body in prop::collection::vec(any::<u8>(), 0..300)) {
        let (kind, message, _) = costlake_ingest::scaleway::error::describe_error_body(&body);
        prop_assert!(!kind.is_empty() && !message.is_empty());
    }

    #[test]
    fn any_prometheus_answer_is_decoded_or_refused(body in json_value()) {
        let bytes = serde_json::to_vec(&json!({"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": body}]}})).unwrap();
        let _ = sources::cockpit::decode_query_range(&bytes);
    }

    #[test]
    fn any_manifest_bytes_are_read_or_refused(value in json_value(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = costlake_lake::Manifest::from_json(&serde_json::to_vec(&value).unwrap());
        let _ = costlake_lake::Manifest::from_json(&bytes);
        let mut shaped = json!({"manifest_version": costlake_lake::manifest::MANIFEST_VERSION});
        shaped["datasets"] = value.clone();
        shaped["run_id"] = value;
        let _ = costlake_lake::Manifest::from_json(&serde_json::to_vec(&shaped).unwrap());
    }
}
