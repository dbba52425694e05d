//! Cockpit (metrics), regional: product metrics of Instances, kept in the lake for as long as costlake runs
//! (Cockpit itself keeps them 31 days).
//!
//! Per project and region: the `scaleway`-origin metrics data source (`GET …/data-sources`), queried at the `url`
//! the API returns (never one built by hand) under `/prometheus/api/v1/…` with a Cockpit token in `X-Token`. The
//! token is the user's for that project (`COSTLAKE_COCKPIT_TOKENS`) or a temporary one created for the run
//! (`POST …/tokens`, scope `read_only_metrics`) and deleted when the project and region are done, whether they
//! succeeded or not: a token that outlived the run would be a leaked credential. Token secrets never reach a
//! log, a file or an error.
//!
//! Metric names are discovered (`label/__name__/values`), not assumed. Raw series are collected with plain
//! selectors at a fixed step (rates are computed in ClickHouse, so the lake keeps the source data). Each query
//! asks at most [`POINTS_PER_QUERY`] points (series × steps, and never more than Prometheus' 11,000 steps per
//! series), so no response grows with the organisation. Incremental: each (data source, metric) starts after the
//! last timestamp the previous committed run collected (a cursor in the manifest), the first run at the data
//! source's retention.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{ArrayRef, Float64Builder, ListBuilder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use reqwest::Url;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::{Api, CollectError, Context, GLOBAL, Outputs, Probe, ProbeFilter, Product, Scope};
use crate::dataset::{Column, DatasetSpec, Kind, LOCALITY, Origin, col, key, list_item};
use crate::scaleway::{ApiError, ListShape, Pager, Response, Scheme};

pub struct Cockpit;

pub const API: Api =
    Api { version: "cockpit/v1", scope: Scope::Regions(&["fr-par", "nl-ams", "pl-waw"]), scheme: Scheme::TotalCount };

/// Metric families collected, by name prefix (discovered names outside them are left in Cockpit).
pub const COLLECTED_PREFIXES: &[&str] = &["instance_server_"];

/// Managed Database series, by exact name: their exporters publish dozens of families per database (per CPU,
/// per table), and the reports read these four.
pub const COLLECTED_NAMES: &[&str] = &[
    "rdb_instance_postgresql_node_cpu_seconds_total",
    "rdb_instance_postgresql_pg_stat_database_numbackends",
    "rdb_instance_mysql_node_cpu_seconds_total",
    "rdb_instance_mysql_mysql_global_status_threads_connected",
];

/// Default resolution of the collected series.
pub const DEFAULT_STEP_SECONDS: u64 = 300;

/// Points (series × steps) one `query_range` may return: about 3.5 MB of JSON.
pub const POINTS_PER_QUERY: u64 = 125_000;

/// Points of answers a region holds at once, asked for or being written: what bounds the collection's memory,
/// whatever the number of projects collected at once. Four full answers, as when two projects went at once, each
/// with an answer being written and the next one asked for (collect's peak at 10,000 servers: 142 MiB then,
/// 182 MiB with four projects at once and no such bound, 152 MiB with eight and this one).
const POINTS_HELD_PER_REGION: u32 = 4 * POINTS_PER_QUERY as u32;

/// Projects whose metrics a region collects at once. A small organisation's collection is a chain of requests
/// (per project: its data sources, a token, the metric names, then per metric its series and its points) that
/// the API's latency lengthens, not the API's limits: 100 servers in 20 projects took 9.8 s at 50 ms a request
/// one project at a time, 5.2 s two at a time, 3.5 s eight at a time. A big one's answers are bounded by
/// [`POINTS_HELD_PER_REGION`], not by this.
const PROJECTS_AT_ONCE: usize = 8;

/// How long after its time a sample is surely in Cockpit.
pub const INGESTION_DELAY_SECONDS: u64 = 300;

/// Prometheus refuses a query of more steps than this per series.
pub const MAX_STEPS_PER_QUERY: u64 = 11_000;

/// What the user configures for Cockpit.
#[derive(Debug, Clone, Default)]
pub struct CockpitSettings {
    /// Tokens given by the user, by `project_id/region` (or `project_id` for every region); the others get a
    /// temporary token.
    pub tokens: BTreeMap<String, SecretString>,
    /// Resolution of the collected series; [`DEFAULT_STEP_SECONDS`] when 0.
    pub step_seconds: u64,
    /// Points of answers a region may hold at once; [`POINTS_HELD_PER_REGION`] when 0.
    pub points_held_per_region: u32,
}

pub fn data_sources() -> DatasetSpec {
    DatasetSpec::new(
        "cockpit_data_sources",
        1,
        &[
            LOCALITY("region"),
            key("id", "id"),
            col("project_id", Kind::Str, "project_id"),
            col("name", Kind::Str, "name"),
            col("url", Kind::Str, "url"),
            col("type", Kind::Str, "type"),
            col("origin", Kind::Str, "origin"),
            col("retention_days", Kind::U64, "retention_days"),
            col("created_at", Kind::Timestamp, "created_at"),
            col("updated_at", Kind::Timestamp, "updated_at"),
        ],
    )
}

