//! Instance scaling groups: Autoscaling API v1alpha1 (zonal; groups, templates, policies per group, events per
//! group) and, where it answers, v1alpha2's group summaries, the only place a group's current size is given, and
//! each group's members (`…/servers?group_id=`), the only place its Instances are named.
//! v1alpha1 lists have no project filter: they return what the key can see. Events are listed whole at each run;
//! the warehouse keeps every event ever seen (one per id), so the history outlives the API's.

use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::Value;

use super::{
    Api, CollectError, Context, Outputs, Probe, ProbeFilter, Product, Scope, for_each_locality, gone, path_segment,
    walk_list,
};
use crate::dataset::{DatasetSpec, Kind, LOCALITY, RowContext, col, key};
use crate::scaleway::{ApiError, ListShape, Pager, Scheme};

pub struct Autoscaling;

pub const API: Api = Api {
    version: "autoscaling/v1alpha1",
    // Where Instance scaling groups are offered (a zone outside answers 404, which would fail the product).
    scope: Scope::Zones(&["fr-par-1", "fr-par-2", "fr-par-3", "nl-ams-1", "pl-waw-1"]),
    scheme: Scheme::TotalCount,
};

/// v1alpha2 (Paris only when written): group summaries with `current_size`, and members.
pub const API_V1ALPHA2: Api = Api {
    version: "autoscaling/v1alpha2",
    scope: Scope::Zones(&["fr-par-1", "fr-par-2", "fr-par-3"]),
    scheme: Scheme::Token,
};

pub fn groups() -> DatasetSpec {
    DatasetSpec::new(
        "autoscaling_instance_groups",
        1,
        &[
            LOCALITY("zone"),
            key("id", "id"),
            col("project_id", Kind::Str, "project_id"),
            col("name", Kind::Str, "name"),
            col("instance_template_id", Kind::Str, "instance_template_id"),
            col("min_replicas", Kind::U64, "capacity.min_replicas"),
            col("max_replicas", Kind::U64, "capacity.max_replicas"),
            // A protobuf duration, "300s".
            col("cooldown_delay", Kind::Str, "capacity.cooldown_delay"),
            col("loadbalancer_id", Kind::Str, "loadbalancer.id"),
            col("created_at", Kind::Timestamp, "created_at"),
            col("updated_at", Kind::Timestamp, "updated_at"),
            col("tags", Kind::StrList, "tags"),
        ],
    )
}

pub fn templates() -> DatasetSpec {
    DatasetSpec::new(
        "autoscaling_instance_templates",
        1,
        &[
            LOCALITY("zone"),
            key("id", "id"),
            col("project_id", Kind::Str, "project_id"),
            col("name", Kind::Str, "name"),
            col("commercial_type", Kind::Str, "commercial_type"),
            col("status", Kind::Str, "status"),
            col("created_at", Kind::Timestamp, "created_at"),
            col("updated_at", Kind::Timestamp, "updated_at"),
            col("tags", Kind::StrList, "tags"),
        ],
    )
}

pub fn policies() -> DatasetSpec {
    DatasetSpec::new(
        "autoscaling_instance_policies",
        1,
        &[
            LOCALITY("zone"),
            key("id", "id"),
            col("instance_group_id", Kind::Str, "instance_group_id"),
            col("name", Kind::Str, "name"),
            col("action", Kind::Str, "action"),
            col("type", Kind::Str, "type"),
            col("value", Kind::I64, "value"),
            col("priority", Kind::I64, "priority"),
            col("metric_name", Kind::Str, "metric.name"),
            col("managed_metric", Kind::Str, "metric.managed_metric"),
            col("cockpit_metric_name", Kind::Str, "metric.cockpit_metric_name"),
            col("operator", Kind::Str, "metric.operator"),
            col("aggregate", Kind::Str, "metric.aggregate"),
            col("sampling_range_min", Kind::U64, "metric.sampling_range_min"),
            col("threshold", Kind::F64, "metric.threshold"),
        ],
    )
}

