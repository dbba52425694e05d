//! Instance API v1 (zonal): servers (and the volumes attached to them), local volumes, flexible IPs,
//! snapshots, and the server types with their hourly prices. Pagination: [`Scheme::Legacy`]
//! (`X-Total-Count` + `Link`).

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Api, CollectError, Context, Outputs, Probe, ProbeFilter, Product, Scope, for_each_locality, walk_list};
use crate::dataset::{DatasetSpec, Kind, LOCALITY, col, constant, key};
use crate::scaleway::{ListShape, Scheme};

pub struct Instance;

pub const API: Api = Api {
    version: "instance/v1",
    scope: Scope::Zones(&[
        "fr-par-1", "fr-par-2", "fr-par-3", "nl-ams-1", "nl-ams-2", "nl-ams-3", "pl-waw-1", "pl-waw-2", "pl-waw-3",
        "it-mil-1",
    ]),
    scheme: Scheme::Legacy,
};

pub fn servers() -> DatasetSpec {
    DatasetSpec::new(
        "instance_servers",
        1,
        &[
            LOCALITY("zone"),
            key("id", "id"),
            col("name", Kind::Str, "name"),
            col("project_id", Kind::Str, "project"),
            col("commercial_type", Kind::Str, "commercial_type"),
            // `running`, `stopped`, `stopped in place` (standby, with a space), `starting`, ... kept verbatim.
            col("state", Kind::Str, "state"),
            col("state_detail", Kind::Str, "state_detail"),
            col("arch", Kind::Str, "arch"),
            col("boot_type", Kind::Str, "boot_type"),
            col("image_id", Kind::Str, "image.id"),
            col("image_name", Kind::Str, "image.name"),
            col("protected", Kind::Bool, "protected"),
            col("creation_date", Kind::Timestamp, "creation_date"),
            col("modification_date", Kind::Timestamp, "modification_date"),
            col("tags", Kind::StrList, "tags"),
        ],
    )
}

/// The `volumes` map of each server, one row per attachment. For SBS volumes the API returns only
/// `{boot, id, state, volume_type, zone}`: their name and size come from the Block API.
pub fn server_volumes() -> DatasetSpec {
    DatasetSpec::new(
        "instance_server_volumes",
        1,
        &[
            LOCALITY("zone"),
            key("server_id", "server_id"),
            col("slot", Kind::Str, "slot"),
            key("volume_id", "volume.id"),
            col("volume_type", Kind::Str, "volume.volume_type"),
            col("boot", Kind::Bool, "volume.boot"),
            col("name", Kind::Str, "volume.name"),
            col("size", Kind::U64, "volume.size"),
            col("state", Kind::Str, "volume.state"),
        ],
    )
}

pub fn volumes() -> DatasetSpec {
    DatasetSpec::new(
        "instance_volumes",
        1,
        &[
            LOCALITY("zone"),
            key("id", "id"),
            col("name", Kind::Str, "name"),
            col("project_id", Kind::Str, "project"),
            col("volume_type", Kind::Str, "volume_type"),
            col("size", Kind::U64, "size"),
            col("state", Kind::Str, "state"),
            // `null` when the volume is attached to nothing.
            col("server_id", Kind::Str, "server.id"),
            col("server_name", Kind::Str, "server.name"),
            col("creation_date", Kind::Timestamp, "creation_date"),
            col("modification_date", Kind::Timestamp, "modification_date"),
            col("tags", Kind::StrList, "tags"),
        ],
    )
}

pub fn ips() -> DatasetSpec {
    DatasetSpec::new(
        "instance_ips",
        1,
        &[
            LOCALITY("zone"),
            key("id", "id"),
            col("address", Kind::Str, "address"),
            col("prefix", Kind::Str, "prefix"),
            col("reverse", Kind::Str, "reverse"),
            col("project_id", Kind::Str, "project"),
            col("type", Kind::Str, "type"),
            col("state", Kind::Str, "state"),
            // `null` when the flexible IP is attached to nothing (and still billed).
            col("server_id", Kind::Str, "server.id"),
            col("server_name", Kind::Str, "server.name"),
            col("ipam_id", Kind::Str, "ipam_id"),
            col("tags", Kind::StrList, "tags"),
        ],
    )
}

