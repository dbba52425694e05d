//! Block v1: SBS volumes, snapshots and volume types (`/block/v1/zones/{zone}/…`, TotalCount paging).

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::config::SimConfig;
use crate::http::{Handled, Params, json_bytes_response, json_response, require_zone};
use crate::ids::api_ts;
use crate::listing::{BLOCK_ORDERS, Item, SortKey, apply_order, filtered, sort};
use crate::paging::{Page, total_count_body};
use crate::prices::{BLOCK_ZONES, PriceBook, VolumeType};
use crate::wire::Style;

// ---------------------------------------------------------------------------------------------------------------
// Model

#[derive(Debug, Clone, PartialEq)]
pub struct VolumeReference {
    pub id: String,
    pub server_id: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlockVolume {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub zone: String,
    pub volume_type: String,
    pub size: u64,
    pub status: String,
    pub references: Vec<VolumeReference>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_detached_at: Option<DateTime<Utc>>,
    /// Copied from the server it is attached to (empty for a free volume).
    pub tags: Vec<String>,
    pub future_field: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParentVolume {
    pub id: String,
    pub name: String,
    pub volume_type: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlockSnapshot {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub zone: String,
    pub size: u64,
    pub status: String,
    pub parent_volume: Option<ParentVolume>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What the Block API serves of the organisation (see `Organization::block`).
pub(crate) struct Served<'a> {
    pub organization_id: &'a str,
    pub prices: &'a PriceBook,
    pub volumes: &'a [BlockVolume],
    pub snapshots: &'a [BlockSnapshot],
}

// ---------------------------------------------------------------------------------------------------------------
// Wire shapes

fn volume_specs(prices: &PriceBook, zone: &str, volume_type: &str) -> Value {
    let iops = prices.volume_type(zone, volume_type).map_or(5000, |t| t.perf_iops);
    json!({"class": "sbs", "perf_iops": iops})
}

pub fn block_volume(prices: &PriceBook, v: &BlockVolume) -> Value {
    let references: Vec<Value> = v
        .references
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "product_resource_type": "instance_server",
                "product_resource_id": r.server_id,
                "created_at": api_ts(r.created_at),
                "type": "exclusive",
                "status": "attached",
            })
        })
        .collect();
    let mut out = json!({
        "created_at": api_ts(v.created_at),
        "id": v.id,
        "kms_key_id": null,
        "last_detached_at": v.last_detached_at.map(api_ts),
        "name": v.name,
        "parent_snapshot_id": null,
        "project_id": v.project_id,
        "references": references,
        "size": v.size,
        "specs": volume_specs(prices, &v.zone, &v.volume_type),
        "status": v.status,
        "tags": v.tags,
        "type": v.volume_type,
        "updated_at": api_ts(v.updated_at),
        "zone": v.zone,
    });
    if let (Some(extra), Value::Object(map)) = (&v.future_field, &mut out) {
        map.insert("future_field".into(), extra.clone());
    }
    out
}

pub fn block_snapshot(s: &BlockSnapshot) -> Value {
    let parent = s
        .parent_volume
        .as_ref()
        .map_or(Value::Null, |p| json!({"id": p.id, "name": p.name, "status": p.status, "type": p.volume_type}));
    json!({
        "class": "sbs",
        "created_at": api_ts(s.created_at),
        "id": s.id,
        "name": s.name,
        "parent_volume": parent,
        "project_id": s.project_id,
        "public": false,
        "references": [],
        "size": s.size,
        "status": s.status,
        "tags": [],
        "updated_at": api_ts(s.updated_at),
        "zone": s.zone,
    })
}

pub fn volume_type(t: &VolumeType, style: Style) -> Value {
    json!({
        "type": t.name,
        "pricing": style.money(t.pricing),
        "snapshot_pricing": style.money(t.snapshot_pricing),
        "specs": {"perf_iops": t.perf_iops, "class": "sbs"},
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Routes

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum List {
    Volumes,
    Snapshots,
}

/// The Block lists, rendered once at start, by (list, zone).
pub(crate) struct Lists {
    organization_id: String,
    style: Style,
    lists: HashMap<(List, String), Vec<Item>>,
    volume_types: Vec<Value>,
}

impl Lists {
    pub(crate) fn new(org: &Served<'_>, style: Style) -> Lists {
        let mut lists: HashMap<(List, String), Vec<Item>> = HashMap::new();
        let mut add = |list, zone: &str, item: Item| lists.entry((list, zone.to_string())).or_default().push(item);
        let item = Item::new;
        for v in org.volumes {
            let json = block_volume(org.prices, v);
            add(List::Volumes, &v.zone, item(&v.id, &v.name, &v.project_id, v.created_at, v.updated_at, json));
        }
        for s in org.snapshots {
            let json = block_snapshot(s);
            add(List::Snapshots, &s.zone, item(&s.id, &s.name, &s.project_id, s.created_at, s.updated_at, json));
        }
        // Store each list in its API's default order so the common request needs no sort.
        for items in lists.values_mut() {
            sort(items, SortKey::CreatedAsc);
        }
        Lists {
            organization_id: org.organization_id.to_string(),
            style,
            lists,
            volume_types: org.prices.volume_types.iter().map(|t| volume_type(t, style)).collect(),
        }
    }

    fn list(&self, list: List, zone: &str) -> &[Item] {
        self.lists.get(&(list, zone.to_string())).map_or(&[], Vec::as_slice)
    }
}

/// `GET /block/v1/zones/{zone}/{volumes,snapshots}`.
pub(crate) fn list(data: &Lists, config: &SimConfig, zone: &str, uri: &Uri, list: List) -> Handled {
    require_zone(zone, &BLOCK_ZONES)?;
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let mut items =
        filtered(&data.organization_id, data.list(list, zone), params.get("organization_id"), params.get("project_id"));
    apply_order(&mut items, &params, "order_by", &BLOCK_ORDERS, "created_at_asc")?;
    let values: Vec<Value> = page.slice(&items).iter().map(|i| i.json.clone()).collect();
    let body = match list {
        List::Volumes => total_count_body(data.style, "volumes", values, items.len(), true),
        _ => total_count_body(data.style, "snapshots", values, items.len(), false),
    };
    let mut bytes = serde_json::to_vec(&body).unwrap_or_default();
    if list == List::Volumes
        && zone == "fr-par-1"
        && page.number == 1
        && config.malformed.as_deref() == Some("block-volumes")
    {
        // Cut mid-document, as a dropped connection would, while still claiming JSON.
        bytes.truncate(bytes.len() / 2);
    }
    Ok(json_bytes_response(StatusCode::OK, bytes, HeaderMap::new()))
}

/// `GET /block/v1/zones/{zone}/volume-types`.
pub(crate) fn volume_types(data: &Lists, zone: &str, uri: &Uri) -> Handled {
    require_zone(zone, &BLOCK_ZONES)?;
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let all = &data.volume_types;
    let values = page.slice(all).to_vec();
    Ok(json_response(
        StatusCode::OK,
        &total_count_body(data.style, "volume_types", values, all.len(), false),
        HeaderMap::new(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_prices_are_written_as_published() {
        let book = PriceBook::default();
        let vt = volume_type(&book.volume_types[0], Style::default());
        assert_eq!(vt["pricing"].to_string(), r#"{"currency_code":"EUR","units":0,"nanos":118000}"#);
        let vt = volume_type(&book.volume_types[0], Style { money_as_strings: true });
        assert_eq!(vt["pricing"].to_string(), r#"{"currency_code":"EUR","units":"0","nanos":"118000"}"#);
    }
}
