//! IPAM v1, regional: every IP address of the organisation (`/ipam/v1/regions/{region}/ips`, TotalCount paging),
//! derived from what the other products hold:
//!
//! * every Instance flexible IP, under its `ipam_id` (the id the Instance API gives as `ipam_id`), `/32`, source
//!   `{"zonal": zone}`, `resource` the server it is attached to (`instance_server`) or `null`;
//! * each load balancer's public IP, under the load balancer's IP id, source `zonal`, `resource` `lb_server`;
//! * one private address per managed database, its endpoint's address on its private network (`/24`), source
//!   `{"subnet_id": …}`, `resource` `rdb_instance`, regional (`zone` null).
//!
//! Only the databases' addresses need new ids (and subnet ids and MACs): they come from the `ipam` stream, in
//! table order. The flexible IPs carry no timestamps: an attached one dates from its server's creation, a detached
//! one from a deterministic day drawn from its id. Kapsule nodes' addresses are not listed (their Instances are not
//! modelled, see [`crate::products::k8s`]).

use std::collections::HashMap;

use axum::http::Uri;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::http::{ApiError, Handled, Params, require_region};
use crate::ids::{IdStream, api_ts, at_eight, fnv1a, splitmix64};
use crate::listing::{Item, SortKey, apply_order, filtered, sort, total_count_page};
use crate::org::Organization;
use crate::paging::Page;
use crate::wire::Style;

/// The regions the simulated IPAM API serves.
pub const IPAM_REGIONS: [&str; 3] = ["fr-par", "nl-ams", "pl-waw"];

/// `order_by` of the IPAM list (`created_at_desc` by default).
const IPAM_ORDERS: [(&str, SortKey); 4] = [
    ("created_at_desc", SortKey::CreatedDesc),
    ("created_at_asc", SortKey::CreatedAsc),
    ("updated_at_desc", SortKey::ModifiedDesc),
    ("updated_at_asc", SortKey::ModifiedAsc),
];

/// The region of a zone (`fr-par-1` → `fr-par`).
fn region_of(zone: &str) -> &str {
    zone.rsplit_once('-').map_or(zone, |(region, _)| region)
}

/// One address, field for field as recorded (ipam/ips_list.json).
#[allow(clippy::too_many_arguments)]
fn ip(
    id: &str,
    address: &str,
    project_id: &str,
    is_ipv6: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    source: Value,
    resource: Value,
    region: &str,
    zone: Option<&str>,
) -> Value {
    json!({
        "id": id,
        "address": address,
        "project_id": project_id,
        "is_ipv6": is_ipv6,
        "created_at": api_ts(created_at),
        "updated_at": api_ts(updated_at),
        "source": source,
        "resource": resource,
        "tags": [],
        "reverses": [],
        "region": region,
        "zone": zone,
    })
}

