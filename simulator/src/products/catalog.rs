//! Product Catalog v2alpha1: the public price list (`/product-catalog/v2alpha1/public-catalog/products`,
//! TotalCount paging, no token): every commercial type in every Instance zone, the flexible IPs, the Load Balancer
//! offers in every Load Balancer zone, then the Managed Database node types in every RDB region. Every price comes
//! from the [`PriceBook`], which the oracles read too.

use axum::http::{HeaderMap, StatusCode, Uri};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::http::{Handled, Params, json_response};
use crate::paging::{Page, total_count_body};
use crate::prices::{DbNodeType, INSTANCE_ZONES, LB_ZONES, LbType, PriceBook, RDB_REGIONS, ServerType};
use crate::wire::{Style, decimal_number};

// ---------------------------------------------------------------------------------------------------------------
// Model and wire shapes

/// A Product Catalog product, tagged with what the catalog filters need.
#[derive(Debug, Clone)]
pub struct CatalogProduct {
    /// `None` for a regional product.
    pub zone: Option<&'static str>,
    /// The product's region (a zoned product's is its zone's).
    pub region: &'static str,
    /// The `product_types` value that selects it.
    pub product_type: &'static str,
    pub json: Value,
}

fn euro(d: Decimal) -> String {
    format!("{}€", d.normalize())
}

fn instance_product(t: &ServerType, zone: &'static str, style: Style) -> Value {
    let sku = format!("/compute/{}/run_{zone}", t.name.to_lowercase().replace('-', "_"));
    let ram_gib = t.ram >> 30;
    let mbps = t.bandwidth / 1_000_000;
    // A rough, deterministic footprint: proportional to the vCPUs, like the recorded ones grow with size.
    let co2 = Decimal::new(7, 4) * Decimal::from(t.ncpus);
    let water = Decimal::new(85, 9) * Decimal::from(t.ncpus);
    json!({
        "sku": sku,
        "service_category": "Compute",
        "product_category": "Instance",
        "product": t.name,
        "variant": format!("{} - {zone}", t.name),
        "description": format!("{} - {zone} ({} per hour)", t.name, euro(t.hourly_price)),
        "locality": {"zone": zone},
        "price": {"retail_price": style.money(t.hourly_price)},
        "properties": {
            "hardware": {
                "cpu": {
                    "description": format!("{}, x64, vCPUs: {}", t.cpu, t.ncpus),
                    "arch": "x64",
                    "type": t.cpu,
                    "virtual": {"count": t.ncpus},
                    "threads": t.ncpus,
                },
                "ram": {"description": format!("{ram_gib} GiB"), "size": t.ram, "type": "", "ecc_type": "standard"},
                "storage": {"description": if t.local_volumes { "Dynamic local: 1 x SSD, Block" } else { "Block" }, "total": 0},
                "network": {
                    "description": format!("Internal: {mbps} Mb/s, Public: {mbps} Mb/s"),
                    "internal_bandwidth": t.bandwidth,
                    "public_bandwidth": t.bandwidth,
                    "max_public_bandwidth": t.bandwidth,
                },
            },
            "instance": {"range": t.range, "offer_id": t.name, "recommended_replacement_offer_ids": []},
        },
        "environmental_impact_estimation": {
            "kg_co2_equivalent": decimal_number(co2),
            "m3_water_usage": decimal_number(water),
        },
        "unit_of_measure": {"unit": "hour", "size": 1},
        "status": "general_availability",
        "badges": [],
    })
}

fn flexible_ip_product(family: &str, path: &str, hourly: Decimal, zone: &'static str, style: Style) -> Value {
    let product = format!("Flexible {family}");
    json!({
        "sku": format!("/network/flexip/{path}/run_{zone}"),
        "service_category": "Network",
        "product_category": "Flexible IP",
        "product": product,
        "variant": format!("{product} - {zone}"),
        "description": format!("{product} - {zone} ({} per hour)", euro(hourly)),
        "locality": {"zone": zone},
        "price": {"retail_price": style.money(hourly)},
        "properties": {},
        "unit_of_measure": {"unit": "hour", "size": 1},
        "status": "general_availability",
        "badges": [],
    })
}

/// A Load Balancer offer in a zone: billed by the hour, whatever it forwards.
fn lb_product(t: &LbType, zone: &'static str, style: Style) -> Value {
    let product = t.name.to_uppercase();
    json!({
        "sku": format!("/network/loadbalancer/{}/run_{zone}", t.name),
        "service_category": "Network",
        "product_category": "Load Balancer",
        "product": product,
        "variant": format!("{product} - {zone}"),
        "description": format!("{product} - {zone} ({} per hour)", euro(t.hourly_price)),
        "locality": {"zone": zone},
        "price": {"retail_price": style.money(t.hourly_price)},
        "properties": {},
        "unit_of_measure": {"unit": "hour", "size": 1},
        "status": "general_availability",
        "badges": [],
    })
}

/// A Managed Database node type in a region, priced per node and hour (a high-availability cluster pays two).
fn db_product(t: &DbNodeType, region: &'static str, style: Style) -> Value {
    let product = t.name.to_uppercase();
    json!({
        "sku": format!("/rdb/{}/run_{region}", t.name),
        "service_category": "Database",
        "product_category": "Managed Database",
        "product": product,
        "variant": format!("{product} - {region}"),
        "description": format!("{product} - {region} ({} per hour and node)", euro(t.hourly_price)),
        "locality": {"region": region},
        "price": {"retail_price": style.money(t.hourly_price)},
        "properties": {},
        "unit_of_measure": {"unit": "hour", "size": 1},
        "status": "general_availability",
        "badges": [],
    })
}

