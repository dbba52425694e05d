//! JSON wire shapes, field for field (and in the same order) as the recorded responses in
//! `shared/fixtures/scaleway`. Kept apart from the model so that the model stays typed and the quirks of each API
//! (timestamp styles, reduced SBS entries, `null` vs `[]`) live in one place.

use std::collections::HashMap;

use chrono::{Datelike, Days, Months, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::billing::{Billable, Book, Invoice, Row};
use crate::catalog::{INSTANCE_ZONES, PriceBook, ServerType, VolumeType, hourly_to_monthly, money_parts};
use crate::ids::{api_ts, instance_ts};
use crate::org::{
    BlockSnapshot, BlockVolume, FlexibleIp, InstanceSnapshot, InstanceVolume, Organization, Project, Server, ServerRef,
    ServerVolume,
};

/// Formatting switches that apply to every response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// Money parts and `total_count` as JSON strings (protobuf-JSON int64 convention).
    pub money_as_strings: bool,
}

impl Style {
    pub fn count(self, n: usize) -> Value {
        if self.money_as_strings { Value::String(n.to_string()) } else { json!(n) }
    }

    fn int(self, n: i64) -> Value {
        if self.money_as_strings { Value::String(n.to_string()) } else { json!(n) }
    }

    pub fn money(self, value: Decimal) -> Value {
        let (units, nanos) = money_parts(value);
        json!({"currency_code": "EUR", "units": self.int(units), "nanos": self.int(nanos)})
    }

    /// Money with its keys in the order of the recorded Billing responses (`currency_code`, `nanos`, `units`).
    pub fn money_recorded(self, value: Decimal) -> Value {
        let (units, nanos) = money_parts(value);
        json!({"currency_code": "EUR", "nanos": self.int(nanos), "units": self.int(units)})
    }
}

/// A decimal as a JSON number written exactly as the decimal reads (`0.0198`, not `0.019799999`); the workspace's
/// `arbitrary_precision` serde_json keeps the literal.
pub fn decimal_number(d: Decimal) -> Value {
    serde_json::from_str(&d.normalize().to_string()).unwrap_or(Value::Null)
}

/// A decimal as a JSON float (`0.0`, `31.42`): the Billing API sends some amounts as float64.
pub fn float_number(d: Decimal) -> Value {
    let text = d.normalize().to_string();
    let text = if text.contains('.') { text } else { format!("{text}.0") };
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn server_ref(r: Option<&ServerRef>) -> Value {
    match r {
        Some(r) => json!({"id": r.id, "name": r.name}),
        None => Value::Null,
    }
}

pub fn project(org: &Organization, p: &Project) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "organization_id": org.id,
        "created_at": api_ts(p.created_at),
        "updated_at": api_ts(p.updated_at),
        "description": p.description,
        "qualification": {"architecture_type": "unknown_architecture_type"},
    })
}

fn image(org: &Organization, zone: &str) -> Value {
    // The public Ubuntu image: owned by Scaleway's image organisation, not by the simulated one.
    const SCALEWAY_IMAGES: &str = "51b656e3-4865-41e8-adbc-0c45bdd780db";
    let published = instance_ts(crate::ids::at_eight(org.today, 430, 420_846));
    json!({
        "id": org.image.0,
        "name": "Ubuntu 22.04 Jammy Jellyfish",
        "organization": SCALEWAY_IMAGES,
        "project": SCALEWAY_IMAGES,
        "root_volume": {"volume_type": "sbs_snapshot", "id": org.image.1, "size": 0, "name": ""},
        "extra_volumes": {},
        "public": true,
        "arch": "x86_64",
        "creation_date": published,
        "modification_date": published,
        "default_bootscript": null,
        "from_server": "",
        "state": "available",
        "tags": [],
        "zone": zone,
    })
}

/// `public_ips[]` entry of a server.
fn server_ip(ip: &FlexibleIp) -> Value {
    json!({
        "id": ip.id,
        "address": ip.address,
        "dynamic": false,
        "gateway": "62.210.0.1",
        "netmask": "32",
        "family": "inet",
        "provisioning_mode": "dhcp",
        "tags": [],
        "state": ip.state,
        "ipam_id": ip.ipam_id,
    })
}