const fn point_column(name: &'static str, kind: Kind, required: bool) -> Column {
    // Filled by `points_batches`, not from JSON items: the source names the column itself.
    Column { name, kind, source: Origin::Path(name), required }
}

/// A row per series and answer, as the API's matrix serves them: the series' labels (all of them, as a JSON
/// object), then its sample times and values, element for element. The warehouse gets a row per sample, and the
/// manifest counts samples. No `raw` column: the labels with the samples are the whole source.
///
/// Version 2. Version 1 repeated the labels on a row per sample: 10 text columns a sample, whose encoding was
/// 58 % of collecting the points (8 × the encoding of the samples as lists). The loader reads both.
pub fn metric_points() -> DatasetSpec {
    DatasetSpec::without_raw(
        "cockpit_metric_points",
        2,
        &[
            LOCALITY("region"),
            point_column("project_id", Kind::Str, true),
            point_column("data_source_id", Kind::Str, true),
            point_column("metric", Kind::Str, true),
            point_column("resource_id", Kind::Str, false),
            point_column("resource_name", Kind::Str, false),
            point_column("zone", Kind::Str, false),
            point_column("labels", Kind::Json, true),
            point_column("ts", Kind::TimestampList, true),
            point_column("value", Kind::F64List, true),
        ],
    )
    .rows_are_samples_of("ts")
}

#[async_trait]
impl Product for Cockpit {
    fn name(&self) -> &'static str {
        "cockpit"
    }

    fn summary(&self) -> &'static str {
        "Instance metrics (CPU) from Cockpit, kept past its 31 days (utilisation reports)"
    }

    fn apis(&self) -> &'static [Api] {
        &[API]
    }

    fn datasets(&self) -> Vec<DatasetSpec> {
        vec![data_sources(), metric_points()]
    }

    fn probe(&self) -> Probe {
        Probe::new(&API, "data-sources", "data_sources", ProbeFilter::Project)
    }

    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError> {
        let projects = project_ids(ctx).await?;
        let regions: Vec<_> =
            ctx.localities(&API).into_iter().map(|region| collect_region(ctx, out, region, &projects)).collect();
        // Every region runs to its end, even after another failed: each deletes its own temporary tokens, which
        // a region dropped halfway could not.
        futures::future::join_all(regions).await.into_iter().collect()
    }
}

async fn collect_region(
    ctx: &Context,
    out: &Outputs,
    region: &'static str,
    projects: &[String],
) -> Result<(), CollectError> {
    // After a failure no project starts, but those running finish: each deletes its own temporary token, which
    // one dropped halfway could not.
    let points_budget = match ctx.cockpit.points_held_per_region {
        0 => POINTS_HELD_PER_REGION,
        set => set.min(Semaphore::MAX_PERMITS.try_into().unwrap_or(u32::MAX)),
    };
    let region_run =
        RegionRun { failed: AtomicBool::new(false), points: Semaphore::new(points_budget as usize), points_budget };
    let tasks: Vec<_> =
        projects.iter().map(|project| collect_project(&region_run, ctx, out, region, project)).collect();
    let mut running = futures::stream::iter(tasks).buffer_unordered(PROJECTS_AT_ONCE);
    let mut first_error = Ok(());
    while let Some(result) = running.next().await {
        if result.is_err() {
            region_run.failed.store(true, Ordering::Relaxed);
        }
        if first_error.is_ok() {
            first_error = result;
        }
    }
    first_error
}

/// What the projects of one region share while they are collected.
struct RegionRun {
    /// Whether one of them failed: the region fails then, so what is left would be discarded.
    failed: AtomicBool,
    /// The points of the answers they may hold at once ([`POINTS_HELD_PER_REGION`]).
    points: Semaphore,
    /// The semaphore's permits in all: one answer takes at most this many.
    points_budget: u32,
}

/// The organisation's project ids (the Account collector records the projects themselves).
async fn project_ids(ctx: &Context) -> Result<Vec<String>, CollectError> {
    let query = vec![("organization_id".to_string(), ctx.organization_id.clone())];
    let mut pager = ctx.list(&super::account::API, GLOBAL, "projects", query, ListShape::Array("projects"));
    let mut ids = Vec::new();
    while let Some(page) = pager.next().await? {
        ids.extend(page.items.iter().filter_map(|p| p.get("id").and_then(Value::as_str)).map(str::to_string));
    }
    Ok(ids)
}

/// The project's metrics in the region, metric after metric until done or until another project of the region
/// failed (one queued then never starts).
async fn collect_project(
    region_run: &RegionRun,
    ctx: &Context,
    out: &Outputs,
    region: &str,
    project: &str,
) -> Result<(), CollectError> {
    if region_run.failed.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut pager = metrics_data_sources(ctx, region, project);
    let row = ctx.row_context(region);
    let mut sources = Vec::new();
    while let Some(page) = pager.next().await? {
        out.emit_page(&data_sources(), &page, &row).await?;
        for item in page.items.iter().filter(|item| is_product_metrics(item)) {
            let field = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or("").to_string();
            let retention = item.get("retention_days").and_then(Value::as_u64).unwrap_or(31);
            sources.push((field("id"), field("url"), retention, page.request.clone()));
        }
    }
    if sources.is_empty() {
        return Ok(());
    }

    let (token, temporary) = token_for(ctx, region, project).await?;
    let mut result = Ok(());
    for (id, url, retention, listed_by) in &sources {
        result = collect_source(region_run, ctx, out, region, project, id, url, *retention, listed_by, &token).await;
        if result.is_err() {
            break;
        }
    }
    if let Some(id) = temporary {
        let deleted = delete_token(ctx, region, project, &id).await;
        if let Err(error) = &deleted {
            tracing::error!(%error, token_id = %id, region, project, "could not delete a temporary Cockpit token");
        }
        // The collection's own error comes first; a token left behind fails the product either way.
        result = result.and(deleted);
    }
    result
}

