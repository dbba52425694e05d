//! Account v3: the organisation's projects (`/account/v3/projects`, TotalCount paging).

use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::config::SimConfig;
use crate::http::{Handled, Params, json_response};
use crate::ids::api_ts;
use crate::listing::{BLOCK_ORDERS, Item, apply_order, filtered, total_count_page};
use crate::paging::Page;
use crate::wire::Style;

// ---------------------------------------------------------------------------------------------------------------
// Model

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------------------------
// Wire shape

pub fn project(organization_id: &str, p: &Project) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "organization_id": organization_id,
        "created_at": api_ts(p.created_at),
        "updated_at": api_ts(p.updated_at),
        "description": p.description,
        "qualification": {"architecture_type": "unknown_architecture_type"},
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Routes

/// The projects, rendered once at start.
pub(crate) struct Projects {
    organization_id: String,
    style: Style,
    items: Vec<Item>,
}

impl Projects {
    pub(crate) fn new(organization_id: &str, projects: &[Project], style: Style) -> Projects {
        let items = projects
            .iter()
            .map(|p| Item::new(&p.id, &p.name, &p.id, p.created_at, p.updated_at, project(organization_id, p)))
            .collect();
        Projects { organization_id: organization_id.to_string(), style, items }
    }
}

/// `GET /account/v3/projects`.
pub(crate) fn list(data: &Projects, config: &SimConfig, uri: &Uri) -> Handled {
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let mut items = filtered(&data.organization_id, &data.items, params.get("organization_id"), None);
    apply_order(&mut items, &params, "order_by", &BLOCK_ORDERS, "created_at_asc")?;
    if page.number == 1 && config.malformed.as_deref() == Some("projects") {
        return Ok(json_response(
            StatusCode::OK,
            &json!({"total_count": data.style.count(items.len()), "projects": "oops"}),
            HeaderMap::new(),
        ));
    }
    total_count_page(data.style, "projects", &items, &page, true)
}