fn allowed_actions(state: &str) -> Value {
    match state {
        "stopped" => json!(["poweron", "backup"]),
        "stopped in place" => json!(["poweron", "poweroff", "terminate", "reboot", "backup"]),
        _ => json!(["poweroff", "terminate", "reboot", "stop_in_place", "backup"]),
    }
}

/// Id indexes over what a server embeds (its IPs and local volumes), so rendering stays linear in the org size.
pub struct Embeds<'a> {
    ips: HashMap<&'a str, &'a FlexibleIp>,
    volumes: HashMap<&'a str, &'a InstanceVolume>,
    /// The image object is the same for every server of a zone.
    images: HashMap<&'static str, Value>,
}

impl<'a> Embeds<'a> {
    pub fn new(org: &'a Organization) -> Self {
        Embeds {
            ips: org.ips.iter().map(|ip| (ip.id.as_str(), ip)).collect(),
            volumes: org.instance_volumes.iter().map(|v| (v.id.as_str(), v)).collect(),
            images: INSTANCE_ZONES.iter().map(|zone| (*zone, image(org, zone))).collect(),
        }
    }
}

pub fn server(org: &Organization, embeds: &Embeds<'_>, s: &Server) -> Value {
    let mut volumes = Map::new();
    for (slot, volume) in s.volumes.iter().enumerate() {
        let entry = match volume {
            // The Instance API only echoes these five fields for SBS volumes; size and name come from Block.
            ServerVolume::Sbs { id } => {
                json!({"boot": false, "volume_type": "sbs_volume", "id": id, "state": "available", "zone": s.zone})
            }
            ServerVolume::Local { id } => match embeds.volumes.get(id.as_str()) {
                Some(v) => {
                    let mut full = Map::new();
                    full.insert("boot".into(), json!(false));
                    if let Value::Object(rest) = instance_volume(org, v) {
                        full.extend(rest);
                    }
                    Value::Object(full)
                }
                None => continue,
            },
        };
        volumes.insert(slot.to_string(), entry);
    }
    let public_ips: Vec<Value> =
        s.ip_ids.iter().filter_map(|id| embeds.ips.get(id.as_str()).copied()).map(server_ip).collect();
    let location = s.location.as_ref().map_or(Value::Null, |[cluster, hypervisor, node]| {
        json!({"zone_id": s.zone, "platform_id": "14", "cluster_id": cluster, "hypervisor_id": hypervisor, "node_id": node})
    });
    let arch = "x86_64";
    let mut out = json!({
        "id": s.id,
        "name": s.name,
        "arch": arch,
        "commercial_type": s.commercial_type,
        "boot_type": "local",
        "organization": org.id,
        "project": s.project_id,
        "hostname": s.name,
        "image": embeds.images.get(s.zone.as_str()).cloned().unwrap_or_else(|| image(org, &s.zone)),
        "volumes": volumes,
        "tags": s.tags,
        "state": s.state,
        "protected": false,
        "state_detail": s.state_detail,
        "public_ip": public_ips.first().cloned().unwrap_or(Value::Null),
        "public_ips": public_ips,
        "mac_address": s.mac_address,
        "routed_ip_enabled": true,
        "ipv6": null,
        "extra_networks": [],
        "dynamic_ip_required": !s.ip_ids.is_empty(),
        "enable_ipv6": false,
        "private_ip": null,
        "creation_date": instance_ts(s.creation_date),
        "modification_date": instance_ts(s.modification_date),
        "bootscript": null,
        "security_group": {"id": s.security_group_id, "name": "Default security group"},
        "location": location,
        "maintenances": [],
        "allowed_actions": allowed_actions(&s.state),
        "placement_group": null,
        "private_nics": [],
        "zone": s.zone,
        "filesystems": [],
        "end_of_service": false,
        "admin_password_encryption_ssh_key_id": null,
    });
    if let (Some(extra), Value::Object(map)) = (&s.future_field, &mut out) {
        map.insert("future_field".into(), extra.clone());
    }
    out
}

pub fn instance_volume(org: &Organization, v: &InstanceVolume) -> Value {
    json!({
        "id": v.id,
        "name": v.name,
        "volume_type": v.volume_type,
        "export_uri": null,
        "organization": org.id,
        "project": v.project_id,
        "server": server_ref(v.server.as_ref()),
        "size": v.size,
        "state": v.state,
        "creation_date": instance_ts(v.creation_date),
        "modification_date": instance_ts(v.modification_date),
        "tags": [],
        "zone": v.zone,
    })
}

