//! One collection run: every source, every dataset, then the manifest, last.
//!
//! All or nothing per product: a product whose API fails (after every retry: a 403, a withdrawn alpha API's 404,
//! a 5xx that lasts) has its uploads aborted and its files deleted, and the run commits the other products with
//! the failure in its manifest (`failed_sources`). If the lake fails, or every product does, the uploads in
//! progress are aborted, the run's files are deleted (best effort; without a manifest they are invisible to the
//! loader anyway) and no manifest is written. Before writing, the run removes what earlier runs that died before their commit left behind.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use costlake_lake::manifest::MANIFEST_VERSION;
use costlake_lake::{FailedSource, Lake, Manifest, RunId, RunStats, SourceEntry, layout};
use futures::future::join_all;

use crate::scaleway::ScalewayClient;
use crate::sink::DatasetSink;
use crate::sources::{CollectError, Context, Outputs, Product};

#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    pub organization_id: String,
    /// Restrict to these zones/regions (`--zones`).
    pub localities: Option<Vec<String>>,
    /// The time the run takes as "now" (its snapshot time, the billing periods it asks for); the clock when
    /// `None`. Set when replaying past days against the simulator (`costlake demo`).
    pub now: Option<chrono::DateTime<Utc>>,
    /// How old the files of an uncommitted run must be before this run removes them ([`DEFAULT_ORPHAN_GRACE`]
    /// when `None`). Measured on the real clock, whatever `now` says.
    pub orphan_grace: Option<std::time::Duration>,
    /// Cockpit tokens given by the user and the step of the series (`COSTLAKE_COCKPIT_*`).
    pub cockpit: crate::sources::cockpit::CockpitSettings,
}

/// Files of an uncommitted run are removed once the run has written nothing for this long: far longer than any
/// pause of a live run (a run of 50,000 servers takes about half an hour), and short enough that a daily job
/// cleans up after yesterday's crash.
pub const DEFAULT_ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

