//! Autoscaling (Instance scaling groups): the v1alpha1 API (`/autoscaling/v1alpha1/zones/{zone}/…`: instance
//! groups, instance templates, instance policies and each group's events, TotalCount paging) and the v1alpha2
//! group summaries (`/autoscaling/v1alpha2/zones/{zone}/groups`, Token paging) of the same groups.
//!
//! A scaling group bills its members by the hour; the waste a report must find is the group that flaps (scales up
//! and down again within a few cooldowns) and the one stuck at its maximum. [`SCALING_GROUPS`] plants one healthy
//! group, one flapping and one at its maximum; [`crate::scaling()`] is their oracle.
//!
//! v1alpha2 also lists each group's members (`…/servers?group_id=`, `{servers: [{server_id}]}`): Instances that
//! the Instance API lists, the Billing API charges and Cockpit measures (with the group's
//! [`GroupSpec::member_load`]), like Kapsule nodes (see `Organization::managed_servers`).

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use crate::http::{ApiError, Handled, Params, json_response, require_zone};
use crate::ids::{IdStream, api_ts};
use crate::listing::{Item, SortKey, apply_order, filtered, get_one, sort, total_count_page};
use crate::paging::{Page, TokenPage};
use crate::prices::GB;
use crate::products::lb::LoadBalancer;
use crate::wire::Style;

/// The zones of the Autoscaling v1alpha1 API.
pub const AUTOSCALING_ZONES: [&str; 5] = ["fr-par-1", "fr-par-2", "fr-par-3", "nl-ams-1", "pl-waw-1"];

/// The zones of the Autoscaling v1alpha2 API; the others answer 404 `unknown_resource`.
pub const AUTOSCALING_V2_ZONES: [&str; 3] = ["fr-par-1", "fr-par-2", "fr-par-3"];

/// The name of a scale-up event (source `scaler`).
pub const SCALE_UP: &str = "Scale up";
/// The name of a scale-down event (source `scaler`).
pub const SCALE_DOWN: &str = "Scale down";

/// `order_by` of every Autoscaling list (`created_at_desc` by default).
const ORDERS: [(&str, SortKey); 2] =
    [("created_at_desc", SortKey::CreatedDesc), ("created_at_asc", SortKey::CreatedAsc)];

// ---------------------------------------------------------------------------------------------------------------
// Model

/// The instance template a group creates its members from.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceTemplate {
    pub id: String,
    pub name: String,
    /// A server type of the price book (see [`crate::PriceBook::server_type`]).
    pub commercial_type: String,
    pub image_id: String,
    /// Bytes of the SBS root volume.
    pub root_volume_size: u64,
    pub tags: Vec<String>,
    pub project_id: String,
    pub private_network_ids: Vec<String>,
    pub zone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A scaling policy: a managed CPU metric against a threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingPolicy {
    pub id: String,
    pub name: String,
    /// `scale_up` | `scale_down`.
    pub action: String,
    /// `operator_greater_than` | `operator_less_than`.
    pub operator: String,
    pub threshold: f64,
    pub priority: u32,
}

/// An event of a group, as `…/instance-groups/{id}/events` serves it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingEvent {
    pub id: String,
    /// `scaler` | `watcher` | `instance_manager` | `supervisor`.
    pub source: String,
    /// `info` | `success` | `error`.
    pub level: String,
    /// [`SCALE_UP`] or [`SCALE_DOWN`] for the scaler's scale events.
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub details: Option<String>,
}

impl ScalingEvent {
    /// +1 for a scale-up, -1 for a scale-down, `None` for any other event.
    pub fn direction(&self) -> Option<i8> {
        match (self.source.as_str(), self.name.as_str()) {
            ("scaler", SCALE_UP) => Some(1),
            ("scaler", SCALE_DOWN) => Some(-1),
            _ => None,
        }
    }
}

