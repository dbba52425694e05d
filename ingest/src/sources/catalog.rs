//! Product Catalog v2alpha1: the public price list of every Scaleway product (~5,000 SKUs), in the same SKU
//! vocabulary as billing. Public, no token needed; one page walk per run.

use async_trait::async_trait;

use super::{Api, CollectError, Context, GLOBAL, Outputs, Probe, ProbeFilter, Product, Scope, walk_list};
use crate::dataset::{DatasetSpec, Kind, LOCALITY, col, key};
use crate::scaleway::{ListShape, Scheme};

pub struct Catalog;

pub const API: Api = Api { version: "product-catalog/v2alpha1", scope: Scope::Global, scheme: Scheme::TotalCount };

pub fn products() -> DatasetSpec {
    DatasetSpec::new(
        "catalog_products",
        1,
        &[
            LOCALITY("locality"),
            key("sku", "sku"),
            col("service_category", Kind::Str, "service_category"),
            col("product_category", Kind::Str, "product_category"),
            col("product", Kind::Str, "product"),
            col("variant", Kind::Str, "variant"),
            col("description", Kind::Str, "description"),
            col("zone", Kind::Str, "locality.zone"),
            col("region", Kind::Str, "locality.region"),
            col("datacenter", Kind::Str, "locality.datacenter"),
            col("is_global", Kind::Bool, "locality.global"),
            col("retail_price", Kind::Decimal, "price.retail_price"),
            col("currency", Kind::Currency, "price.retail_price"),
            col("unit", Kind::Str, "unit_of_measure.unit"),
            col("unit_size", Kind::U64, "unit_of_measure.size"),
            col("status", Kind::Str, "status"),
            col("end_of_life_at", Kind::Timestamp, "end_of_life_at"),
            col("instance_offer_id", Kind::Str, "properties.instance.offer_id"),
        ],
    )
}

#[async_trait]
impl Product for Catalog {
    fn name(&self) -> &'static str {
        "catalog"
    }

    fn summary(&self) -> &'static str {
        "the public Product Catalog: prices in billing's SKU vocabulary"
    }

    fn apis(&self) -> &'static [Api] {
        &[API]
    }

    fn datasets(&self) -> Vec<DatasetSpec> {
        vec![products()]
    }

    fn probe(&self) -> Probe {
        Probe::new(&API, "public-catalog/products", "products", ProbeFilter::None)
    }

    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError> {
        let pager = ctx.list(&API, GLOBAL, "public-catalog/products", Vec::new(), ListShape::Array("products"));
        walk_list(out, &products(), pager, &ctx.row_context(GLOBAL)).await?;
        Ok(())
    }
}
