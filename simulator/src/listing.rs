//! Pre-rendered list items and their orders, shared by the Account, Instance, Block, Load Balancer and RDB lists: each resource is
//! rendered once at start, then a request filters, orders and pages the rendered items.

use std::cmp::Ordering as CmpOrdering;

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::http::{ApiError, Handled, Params, json_response};
use crate::paging::{Page, total_count_body};
use crate::wire::Style;

/// One listable resource, rendered once at start.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    id: String,
    name: String,
    project_id: String,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    pub(crate) json: Value,
}

impl Item {
    pub(crate) fn new(
        id: &str,
        name: &str,
        project: &str,
        created: DateTime<Utc>,
        modified: DateTime<Utc>,
        json: Value,
    ) -> Item {
        Item { id: id.to_string(), name: name.to_string(), project_id: project.to_string(), created, modified, json }
    }
}

/// `GET …/{id}` of one listed resource: its list entry, or 404 `not_found` naming `resource`.
pub(crate) fn get_one(items: &[Item], id: &str, resource: &'static str) -> Handled {
    let item = items
        .iter()
        .find(|item| item.id == id)
        .ok_or_else(|| ApiError::ResourceNotFound { resource, resource_id: id.to_string() })?;
    Ok(json_response(StatusCode::OK, &item.json, HeaderMap::new()))
}

/// The page `page` of `items` (filtered and ordered) as a TotalCount list under `key`: 200, the count where the
/// API's recordings put it.
pub(crate) fn total_count_page(style: Style, key: &str, items: &[&Item], page: &Page, count_first: bool) -> Handled {
    let values: Vec<Value> = page.slice(items).iter().map(|i| i.json.clone()).collect();
    Ok(json_response(StatusCode::OK, &total_count_body(style, key, values, items.len(), count_first), HeaderMap::new()))
}

/// Applies the organisation and project filters (every resource belongs to the one organisation).
pub(crate) fn filtered<'a>(
    organization_id: &str,
    items: &'a [Item],
    organization: Option<&str>,
    project: Option<&str>,
) -> Vec<&'a Item> {
    if organization.is_some_and(|o| o != organization_id) {
        return Vec::new();
    }
    items.iter().filter(|i| project.is_none_or(|p| i.project_id == p)).collect()
}

/// Applies a `name` filter: the newer APIs (Load Balancer, RDB) match names that contain the given text.
pub(crate) fn named<'a>(items: Vec<&'a Item>, name: Option<&str>) -> Vec<&'a Item> {
    match name.filter(|n| !n.is_empty()) {
        None => items,
        Some(name) => items.into_iter().filter(|i| i.name.contains(name)).collect(),
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum SortKey {
    CreatedAsc,
    CreatedDesc,
    ModifiedAsc,
    ModifiedDesc,
    NameAsc,
    NameDesc,
}

fn compare(a: &Item, b: &Item, key: SortKey) -> CmpOrdering {
    let primary = match key {
        SortKey::CreatedAsc => a.created.cmp(&b.created),
        SortKey::CreatedDesc => b.created.cmp(&a.created),
        SortKey::ModifiedAsc => a.modified.cmp(&b.modified),
        SortKey::ModifiedDesc => b.modified.cmp(&a.modified),
        SortKey::NameAsc => a.name.cmp(&b.name),
        SortKey::NameDesc => b.name.cmp(&a.name),
    };
    primary.then_with(|| a.id.cmp(&b.id))
}

pub(crate) fn sort(items: &mut [Item], key: SortKey) {
    items.sort_by(|a, b| compare(a, b, key));
}

/// Reorders `items` when the request asks for a non-default order; unknown values are rejected like the real API
/// rejects unknown enum values.
pub(crate) fn apply_order(
    items: &mut [&Item],
    params: &Params,
    param: &str,
    accepted: &[(&str, SortKey)],
    default: &str,
) -> Result<(), ApiError> {
    let Some(value) = params.get(param) else {
        return Ok(());
    };
    if value == default {
        return Ok(());
    }
    let Some((_, key)) = accepted.iter().find(|(name, _)| *name == value) else {
        let names: Vec<&str> = accepted.iter().map(|(n, _)| *n).collect();
        return Err(ApiError::invalid(param, &format!("must be one of {}", names.join(", "))));
    };
    items.sort_by(|a, b| compare(a, b, *key));
    Ok(())
}

/// `order_by` of the Block, Account, Load Balancer and RDB lists (`created_at_asc` by default).
pub(crate) const BLOCK_ORDERS: [(&str, SortKey); 4] = [
    ("created_at_asc", SortKey::CreatedAsc),
    ("created_at_desc", SortKey::CreatedDesc),
    ("name_asc", SortKey::NameAsc),
    ("name_desc", SortKey::NameDesc),
];