/// An instance group (v1alpha1) / group (v1alpha2).
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingGroup {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub zone: String,
    pub tags: Vec<String>,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub cooldown_seconds: u64,
    /// The members running now (v1alpha2 `current_size`; v1alpha1 has no such field).
    pub current_size: u32,
    pub loadbalancer_id: String,
    pub backend_ids: Vec<String>,
    pub private_network_id: String,
    pub template: InstanceTemplate,
    /// `cpu-high` (scale up above 70 %) then `cpu-low` (scale down below 30 %).
    pub policies: Vec<ScalingPolicy>,
    /// In chronological order.
    pub events: Vec<ScalingEvent>,
    /// Its `current_size` members (v1alpha2 `…/servers`), each running since [`MEMBERS_DAYS_AGO`] days ago.
    pub members: Vec<ScalingMember>,
    /// `(base, amplitude)` of the members' CPU load.
    pub member_load: (f64, f64),
    /// The UTC hour of the members' daily peak.
    pub member_peak_hour: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An Instance of a group, as Cockpit labels it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingMember {
    pub server_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// Days before `today` since which every member runs: longer than the metrics kept, so that the hour before
/// every event has all its members' samples.
pub const MEMBERS_DAYS_AGO: u64 = 40;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum EventKind {
    ScaleUp,
    ScaleDown,
    /// Watcher, level `error`: "Health check failed".
    HealthCheckFailed,
}

/// An event: days before `today` (≥ 1, ≤ 28), hour and minute UTC, kind.
type Ev = (u64, u32, u32, EventKind);

#[derive(Debug, Clone, Copy)]
pub(crate) enum Schedule {
    /// Every day of the last `days` days: a scale-up at `up` and a scale-down at `down` (hour, minute), plus `extra`.
    Daily {
        days: u64,
        up: (u32, u32),
        down: (u32, u32),
        extra: &'static [Ev],
    },
    Fixed(&'static [Ev]),
}

/// A scaling group of the organisation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupSpec {
    pub name: &'static str,
    /// Index of the project (modulo the number of projects).
    pub project: usize,
    pub zone: &'static str,
    pub commercial_type: &'static str,
    pub root_volume_gb: u64,
    pub min: u32,
    pub max: u32,
    pub cooldown_seconds: u64,
    pub current_size: u32,
    pub created_days_ago: u64,
    pub tags: &'static [&'static str],
    /// A load balancer of the Load Balancer table whose id and backends the group registers its members in; the
    /// group gets ids of its own when there is none (or it is not built).
    pub load_balancer: Option<&'static str>,
    pub schedule: Schedule,
    /// `(base, amplitude)` of its members' CPU load (see [`crate::products::cockpit::Load`]).
    pub member_load: (f64, f64),
    /// The UTC hour of the members' daily peak (they serve the same traffic).
    pub member_peak_hour: i64,
}

/// The day (before `today`) on which `batch-asg` flaps.
pub(crate) const FLAP_DAYS_AGO: u64 = 3;

use EventKind::{HealthCheckFailed, ScaleDown, ScaleUp};

/// The scaling groups, in table order: one healthy, one flapping, one at its maximum.
pub(crate) const SCALING_GROUPS: [GroupSpec; 3] = [
    // Healthy: up every morning, down every evening, never twice within a cooldown.
    GroupSpec {
        name: "web-asg",
        project: 0,
        zone: "fr-par-1",
        // PRO2-XS is not in the price book: its nearest neighbour is.
        commercial_type: "PRO2-XXS",
        root_volume_gb: 20,
        min: 2,
        max: 6,
        cooldown_seconds: 300,
        current_size: 3,
        created_days_ago: 260,
        tags: &["env:prod"],
        load_balancer: Some("web-lb"),
        schedule: Schedule::Daily {
            days: 28,
            up: (9, 0),
            down: (20, 0),
            extra: &[(17, 13, 27, HealthCheckFailed), (6, 3, 41, HealthCheckFailed)],
        },
        // Busy by day: hot in the hour before its morning scale-up, cool before its evening scale-down.
        member_load: (0.20, 0.60),
        member_peak_hour: 12,
    },
    // Planted: flaps seven times on one day (every 8 minutes, against a 15-minute floor), calm otherwise.
    GroupSpec {
        name: "batch-asg",
        project: 1,
        zone: "fr-par-2",
        commercial_type: "DEV1-M",
        root_volume_gb: 40,
        min: 1,
        max: 4,
        cooldown_seconds: 120,
        current_size: 2,
        created_days_ago: 150,
        tags: &["env:prod", "team=data"],
        load_balancer: None,
        schedule: Schedule::Fixed(&[
            (24, 1, 0, ScaleUp),
            (24, 5, 30, ScaleDown),
            (17, 1, 0, ScaleUp),
            (17, 5, 30, ScaleDown),
            (10, 13, 0, ScaleUp),
            (9, 4, 0, ScaleDown),
            (FLAP_DAYS_AGO, 10, 0, ScaleUp),
            (FLAP_DAYS_AGO, 10, 8, ScaleDown),
            (FLAP_DAYS_AGO, 10, 16, ScaleUp),
            (FLAP_DAYS_AGO, 10, 24, ScaleDown),
            // Between two scale events: flaps are counted over the scaler's events only.
            (FLAP_DAYS_AGO, 10, 30, HealthCheckFailed),
            (FLAP_DAYS_AGO, 10, 32, ScaleUp),
            (FLAP_DAYS_AGO, 10, 40, ScaleDown),
            (FLAP_DAYS_AGO, 10, 48, ScaleUp),
            (FLAP_DAYS_AGO, 10, 56, ScaleDown),
            (1, 2, 0, ScaleUp),
            (1, 7, 0, ScaleDown),
        ]),
        // Between its thresholds (30 % and 70 %) all the time: its scale events follow noise, not load.
        member_load: (0.45, 0.10),
        member_peak_hour: 10,
    },
    // Planted: grew to its maximum and stays there.
    GroupSpec {
        name: "api-asg",
        project: 0,
        zone: "fr-par-1",
        commercial_type: "PRO2-S",
        root_volume_gb: 20,
        min: 2,
        max: 3,
        cooldown_seconds: 600,
        current_size: 3,
        created_days_ago: 90,
        tags: &["env:prod", "team=checkout"],
        load_balancer: None,
        schedule: Schedule::Fixed(&[(20, 14, 0, ScaleUp), (12, 14, 0, ScaleUp), (5, 14, 0, ScaleUp)]),
        // Hot at its maximum.
        member_load: (0.65, 0.15),
        member_peak_hour: 14,
    },
];

impl Schedule {
    /// The events, in chronological order.
    fn events(self) -> Vec<Ev> {
        let mut events: Vec<Ev> = match self {
            Schedule::Daily { days, up, down, extra } => (1..=days)
                .flat_map(|d| [(d, up.0, up.1, ScaleUp), (d, down.0, down.1, ScaleDown)])
                .chain(extra.iter().copied())
                .collect(),
            Schedule::Fixed(events) => events.to_vec(),
        };
        events.sort_by_key(|&(days, h, m, _)| (std::cmp::Reverse(days), h, m));
        events
    }
}

fn event(rng: &mut IdStream, today: NaiveDate, (days, hour, minute, kind): Ev) -> ScalingEvent {
    let micros = rng.below(1_000_000) as u32;
    let date = today.checked_sub_days(chrono::Days::new(days)).unwrap_or(today);
    let created_at = date.and_hms_micro_opt(hour, minute, 0, micros).unwrap_or_default().and_utc();
    let (source, level, name, details) = match kind {
        ScaleUp => ("scaler", "success", SCALE_UP, Some("1 instance created")),
        ScaleDown => ("scaler", "success", SCALE_DOWN, Some("1 instance deleted")),
        HealthCheckFailed => ("watcher", "error", "Health check failed", None),
    };
    ScalingEvent {
        id: rng.uuid(),
        source: source.to_string(),
        level: level.to_string(),
        name: name.to_string(),
        created_at,
        details: details.map(ToString::to_string),
    }
}

/// Builds the groups of [`SCALING_GROUPS`], in table order, from their own seeded stream (so that no other id
/// depends on them, nor their ids on the rest of the organisation). `image_id` is the public image the templates
/// boot; `load_balancers` are the organisation's, for the groups registered behind one.
pub(crate) fn build(
    seed: u64,
    today: NaiveDate,
    project_ids: &[String],
    image_id: &str,
    load_balancers: &[LoadBalancer],
) -> Vec<ScalingGroup> {
    let mut rng = IdStream::new(seed, "scaling-groups");
    // Drawn apart, so that no id of the groups depends on their members.
    let mut members_rng = IdStream::new(seed, "scaling-members");
    SCALING_GROUPS
        .iter()
        .map(|spec| {
            let project_id = project_ids[spec.project % project_ids.len()].clone();
            let id = rng.uuid();
            let created_at = rng.days_ago(today, spec.created_days_ago);
            let touched = 30 + rng.below(30);
            let updated_at = rng.days_ago(today, spec.created_days_ago - touched).max(created_at);
            let private_network_id = rng.uuid();
            let (own_lb, own_backend) = (rng.uuid(), rng.uuid());
            let lb = spec
                .load_balancer
                .and_then(|name| load_balancers.iter().find(|l| l.name == name && l.zone == spec.zone));
            let (loadbalancer_id, backend_ids) = match lb {
                Some(lb) if !lb.backends.is_empty() => {
                    (lb.id.clone(), lb.backends.iter().map(|b| b.id.clone()).collect())
                }
                _ => (own_lb, vec![own_backend]),
            };
            let template_created = created_at - Duration::minutes(5);
            let template = InstanceTemplate {
                id: rng.uuid(),
                name: spec.name.replace("-asg", "-template"),
                commercial_type: spec.commercial_type.to_string(),
                image_id: image_id.to_string(),
                root_volume_size: spec.root_volume_gb * GB,
                tags: spec.tags.iter().map(ToString::to_string).collect(),
                project_id: project_id.clone(),
                private_network_ids: vec![private_network_id.clone()],
                zone: spec.zone.to_string(),
                created_at: template_created,
                updated_at: template_created,
            };
            let policies = [
                ("cpu-high", "scale_up", "operator_greater_than", 70.0),
                ("cpu-low", "scale_down", "operator_less_than", 30.0),
            ]
            .iter()
            .zip(1..)
            .map(|(&(name, action, operator, threshold), priority)| ScalingPolicy {
                id: rng.uuid(),
                name: name.to_string(),
                action: action.to_string(),
                operator: operator.to_string(),
                threshold,
                priority,
            })
            .collect();
            let events = spec.schedule.events().into_iter().map(|e| event(&mut rng, today, e)).collect();
            let members = (1..=spec.current_size)
                .map(|n| ScalingMember {
                    server_id: members_rng.uuid(),
                    name: format!("{}-{n}", spec.name),
                    created_at: members_rng.days_ago(today, MEMBERS_DAYS_AGO),
                })
                .collect();
            ScalingGroup {
                id,
                name: spec.name.to_string(),
                project_id,
                zone: spec.zone.to_string(),
                tags: spec.tags.iter().map(ToString::to_string).collect(),
                min_replicas: spec.min,
                max_replicas: spec.max,
                cooldown_seconds: spec.cooldown_seconds,
                current_size: spec.current_size,
                loadbalancer_id,
                backend_ids,
                private_network_id,
                template,
                policies,
                events,
                members,
                member_load: spec.member_load,
                member_peak_hour: spec.member_peak_hour,
                created_at,
                updated_at,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Wire shapes

/// An instance group, field for field as the fixture (autoscaling/v1alpha1_instance_groups_list.SYNTHETIC.json).
pub fn instance_group(g: &ScalingGroup) -> Value {
    json!({
        "id": g.id,
        "project_id": g.project_id,
        "name": g.name,
        "tags": g.tags,
        "instance_template_id": g.template.id,
        "capacity": {
            "max_replicas": g.max_replicas,
            "min_replicas": g.min_replicas,
            "cooldown_delay": format!("{}s", g.cooldown_seconds),
        },
        "loadbalancer": {
            "id": g.loadbalancer_id,
            "backend_ids": g.backend_ids,
            "private_network_id": g.private_network_id,
        },
        "error_messages": [],
        "created_at": api_ts(g.created_at),
        "updated_at": api_ts(g.updated_at),
        "zone": g.zone,
    })
}

/// An instance template, field for field as the fixture (autoscaling/v1alpha1_instance_templates_list.SYNTHETIC.json).
pub fn instance_template(t: &InstanceTemplate) -> Value {
    json!({
        "id": t.id,
        "commercial_type": t.commercial_type,
        "image_id": t.image_id,
        "volumes": {
            "0": {
                "name": "root",
                "perf_iops": 5000,
                "from_empty": {"size": t.root_volume_size},
                "tags": [],
                "boot": true,
                "volume_type": "sbs",
            },
        },
        "tags": t.tags,
        "security_group_id": null,
        "placement_group_id": null,
        "public_ips_v4_count": 0,
        "public_ips_v6_count": 0,
        "project_id": t.project_id,
        "name": t.name,
        "private_network_ids": t.private_network_ids,
        "status": "ready",
        "cloud_init": null,
        "created_at": api_ts(t.created_at),
        "updated_at": api_ts(t.updated_at),
        "zone": t.zone,
    })
}

/// A policy, field for field as the fixture (autoscaling/v1alpha1_instance_policies_list.SYNTHETIC.json).
pub fn policy(g: &ScalingGroup, p: &ScalingPolicy) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "metric": {
            "name": "cpu",
            "managed_metric": "managed_metric_instance_cpu",
            "operator": p.operator,
            "aggregate": "aggregate_average",
            "sampling_range_min": 5,
            "threshold": p.threshold,
        },
        "action": p.action,
        "type": "flat_count",
        "value": 1,
        "priority": p.priority,
        "instance_group_id": g.id,
        "zone": g.zone,
    })
}

/// An event, field for field as the fixture (autoscaling/v1alpha1_instance_group_events_list.SYNTHETIC.json).
pub fn instance_event(e: &ScalingEvent) -> Value {
    json!({
        "id": e.id,
        "source": e.source,
        "level": e.level,
        "name": e.name,
        "created_at": api_ts(e.created_at),
        "details": e.details,
    })
}

/// A v1alpha2 group summary: the names and formats of the recorded Group (autoscaling/v1alpha2_group_create_response.json),
/// with the sizes of its `scaling_policy` flattened as `minimum_size` / `maximum_size`.
pub fn group_summary(g: &ScalingGroup) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "project_id": g.project_id,
        "zone": g.zone,
        "status": "active",
        "current_size": g.current_size,
        "minimum_size": g.min_replicas,
        "maximum_size": g.max_replicas,
        "template_id": g.template.id,
        "created_at": api_ts(g.created_at),
        "updated_at": api_ts(g.updated_at),
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Routes

/// The lists, rendered once at start, each stored in its default order (`created_at_desc`).
pub(crate) struct Lists {
    organization_id: String,
    style: Style,
    groups: HashMap<String, Vec<Item>>,
    templates: HashMap<String, Vec<Item>>,
    /// Group id → (its zone, its policies, its events).
    by_group: HashMap<String, (String, Vec<Item>, Vec<Item>)>,
    summaries: HashMap<String, Vec<Item>>,
    /// Group id → (its zone, its members as v1alpha2 `…/servers` serves them).
    members: HashMap<String, (String, Vec<Value>)>,
}

impl Lists {
    pub(crate) fn new(organization_id: &str, groups: &[ScalingGroup], style: Style) -> Lists {
        let mut lists = Lists {
            organization_id: organization_id.to_string(),
            style,
            groups: HashMap::new(),
            templates: HashMap::new(),
            by_group: HashMap::new(),
            summaries: HashMap::new(),
            members: HashMap::new(),
        };
        for g in groups {
            let item = |json| Item::new(&g.id, &g.name, &g.project_id, g.created_at, g.updated_at, json);
            lists.groups.entry(g.zone.clone()).or_default().push(item(instance_group(g)));
            lists.summaries.entry(g.zone.clone()).or_default().push(item(group_summary(g)));
            let t = &g.template;
            let json = instance_template(t);
            lists.templates.entry(t.zone.clone()).or_default().push(Item::new(
                &t.id,
                &t.name,
                &t.project_id,
                t.created_at,
                t.updated_at,
                json,
            ));
            // Policies carry no date: `cpu-high` counts as the newer, so it comes first in the default order.
            let mut policies: Vec<Item> = g
                .policies
                .iter()
                .map(|p| {
                    let created = g.created_at + Duration::seconds(10 - i64::from(p.priority));
                    Item::new(&p.id, &p.name, &g.project_id, created, created, policy(g, p))
                })
                .collect();
            let mut events: Vec<Item> = g
                .events
                .iter()
                .map(|e| Item::new(&e.id, &e.name, &g.project_id, e.created_at, e.created_at, instance_event(e)))
                .collect();
            sort(&mut policies, SortKey::CreatedDesc);
            sort(&mut events, SortKey::CreatedDesc);
            lists.by_group.insert(g.id.clone(), (g.zone.clone(), policies, events));
            let members = g.members.iter().map(|m| json!({"server_id": m.server_id})).collect();
            lists.members.insert(g.id.clone(), (g.zone.clone(), members));
        }
        for items in lists.groups.values_mut().chain(lists.templates.values_mut()).chain(lists.summaries.values_mut()) {
            sort(items, SortKey::CreatedDesc);
        }
        lists
    }
}

/// The v1alpha1 lists of a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum List {
    Groups,
    Templates,
    Policies,
}

fn in_zone<'a>(map: &'a HashMap<String, Vec<Item>>, zone: &str) -> &'a [Item] {
    map.get(zone).map_or(&[][..], Vec::as_slice)
}