/// The metrics data sources of `project` in `region`.
fn metrics_data_sources<'a>(ctx: &'a Context, region: &str, project: &str) -> Pager<'a> {
    let query = vec![("project_id".to_string(), project.to_string()), ("types".to_string(), "metrics".to_string())];
    ctx.list(&API, region, "data-sources", query, ListShape::Array("data_sources"))
}

/// Scaleway's product metrics live in the built-in data source; custom ones hold the user's own.
fn is_product_metrics(item: &Value) -> bool {
    let field = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or("");
    field("origin") == "scaleway" && field("type") == "metrics"
}

/// Whether a run can read `project`'s metrics in `region`, as a run does it: the token given for it, or a
/// temporary one (created, then deleted whatever happens), reads the metric names of Scaleway's metrics data
/// source. `costlake doctor`.
pub async fn check_token_access(ctx: &Context, region: &str, project: &str) -> Result<String, CollectError> {
    let mut pager = metrics_data_sources(ctx, region, project);
    let mut source = None;
    while let Some(page) = pager.next().await? {
        source = source.or_else(|| {
            let item = page.items.iter().find(|item| is_product_metrics(item))?;
            Some((item.get("url").and_then(Value::as_str).unwrap_or("").to_string(), page.request.clone()))
        });
    }
    let Some((url, listed_by)) = source else {
        return Ok(format!("project {project} has no Scaleway metrics data source in {region}: nothing to read"));
    };
    let base = data_plane(&url, ctx.client.api_url(), &listed_by)?;
    let (token, temporary) = token_for(ctx, region, project).await?;
    let read = ctx.client.get_with_token(&base, "/prometheus/api/v1/label/__name__/values", &[], &token).await;
    if let Some(id) = &temporary {
        delete_token(ctx, region, project, id).await?;
    }
    let response = read?;
    let names: Envelope<Vec<String>> = decode(&response.body, &response.request)?;
    let how = if temporary.is_some() { "a temporary token (created and deleted)" } else { "the token given" };
    Ok(format!("{how} reads {} metric names of project {project} in {region}", names.data.len()))
}

/// The token to read `project`'s metrics in `region` with, and the id of the temporary token created for it (to
/// delete) if none was given. A Cockpit token belongs to one project and one region: the user's for this region,
/// else one given for the project as a whole, else a temporary one.
async fn token_for(ctx: &Context, region: &str, project: &str) -> Result<(SecretString, Option<String>), CollectError> {
    let given = ctx.cockpit.tokens.get(&format!("{project}/{region}")).or_else(|| ctx.cockpit.tokens.get(project));
    match given {
        Some(token) => Ok((token.clone(), None)),
        None => {
            let (id, secret) = create_token(ctx, region, project).await?;
            Ok((secret, Some(id)))
        }
    }
}

fn token_name(ctx: &Context) -> String {
    format!("costlake-temporary-{}", ctx.run_id)
}

/// Creates a read-only metrics token for the run; returns its id and secret.
async fn create_token(ctx: &Context, region: &str, project: &str) -> Result<(String, SecretString), CollectError> {
    let body = json!({
        "project_id": project,
        "name": token_name(ctx),
        "token_scopes": ["read_only_metrics"],
    });
    let response = match ctx.client.post_json(&API.path(region, "tokens"), &body).await {
        Ok(response) => response,
        Err(error) => {
            // The request may have been acted upon before the answer was lost (a timeout, a 5xx): a token of this
            // name would then exist with no id known here.
            if !error.is_rate_limited() {
                delete_tokens_named(ctx, region, project).await;
            }
            return Err(error.into());
        }
    };
    let parsed: Value = serde_json::from_slice(&response.body).map_err(|e| ApiError::Malformed {
        request: response.request.clone(),
        detail: format!("not valid JSON: {e}"),
    })?;
    let field = |name: &str| parsed.get(name).and_then(Value::as_str).map(str::to_string);
    match (field("id"), field("secret_key")) {
        (Some(id), Some(secret)) => {
            tracing::debug!(token_id = %id, region, project, "temporary Cockpit token created");
            Ok((id, SecretString::from(secret)))
        }
        (id, _) => {
            if let Some(id) = id {
                let _ = delete_token(ctx, region, project, &id).await;
            }
            Err(ApiError::Malformed {
                request: response.request,
                detail: "the created token has no id or no secret_key".into(),
            }
            .into())
        }
    }
}

