//! Load Balancer API v1 (zonal): the load balancers and, one list per load balancer, their backends. A backend's
//! `pool` is the list of its servers' addresses: a load balancer whose backends have no server in any pool (or
//! that has no backend) forwards nothing while it bills by the hour. Pagination: [`Scheme::TotalCount`].

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Api, CollectError, Context, Outputs, Product, Scope, for_each_locality, path_segment};
use crate::dataset::{DatasetSpec, Kind, LOCALITY, col, key};
use crate::scaleway::{ListShape, Scheme};

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

    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError> {
        let zones: Vec<_> = ctx.localities(&API).into_iter().map(|zone| collect_zone(ctx, out, zone)).collect();
        for_each_locality(zones).await
    }
}

async fn collect_zone(ctx: &Context, out: &Outputs, zone: &'static str) -> Result<(), CollectError> {
    let owner = vec![("organization_id".to_string(), ctx.organization_id.clone())];
    let row = ctx.row_context(zone);
    let (lbs, backend_spec) = (load_balancers(), backends());
    let mut ids = Vec::new();
    let mut pager = ctx.list(&API, zone, "lbs", owner, ListShape::Array("lbs"));
    while let Some(page) = pager.next().await? {
        out.emit_page(&lbs, &page, &row).await?;
        for lb in &page.items {
            if let Some(id) = lb.get("id").and_then(Value::as_str) {
                ids.push(path_segment("lbs[].id", id, &page.request)?);
            }
        }
    }
    // The load balancers first, then their backends: no pager is held across another's pages.
    for lb_id in ids {
        let list = format!("lbs/{lb_id}/backends");
        let mut pager = ctx.list(&API, zone, &list, Vec::new(), ListShape::Array("backends"));
        while let Some(page) = pager.next().await? {
            let rows: Vec<Value> = page.items.iter().map(|b| json!({"lb_id": lb_id, "backend": b})).collect();
            let number = page.number;
            let label = |i| format!("backends[{i}] of load balancer {lb_id} (page {number})");
            out.emit(&backend_spec, &rows, &row, &page.request, &label).await?;
        }
    }
    Ok(())
}