pub fn snapshots() -> DatasetSpec {
    DatasetSpec::new(
        "instance_snapshots",
        1,
        &[
            LOCALITY("zone"),
            key("id", "id"),
            col("name", Kind::Str, "name"),
            col("project_id", Kind::Str, "project"),
            col("volume_type", Kind::Str, "volume_type"),
            col("size", Kind::U64, "size"),
            col("state", Kind::Str, "state"),
            col("base_volume_id", Kind::Str, "base_volume.id"),
            col("base_volume_name", Kind::Str, "base_volume.name"),
            col("creation_date", Kind::Timestamp, "creation_date"),
            col("modification_date", Kind::Timestamp, "modification_date"),
            col("tags", Kind::StrList, "tags"),
        ],
    )
}

/// `products/servers`: a map keyed by commercial type, paginated over its entries.
pub fn server_types() -> DatasetSpec {
    DatasetSpec::new(
        "instance_server_types",
        1,
        &[
            LOCALITY("zone"),
            key("commercial_type", "commercial_type"),
            col("hourly_price", Kind::Decimal, "hourly_price"),
            col("monthly_price", Kind::Decimal, "monthly_price"),
            // The API documents both prices "in Euro" and carries no currency field.
            constant("currency", "EUR"),
            col("ncpus", Kind::U64, "ncpus"),
            col("ram", Kind::U64, "ram"),
            col("gpu", Kind::U64, "gpu"),
            col("arch", Kind::Str, "arch"),
            col("end_of_service", Kind::Bool, "end_of_service"),
        ],
    )
}

/// One row per entry of each server's `volumes` map.
pub fn explode_server_volumes(servers: &[Value]) -> Vec<Value> {
    let mut rows = Vec::new();
    for server in servers {
        let Some(volumes) = server.get("volumes").and_then(Value::as_object) else {
            continue;
        };
        let server_id = server.get("id").cloned().unwrap_or(Value::Null);
        for (slot, volume) in volumes {
            rows.push(json!({"server_id": server_id, "slot": slot, "volume": volume}));
        }
    }
    rows
}

#[async_trait]
impl Product for Instance {
    fn name(&self) -> &'static str {
        "instance"
    }

    fn summary(&self) -> &'static str {
        "Instances, their volumes, flexible IPs, snapshots and server types with prices"
    }

    fn apis(&self) -> &'static [Api] {
        &[API]
    }

    fn datasets(&self) -> Vec<DatasetSpec> {
        vec![servers(), server_volumes(), volumes(), ips(), snapshots(), server_types()]
    }

    fn probe(&self) -> Probe {
        Probe::new(&API, "servers", "servers", ProbeFilter::None)
    }

    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError> {
        // Collected first: a lazy `map` over a closure held across an await trips the `Send` check.
        let zones: Vec<_> = ctx.localities(&API).into_iter().map(|zone| collect_zone(ctx, out, zone)).collect();
        for_each_locality(zones).await
    }
}

async fn collect_zone(ctx: &Context, out: &Outputs, zone: &'static str) -> Result<(), CollectError> {
    let owner = vec![("organization".to_string(), ctx.organization_id.clone())];
    let row = ctx.row_context(zone);

    let (servers, server_volumes) = (servers(), server_volumes());
    let mut pager = ctx.list(&API, zone, "servers", owner.clone(), ListShape::Array("servers"));
    while let Some(page) = pager.next().await? {
        out.emit_page(&servers, &page, &row).await?;
        let attachments = explode_server_volumes(&page.items);
        let number = page.number;
        let label = |i| format!("servers[].volumes entry {i} (page {number})");
        out.emit(&server_volumes, attachments, &row, &page.request, &label).await?;
    }
    for (spec, list) in [(volumes(), "volumes"), (ips(), "ips"), (snapshots(), "snapshots")] {
        let pager = ctx.list(&API, zone, list, owner.clone(), ListShape::Array(list));
        walk_list(out, &spec, pager, &row).await?;
    }
    let shape = ListShape::Map { key: "servers", name_field: "commercial_type" };
    let pager = ctx.list(&API, zone, "products/servers", Vec::new(), shape);
    walk_list(out, &server_types(), pager, &row).await?;
    Ok(())
}