/// Deletes the run's temporary token. A 404 is success: an earlier attempt, whose answer was lost, deleted it.
async fn delete_token(ctx: &Context, region: &str, project: &str, id: &str) -> Result<(), CollectError> {
    let path = API.path(region, "tokens");
    let id = super::path_segment("token id", id, &path).map_err(|e| ApiError::TokenLeftBehind {
        name: token_name(ctx),
        project: project.to_string(),
        cause: e.to_string(),
    })?;
    match ctx.client.delete(&format!("{path}/{id}")).await {
        Ok(_) => Ok(()),
        Err(ApiError::Status { status, .. }) if status == reqwest::StatusCode::NOT_FOUND => Ok(()),
        Err(error) => Err(ApiError::TokenLeftBehind {
            name: token_name(ctx),
            project: project.to_string(),
            cause: error.to_string(),
        }
        .into()),
    }
}

/// Best effort, after a creation whose answer was lost: deletes this run's tokens of `project` in `region`.
async fn delete_tokens_named(ctx: &Context, region: &str, project: &str) {
    let query = vec![("project_id".to_string(), project.to_string())];
    let mut pager = ctx.list(&API, region, "tokens", query, ListShape::Array("tokens"));
    let name = token_name(ctx);
    let mut ours = Vec::new();
    while let Ok(Some(page)) = pager.next().await {
        for token in page.items.iter() {
            if token.get("name").and_then(Value::as_str) == Some(name.as_str())
                && let Some(id) = token.get("id").and_then(Value::as_str)
            {
                ours.push(id.to_string());
            }
        }
    }
    for id in ours {
        if let Err(error) = delete_token(ctx, region, project, &id).await {
            tracing::error!(%error, "a temporary Cockpit token may be left behind");
        }
    }
}

/// The data plane of one data source, checked: an `https` URL, or the API's own scheme, host and port (the
/// simulator on loopback), so a token is never sent elsewhere in clear.
fn data_plane(url: &str, api_url: &str, listed_by: &str) -> Result<Url, CollectError> {
    let malformed = |detail: String| ApiError::Malformed { request: listed_by.to_string(), detail };
    let parsed = Url::parse(url).map_err(|e| malformed(format!("data source url {url:?}: {e}")))?;
    let api = Url::parse(api_url).ok();
    let same_origin_as_api = api.as_ref().is_some_and(|a| {
        a.scheme() == parsed.scheme()
            && a.host_str() == parsed.host_str()
            && a.port_or_known_default() == parsed.port_or_known_default()
    });
    if parsed.scheme() != "https" && !same_origin_as_api {
        return Err(malformed(format!("data source url {url:?} is not https: costlake sends no token there")).into());
    }
    Ok(parsed)
}

