//! IPAM API v1 (regional): every IP address the organisation holds, public and private, with the resource it is
//! attached to (`resource`, null when attached to nothing). It is the one list that sees the addresses of every
//! product (Instances, load balancers, databases, Kapsule nodes, gateways…), so an address no product lists
//! still shows up. Pagination: [`Scheme::TotalCount`].

use async_trait::async_trait;

use super::{Api, CollectError, Context, Outputs, Probe, ProbeFilter, Product, Scope, for_each_locality, walk_list};
use crate::dataset::{DatasetSpec, Kind, LOCALITY, col, key};
use crate::scaleway::{ListShape, Scheme};

pub struct Ipam;

pub const API: Api =
    Api { version: "ipam/v1", scope: Scope::Regions(&["fr-par", "nl-ams", "pl-waw"]), scheme: Scheme::TotalCount };

pub fn ips() -> DatasetSpec {
    DatasetSpec::new(
        "ipam_ips",
        1,
        &[
            LOCALITY("region"),
            key("id", "id"),
            // CIDR notation ("172.16.40.5/22").
            col("address", Kind::Str, "address"),
            col("project_id", Kind::Str, "project_id"),
            col("is_ipv6", Kind::Bool, "is_ipv6"),
            col("zone", Kind::Str, "zone"),
            // What the address was taken from: one of zonal, regional, private_network_id, subnet_id, vpc_id.
            col("source", Kind::Json, "source"),
            // Null when the address is attached to nothing.
            col("resource_type", Kind::Str, "resource.type"),
            col("resource_id", Kind::Str, "resource.id"),
            col("resource_name", Kind::Str, "resource.name"),
            col("created_at", Kind::Timestamp, "created_at"),
            col("updated_at", Kind::Timestamp, "updated_at"),
            col("tags", Kind::StrList, "tags"),
        ],
    )
}

#[async_trait]
impl Product for Ipam {
    fn name(&self) -> &'static str {
        "ipam"
    }

    fn summary(&self) -> &'static str {
        "IPAM: every IP address, public and private, and what it is attached to"
    }

    fn apis(&self) -> &'static [Api] {
        &[API]
    }

    fn datasets(&self) -> Vec<DatasetSpec> {
        vec![ips()]
    }

    fn probe(&self) -> Probe {
        Probe::new(&API, "ips", "ips", ProbeFilter::None)
    }

    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError> {
        let regions: Vec<_> = ctx.localities(&API).into_iter().map(|region| collect_region(ctx, out, region)).collect();
        for_each_locality(regions).await
    }
}

async fn collect_region(ctx: &Context, out: &Outputs, region: &'static str) -> Result<(), CollectError> {
    let owner = vec![("organization_id".to_string(), ctx.organization_id.clone())];
    let pager = ctx.list(&API, region, "ips", owner, ListShape::Array("ips"));
    walk_list(out, &ips(), pager, &ctx.row_context(region)).await?;
    Ok(())
}
