//! Load Balancer API v1 (zonal): the load balancers and, one list per load balancer, their backends. A backend's
//! `pool` is the list of its servers' addresses: a load balancer whose backends have no server in any pool (or
//! that has no backend) forwards nothing while it bills by the hour. Pagination: [`Scheme::TotalCount`].

use async_trait::async_trait;
use serde_json::{Value, json};

use reqwest::StatusCode;

use super::{
    Api, CollectError, Context, Outputs, Probe, ProbeFilter, Product, Scope, for_each_locality, gone, list_all,
    path_segment,
};
use crate::dataset::{DatasetSpec, Kind, LOCALITY, col, key};
use crate::scaleway::{ApiError, ListShape, Scheme};

pub struct LoadBalancer;

pub const API: Api = Api {
    version: "lb/v1",
    scope: Scope::Zones(&[
        "fr-par-1", "fr-par-2", "nl-ams-1", "nl-ams-2", "nl-ams-3", "pl-waw-1", "pl-waw-2", "pl-waw-3",
    ]),
    scheme: Scheme::TotalCount,
};

pub fn load_balancers() -> DatasetSpec {
    DatasetSpec::new(
        "lb_load_balancers",
        1,
        &[
            LOCALITY("zone"),
            key("id", "id"),
            col("name", Kind::Str, "name"),
            col("description", Kind::Str, "description"),
            col("project_id", Kind::Str, "project_id"),
            col("status", Kind::Str, "status"),
            // The offer, lower case ("lb-s"): its price is the catalog's Load Balancer product of that name.
            col("type", Kind::Str, "type"),
            col("frontend_count", Kind::U64, "frontend_count"),
            col("backend_count", Kind::U64, "backend_count"),
            col("private_network_count", Kind::U64, "private_network_count"),
            col("created_at", Kind::Timestamp, "created_at"),
            col("updated_at", Kind::Timestamp, "updated_at"),
            col("tags", Kind::StrList, "tags"),
        ],
    )
}

/// One row per backend, with the load balancer it belongs to (the API nests the whole load balancer in each
/// backend; only its id is kept).
pub fn backends() -> DatasetSpec {
    DatasetSpec::new(
        "lb_backends",
        1,
        &[
            LOCALITY("zone"),
            key("lb_id", "lb_id"),
            col("id", Kind::Str, "backend.id"),
            col("name", Kind::Str, "backend.name"),
            col("forward_protocol", Kind::Str, "backend.forward_protocol"),
            col("forward_port", Kind::U64, "backend.forward_port"),
            // The servers' addresses; empty when the backend has no server.
            col("pool", Kind::StrList, "backend.pool"),
            col("created_at", Kind::Timestamp, "backend.created_at"),
            col("updated_at", Kind::Timestamp, "backend.updated_at"),
        ],
    )
}

#[async_trait]
impl Product for LoadBalancer {
    fn name(&self) -> &'static str {
        "lb"
    }

    fn summary(&self) -> &'static str {
        "Load Balancers and their backends (idle ones: no server behind them)"
    }

    fn apis(&self) -> &'static [Api] {
        &[API]
    }

    fn datasets(&self) -> Vec<DatasetSpec> {
        vec![load_balancers(), backends()]
    }

    fn probe(&self) -> Probe {
        Probe::new(&API, "lbs", "lbs", ProbeFilter::None)
    }

    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError> {
        let zones: Vec<_> = ctx.localities(&API).into_iter().map(|zone| collect_zone(ctx, out, zone)).collect();
        for_each_locality(zones).await
    }
}

async fn collect_zone(ctx: &Context, out: &Outputs, zone: &'static str) -> Result<(), CollectError> {
    let owner = vec![("organization_id".to_string(), ctx.organization_id.clone())];
    let row = ctx.row_context(zone);
    let (lb_spec, backend_spec) = (load_balancers(), backends());
    let mut pager = ctx.list(&API, zone, "lbs", owner, ListShape::Array("lbs"));
    while let Some(page) = pager.next().await? {
        // Each load balancer's backends before the load balancer itself: one deleted between the two lists
        // (its backends answer 404) is left out, not recorded as a load balancer without backends (idle).
        let mut kept = Vec::new();
        let mut rows = Vec::new();
        for lb in page.items.iter() {
            let Some(id) = lb.get("id").and_then(Value::as_str) else {
                kept.push(lb.clone());
                continue;
            };
            let lb_id = path_segment("lbs[].id", id, &page.request)?;
            match list_all(ctx, &API, zone, &format!("lbs/{lb_id}/backends"), "backends").await {
                Ok(backends) => {
                    rows.extend(backends.into_iter().map(|b| json!({"lb_id": lb_id, "backend": b})));
                    kept.push(lb.clone());
                }
                Err(CollectError::Api(ApiError::Status { status, .. }))
                    if status == StatusCode::NOT_FOUND && gone(ctx, &API, zone, &format!("lbs/{lb_id}")).await? =>
                {
                    tracing::debug!(lb = %lb_id, "load balancer deleted during the collection: left out");
                }
                Err(error) => return Err(error),
            }
        }
        let number = page.number;
        out.emit(&lb_spec, kept, &row, &page.request, &|i| format!("lbs[{i}] (page {number})")).await?;
        out.emit(&backend_spec, rows, &row, &page.request, &|i| format!("backends[{i}] of lbs (page {number})"))
            .await?;
    }
    Ok(())
}