#[allow(clippy::too_many_arguments)]
async fn collect_source(
    region_run: &RegionRun,
    ctx: &Context,
    out: &Outputs,
    region: &str,
    project: &str,
    source_id: &str,
    url: &str,
    retention_days: u64,
    listed_by: &str,
    token: &SecretString,
) -> Result<(), CollectError> {
    let base = data_plane(url, ctx.client.api_url(), listed_by)?;
    let step = if ctx.cockpit.step_seconds == 0 { DEFAULT_STEP_SECONDS } else { ctx.cockpit.step_seconds };
    // Samples reach Cockpit a little after their time: the window stops short of now, so that none is skipped.
    let end = (ctx.snapshot_at.timestamp().max(0) as u64).saturating_sub(INGESTION_DELAY_SECONDS) / step * step;

    let patterns: Vec<String> = COLLECTED_PREFIXES
        .iter()
        .map(|p| format!("{p}.*"))
        .chain(COLLECTED_NAMES.iter().map(|n| n.to_string()))
        .collect();
    let matcher = format!("{{__name__=~\"{}\"}}", patterns.join("|"));
    let query = vec![("match[]".to_string(), matcher)];
    let response = ctx.client.get_with_token(&base, "/prometheus/api/v1/label/__name__/values", &query, token).await?;
    let names: Envelope<Vec<String>> = decode(&response.body, &response.request)?;
    let mut names: Vec<String> = names
        .data
        .into_iter()
        .filter(|n| COLLECTED_PREFIXES.iter().any(|p| n.starts_with(p)) || COLLECTED_NAMES.contains(&n.as_str()))
        .collect();
    names.sort();

    for metric in names {
        if region_run.failed.load(Ordering::Relaxed) {
            break;
        }
        let cursor_key = format!("cockpit/{region}/{source_id}/{metric}");
        let start = match ctx.cursors.get(&cursor_key).and_then(|c| c.parse::<u64>().ok()) {
            Some(last) => last + step,
            None => end.saturating_sub(retention_days * 86_400).div_ceil(step) * step,
        };
        if start <= end {
            collect_metric(region_run, ctx, out, region, project, source_id, &base, token, &metric, start, end, step)
                .await?;
        }
        out.set_cursor(cursor_key, end.to_string());
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn collect_metric(
    region_run: &RegionRun,
    ctx: &Context,
    out: &Outputs,
    region: &str,
    project: &str,
    source_id: &str,
    base: &Url,
    token: &SecretString,
    metric: &str,
    start: u64,
    end: u64,
    step: u64,
) -> Result<(), CollectError> {
    // How many series, to size the windows: series × steps per query stays under the budget.
    let query = vec![
        ("match[]".to_string(), metric.to_string()),
        ("start".to_string(), start.to_string()),
        ("end".to_string(), end.to_string()),
    ];
    let response = ctx.client.get_with_token(base, "/prometheus/api/v1/series", &query, token).await?;
    let series: Envelope<Vec<Value>> = decode(&response.body, &response.request)?;
    if series.data.is_empty() {
        return Ok(());
    }
    let steps_per_query = (POINTS_PER_QUERY / series.data.len() as u64).clamp(1, MAX_STEPS_PER_QUERY);
    // What one answer holds, at most: its share of the region's points until it is written.
    let answer_points = (series.data.len() as u64 * steps_per_query).min(u64::from(region_run.points_budget)) as u32;

    let spec = Arc::new(metric_points());
    let windows = query_windows(start, end, step, steps_per_query);
    let fetch = |(from, to): (u64, u64)| async move {
        let held = region_run.points.acquire_many(answer_points).await.expect("the region's semaphore is never closed");
        let query = vec![
            ("query".to_string(), metric.to_string()),
            ("start".to_string(), from.to_string()),
            ("end".to_string(), to.to_string()),
            ("step".to_string(), step.to_string()),
        ];
        let response = ctx.client.get_with_token(base, "/prometheus/api/v1/query_range", &query, token).await?;
        ctx.client.count_page();
        Ok::<_, ApiError>((response, held))
    };
    let row = || Labels {
        run_id: ctx.run_id.to_string(),
        snapshot_at: ctx.snapshot_at,
        organization_id: ctx.organization_id.clone(),
        region: region.to_string(),
        project: project.to_string(),
        source_id: source_id.to_string(),
        metric: metric.to_string(),
    };
    let Some(first) = windows.first() else { return Ok(()) };
    let mut answer = fetch(*first).await?;
    for next in windows.iter().skip(1).map(Some).chain([None]) {
        // The next window is asked for while this one is decoded and written: a chain of requests would
        // otherwise wait for the API's latency and for decoding in turn.
        let prefetch = async {
            match next {
                Some(window) => fetch(*window).await.map(Some).map_err(CollectError::from),
                None => Ok(None),
            }
        };
        // The first error ends both: a failed write drops the request ahead, a failed request the write. An
        // answer's points are given back once it is written, whether the next one is there yet or not: a
        // write never waits for points, so the projects waiting for them always get them.
        let (response, held) = answer;
        let (spec, labels) = (&spec, row());
        let write = async move {
            write_answer(out, spec, labels, response).await?;
            drop(held);
            Ok::<_, CollectError>(())
        };
        match tokio::try_join!(write, prefetch)? {
            ((), Some(fetched)) => answer = fetched,
            ((), None) => break,
        }
    }
    Ok(())
}

/// The `(start, end)` of each query over `[start, end]` (both evaluation times, `step` apart), of at most
/// `steps_per_query` steps each: consecutive, none overlapping, the last one ending at `end`.
fn query_windows(start: u64, end: u64, step: u64, steps_per_query: u64) -> Vec<(u64, u64)> {
    std::iter::successors(Some(start), |from| Some(from + steps_per_query * step))
        .take_while(|from| *from <= end)
        .map(|from| (from, (from + (steps_per_query - 1) * step).min(end)))
        .collect()
}

/// Decodes one `query_range` answer on a blocking thread and hands its batches to the dataset as they come.
async fn write_answer(
    out: &Outputs,
    spec: &Arc<DatasetSpec>,
    row: Labels,
    response: Response,
) -> Result<(), CollectError> {
    // Decoding a page of points and building its columns is CPU work: off the async runtime. Batches come back
    // one at a time (a channel of one), each written before the next is built.
    let _decoding = DECODING.acquire().await.map_err(|_| ApiError::Malformed {
        request: "query_range".into(),
        detail: "decoding stopped: its semaphore was closed".into(),
    })?;
    let (batches_tx, mut batches) = tokio::sync::mpsc::channel::<RecordBatch>(1);
    let batch_spec = spec.clone();
    let decoder = tokio::task::spawn_blocking(move || {
        points_batches(&batch_spec, &row, &response.body, &response.request, |batch| {
            batches_tx.blocking_send(batch).is_ok()
        })
    });
    let mut sent = Ok(());
    while let Some(batch) = batches.recv().await {
        if sent.is_ok() {
            sent = out.send_batch(spec, batch).await;
        }
        if sent.is_err() {
            // Dropping the receiver stops the decoder at its next batch.
            break;
        }
    }
    drop(batches);
    decoder.await.map_err(|e| ApiError::Malformed {
        request: "query_range".into(),
        detail: format!("decoding stopped: {e}"),
    })??;
    sent
}

/// Answers decoded at once, whatever the number of projects and regions collected side by side: decoding is CPU
/// work that more threads than cores would not speed up, and each answer being decoded holds its samples twice
/// (as parsed and as checked), several times its JSON. Answers waiting hold their JSON only.
static DECODING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A Prometheus answer: `{"status": "success", "data": …}`.
#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: T,
}

fn decode<'a, T: Deserialize<'a>>(body: &'a [u8], request: &str) -> Result<Envelope<T>, ApiError> {
    let envelope: Envelope<T> = serde_json::from_slice(body).map_err(|e| ApiError::Malformed {
        request: request.to_string(),
        detail: format!("not a Prometheus answer: {e}"),
    })?;
    if envelope.status != "success" {
        return Err(ApiError::Malformed {
            request: request.to_string(),
            detail: format!("status {:?}, expected \"success\"", envelope.status),
        });
    }
    Ok(envelope)
}

#[derive(Deserialize)]
struct Matrix<'a> {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(borrow)]
    result: Vec<Series<'a>>,
}