/// One row per event, with its group (the API lists them per group and does not repeat the group's id).
pub fn events() -> DatasetSpec {
    DatasetSpec::new(
        "autoscaling_instance_group_events",
        1,
        &[
            LOCALITY("zone"),
            key("instance_group_id", "instance_group_id"),
            col("id", Kind::Str, "event.id"),
            col("source", Kind::Str, "event.source"),
            col("level", Kind::Str, "event.level"),
            col("name", Kind::Str, "event.name"),
            col("created_at", Kind::Timestamp, "event.created_at"),
            col("details", Kind::Str, "event.details"),
        ],
    )
}

/// v1alpha2's group summaries: the size of each group at the time of the run.
pub fn group_sizes() -> DatasetSpec {
    DatasetSpec::new(
        "autoscaling_group_sizes",
        1,
        &[
            LOCALITY("zone"),
            key("id", "id"),
            col("name", Kind::Str, "name"),
            col("project_id", Kind::Str, "project_id"),
            col("status", Kind::Str, "status"),
            col("current_size", Kind::U64, "current_size"),
            col("minimum_size", Kind::U64, "minimum_size"),
            col("maximum_size", Kind::U64, "maximum_size"),
            col("template_id", Kind::Str, "template_id"),
        ],
    )
}

/// v1alpha2's members of each group at the time of the run: a row per (group, Instance).
pub fn group_servers() -> DatasetSpec {
    DatasetSpec::new(
        "autoscaling_group_servers",
        1,
        &[LOCALITY("zone"), key("group_id", "group_id"), col("server_id", Kind::Str, "server.server_id")],
    )
}

#[async_trait]
impl Product for Autoscaling {
    fn name(&self) -> &'static str {
        "autoscaling"
    }

    fn summary(&self) -> &'static str {
        "Instance scaling groups: capacity, templates, policies, scaling events, sizes and members (v1alpha2)"
    }

    fn apis(&self) -> &'static [Api] {
        &[API, API_V1ALPHA2]
    }

    fn datasets(&self) -> Vec<DatasetSpec> {
        vec![groups(), templates(), policies(), events(), group_sizes(), group_servers()]
    }

    fn probe(&self) -> Probe {
        Probe::new(&API, "instance-groups", "instance_groups", ProbeFilter::None)
    }

    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError> {
        let zones: Vec<_> = ctx.localities(&API).into_iter().map(|zone| collect_zone(ctx, out, zone)).collect();
        for_each_locality(zones).await?;
        let zones: Vec<_> =
            ctx.localities(&API_V1ALPHA2).into_iter().map(|zone| collect_sizes(ctx, out, zone)).collect();
        for_each_locality(zones).await
    }
}

async fn collect_zone(ctx: &Context, out: &Outputs, zone: &'static str) -> Result<(), CollectError> {
    let row = ctx.row_context(zone);
    let pager = ctx.list(&API, zone, "instance-groups", Vec::new(), ListShape::Array("instance_groups"));
    let ids = walk_groups(out, &groups(), pager, &row, "instance_groups[].id").await?;
    let pager = ctx.list(&API, zone, "instance-templates", Vec::new(), ListShape::Array("instance_templates"));
    walk_list(out, &templates(), pager, &row).await?;
    let (policy_spec, event_spec) = (policies(), events());
    for group_id in ids {
        // `instance_group_id` is required: policies are listed per group.
        let query = vec![("instance_group_id".to_string(), group_id.clone())];
        let group = GroupList { api: &API, path: format!("instance-groups/{group_id}"), id: &group_id };
        let pager = ctx.list(&API, zone, "instance-policies", query, ListShape::Array("policies"));
        walk_group_list(ctx, out, pager, &group, &policy_spec, &row, Items::AsListed).await?;
        let list = format!("instance-groups/{group_id}/events");
        let pager = ctx.list(&API, zone, &list, Vec::new(), ListShape::Array("instance_events"));
        let events = Items::InGroup { id_key: "instance_group_id", item_key: "event", list_key: "instance_events" };
        walk_group_list(ctx, out, pager, &group, &event_spec, &row, events).await?;
    }
    Ok(())
}