fn page_of(data: &Lists, key: &str, all: &[Item], params: &Params, count_first: bool) -> Handled {
    let page = Page::total_count(params)?;
    let mut items: Vec<&Item> = all.iter().collect();
    apply_order(&mut items, params, "order_by", &ORDERS, "created_at_desc")?;
    total_count_page(data.style, key, &items, &page, count_first)
}

/// `GET /autoscaling/v1alpha1/zones/{zone}/{instance-groups,instance-templates,instance-policies}`: no project or
/// organisation filter (the API lists whatever the key can see); `instance-policies` requires `instance_group_id`
/// (400 `invalid_arguments` without it) and is empty for a group unknown in that zone.
pub(crate) fn list(data: &Lists, zone: &str, uri: &Uri, list: List) -> Handled {
    require_zone(zone, &AUTOSCALING_ZONES)?;
    let params = Params::parse(uri.query())?;
    match list {
        List::Groups => page_of(data, "instance_groups", in_zone(&data.groups, zone), &params, false),
        // The recorded templates list puts its count first.
        List::Templates => page_of(data, "instance_templates", in_zone(&data.templates, zone), &params, true),
        List::Policies => {
            let group = params
                .get("instance_group_id")
                .filter(|g| !g.is_empty())
                .ok_or_else(|| ApiError::invalid("instance_group_id", "required field"))?;
            let policies = data
                .by_group
                .get(group)
                .filter(|(z, _, _)| z == zone)
                .map_or(&[][..], |(_, policies, _)| policies.as_slice());
            page_of(data, "policies", policies, &params, false)
        }
    }
}