/// A series of a `query_range` answer. Its values are read in place, not copied: an answer holds up to
/// [`POINTS_PER_QUERY`] of them (a value with an escape in it is no number, and is refused as such).
#[derive(Deserialize)]
struct Series<'a> {
    metric: BTreeMap<String, String>,
    #[serde(borrow)]
    values: Vec<(f64, &'a str)>,
}

/// The values shared by every row of a query.
struct Labels {
    run_id: String,
    snapshot_at: DateTime<Utc>,
    organization_id: String,
    region: String,
    project: String,
    source_id: String,
    metric: String,
}

/// One `query_range` answer as rows of [`metric_points`], with placeholder run values: what the collector does
/// with each answer, exposed for the hostile-input tests.
pub fn decode_query_range(body: &[u8]) -> Result<Vec<RecordBatch>, ApiError> {
    let labels = Labels {
        run_id: "run".into(),
        snapshot_at: DateTime::<Utc>::UNIX_EPOCH,
        organization_id: String::new(),
        region: String::new(),
        project: String::new(),
        source_id: String::new(),
        metric: String::new(),
    };
    let mut batches = Vec::new();
    points_batches(&metric_points(), &labels, body, "query_range", |batch| {
        batches.push(batch);
        true
    })?;
    Ok(batches)
}

/// Samples per batch: a batch of series holds about 16 bytes a sample (its time and value) and its labels once
/// per series, so the batches being built, queued and written hold little whatever the answer's size.
const SAMPLES_PER_BATCH: usize = crate::sink::ROW_GROUP_ROWS;

/// The series of a `query_range` answer as record batches of at most [`SAMPLES_PER_BATCH`] samples, each passed
/// to `emit` as it is built (it returns false to stop); a series longer than a batch's room continues in the
/// next one, on a row of its own. The whole answer is checked before the first batch, so a malformed sample
/// refuses the answer, never half of it.
fn points_batches(
    spec: &DatasetSpec,
    row: &Labels,
    body: &[u8],
    request: &str,
    mut emit: impl FnMut(RecordBatch) -> bool,
) -> Result<(), ApiError> {
    let malformed = |detail: String| ApiError::Malformed { request: request.to_string(), detail };
    let matrix: Envelope<Matrix> = decode(body, request)?;
    if matrix.data.result_type != "matrix" {
        return Err(malformed(format!("resultType {:?}, expected \"matrix\"", matrix.data.result_type)));
    }
    // Checked and converted first: labels, times (µs) and values per series.
    let mut checked = Vec::with_capacity(matrix.data.result.len());
    for (index, series) in matrix.data.result.into_iter().enumerate() {
        let mut times = Vec::with_capacity(series.values.len());
        let mut values = Vec::with_capacity(series.values.len());
        for (sample, (at, raw)) in series.values.iter().enumerate() {
            let parsed: f64 = raw
                .parse()
                .map_err(|_| malformed(format!("result[{index}].values[{sample}]: {raw:?} is not a number")))?;
            if !at.is_finite() || *at < 0.0 || *at > 32_503_680_000.0 {
                return Err(malformed(format!("result[{index}].values[{sample}]: {at} is not a Unix time")));
            }
            times.push((at * 1_000_000.0).round() as i64);
            values.push(parsed);
        }
        checked.push((series.metric, times, values));
    }
    let mut batch = SeriesBuilder::new();
    for (metric_labels, times, values) in &checked {
        let series = SeriesColumns::of(row, metric_labels);
        let mut done = 0;
        while done < times.len() {
            let take = (times.len() - done).min(SAMPLES_PER_BATCH - batch.samples);
            batch.push(row, &series, &times[done..done + take], &values[done..done + take]);
            done += take;
            if batch.samples == SAMPLES_PER_BATCH {
                let full = std::mem::replace(&mut batch, SeriesBuilder::new());
                if !emit(full.finish(spec).map_err(&malformed)?) {
                    return Ok(());
                }
            }
        }
    }
    if batch.samples > 0 {
        emit(batch.finish(spec).map_err(&malformed)?);
    }
    Ok(())
}

/// The values a series repeats on each of its points, looked up once per series, not once per point.
struct SeriesColumns<'a> {
    project: &'a str,
    metric: &'a str,
    resource_id: Option<&'a str>,
    resource_name: Option<&'a str>,
    zone: Option<&'a str>,
    labels_json: String,
}

impl<'a> SeriesColumns<'a> {
    fn of(row: &'a Labels, labels: &'a BTreeMap<String, String>) -> SeriesColumns<'a> {
        let label = |name: &str| labels.get(name).map(String::as_str);
        SeriesColumns {
            project: label("project_id").unwrap_or(&row.project),
            metric: label("__name__").unwrap_or(&row.metric),
            resource_id: label("resource_id"),
            resource_name: label("resource_name"),
            zone: label("az"),
            labels_json: serde_json::to_string(labels).unwrap_or_else(|_| "{}".into()),
        }
    }
}