/// A MAC address as IPAM writes them (`02:00:00:18:7A:6D`).
fn mac(n: u64) -> String {
    format!("02:00:00:{:02X}:{:02X}:{:02X}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// The addresses by region, rendered once at start.
pub(crate) struct Lists {
    organization_id: String,
    style: Style,
    ips: HashMap<String, Vec<Item>>,
}

impl Lists {
    pub(crate) fn new(org: &Organization, seed: u64, style: Style) -> Lists {
        let mut by_region: HashMap<String, Vec<Item>> = HashMap::new();
        let mut push = |region: &str, item: Item| by_region.entry(region.to_string()).or_default().push(item);

        for f in &org.ips {
            let h = splitmix64(seed ^ fnv1a("ipam") ^ fnv1a(&f.id));
            let server = f.server.as_ref().and_then(|r| org.server(&r.id));
            let (created, resource) = match server {
                Some(s) => (
                    s.creation_date,
                    json!({
                        "type": "instance_server",
                        "id": s.id,
                        "mac_address": s.mac_address.to_uppercase(),
                        "name": s.name,
                    }),
                ),
                None => (at_eight(org.today, 30 + h % 400, (h >> 20) as u32 % 1_000_000), Value::Null),
            };
            let updated = created + Duration::seconds(1 + (h >> 40) as i64 % 60);
            let is_ipv6 = f.ip_type.contains("ipv6");
            let address = format!("{}/{}", f.address, if is_ipv6 { 64 } else { 32 });
            let region = region_of(&f.zone);
            let json = ip(
                &f.ipam_id,
                &address,
                &f.project_id,
                is_ipv6,
                created,
                updated,
                json!({"zonal": f.zone}),
                resource,
                region,
                Some(&f.zone),
            );
            push(region, Item::new(&f.ipam_id, &address, &f.project_id, created, updated, json));
        }

        for lb in &org.load_balancers {
            let address = format!("{}/32", lb.ip.address);
            let region = region_of(&lb.zone);
            let resource = json!({"type": "lb_server", "id": lb.id, "mac_address": null, "name": lb.name});
            let json = ip(
                &lb.ip.id,
                &address,
                &lb.project_id,
                false,
                lb.created_at,
                lb.updated_at,
                json!({"zonal": lb.zone}),
                resource,
                region,
                Some(&lb.zone),
            );
            push(region, Item::new(&lb.ip.id, &address, &lb.project_id, lb.created_at, lb.updated_at, json));
        }

        let mut rng = IdStream::new(seed, "ipam");
        for d in &org.databases {
            let id = rng.uuid();
            let subnet_id = rng.uuid();
            let resource = json!({
                "type": "rdb_instance",
                "id": d.id,
                "mac_address": mac(rng.below(1 << 24)),
                "name": d.name,
            });
            let updated = d.created_at + Duration::seconds(30 + rng.below(120) as i64);
            let address = format!("{}/24", d.endpoint.ip);
            let json = ip(
                &id,
                &address,
                &d.project_id,
                false,
                d.created_at,
                updated,
                json!({"subnet_id": subnet_id}),
                resource,
                &d.region,
                None,
            );
            push(&d.region, Item::new(&id, &address, &d.project_id, d.created_at, updated, json));
        }

        for items in by_region.values_mut() {
            sort(items, SortKey::CreatedDesc);
        }
        Lists { organization_id: org.id.clone(), style, ips: by_region }
    }
}

/// `GET /ipam/v1/regions/{region}/ips`: filters `project_id`, `organization_id`, `attached` (`true` | `false`),
/// `resource_type`; `order_by` `created_at_desc` (default), `created_at_asc`, `updated_at_desc`, `updated_at_asc`.
pub(crate) fn list(data: &Lists, region: &str, uri: &Uri) -> Handled {
    require_region(region, &IPAM_REGIONS)?;
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let attached = match params.get("attached") {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::invalid("attached", "must be a boolean")),
    };
    let resource_type = params.get("resource_type").filter(|t| !t.is_empty() && *t != "unknown_type");
    let all = data.ips.get(region).map_or(&[][..], Vec::as_slice);
    let mut items: Vec<&Item> =
        filtered(&data.organization_id, all, params.get("organization_id"), params.get("project_id"))
            .into_iter()
            .filter(|i| attached.is_none_or(|a| i.json["resource"].is_null() != a))
            .filter(|i| resource_type.is_none_or(|t| i.json["resource"]["type"] == t))
            .collect();
    apply_order(&mut items, &params, "order_by", &IPAM_ORDERS, "created_at_desc")?;
    total_count_page(data.style, "ips", &items, &page, true)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::config::SimConfig;

    #[test]
    fn every_address_is_listed_once_in_its_region() {
        let config = SimConfig { today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), ..SimConfig::default() };
        let org = Organization::build(&config);
        let lists = Lists::new(&org, config.seed, Style::default());
        let total: usize = lists.ips.values().map(Vec::len).sum();
        assert_eq!(total, org.ips.len() + org.load_balancers.len() + org.databases.len());
        let ids: std::collections::HashSet<&str> =
            lists.ips.values().flatten().map(|i| i.json["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), total);
        for (region, items) in &lists.ips {
            assert!(IPAM_REGIONS.contains(&region.as_str()));
            assert!(items.iter().all(|i| i.json["region"] == region.as_str()));
        }
        // The same seed draws the same database addresses whatever the population.
        let small = Organization::build(&SimConfig { servers: 1, projects: 2, ..config.clone() });
        let db_ips = |l: &Lists| {
            let mut v: Vec<String> = l
                .ips
                .values()
                .flatten()
                .filter(|i| i.json["resource"]["type"] == "rdb_instance")
                .map(|i| i.json["id"].as_str().unwrap().to_string())
                .collect();
            v.sort();
            v
        };
        assert_eq!(db_ips(&Lists::new(&small, config.seed, Style::default())), db_ips(&lists));
    }
}