/// The region of a zone (`fr-par-1` → `fr-par`).
fn region_of(zone: &'static str) -> &'static str {
    zone.rsplit_once('-').map_or(zone, |(region, _)| region)
}

/// The whole public catalogue: every commercial type in every Instance zone, the flexible IPs, the Load Balancer
/// offers, then the Managed Database node types.
pub fn catalog(prices: &PriceBook, style: Style) -> Vec<CatalogProduct> {
    let mut out = Vec::new();
    let zoned =
        |zone, product_type, json| CatalogProduct { zone: Some(zone), region: region_of(zone), product_type, json };
    for zone in INSTANCE_ZONES {
        for t in &prices.server_types {
            out.push(zoned(zone, "instance", instance_product(t, zone, style)));
        }
    }
    for zone in INSTANCE_ZONES {
        let v4 = flexible_ip_product("IPv4", "ip", prices.flexible_ipv4_hourly, zone, style);
        let v6 = flexible_ip_product("IPv6", "ipv6", prices.flexible_ipv6_hourly, zone, style);
        out.push(zoned(zone, "flexible_ip", v4));
        out.push(zoned(zone, "flexible_ip", v6));
    }
    for zone in LB_ZONES {
        for t in &prices.lb_types {
            out.push(zoned(zone, "load_balancer", lb_product(t, zone, style)));
        }
    }
    for region in RDB_REGIONS {
        for t in &prices.db_node_types {
            let json = db_product(t, region, style);
            out.push(CatalogProduct { zone: None, region, product_type: "managed_relational_database", json });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Routes

/// The catalogue, rendered once at start.
pub(crate) struct Catalog {
    style: Style,
    products: Vec<CatalogProduct>,
}

impl Catalog {
    pub(crate) fn new(prices: &PriceBook, style: Style) -> Catalog {
        Catalog { style, products: catalog(prices, style) }
    }
}

/// `product_types` values that select the flexible IP products (the catalog has no single agreed name for them).
const IP_PRODUCT_TYPES: [&str; 4] = ["flexible_ip", "public_ip", "network", "ip"];

/// `GET /product-catalog/v2alpha1/public-catalog/products` (public).
pub(crate) fn products(data: &Catalog, uri: &Uri) -> Handled {
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let types = params.all("product_types");
    let zone = params.get("zone");
    let region = params.get("region");
    let selected: Vec<&CatalogProduct> = data
        .products
        .iter()
        .filter(|p| zone.is_none_or(|z| p.zone == Some(z)))
        .filter(|p| region.is_none_or(|r| p.region == r))
        .filter(|p| {
            types.is_empty()
                || types
                    .iter()
                    .any(|t| *t == p.product_type || (p.product_type == "flexible_ip" && IP_PRODUCT_TYPES.contains(t)))
        })
        .collect();
    let values: Vec<Value> = page.slice(&selected).iter().map(|p| p.json.clone()).collect();
    Ok(json_response(
        StatusCode::OK,
        &total_count_body(data.style, "products", values, selected.len(), false),
        HeaderMap::new(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_every_type_and_ip_per_zone() {
        let products = catalog(&PriceBook::default(), Style::default());
        assert_eq!(products.len(), 10 * 8 + 10 * 2 + 8 * 3 + 3 * 3);
        let dev1s = &products[0].json;
        assert_eq!(dev1s["sku"], "/compute/dev1_s/run_fr-par-1");
        assert_eq!(dev1s["description"], "DEV1-S - fr-par-1 (0.0088€ per hour)");
        assert_eq!(dev1s["price"]["retail_price"]["nanos"].to_string(), "8800000");
        let ip = products.iter().find(|p| p.json["sku"] == "/network/flexip/ip/run_nl-ams-1").unwrap();
        assert_eq!(ip.json["price"]["retail_price"]["nanos"].to_string(), "4000000");
    }

    #[test]
    fn load_balancer_and_database_products() {
        let products = catalog(&PriceBook::default(), Style::default());
        let sku = |sku: &str| &products.iter().find(|p| p.json["sku"] == sku).unwrap().json;
        let lb = sku("/network/loadbalancer/lb-s/run_fr-par-1");
        assert_eq!(
            (&lb["product"], &lb["product_category"], &lb["service_category"]),
            (&json!("LB-S"), &json!("Load Balancer"), &json!("Network"))
        );
        assert_eq!(lb["locality"], json!({"zone": "fr-par-1"}));
        assert_eq!(lb["price"]["retail_price"], json!({"currency_code": "EUR", "units": 0, "nanos": 12_400_000}));
        assert_eq!(lb["unit_of_measure"], json!({"unit": "hour", "size": 1}));
        assert_eq!(sku("/network/loadbalancer/lb-gp-l/run_pl-waw-3")["price"]["retail_price"]["nanos"], 219_600_000);
        let db = sku("/rdb/db-dev-s/run_nl-ams");
        assert_eq!((&db["product"], &db["product_category"]), (&json!("DB-DEV-S"), &json!("Managed Database")));
        assert_eq!(db["locality"], json!({"region": "nl-ams"}));
        assert_eq!(sku("/rdb/db-pro2-xxs/run_fr-par")["price"]["retail_price"]["nanos"], 89_400_000);
        let skus: std::collections::HashSet<_> = products.iter().map(|p| p.json["sku"].to_string()).collect();
        assert_eq!(skus.len(), products.len(), "skus are unique");
    }
}