/// The columns of [`metric_points`] being filled: a row per series (or per part of one).
struct SeriesBuilder {
    samples: usize,
    run_id: StringBuilder,
    snapshot_at: TimestampMicrosecondBuilder,
    organization: StringBuilder,
    region: StringBuilder,
    project: StringBuilder,
    source: StringBuilder,
    metric: StringBuilder,
    resource_id: StringBuilder,
    resource_name: StringBuilder,
    zone: StringBuilder,
    labels: StringBuilder,
    ts: ListBuilder<TimestampMicrosecondBuilder>,
    value: ListBuilder<Float64Builder>,
}

impl SeriesBuilder {
    fn new() -> SeriesBuilder {
        let times = TimestampMicrosecondBuilder::with_capacity(SAMPLES_PER_BATCH).with_timezone("UTC");
        SeriesBuilder {
            samples: 0,
            run_id: StringBuilder::new(),
            snapshot_at: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            organization: StringBuilder::new(),
            region: StringBuilder::new(),
            project: StringBuilder::new(),
            source: StringBuilder::new(),
            metric: StringBuilder::new(),
            resource_id: StringBuilder::new(),
            resource_name: StringBuilder::new(),
            zone: StringBuilder::new(),
            labels: StringBuilder::new(),
            ts: ListBuilder::new(times).with_field(list_item(Kind::Timestamp)),
            value: ListBuilder::new(Float64Builder::with_capacity(SAMPLES_PER_BATCH)).with_field(list_item(Kind::F64)),
        }
    }

    fn push(&mut self, row: &Labels, series: &SeriesColumns, times: &[i64], values: &[f64]) {
        self.run_id.append_value(&row.run_id);
        self.snapshot_at.append_value(row.snapshot_at.timestamp_micros());
        self.organization.append_value(&row.organization_id);
        self.region.append_value(&row.region);
        self.project.append_value(series.project);
        self.source.append_value(&row.source_id);
        self.metric.append_value(series.metric);
        self.resource_id.append_option(series.resource_id);
        self.resource_name.append_option(series.resource_name);
        self.zone.append_option(series.zone);
        self.labels.append_value(&series.labels_json);
        self.ts.values().append_slice(times);
        self.ts.append(true);
        self.value.values().append_slice(values);
        self.value.append(true);
        self.samples += times.len();
    }

