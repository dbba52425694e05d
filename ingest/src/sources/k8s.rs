//! Kubernetes Kapsule API v1 (regional): the clusters and, one list each per cluster, their pools and nodes. A
//! pool bills its nodes as Instances of its `node_type`; a node's `provider_id`
//! (`scaleway://instance/{zone}/{server id}`) names the Instance whose Cockpit CPU series measure it, which is how
//! the kapsule-pools report finds the nodes a pool could do without. Pagination: [`Scheme::TotalCount`].

use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::Value;

use super::{
    Api, CollectError, Context, Outputs, Probe, ProbeFilter, Product, Scope, for_each_locality, gone, list_all,
    path_segment,
};
use crate::dataset::{DatasetSpec, Kind, LOCALITY, col, key};
use crate::scaleway::{ApiError, ListShape, Scheme};

pub struct Kapsule;

pub const API: Api =
    Api { version: "k8s/v1", scope: Scope::Regions(&["fr-par", "nl-ams", "pl-waw"]), scheme: Scheme::TotalCount };

pub fn clusters() -> DatasetSpec {
    DatasetSpec::new(
        "k8s_clusters",
        1,
        &[
            LOCALITY("region"),
            key("id", "id"),
            col("name", Kind::Str, "name"),
            col("project_id", Kind::Str, "project_id"),
            // The control-plane offer ("kapsule", "kapsule-dedicated-4"): what the cluster itself bills.
            col("type", Kind::Str, "type"),
            col("status", Kind::Str, "status"),
            col("version", Kind::Str, "version"),
            col("cni", Kind::Str, "cni"),
            col("created_at", Kind::Timestamp, "created_at"),
            col("updated_at", Kind::Timestamp, "updated_at"),
            col("tags", Kind::StrList, "tags"),
        ],
    )
}

pub fn pools() -> DatasetSpec {
    DatasetSpec::new(
        "k8s_pools",
        1,
        &[
            LOCALITY("region"),
            key("id", "id"),
            col("cluster_id", Kind::Str, "cluster_id"),
            col("name", Kind::Str, "name"),
            col("status", Kind::Str, "status"),
            // Lower case with underscores ("pro2_xs"): the Instance commercial type PRO2-XS.
            col("node_type", Kind::Str, "node_type"),
            col("zone", Kind::Str, "zone"),
            col("autoscaling", Kind::Bool, "autoscaling"),
            col("size", Kind::U64, "size"),
            col("min_size", Kind::U64, "min_size"),
            col("max_size", Kind::U64, "max_size"),
            col("root_volume_type", Kind::Str, "root_volume_type"),
            col("root_volume_size", Kind::U64, "root_volume_size"),
            col("created_at", Kind::Timestamp, "created_at"),
            col("updated_at", Kind::Timestamp, "updated_at"),
            col("tags", Kind::StrList, "tags"),
        ],
    )
}

pub fn nodes() -> DatasetSpec {
    DatasetSpec::new(
        "k8s_nodes",
        1,
        &[
            LOCALITY("region"),
            key("id", "id"),
            col("cluster_id", Kind::Str, "cluster_id"),
            col("pool_id", Kind::Str, "pool_id"),
            col("name", Kind::Str, "name"),
            col("status", Kind::Str, "status"),
            // "scaleway://instance/fr-par-1/<server id>": the Instance the node runs on.
            col("provider_id", Kind::Str, "provider_id"),
            col("public_ip_v4", Kind::Str, "public_ip_v4"),
            col("created_at", Kind::Timestamp, "created_at"),
            col("updated_at", Kind::Timestamp, "updated_at"),
        ],
    )
}

#[async_trait]
impl Product for Kapsule {
    fn name(&self) -> &'static str {
        "k8s"
    }

    fn summary(&self) -> &'static str {
        "Kubernetes Kapsule clusters, pools and nodes (node Instances, pool bounds)"
    }

    fn apis(&self) -> &'static [Api] {
        &[API]
    }

    fn datasets(&self) -> Vec<DatasetSpec> {
        vec![clusters(), pools(), nodes()]
    }

    fn probe(&self) -> Probe {
        Probe::new(&API, "clusters", "clusters", ProbeFilter::None)
    }

    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError> {
        let regions: Vec<_> = ctx.localities(&API).into_iter().map(|region| collect_region(ctx, out, region)).collect();
        for_each_locality(regions).await
    }
}

async fn collect_region(ctx: &Context, out: &Outputs, region: &'static str) -> Result<(), CollectError> {
    let owner = vec![("organization_id".to_string(), ctx.organization_id.clone())];
    let row = ctx.row_context(region);
    let (cluster_spec, pool_spec, node_spec) = (clusters(), pools(), nodes());
    let mut pager = ctx.list(&API, region, "clusters", owner, ListShape::Array("clusters"));
    while let Some(page) = pager.next().await? {
        // Each cluster's pools and nodes before the cluster itself: a cluster deleted between the lists (they
        // answer 404) is left out whole rather than recorded as a cluster without pools.
        let (mut kept, mut pool_rows, mut node_rows) = (Vec::new(), Vec::new(), Vec::new());
        for cluster in page.items.iter() {
            let Some(id) = cluster.get("id").and_then(Value::as_str) else {
                kept.push(cluster.clone());
                continue;
            };
            let cluster_id = path_segment("clusters[].id", id, &page.request)?;
            // The SDK sends status=unknown (no filter); nothing is sent here, which the API reads the same way.
            let listed = async {
                let pools = list_all(ctx, &API, region, &format!("clusters/{cluster_id}/pools"), "pools").await?;
                let nodes = list_all(ctx, &API, region, &format!("clusters/{cluster_id}/nodes"), "nodes").await?;
                Ok::<_, CollectError>((pools, nodes))
            };
            match listed.await {
                Ok((pools, nodes)) => {
                    pool_rows.extend(pools);
                    node_rows.extend(nodes);
                    kept.push(cluster.clone());
                }
                Err(CollectError::Api(ApiError::Status { status, .. }))
                    if status == StatusCode::NOT_FOUND
                        && gone(ctx, &API, region, &format!("clusters/{cluster_id}")).await? =>
                {
                    tracing::debug!(cluster = %cluster_id, "cluster deleted during the collection: left out");
                }
                Err(error) => return Err(error),
            }
        }
        let number = page.number;
        out.emit(&cluster_spec, kept, &row, &page.request, &|i| format!("clusters[{i}] (page {number})")).await?;
        out.emit(&pool_spec, pool_rows, &row, &page.request, &|i| format!("pools[{i}] of clusters (page {number})"))
            .await?;
        out.emit(&node_spec, node_rows, &row, &page.request, &|i| format!("nodes[{i}] of clusters (page {number})"))
            .await?;
    }
    Ok(())
}