pub async fn collect(
    lake: &Lake,
    client: &ScalewayClient,
    sources: &[Box<dyn Product>],
    options: &CollectOptions,
) -> Result<Manifest, CollectError> {
    let started_at = options.now.unwrap_or_else(Utc::now);
    // A run collected at a given instant (the demo's replayed days) keeps its own timeline: it ends when its
    // start plus the time it really took says, not at the wall clock's now.
    let clock = std::time::Instant::now();
    let run_id = RunId::new(started_at);
    let snapshot_date = started_at.date_naive();
    lake.check_writable(&run_id).await?;
    client.check_reachable().await?;
    tracing::info!(%run_id, lake = %lake, "collection started");
    // Garbage from runs that died before their commit. Failing to sweep costs bytes, not data: a warning.
    let grace = options.orphan_grace.unwrap_or(DEFAULT_ORPHAN_GRACE);
    let orphans_removed = match lake.sweep_uncommitted(grace, &run_id).await {
        Ok(swept) => swept,
        Err(error) => {
            tracing::warn!(%error, "could not remove the files of earlier uncommitted runs");
            Default::default()
        }
    };

    let cursors = Arc::new(previous_cursors(lake, &options.organization_id).await?);
    let cockpit = Arc::new(options.cockpit.clone());

    // Each product's sinks, in the order of `sources`: a product that fails takes only its own datasets down.
    let mut sinks: Vec<Vec<DatasetSink>> = Vec::new();
    for source in sources {
        sinks.push(
            source
                .datasets()
                .iter()
                .map(|spec| DatasetSink::start(lake.clone(), spec, run_id.clone(), snapshot_date))
                .collect(),
        );
    }
    let progress = client.progress();
    progress.add_total(sources.len() as u64);
    let outputs = Outputs::new(sinks.iter().flatten().map(DatasetSink::sender)).with_progress(progress.clone());

    // Each product's datasets are finished as soon as it is done: their writers (a row group in progress, a
    // compression context per column, the bytes not yet written) need not wait for the slowest product.
    let ran = join_all(sources.iter().zip(sinks).map(|(source, source_sinks)| {
        let ctx = Context {
            client: client.for_source(),
            organization_id: options.organization_id.clone(),
            run_id: run_id.clone(),
            snapshot_at: started_at,
            localities: options.localities.clone(),
            cursors: cursors.clone(),
            cockpit: cockpit.clone(),
        };
        let outputs = &outputs;
        let progress = &progress;
        async move {
            let clock = Instant::now();
            let collected = source.collect(&ctx, outputs).await;
            // The product's own time, as before its datasets were finished here.
            let duration_ms = clock.elapsed().as_millis() as u64;
            progress.add_done(1);
            for warning in ctx.client.warnings() {
                outputs.warn(format!("{}: {warning}", source.name()));
            }
            let names: Vec<&'static str> = source_sinks.iter().map(DatasetSink::name).collect();
            outputs.close(&names);
            if let Err(error) = collected {
                return Collected { names, entry: Err(error), datasets: Vec::new(), open: source_sinks };
            }
            let mut datasets = Vec::new();
            let mut remaining = source_sinks.into_iter();
            for sink in remaining.by_ref() {
                match sink.finish().await {
                    Ok(entry) => datasets.push(entry),
                    Err(error) => {
                        return Collected { names, entry: Err(error.into()), datasets, open: remaining.collect() };
                    }
                }
            }
            let entry = SourceEntry {
                name: source.name().to_string(),
                api_versions: source.api_versions(),
                duration_ms,
                stats: ctx.client.stats(),
            };
            tracing::info!(
                run_id = %ctx.run_id,
                source = source.name(),
                ms = entry.duration_ms,
                api_calls = entry.stats.api_calls,
                pages = entry.stats.pages,
                retries = entry.stats.retries,
                rate_limited = entry.stats.rate_limited,
                server_errors = entry.stats.server_errors,
                "source collected"
            );
            Collected { names, entry: Ok(entry), datasets, open: Vec::new() }
        }
    }))
    .await;
    let warnings = outputs.warnings();
    let new_cursors = outputs.cursors();
    drop(outputs);

    // A product whose API failed (after every retry) is left out of the run; the others are committed. A failure
    // of the lake, or of every product, fails the run.
    let mut source_entries = Vec::new();
    let mut failed_sources = Vec::new();
    let mut fatal = None;
    let mut datasets = Vec::new();
    let mut kept_names = Vec::new();
    let mut dropped = Vec::new();
    let mut dropped_names = Vec::new();
    for (source, product) in sources.iter().zip(ran) {
        let names = product.names.iter().map(ToString::to_string);
        match product.entry {
            Ok(entry) => {
                source_entries.push(entry);
                datasets.extend(product.datasets);
                kept_names.extend(names);
            }
            Err(error) if error.fails_the_run() => {
                fatal.get_or_insert(error);
                dropped.extend(product.open);
                dropped_names.extend(names);
            }
            Err(error) => {
                tracing::warn!(%run_id, source = source.name(), %error, "product not collected; the run goes on without it");
                failed_sources.push(FailedSource { name: source.name().to_string(), error: error.to_string() });
                if fatal.is_none() && failed_sources.len() == sources.len() {
                    fatal = Some(error);
                }
                dropped.extend(product.open);
                dropped_names.extend(names);
            }
        }
    }
    if let Some(error) = fatal {
        let all_names: Vec<String> = kept_names.into_iter().chain(dropped_names).collect();
        abandon(lake, dropped, &all_names, &run_id, snapshot_date).await;
        return Err(error);
    }
    // The cursors of the products that failed stay where the last committed run left them.
    let mut cursors = (*cursors).clone();
    for (key, value) in new_cursors {
        let product = key.split('/').next().unwrap_or("");
        if !failed_sources.iter().any(|f| f.name == product) {
            cursors.insert(key, value);
        }
    }
    abandon(lake, dropped, &dropped_names, &run_id, snapshot_date).await;

    let mut stats = RunStats::default();
    for entry in &source_entries {
        stats.add(&entry.stats);
    }
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        run_id: run_id.clone(),
        snapshot_date,
        started_at,
        finished_at: started_at + clock.elapsed(),
        organization_id: Some(options.organization_id.clone()),
        costlake_version: env!("CARGO_PKG_VERSION").to_string(),
        api_url: client.api_url().to_string(),
        sources: source_entries,
        datasets,
        stats,
        warnings,
        orphans_removed,
        failed_sources,
        cursors,
    };
    costlake_lake::failpoint::failpoint("collect.pause_before_commit").await;
    if let Err(error) = lake.commit(&manifest).await {
        delete_run_files(lake, &kept_names, &run_id, snapshot_date).await;
        return Err(error.into());
    }
    costlake_lake::failpoint::failpoint("collect.after_commit").await;
    let bytes_of = |d: &costlake_lake::manifest::DatasetEntry| d.files.iter().map(|f| f.bytes).sum::<u64>();
    for dataset in &manifest.datasets {
        tracing::info!(
            %run_id,
            dataset = %dataset.name,
            rows = dataset.rows,
            bytes = bytes_of(dataset),
            files = dataset.files.len(),
            "dataset collected"
        );
    }
    tracing::info!(
        %run_id,
        datasets = manifest.datasets.len(),
        rows = manifest.datasets.iter().map(|d| d.rows).sum::<u64>(),
        bytes = manifest.datasets.iter().map(bytes_of).sum::<u64>(),
        api_calls = manifest.stats.api_calls,
        retries = manifest.stats.retries,
        failed_sources = manifest.failed_sources.len(),
        orphan_files_removed = manifest.orphans_removed.files,
        ms = clock.elapsed().as_millis() as u64,
        "run committed"
    );
    Ok(manifest)
}

/// What one product's collection left: its manifest entry, its finished datasets, and the datasets still open
/// when it failed.
struct Collected {
    names: Vec<&'static str>,
    entry: Result<SourceEntry, CollectError>,
    datasets: Vec<costlake_lake::manifest::DatasetEntry>,
    open: Vec<DatasetSink>,
}

async fn abandon(
    lake: &Lake,
    sinks: Vec<DatasetSink>,
    dataset_names: &[String],
    run_id: &RunId,
    snapshot_date: chrono::NaiveDate,
) {
    for sink in sinks {
        sink.abort().await;
    }
    delete_run_files(lake, dataset_names, run_id, snapshot_date).await;
}

/// Best effort: a run without a manifest is invisible to the loader, so leftovers are only wasted bytes.
async fn delete_run_files(lake: &Lake, datasets: &[String], run_id: &RunId, snapshot_date: chrono::NaiveDate) {
    for name in datasets {
        let dir = layout::run_dataset_dir(name, snapshot_date, run_id);
        if let Err(error) = lake.delete_prefix(&dir).await {
            tracing::warn!(%error, "could not delete the files of the failed run");
        }
    }
}

/// The cursors of the newest committed run of `organization_id`: each run carries the previous ones forward, so
/// that one manifest holds them all.
async fn previous_cursors(lake: &Lake, organization_id: &str) -> Result<BTreeMap<String, String>, CollectError> {
    for path in lake.list_manifests().await?.iter().rev() {
        // A manifest that does not parse is the loader's to report; here it only cannot hold cursors.
        let Ok(manifest) = lake.read_manifest(path).await else { continue };
        if manifest.organization_id.as_deref() == Some(organization_id) {
            return Ok(manifest.cursors);
        }
    }
    Ok(BTreeMap::new())
}