pub fn ip(org: &Organization, ip: &FlexibleIp) -> Value {
    json!({
        "id": ip.id,
        "address": ip.address,
        "prefix": null,
        "reverse": null,
        "server": server_ref(ip.server.as_ref()),
        "organization": org.id,
        "project": ip.project_id,
        "zone": ip.zone,
        "type": ip.ip_type,
        "state": ip.state,
        "tags": [],
        "ipam_id": ip.ipam_id,
    })
}

pub fn instance_snapshot(org: &Organization, s: &InstanceSnapshot) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "volume_type": s.volume_type,
        "creation_date": instance_ts(s.creation_date),
        "modification_date": instance_ts(s.modification_date),
        "organization": org.id,
        "project": s.project_id,
        "size": s.size,
        "state": s.state,
        "base_volume": server_ref(s.base_volume.as_ref()),
        "tags": [],
        "zone": s.zone,
        "error_details": null,
    })
}

fn volume_specs(prices: &PriceBook, zone: &str, volume_type: &str) -> Value {
    let iops = prices.volume_type(zone, volume_type).map_or(5000, |t| t.perf_iops);
    json!({"class": "sbs", "perf_iops": iops})
}

pub fn block_volume(org: &Organization, v: &BlockVolume) -> Value {
    let references: Vec<Value> = v
        .references
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "product_resource_type": "instance_server",
                "product_resource_id": r.server_id,
                "created_at": api_ts(r.created_at),
                "type": "exclusive",
                "status": "attached",
            })
        })
        .collect();
    let mut out = json!({
        "created_at": api_ts(v.created_at),
        "id": v.id,
        "kms_key_id": null,
        "last_detached_at": v.last_detached_at.map(api_ts),
        "name": v.name,
        "parent_snapshot_id": null,
        "project_id": v.project_id,
        "references": references,
        "size": v.size,
        "specs": volume_specs(&org.prices, &v.zone, &v.volume_type),
        "status": v.status,
        "tags": v.tags,
        "type": v.volume_type,
        "updated_at": api_ts(v.updated_at),
        "zone": v.zone,
    });
    if let (Some(extra), Value::Object(map)) = (&v.future_field, &mut out) {
        map.insert("future_field".into(), extra.clone());
    }
    out
}

pub fn block_snapshot(_org: &Organization, s: &BlockSnapshot) -> Value {
    let parent = s
        .parent_volume
        .as_ref()
        .map_or(Value::Null, |p| json!({"id": p.id, "name": p.name, "status": p.status, "type": p.volume_type}));
    json!({
        "class": "sbs",
        "created_at": api_ts(s.created_at),
        "id": s.id,
        "name": s.name,
        "parent_volume": parent,
        "project_id": s.project_id,
        "public": false,
        "references": [],
        "size": s.size,
        "status": s.status,
        "tags": [],
        "updated_at": api_ts(s.updated_at),
        "zone": s.zone,
    })
}

pub fn server_type(t: &ServerType) -> Value {
    let l_ssd = if t.local_volumes { (1_000_000_000u64, 800_000_000_000u64) } else { (0, 0) };
    json!({
        "alt_names": [],
        "arch": "x86_64",
        "ncpus": t.ncpus,
        "ram": t.ram,
        "gpu": 0,
        "gpu_info": null,
        "mig_profile": null,
        "volumes_constraint": {"min_size": 0, "max_size": t.volumes_max_size},
        "per_volume_constraint": {"l_ssd": {"min_size": l_ssd.0, "max_size": l_ssd.1}},
        "scratch_storage_max_size": 0,
        "scratch_storage_max_volumes_count": 0,
        "monthly_price": decimal_number(hourly_to_monthly(t.hourly_price)),
        "hourly_price": decimal_number(t.hourly_price),
        "capabilities": {
            "boot_types": ["local", "rescue"],
            "placement_groups": true,
            "block_storage": true,
            "hot_snapshots_local_volume": t.local_volumes,
            "private_network": 8,
            "max_file_systems": 0,
        },
        "network": {
            "ipv6_support": true,
            "sum_internal_bandwidth": t.bandwidth,
            "sum_internet_bandwidth": t.bandwidth,
            "interfaces": [{"internal_bandwidth": t.bandwidth, "internet_bandwidth": t.bandwidth}],
        },
        "block_bandwidth": t.block_bandwidth,
        "end_of_service": false,
    })
}