    fn finish(mut self, spec: &DatasetSpec) -> Result<RecordBatch, String> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.run_id.finish()),
            Arc::new(self.snapshot_at.finish()),
            Arc::new(self.organization.finish()),
            Arc::new(self.region.finish()),
            Arc::new(self.project.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.metric.finish()),
            Arc::new(self.resource_id.finish()),
            Arc::new(self.resource_name.finish()),
            Arc::new(self.zone.finish()),
            Arc::new(self.labels.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.value.finish()),
        ];
        RecordBatch::try_new(spec.schema(), columns).map_err(|e| format!("internal: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_windows_cover_every_step_once_within_the_steps_a_query_allows() {
        // 10 steps of 300 s from 3,000 (3,000 ..= 5,700), 4 steps a query: 4 + 4 + 2.
        assert_eq!(query_windows(3_000, 5_700, 300, 4), [(3_000, 3_900), (4_200, 5_100), (5_400, 5_700)]);
        // Exactly two full queries: the last one ends at `end`, nothing after it.
        assert_eq!(query_windows(0, 2_100, 300, 4), [(0, 900), (1_200, 2_100)]);
        // One step, and one step a query.
        assert_eq!(query_windows(600, 600, 300, 4), [(600, 600)]);
        assert_eq!(query_windows(0, 600, 300, 1), [(0, 0), (300, 300), (600, 600)]);
        // A month of 5-minute steps in queries of 2,000 steps: every step in exactly one window, in order.
        let (start, end, step) = (1_700_000_100, 1_700_000_100 + 8_928 * 300, 300);
        let windows = query_windows(start, end, step, 2_000);
        assert_eq!(windows.len(), 5);
        let steps: Vec<u64> = windows.iter().flat_map(|(from, to)| (*from..=*to).step_by(step as usize)).collect();
        assert_eq!(steps, (start..=end).step_by(step as usize).collect::<Vec<_>>());
        assert!(windows.iter().all(|(from, to)| (to - from) / step < 2_000));
    }

    fn labels() -> Labels {
        Labels {
            run_id: "run".into(),
            snapshot_at: "2026-11-22T04:00:00Z".parse().unwrap(),
            organization_id: "org".into(),
            region: "fr-par".into(),
            project: "p".into(),
            source_id: "ds".into(),
            metric: "instance_server_cpu_seconds_total".into(),
        }
    }

    /// The batches [`points_batches`] hands on for `body`, and how it ended.
    fn batches_of(body: &[u8]) -> (Result<(), ApiError>, Vec<RecordBatch>) {
        let mut batches = Vec::new();
        let ended = points_batches(&metric_points(), &labels(), body, "GET q", |batch| {
            batches.push(batch);
            true
        });
        (ended, batches)
    }

    /// The list in `column` of `row`.
    fn list_of(batch: &RecordBatch, column: &str, row: usize) -> arrow::array::ArrayRef {
        let lists = batch.column_by_name(column).unwrap().as_any().downcast_ref::<arrow::array::ListArray>();
        lists.unwrap().value(row)
    }

    #[test]
    fn the_recorded_query_range_shape_becomes_a_row_per_series_holding_its_samples() {
        let body = include_bytes!(
            "../../../tests/fixtures/scaleway/cockpit/prometheus_query_range_instance_cpu.SYNTHETIC.json"
        );
        let (ended, batches) = batches_of(body);
        ended.unwrap();
        let [batch] = &batches[..] else { panic!("one batch for three points: {}", batches.len()) };
        assert_eq!((batch.num_rows(), metric_points().warehouse_rows(batch)), (1, 3));
        assert_eq!(batch.schema(), metric_points().schema());
        let values = list_of(batch, "value", 0);
        let values = values.as_any().downcast_ref::<arrow::array::Float64Array>().unwrap();
        assert_eq!(values.values().to_vec(), [0.0312, 0.0408, 0.9951]);
        let times = list_of(batch, "ts", 0);
        let times = times.as_any().downcast_ref::<arrow::array::TimestampMicrosecondArray>().unwrap();
        assert_eq!(times.values().to_vec(), [1_754_006_400_000_000, 1_754_006_700_000_000, 1_754_007_000_000_000]);
        let zone = batch.column_by_name("zone").unwrap().as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
        assert_eq!(zone.value(0), "fr-par-1");
    }

    #[test]
    fn hostile_answers_are_errors_naming_the_sample() {
        for (body, says) in [
            (
                r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}}"#,
                "values[0]: \"x\" is not a number",
            ),
            (r#"{"status":"error","data":{"resultType":"matrix","result":[]}}"#, "status \"error\""),
            (r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#, "resultType \"vector\""),
            (
                r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[-5,"1"]]}]}}"#,
                "is not a Unix time",
            ),
            (r#"<html>502</html>"#, "not a Prometheus answer"),
        ] {
            let (ended, batches) = batches_of(body.as_bytes());
            let error = ended.unwrap_err().to_string();
            assert!(error.contains(says) && batches.is_empty(), "{error} ({} batches)", batches.len());
        }
    }

    #[test]
    fn a_large_answer_becomes_bounded_batches_and_a_bad_last_sample_refuses_all() {
        let values: Vec<_> = (0..20_000).map(|i| serde_json::json!([1_700_000_000 + i * 300, "1.5"])).collect();
        let mut answer = serde_json::json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"resource_id": "a"}, "values": values[..12_000]},
            {"metric": {"resource_id": "b"}, "values": values[12_000..]},
        ]}});
        let (ended, batches) = batches_of(&serde_json::to_vec(&answer).unwrap());
        ended.unwrap();
        // Samples and rows per batch: series b begins in the second batch and ends in the third, a row in each.
        let spec = metric_points();
        let sizes: Vec<(u64, usize)> = batches.iter().map(|b| (spec.warehouse_rows(b), b.num_rows())).collect();
        let full = 20_000 / SAMPLES_PER_BATCH;
        assert_eq!(sizes.len(), full + 1);
        assert!(sizes[..full].iter().all(|(n, _)| *n == SAMPLES_PER_BATCH as u64), "{sizes:?}");
        assert_eq!(sizes[full].0, (20_000 - full * SAMPLES_PER_BATCH) as u64);
        let resources: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                let ids = b.column_by_name("resource_id").unwrap();
                let ids = ids.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
                ids.iter().map(|id| id.unwrap().to_string()).collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(resources, ["a", "a", "b", "b"], "{sizes:?}");
        let last = list_of(&batches[full], "ts", 0);
        let last = last.as_any().downcast_ref::<arrow::array::TimestampMicrosecondArray>().unwrap();
        assert_eq!(last.value(last.len() - 1), (1_700_000_000 + 19_999 * 300) * 1_000_000, "the last sample, last");

        answer["data"]["result"][1]["values"][7_999] = serde_json::json!([1_700_000_000, "NaN?"]);
        let (ended, batches) = batches_of(&serde_json::to_vec(&answer).unwrap());
        let error = ended.unwrap_err();
        assert!(error.to_string().contains("result[1].values[7999]") && batches.is_empty(), "{error}");
    }

    #[test]
    fn a_token_goes_only_to_https_or_to_the_api_host() {
        assert!(data_plane("https://x.metrics.cockpit.fr-par.scw.cloud", "https://api.scaleway.com", "l").is_ok());
        assert!(data_plane("http://127.0.0.1:9/cockpit-data/x", "http://127.0.0.1:9", "l").is_ok());
        assert!(data_plane("http://evil.example/x", "https://api.scaleway.com", "l").is_err());
        assert!(data_plane("http://api.scaleway.com:8080/x", "https://api.scaleway.com", "l").is_err());
        assert!(data_plane("http://127.0.0.1:10/x", "http://127.0.0.1:9", "l").is_err());
        assert!(data_plane("not a url", "https://api.scaleway.com", "l").is_err());
    }
}
