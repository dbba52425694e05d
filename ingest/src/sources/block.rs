//! Block Storage API v1 (zonal): SBS volumes (with their attachments), snapshots, and the volume types with
//! their per-GB-hour prices. Pagination: [`Scheme::TotalCount`].

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Api, CollectError, Context, Outputs, Probe, ProbeFilter, Product, Scope, for_each_locality, walk_list};
use crate::dataset::{DatasetSpec, Kind, LOCALITY, col, key};
use crate::scaleway::{ListShape, Scheme};

pub struct Block;

pub const API: Api = Api {
    version: "block/v1",
    scope: Scope::Zones(&[
        "fr-par-1", "fr-par-2", "fr-par-3", "nl-ams-1", "nl-ams-2", "nl-ams-3", "pl-waw-1", "pl-waw-2", "pl-waw-3",
    ]),
    scheme: Scheme::TotalCount,
};

pub fn volumes() -> DatasetSpec {
    DatasetSpec::new(
        "block_volumes",
        1,
        &[
            LOCALITY("zone"),
            key("id", "id"),
            col("name", Kind::Str, "name"),
            col("project_id", Kind::Str, "project_id"),
            col("type", Kind::Str, "type"),
            col("size", Kind::U64, "size"),
            col("status", Kind::Str, "status"),
            col("perf_iops", Kind::U64, "specs.perf_iops"),
            col("class", Kind::Str, "specs.class"),
            col("parent_snapshot_id", Kind::Str, "parent_snapshot_id"),
            col("created_at", Kind::Timestamp, "created_at"),
            col("updated_at", Kind::Timestamp, "updated_at"),
            col("last_detached_at", Kind::Timestamp, "last_detached_at"),
            col("tags", Kind::StrList, "tags"),
        ],
    )
}

/// `references[]` of each volume: what it is attached to. An unattached volume has none.
pub fn volume_references() -> DatasetSpec {
    DatasetSpec::new(
        "block_volume_references",
        1,
        &[
            LOCALITY("zone"),
            key("volume_id", "volume_id"),
            col("id", Kind::Str, "reference.id"),
            col("product_resource_type", Kind::Str, "reference.product_resource_type"),
            col("product_resource_id", Kind::Str, "reference.product_resource_id"),
            col("type", Kind::Str, "reference.type"),
            col("status", Kind::Str, "reference.status"),
            col("created_at", Kind::Timestamp, "reference.created_at"),
        ],
    )
}

pub fn snapshots() -> DatasetSpec {
    DatasetSpec::new(
        "block_snapshots",
        1,
        &[
            LOCALITY("zone"),
            key("id", "id"),
            col("name", Kind::Str, "name"),
            col("project_id", Kind::Str, "project_id"),
            col("size", Kind::U64, "size"),
            col("status", Kind::Str, "status"),
            col("class", Kind::Str, "class"),
            // `parent_volume` is null once the volume it was taken from is deleted.
            col("parent_volume_id", Kind::Str, "parent_volume.id"),
            col("parent_volume_name", Kind::Str, "parent_volume.name"),
            col("parent_volume_type", Kind::Str, "parent_volume.type"),
            col("parent_volume_status", Kind::Str, "parent_volume.status"),
            col("created_at", Kind::Timestamp, "created_at"),
            col("updated_at", Kind::Timestamp, "updated_at"),
            col("tags", Kind::StrList, "tags"),
        ],
    )
}

/// Volume types with prices "billed in GB/hour" for volumes and their snapshots.
pub fn volume_types() -> DatasetSpec {
    DatasetSpec::new(
        "block_volume_types",
        1,
        &[
            LOCALITY("zone"),
            key("type", "type"),
            col("pricing", Kind::Decimal, "pricing"),
            col("pricing_currency", Kind::Currency, "pricing"),
            col("snapshot_pricing", Kind::Decimal, "snapshot_pricing"),
            col("snapshot_pricing_currency", Kind::Currency, "snapshot_pricing"),
            col("perf_iops", Kind::U64, "specs.perf_iops"),
            col("class", Kind::Str, "specs.class"),
        ],
    )
}

/// One row per entry of each volume's `references`.
pub fn explode_references(volumes: &[Value]) -> Vec<Value> {
    let mut rows = Vec::new();
    for volume in volumes {
        let Some(references) = volume.get("references").and_then(Value::as_array) else {
            continue;
        };
        let volume_id = volume.get("id").cloned().unwrap_or(Value::Null);
        rows.extend(references.iter().map(|reference| json!({"volume_id": volume_id, "reference": reference})));
    }
    rows
}

#[async_trait]
impl Product for Block {
    fn name(&self) -> &'static str {
        "block"
    }

    fn summary(&self) -> &'static str {
        "Block Storage volumes, their attachments, snapshots and volume types with prices"
    }

    fn apis(&self) -> &'static [Api] {
        &[API]
    }

    fn datasets(&self) -> Vec<DatasetSpec> {
        vec![volumes(), volume_references(), snapshots(), volume_types()]
    }

    fn probe(&self) -> Probe {
        Probe::new(&API, "volumes", "volumes", ProbeFilter::None)
    }

    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError> {
        // Collected first: a lazy `map` over a closure held across an await trips the `Send` check.
        let zones: Vec<_> = ctx.localities(&API).into_iter().map(|zone| collect_zone(ctx, out, zone)).collect();
        for_each_locality(zones).await
    }
}

async fn collect_zone(ctx: &Context, out: &Outputs, zone: &'static str) -> Result<(), CollectError> {
    let owner = vec![("organization_id".to_string(), ctx.organization_id.clone())];
    let row = ctx.row_context(zone);

    let (volumes, references) = (volumes(), volume_references());
    let mut pager = ctx.list(&API, zone, "volumes", owner.clone(), ListShape::Array("volumes"));
    while let Some(page) = pager.next().await? {
        out.emit_page(&volumes, &page, &row).await?;
        let attachments = explode_references(&page.items);
        let number = page.number;
        let label = |i| format!("volumes[].references entry {i} (page {number})");
        out.emit(&references, attachments, &row, &page.request, &label).await?;
    }
    let pager = ctx.list(&API, zone, "snapshots", owner, ListShape::Array("snapshots"));
    walk_list(out, &snapshots(), pager, &row).await?;
    let shape = ListShape::Array("volume_types");
    let pager = ctx.list(&API, zone, "volume-types", Vec::new(), shape);
    walk_list(out, &volume_types(), pager, &row).await?;
    Ok(())
}