pub fn volume_type(t: &VolumeType, style: Style) -> Value {
    json!({
        "type": t.name,
        "pricing": style.money(t.pricing),
        "snapshot_pricing": style.money(t.snapshot_pricing),
        "specs": {"perf_iops": t.perf_iops, "class": "sbs"},
    })
}

/// A Product Catalog product, tagged with what the catalog filters need.
#[derive(Debug, Clone)]
pub struct CatalogProduct {
    pub zone: &'static str,
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

/// The whole public catalogue: every commercial type in every Instance zone, then the flexible IPs.
pub fn catalog(prices: &PriceBook, style: Style) -> Vec<CatalogProduct> {
    let mut out = Vec::new();
    for zone in INSTANCE_ZONES {
        for t in &prices.server_types {
            out.push(CatalogProduct { zone, product_type: "instance", json: instance_product(t, zone, style) });
        }
    }
    for zone in INSTANCE_ZONES {
        let v4 = flexible_ip_product("IPv4", "ip", prices.flexible_ipv4_hourly, zone, style);
        let v6 = flexible_ip_product("IPv6", "ipv6", prices.flexible_ipv6_hourly, zone, style);
        out.push(CatalogProduct { zone, product_type: "flexible_ip", json: v4 });
        out.push(CatalogProduct { zone, product_type: "flexible_ip", json: v6 });
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Billing API v2beta1 (consumptions and invoices as recorded, keys in the recorded alphabetical order; charges,
// taxes and discounts as the SDK types, in the synthetic fixtures' order)

/// The organisation name the Billing API reports.
pub const ORGANIZATION_NAME: &str = "Demo Org";

/// `2026-08-01T00:00:00Z`.
pub fn day_start(day: NaiveDate) -> String {
    format!("{}T00:00:00Z", day.format("%Y-%m-%d"))
}

/// `2026-08-31T23:59:59.999999Z`.
pub fn day_end(day: NaiveDate) -> String {
    format!("{}T23:59:59.999999Z", day.format("%Y-%m-%d"))
}

/// `updated_at` of consumptions and taxes: the billing clock's 03:00 run.
pub fn billing_updated_at(billing_today: NaiveDate) -> String {
    format!("{}T03:00:00.000000Z", billing_today.format("%Y-%m-%d"))
}

pub fn consumption(project_id: &str, sku: &str, resource_name: &str, row: &Row, style: Style) -> Value {
    json!({
        "billed_quantity": row.quantity.normalize().to_string(),
        "category_name": row.category_name,
        "product_name": row.product_name,
        "project_id": project_id,
        "resource_name": resource_name,
        "sku": sku,
        "unit": row.unit,
        "value": style.money_recorded(row.cost),
    })
}

pub fn invoice(organization_id: &str, inv: &Invoice, style: Style) -> Value {
    let issued = inv.period.checked_add_months(Months::new(1)).and_then(|d| d.with_day(2)).unwrap_or(inv.period);
    let due = issued.checked_add_days(Days::new(30)).unwrap_or(issued);
    let at_ten = |d: NaiveDate| format!("{}T10:00:00Z", d.format("%Y-%m-%d"));
    json!({
        "billing_period": day_start(inv.period),
        "due_date": at_ten(due),
        "id": inv.id,
        "issued_date": at_ten(issued),
        "number": inv.number,
        "organization_id": organization_id,
        "organization_name": ORGANIZATION_NAME,
        "seller_name": "Scaleway SAS",
        "start_date": day_start(inv.period),
        "state": inv.state,
        "stop_date": day_end(crate::billing::last_of_month(inv.period)),
        "total_discount": style.money_recorded(Decimal::ZERO),
        "total_tax": style.money_recorded(inv.total_tax),
        "total_taxed": style.money_recorded(inv.total_untaxed + inv.total_tax),
        "total_undiscount": style.money_recorded(inv.total_untaxed),
        "total_untaxed": style.money_recorded(inv.total_untaxed),
        "type": "periodic",
    })
}

/// One FinOps charge: what `resource` cost on `day`.
pub fn charge(book: &Book, resource: &Billable, day: NaiveDate, billing_today: NaiveDate, style: Style) -> Value {
    let (project_id, project_name) = &book.projects[resource.project];
    json!({
        "organization_id": book.organization_id,
        "organization_name": ORGANIZATION_NAME,
        "project_id": project_id,
        "project_name": project_name,
        "sku": resource.sku,
        "invoice_id": book.charge_invoice_id(day, billing_today),
        "resource_id": resource.resource_id,
        "resource_name": resource.resource_name,
        "price": style.money(resource.usage(day).0.normalize()),
        "start_date": day_start(day),
        "end_date": day_end(day),
        "updated_at": format!("{}T03:00:00Z", billing_today.format("%Y-%m-%d")),
    })
}

pub fn tax(total_tax: Decimal) -> Value {
    json!({
        "description": "VAT 20%",
        "currency": "EUR",
        "rate": float_number(Decimal::new(2, 1)),
        "total_tax_value": float_number(total_tax),
    })
}

/// The organisation's one voucher, valid for a year from the history start.
pub fn discount(book: &Book) -> Value {
    let start = book.truth.history_start;
    let stop = start.checked_add_months(Months::new(12)).unwrap_or(start);
    json!({
        "id": crate::ids::IdStream::new(book.seed, "discount").uuid(),
        "creation_date": format!("{}T10:00:00Z", start.format("%Y-%m-%d")),
        "organization_id": book.organization_id,
        "description": "Startup program voucher",
        "value": float_number(Decimal::new(1000, 1)),
        "value_used": float_number(Decimal::new(375, 1)),
        "value_remaining": float_number(Decimal::new(625, 1)),
        "mode": "discount_mode_value",
        "start_date": day_start(start),
        "stop_date": day_start(stop),
        "coupon": {"description": "Welcome offer"},
        "filters": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_written_as_published() {
        let book = PriceBook::default();
        let t = server_type(book.server_type("DEV1-M").unwrap());
        assert_eq!(t["hourly_price"].to_string(), "0.0198");
        assert_eq!(t["monthly_price"].to_string(), "14.454");
        let vt = volume_type(&book.volume_types[0], Style::default());
        assert_eq!(vt["pricing"].to_string(), r#"{"currency_code":"EUR","units":0,"nanos":118000}"#);
        let vt = volume_type(&book.volume_types[0], Style { money_as_strings: true });
        assert_eq!(vt["pricing"].to_string(), r#"{"currency_code":"EUR","units":"0","nanos":"118000"}"#);
    }

    #[test]
    fn billing_numbers_are_written_like_the_sdk_types() {
        assert_eq!(float_number(Decimal::ZERO).to_string(), "0.0");
        assert_eq!(float_number(Decimal::new(3142, 2)).to_string(), "31.42");
        assert_eq!(float_number(Decimal::new(1000, 1)).to_string(), "100.0");
        assert_eq!(float_number(Decimal::new(2, 1)).to_string(), "0.2");
        let money = Style::default().money_recorded(Decimal::new(242, 2));
        assert_eq!(money.to_string(), r#"{"currency_code":"EUR","nanos":420000000,"units":2}"#);
        let day = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
        assert_eq!(day_end(day), "2024-12-31T23:59:59.999999Z");
        assert_eq!(day_start(day), "2024-12-31T00:00:00Z");
        assert_eq!(billing_updated_at(day), "2024-12-31T03:00:00.000000Z");
    }

    #[test]
    fn catalog_has_every_type_and_ip_per_zone() {
        let products = catalog(&PriceBook::default(), Style::default());
        assert_eq!(products.len(), 10 * 8 + 10 * 2);
        let dev1s = &products[0].json;
        assert_eq!(dev1s["sku"], "/compute/dev1_s/run_fr-par-1");
        assert_eq!(dev1s["description"], "DEV1-S - fr-par-1 (0.0088€ per hour)");
        assert_eq!(dev1s["price"]["retail_price"]["nanos"].to_string(), "8800000");
        let ip = products.iter().find(|p| p.json["sku"] == "/network/flexip/ip/run_nl-ams-1").unwrap();
        assert_eq!(ip.json["price"]["retail_price"]["nanos"].to_string(), "4000000");
    }
}