/// `GET /autoscaling/v1alpha1/zones/{zone}/instance-groups/{instance_group_id}/events`: 404 `not_found` (resource
/// `instance_group`) for a group unknown in that zone.
pub(crate) fn list_events(data: &Lists, zone: &str, group_id: &str, uri: &Uri) -> Handled {
    require_zone(zone, &AUTOSCALING_ZONES)?;
    let params = Params::parse(uri.query())?;
    let (_, _, events) = data
        .by_group
        .get(group_id)
        .filter(|(z, _, _)| z == zone)
        .ok_or_else(|| ApiError::ResourceNotFound { resource: "instance_group", resource_id: group_id.to_string() })?;
    page_of(data, "instance_events", events, &params, false)
}

/// `GET /autoscaling/v1alpha2/zones/{zone}/groups`: Token paging (`page_size`, `page_token`), `project_id` filter,
/// `order_by` as v1alpha1; 404 `unknown_resource` outside [`AUTOSCALING_V2_ZONES`].
pub(crate) fn list_groups_v2(data: &Lists, zone: &str, uri: &Uri) -> Handled {
    require_zone(zone, &AUTOSCALING_V2_ZONES)?;
    let params = Params::parse(uri.query())?;
    let page = TokenPage::parse(&params)?;
    let mut items = filtered(
        &data.organization_id,
        in_zone(&data.summaries, zone),
        params.get("organization_id"),
        params.get("project_id"),
    );
    apply_order(&mut items, &params, "order_by", &ORDERS, "created_at_desc")?;
    let values: Vec<Value> = page.slice(&items).iter().map(|i| i.json.clone()).collect();
    let mut body = Map::new();
    body.insert("group_summaries".into(), Value::Array(values));
    body.insert("next_page_token".into(), page.next_token(items.len()).map_or(Value::Null, Value::String));
    body.insert("total_count".into(), data.style.count(items.len()));
    Ok(json_response(StatusCode::OK, &Value::Object(body), HeaderMap::new()))
}

