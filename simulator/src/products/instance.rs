//! Instance v1: servers, local volumes, flexible IPs, Instance snapshots (`/instance/v1/zones/{zone}/…`, Legacy
//! paging) and the commercial types (`products/servers`, public).

use std::collections::HashMap;

use axum::http::{StatusCode, Uri};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use crate::config::SimConfig;
use crate::http::{Handled, Params, json_response, require_zone};
use crate::ids::instance_ts;
use crate::listing::{Item, SortKey, apply_order, filtered, sort};
use crate::paging::{Page, legacy_headers};
use crate::prices::{INSTANCE_ZONES, ServerType, hourly_to_monthly};
use crate::wire::decimal_number;

// ---------------------------------------------------------------------------------------------------------------
// Model

#[derive(Debug, Clone, PartialEq)]
pub enum ServerVolume {
    /// An SBS volume, described by the Block API; the server only carries a reduced entry.
    Sbs { id: String },
    /// A local volume, carried in full in the server's `volumes` map (id into `instance_volumes`).
    Local { id: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub zone: String,
    pub commercial_type: String,
    pub state: String,
    pub state_detail: String,
    pub creation_date: DateTime<Utc>,
    pub modification_date: DateTime<Utc>,
    pub volumes: Vec<ServerVolume>,
    /// Ids into `ips`, in `public_ips` order.
    pub ip_ids: Vec<String>,
    pub mac_address: String,
    pub security_group_id: String,
    pub tags: Vec<String>,
    /// Hypervisor placement (`location`), absent for powered-off servers.
    pub location: Option<[String; 3]>,
    /// An extra field the real API does not send (yet): decoders must ignore it.
    pub future_field: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerRef {
    pub id: String,
    pub name: String,
}

/// A volume of the Instance API (local volumes; SBS volumes live in the Block API).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceVolume {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub zone: String,
    pub volume_type: String,
    pub size: u64,
    pub server: Option<ServerRef>,
    pub state: String,
    pub creation_date: DateTime<Utc>,
    pub modification_date: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlexibleIp {
    pub id: String,
    pub address: String,
    pub project_id: String,
    pub zone: String,
    pub ip_type: String,
    pub state: String,
    pub server: Option<ServerRef>,
    pub ipam_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSnapshot {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub zone: String,
    pub volume_type: String,
    pub size: u64,
    pub state: String,
    pub base_volume: Option<ServerRef>,
    pub creation_date: DateTime<Utc>,
    pub modification_date: DateTime<Utc>,
}

/// What the Instance API serves of the organisation (see `Organization::instance`).
pub(crate) struct Served<'a> {
    pub organization_id: &'a str,
    pub today: NaiveDate,
    /// Public image every server was created from (id, root snapshot id).
    pub image: &'a (String, String),
    pub servers: &'a [Server],
    /// The Instances of Kapsule nodes and scaling groups' members, listed after `servers`.
    pub managed_servers: &'a [Server],
    pub volumes: &'a [InstanceVolume],
    pub ips: &'a [FlexibleIp],
    pub snapshots: &'a [InstanceSnapshot],
    pub server_types: &'a [ServerType],
}

// ---------------------------------------------------------------------------------------------------------------
// Wire shapes

fn server_ref(r: Option<&ServerRef>) -> Value {
    match r {
        Some(r) => json!({"id": r.id, "name": r.name}),
        None => Value::Null,
    }
}

fn image(org: &Served<'_>, zone: &str) -> Value {
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
    pub fn new(org: &'a Served<'a>) -> Self {
        Embeds {
            ips: org.ips.iter().map(|ip| (ip.id.as_str(), ip)).collect(),
            volumes: org.volumes.iter().map(|v| (v.id.as_str(), v)).collect(),
            images: INSTANCE_ZONES.iter().map(|zone| (*zone, image(org, zone))).collect(),
        }
    }
}

pub fn server(org: &Served<'_>, embeds: &Embeds<'_>, s: &Server) -> Value {
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
        "organization": org.organization_id,
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

pub fn instance_volume(org: &Served<'_>, v: &InstanceVolume) -> Value {
    json!({
        "id": v.id,
        "name": v.name,
        "volume_type": v.volume_type,
        "export_uri": null,
        "organization": org.organization_id,
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

pub fn ip(org: &Served<'_>, ip: &FlexibleIp) -> Value {
    json!({
        "id": ip.id,
        "address": ip.address,
        "prefix": null,
        "reverse": null,
        "server": server_ref(ip.server.as_ref()),
        "organization": org.organization_id,
        "project": ip.project_id,
        "zone": ip.zone,
        "type": ip.ip_type,
        "state": ip.state,
        "tags": [],
        "ipam_id": ip.ipam_id,
    })
}

pub fn instance_snapshot(org: &Served<'_>, s: &InstanceSnapshot) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "volume_type": s.volume_type,
        "creation_date": instance_ts(s.creation_date),
        "modification_date": instance_ts(s.modification_date),
        "organization": org.organization_id,
        "project": s.project_id,
        "size": s.size,
        "state": s.state,
        "base_volume": server_ref(s.base_volume.as_ref()),
        "tags": [],
        "zone": s.zone,
        "error_details": null,
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

// ---------------------------------------------------------------------------------------------------------------
// Routes

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum List {
    Servers,
    Volumes,
    Ips,
    Snapshots,
}

/// The Instance lists, rendered once at start, by (list, zone).
pub(crate) struct Lists {
    organization_id: String,
    lists: HashMap<(List, String), Vec<Item>>,
    /// `products/servers` map entries, sorted by commercial type.
    server_types: Vec<(String, Value)>,
}

impl Lists {
    pub(crate) fn new(org: &Served<'_>) -> Lists {
        let mut lists: HashMap<(List, String), Vec<Item>> = HashMap::new();
        let mut add = |list, zone: &str, item: Item| lists.entry((list, zone.to_string())).or_default().push(item);
        let item = Item::new;
        let embeds = Embeds::new(org);
        for s in org.servers.iter().chain(org.managed_servers) {
            let json = server(org, &embeds, s);
            add(
                List::Servers,
                &s.zone,
                item(&s.id, &s.name, &s.project_id, s.creation_date, s.modification_date, json),
            );
        }
        for v in org.volumes {
            let json = instance_volume(org, v);
            add(
                List::Volumes,
                &v.zone,
                item(&v.id, &v.name, &v.project_id, v.creation_date, v.modification_date, json),
            );
        }
        for i in org.ips {
            let json = ip(org, i);
            add(
                List::Ips,
                &i.zone,
                item(&i.id, &i.address, &i.project_id, DateTime::UNIX_EPOCH, DateTime::UNIX_EPOCH, json),
            );
        }
        for s in org.snapshots {
            let json = instance_snapshot(org, s);
            add(
                List::Snapshots,
                &s.zone,
                item(&s.id, &s.name, &s.project_id, s.creation_date, s.modification_date, json),
            );
        }
        // Store each list in its API's default order so the common request needs no sort.
        for ((list, _), items) in lists.iter_mut() {
            if *list == List::Servers {
                sort(items, SortKey::CreatedDesc);
            }
        }
        let mut server_types: Vec<(String, Value)> =
            org.server_types.iter().map(|t| (t.name.to_string(), server_type(t))).collect();
        server_types.sort_by(|a, b| a.0.cmp(&b.0));
        Lists { organization_id: org.organization_id.to_string(), lists, server_types }
    }

    fn list(&self, list: List, zone: &str) -> &[Item] {
        self.lists.get(&(list, zone.to_string())).map_or(&[], Vec::as_slice)
    }
}

const SERVER_ORDERS: [(&str, SortKey); 4] = [
    ("creation_date_desc", SortKey::CreatedDesc),
    ("creation_date_asc", SortKey::CreatedAsc),
    ("modification_date_desc", SortKey::ModifiedDesc),
    ("modification_date_asc", SortKey::ModifiedAsc),
];

/// `GET /instance/v1/zones/{zone}/{servers,volumes,ips,snapshots}`.
pub(crate) fn list(data: &Lists, config: &SimConfig, zone: &str, uri: &Uri, list: List) -> Handled {
    require_zone(zone, &INSTANCE_ZONES)?;
    let params = Params::parse(uri.query())?;
    let page = Page::legacy(&params)?;
    let mut items =
        filtered(&data.organization_id, data.list(list, zone), params.get("organization"), params.get("project"));
    if list == List::Servers {
        apply_order(&mut items, &params, "order", &SERVER_ORDERS, "creation_date_desc")?;
    }
    let mut values: Vec<Value> = page.slice(&items).iter().map(|i| i.json.clone()).collect();
    let (key, resource) = match list {
        List::Servers => ("servers", "/servers"),
        List::Volumes => ("volumes", "/volumes"),
        List::Ips => ("ips", "/ips"),
        _ => ("snapshots", "/snapshots"),
    };
    if list == List::Servers
        && zone == "fr-par-1"
        && page.number == 1
        && config.malformed.as_deref() == Some("instance-servers")
        && let Some(Value::Object(second)) = values.get_mut(1)
    {
        // A present field of the wrong form: the decoder must fail or skip, not invent a date.
        second.insert("creation_date".into(), json!("yesterday"));
    }
    let headers = legacy_headers(&page, resource, items.len(), &params);
    Ok(json_response(StatusCode::OK, &json!({ key: values }), headers))
}

/// `GET /instance/v1/zones/{zone}/products/servers` (public).
pub(crate) fn products_servers(data: &Lists, zone: &str, uri: &Uri) -> Handled {
    require_zone(zone, &INSTANCE_ZONES)?;
    let params = Params::parse(uri.query())?;
    let page = Page::legacy(&params)?;
    let entries = &data.server_types;
    let map: Map<String, Value> = page.slice(entries).iter().cloned().collect();
    let headers = legacy_headers(&page, "/products/servers", entries.len(), &params);
    Ok(json_response(StatusCode::OK, &json!({"servers": map}), headers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::PriceBook;

    #[test]
    fn prices_are_written_as_published() {
        let book = PriceBook::default();
        let t = server_type(book.server_type("DEV1-M").unwrap());
        assert_eq!(t["hourly_price"].to_string(), "0.0198");
        assert_eq!(t["monthly_price"].to_string(), "14.454");
    }
}
