//! Managed Database for PostgreSQL and MySQL (RDB) API v1 (regional): the database instances, with their node
//! type (the price) and whether they run as a two-node cluster. Their CPU and connections come from Cockpit.
//! Pagination: [`Scheme::TotalCount`].

use async_trait::async_trait;

use super::{Api, CollectError, Context, Outputs, Probe, ProbeFilter, Product, Scope, for_each_locality, walk_list};
use crate::dataset::{DatasetSpec, Kind, LOCALITY, col, key};
use crate::scaleway::{ListShape, Scheme};

pub struct Rdb;

pub const API: Api =
    Api { version: "rdb/v1", scope: Scope::Regions(&["fr-par", "nl-ams", "pl-waw"]), scheme: Scheme::TotalCount };

pub fn instances() -> DatasetSpec {
    DatasetSpec::new(
        "rdb_instances",
        1,
        &[
            LOCALITY("region"),
            key("id", "id"),
            col("name", Kind::Str, "name"),
            col("project_id", Kind::Str, "project_id"),
            col("status", Kind::Str, "status"),
            col("engine", Kind::Str, "engine"),
            // Lower case ("db-dev-s"): its price is the catalog's Managed Database product of that name.
            col("node_type", Kind::Str, "node_type"),
            // Two nodes are billed when true.
            col("is_ha_cluster", Kind::Bool, "is_ha_cluster"),
            col("volume_type", Kind::Str, "volume.type"),
            col("volume_size", Kind::U64, "volume.size"),
            col("created_at", Kind::Timestamp, "created_at"),
            col("tags", Kind::StrList, "tags"),
        ],
    )
}

#[async_trait]
impl Product for Rdb {
    fn name(&self) -> &'static str {
        "rdb"
    }

    fn summary(&self) -> &'static str {
        "Managed Databases (PostgreSQL, MySQL): node types, HA, volumes"
    }

    fn apis(&self) -> &'static [Api] {
        &[API]
    }

    fn datasets(&self) -> Vec<DatasetSpec> {
        vec![instances()]
    }

    fn probe(&self) -> Probe {
        Probe::new(&API, "instances", "instances", ProbeFilter::None)
    }

    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError> {
        let regions: Vec<_> = ctx.localities(&API).into_iter().map(|region| collect_region(ctx, out, region)).collect();
        for_each_locality(regions).await
    }
}

async fn collect_region(ctx: &Context, out: &Outputs, region: &'static str) -> Result<(), CollectError> {
    let owner = vec![("organization_id".to_string(), ctx.organization_id.clone())];
    let pager = ctx.list(&API, region, "instances", owner, ListShape::Array("instances"));
    walk_list(out, &instances(), pager, &ctx.row_context(region)).await?;
    Ok(())
}