/// `GET /autoscaling/v1alpha2/zones/{zone}/groups/{group_id}`: the group as the list summarises it; 404 `not_found`
/// (resource `group`) for a group unknown in that zone.
pub(crate) fn get_group_v2(data: &Lists, zone: &str, group_id: &str) -> Handled {
    require_zone(zone, &AUTOSCALING_V2_ZONES)?;
    get_one(in_zone(&data.summaries, zone), group_id, "group")
}

/// `GET /autoscaling/v1alpha1/zones/{zone}/instance-groups/{instance_group_id}`: 404 `not_found` (resource
/// `instance_group`) for one unknown in that zone.
pub(crate) fn get_group(data: &Lists, zone: &str, group_id: &str) -> Handled {
    require_zone(zone, &AUTOSCALING_ZONES)?;
    get_one(in_zone(&data.groups, zone), group_id, "instance_group")
}

/// `GET /autoscaling/v1alpha2/zones/{zone}/servers?group_id=`: a group's members, Token paging; `group_id` is
/// required (400 `invalid_arguments`), 404 `not_found` (resource `group`) for a group unknown in that zone.
pub(crate) fn list_servers_v2(data: &Lists, zone: &str, uri: &Uri) -> Handled {
    require_zone(zone, &AUTOSCALING_V2_ZONES)?;
    let params = Params::parse(uri.query())?;
    let page = TokenPage::parse(&params)?;
    let group = params
        .get("group_id")
        .filter(|g| !g.is_empty())
        .ok_or_else(|| ApiError::invalid("group_id", "required field"))?;
    let (_, members) = data
        .members
        .get(group)
        .filter(|(z, _)| z == zone)
        .ok_or_else(|| ApiError::ResourceNotFound { resource: "group", resource_id: group.to_string() })?;
    let mut body = Map::new();
    body.insert("servers".into(), Value::Array(page.slice(members).to_vec()));
    body.insert("next_page_token".into(), page.next_token(members.len()).map_or(Value::Null, Value::String));
    body.insert("total_count".into(), data.style.count(members.len()));
    Ok(json_response(StatusCode::OK, &Value::Object(body), HeaderMap::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn projects() -> Vec<String> {
        vec!["p0".to_string(), "p1".to_string(), "p2".to_string()]
    }

    #[test]
    fn events_stay_inside_the_last_28_days() {
        let groups = build(42, today(), &projects(), "img", &[]);
        assert_eq!(groups.len(), SCALING_GROUPS.len());
        let start = (today() - chrono::Days::new(28)).and_hms_opt(0, 0, 0).unwrap().and_utc();
        let end = today().and_hms_opt(0, 0, 0).unwrap().and_utc();
        for g in &groups {
            assert!(g.events.windows(2).all(|w| w[0].created_at < w[1].created_at), "{}", g.name);
            assert!(g.events.iter().all(|e| e.created_at >= start && e.created_at < end), "{}", g.name);
            assert!(g.created_at < start && g.updated_at >= g.created_at);
            assert_eq!(g.policies.len(), 2);
        }
        assert_eq!(groups[0].events.len(), 58);
        assert_eq!(groups[2].events.iter().filter(|e| e.direction() == Some(1)).count(), 3);
        assert_eq!(groups[1].project_id, "p1");
        let ids: std::collections::HashSet<_> = groups.iter().flat_map(|g| g.events.iter().map(|e| &e.id)).collect();
        assert_eq!(ids.len(), groups.iter().map(|g| g.events.len()).sum::<usize>());
        // The ids follow the seed only.
        let other = build(42, today(), &["a".to_string(), "b".to_string()], "x", &[]);
        assert_eq!(other[0].id, groups[0].id);
        assert_ne!(build(7, today(), &projects(), "img", &[])[0].id, groups[0].id);
    }

    #[test]
    fn wire_shapes() {
        let groups = build(42, today(), &projects(), "img", &[]);
        let g = &groups[1];
        let json = instance_group(g);
        assert_eq!(json["capacity"]["cooldown_delay"], "120s");
        assert_eq!(json["instance_template_id"], g.template.id);
        assert_eq!(instance_template(&g.template)["commercial_type"], "DEV1-M");
        assert_eq!(policy(g, &g.policies[0])["metric"]["threshold"], json!(70.0));
        assert_eq!(policy(g, &g.policies[1])["action"], "scale_down");
        let summary = group_summary(g);
        assert_eq!((summary["id"].clone(), summary["current_size"].clone()), (json!(g.id), json!(2)));
        let health = g.events.iter().find(|e| e.source == "watcher").unwrap();
        assert_eq!(instance_event(health)["details"], Value::Null);
    }
}