/// v1alpha2 is newer and not everywhere: where it does not answer (404, 501) the sizes and members are simply
/// unknown, a warning in the manifest, never a failed product.
async fn collect_sizes(ctx: &Context, out: &Outputs, zone: &'static str) -> Result<(), CollectError> {
    match collect_v1alpha2(ctx, out, zone).await {
        Ok(()) => Ok(()),
        Err(CollectError::Api(ApiError::Status { status, request, .. }))
            if status == StatusCode::NOT_FOUND || status == StatusCode::NOT_IMPLEMENTED =>
        {
            out.warn(format!("autoscaling: {request} answered {status}: group sizes and members unknown in {zone}"));
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// The group summaries of a zone, then each group's members. A group whose members and itself answer 404
/// (deleted since it was listed) is a warning, its members unknown.
async fn collect_v1alpha2(ctx: &Context, out: &Outputs, zone: &'static str) -> Result<(), CollectError> {
    let row = ctx.row_context(zone);
    let pager = ctx.list(&API_V1ALPHA2, zone, "groups", Vec::new(), ListShape::Array("group_summaries"));
    let ids = walk_groups(out, &group_sizes(), pager, &row, "group_summaries[].id").await?;
    let server_spec = group_servers();
    for group_id in ids {
        let query = vec![("group_id".to_string(), group_id.clone())];
        let pager = ctx.list(&API_V1ALPHA2, zone, "servers", query, ListShape::Array("servers"));
        let group = GroupList { api: &API_V1ALPHA2, path: format!("groups/{group_id}"), id: &group_id };
        let members = Items::InGroup { id_key: "group_id", item_key: "server", list_key: "servers" };
        walk_group_list(ctx, out, pager, &group, &server_spec, &row, members).await?;
    }
    Ok(())
}

/// The group a list belongs to: its API, the path of its own GET, its id.
struct GroupList<'a> {
    api: &'a Api,
    path: String,
    id: &'a str,
}

/// How a group's list becomes rows.
enum Items {
    /// Each item as it is (a policy names its group).
    AsListed,
    /// Each item as `{id_key: the group's id, item_key: item}`, labelled `list_key[i] of group …`.
    InGroup { id_key: &'static str, item_key: &'static str, list_key: &'static str },
}

/// Walks one of a group's lists (its policies, events, members) into `spec`. A 404 confirmed by the group's own
/// GET means it was deleted since it was listed: a warning, its list unknown. A list route that disappeared must
/// fail, not empty the data.
async fn walk_group_list(
    ctx: &Context,
    out: &Outputs,
    mut pager: Pager<'_>,
    group: &GroupList<'_>,
    spec: &DatasetSpec,
    row: &RowContext,
    items: Items,
) -> Result<(), CollectError> {
    let zone = row.locality.as_str();
    loop {
        let page = match pager.next().await {
            Ok(Some(page)) => page,
            Ok(None) => return Ok(()),
            Err(ApiError::Status { status, request, .. })
                if status == StatusCode::NOT_FOUND && gone(ctx, group.api, zone, &group.path).await? =>
            {
                out.warn(format!("autoscaling: {request} answered {status}: group {} deleted meanwhile", group.id));
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        };
        let number = page.number;
        match items {
            Items::AsListed => out.emit_page(spec, &page, row).await?,
            Items::InGroup { id_key, item_key, list_key } => {
                let rows: Vec<Value> = page
                    .items
                    .iter()
                    .map(|item| {
                        let mut object = serde_json::Map::new();
                        object.insert(id_key.to_string(), Value::from(group.id));
                        object.insert(item_key.to_string(), item.clone());
                        Value::Object(object)
                    })
                    .collect();
                let label = |i| format!("{list_key}[{i}] of group {} (page {number})", group.id);
                out.emit(spec, rows, row, &page.request, &label).await?;
            }
        }
    }
}

/// Walks a list of groups into `spec` and returns their ids, each checked as a path segment: the lists that
/// follow put them in their paths.
async fn walk_groups(
    out: &Outputs,
    spec: &DatasetSpec,
    mut pager: Pager<'_>,
    row: &RowContext,
    field: &str,
) -> Result<Vec<String>, CollectError> {
    let mut ids = Vec::new();
    while let Some(page) = pager.next().await? {
        out.emit_page(spec, &page, row).await?;
        for group in page.items.iter() {
            if let Some(id) = group.get("id").and_then(Value::as_str) {
                ids.push(path_segment(field, id, &page.request)?);
            }
        }
    }
    Ok(ids)
}
