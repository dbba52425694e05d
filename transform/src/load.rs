//! The loader: every committed run of the lake that the warehouse has not loaded yet, oldest first.
//!
//! Idempotent by construction:
//! 1. a run is loaded only if its manifest exists (committed) and it is not in `_load_ledger`;
//! 2. rows a crashed earlier attempt left for the run are deleted first;
//! 3. each Parquet file goes straight from the lake into its raw table: the embedded engine reads a local lake's
//!    files itself, many per statement; otherwise each file streams to the engine, which decodes it;
//! 4. row counts are checked against the manifest;
//! 5. the ledger row is written last. The models read only ledgered runs, so a half-loaded run is never seen.
//!
//! One load at a time: on a ClickHouse server, a load holds the load lease ([`crate::lease`]) from before it
//! reads the ledger until its derived tables are rebuilt; another waits for it in line.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use costlake_lake::{DatasetEntry, FileEntry, KnownDataset, Lake, LakeError, Manifest, Progress};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;

use crate::lease::{Lease, LeaseError, LeaseOptions};
use crate::migrate::migrate;
use crate::warehouse::{Param, Warehouse, WarehouseError};

/// The raw table of a lake dataset.
pub fn table_of(dataset: &str) -> String {
    format!("raw_{dataset}")
}

/// The inlet the files of a dataset's version load through, when they are not shaped like the table's rows:
/// `raw_<dataset>_v<N>`, whose materialised view writes the table. Required for the version this costlake
/// writes when [`KnownDataset::through_inlet`]; used for an older version when the warehouse has one for it.
fn inlet_of(known: &KnownDataset, schema_version: u32, inlets: &HashSet<String>) -> Option<String> {
    let inlet = format!("{}_v{schema_version}", table_of(known.name));
    let required = known.through_inlet && schema_version == known.schema_version;
    (required || inlets.contains(&inlet)).then_some(inlet)
}

/// The warehouse's inlets: `raw_<dataset>_v<N>` tables with a view reading them (an inlet without its view
/// would keep nothing of what it is given).
async fn inlets(warehouse: &dyn Warehouse) -> Result<HashSet<String>, LoadError> {
    let names = warehouse
        .query(
            "SELECT name FROM system.tables WHERE database = currentDatabase() AND match(name, '^raw_.+_v[0-9]+$') \
             AND notEmpty(dependencies_table)",
            &[],
            "TabSeparated",
        )
        .await?;
    Ok(String::from_utf8_lossy(&names).lines().map(str::to_string).collect())
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error(transparent)]
    Lease(#[from] LeaseError),
    #[error("run {run_id}: {reason}")]
    Run { run_id: String, reason: String },
}

#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub loaded: Vec<LoadedRun>,
    pub already_loaded: usize,
    /// Materialised tables refreshed, and whether one was found behind the ledger (an earlier load that died
    /// after its ledger row, or an upgrade) rather than refreshed for this load's runs.
    pub rebuilt: Vec<&'static str>,
    pub found_stale: bool,
    /// Time spent bringing the materialised tables up to date, apart from loading the runs.
    pub models_duration: Duration,
}

#[derive(Debug, Clone)]
pub struct LoadedRun {
    pub run_id: String,
    pub rows: u64,
    pub duration: Duration,
    /// Rows left by an earlier, interrupted load of the same run, deleted before loading.
    pub leftover_rows_removed: u64,
}

/// How a load waits: for another load (the lease), and for files a manifest names that the lake does not
/// serve yet.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub lease: LeaseOptions,
    /// How long a file a manifest names may be missing before the run is refused: an object store may serve a
    /// new object a moment after another process listed the manifest that names it.
    pub file_wait: Duration,
}

impl LoadOptions {
    pub const DEFAULT_FILE_WAIT: Duration = Duration::from_secs(60);
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { lease: LeaseOptions::default(), file_wait: Self::DEFAULT_FILE_WAIT }
    }
}

/// Loads every committed run not loaded yet. `datasets` are the datasets this costlake knows, with the newest
/// schema version of each (`costlake_ingest::sources::known_datasets()`, the products' registry): a run holding
/// any other is refused whole.
pub async fn load(lake: &Lake, warehouse: &dyn Warehouse, datasets: &[KnownDataset]) -> Result<LoadReport, LoadError> {
    load_with_progress(lake, warehouse, datasets, &Progress::default(), &LoadOptions::default()).await
}

/// [`load`], counting the runs to load, the runs loaded and their rows into `progress` as it goes, waiting as
/// `options` say.
pub async fn load_with_progress(
    lake: &Lake,
    warehouse: &dyn Warehouse,
    datasets: &[KnownDataset],
    progress: &Progress,
    options: &LoadOptions,
) -> Result<LoadReport, LoadError> {
    // Migrations are idempotent statements (two processes may apply them at once); the lease table is one.
    migrate(warehouse).await?;
    as_sole_writer(warehouse, options, load_runs(lake, warehouse, datasets, progress, options)).await
}

/// How long [`refresh_after_write`] waits for the statement's mutations of `price_overrides` to finish.
const MUTATIONS_WAIT: Duration = Duration::from_secs(60);

/// Brings the tables computed from what people write as well (the prices that apply, and what is priced with
/// them) up to it, in a migrated warehouse, after a statement that may have written it (`costlake sql`). It waits
/// first for the mutations of `price_overrides` (`ALTER TABLE … UPDATE` runs in the background; past the wait, the
/// tables are left to the next load, and reports say they are behind). The other tables wait for the next load.
/// Returns the tables that changed.
pub async fn refresh_after_write(
    warehouse: &dyn Warehouse,
    options: &LoadOptions,
) -> Result<Vec<&'static str>, LoadError> {
    let pending = "SELECT count() FROM system.mutations WHERE database = currentDatabase() \
                   AND table = 'price_overrides' AND NOT is_done";
    let clock = Instant::now();
    while count_of(warehouse, pending, &[]).await? > 0 {
        if clock.elapsed() > MUTATIONS_WAIT {
            tracing::warn!(
                "a change of price_overrides is still being applied: the next load applies it to the prices"
            );
            return Ok(Vec::new());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    as_sole_writer(warehouse, options, async { Ok(crate::models::refresh_fingerprinted(warehouse).await?) }).await
}

/// The one number a query answers (a count), 0 if it answers none.
async fn count_of(warehouse: &dyn Warehouse, sql: &str, params: &[Param]) -> Result<u64, LoadError> {
    let out = warehouse.query(sql, params, "TabSeparated").await?;
    Ok(String::from_utf8_lossy(&out).trim().parse().unwrap_or(0))
}

/// Runs `work` as the only writer: at once on an embedded warehouse (one process opens it), under the load lease
/// on a server. The lease is renewed beside the work; if it is lost, the work stops where it is, as if killed, and
/// the next load repairs what it left, as after a crash.
async fn as_sole_writer<T>(
    warehouse: &dyn Warehouse,
    options: &LoadOptions,
    work: impl std::future::Future<Output = Result<T, LoadError>>,
) -> Result<T, LoadError> {
    if warehouse.exclusive() {
        return work.await;
    }
    let lease = Lease::acquire(warehouse, options.lease.clone()).await?;
    let outcome = tokio::select! {
        outcome = work => outcome,
        lost = lease.keep(warehouse) => Err(lost.into()),
    };
    if let Err(error) = lease.release(warehouse).await {
        tracing::warn!("could not release the load lease (it expires by itself): {error}");
    }
    outcome
}

/// The load proper, with the warehouse to itself.
async fn load_runs(
    lake: &Lake,
    warehouse: &dyn Warehouse,
    datasets: &[KnownDataset],
    progress: &Progress,
    options: &LoadOptions,
) -> Result<LoadReport, LoadError> {
    let ledger = warehouse.query("SELECT run_id FROM _load_ledger FINAL", &[], "TabSeparated").await?;
    let done: HashSet<String> = String::from_utf8_lossy(&ledger).lines().map(str::to_string).collect();
    let inlets = inlets(warehouse).await?;

    let mut report = LoadReport::default();
    // The run id is in the file name (`run_id=<id>.json`): loaded runs are skipped without reading them.
    let run_of = |path: &Path| {
        path.filename()
            .and_then(|name| name.strip_prefix("run_id="))
            .and_then(|name| name.strip_suffix(".json"))
            .map(str::to_string)
    };
    let manifests = lake.list_manifests().await?;
    let (loaded_before, to_load): (Vec<Path>, Vec<Path>) =
        manifests.into_iter().partition(|path| run_of(path).is_some_and(|id| done.contains(&id)));
    report.already_loaded += loaded_before.len();
    progress.add_total(to_load.len() as u64);
    for path in to_load {
        let manifest = lake.read_manifest(&path).await?;
        if done.contains(manifest.run_id.as_str()) {
            report.already_loaded += 1;
            progress.add_done(1);
            continue;
        }
        let run = load_run(lake, warehouse, datasets, &inlets, &manifest, options).await?;
        progress.add_rows(run.rows);
        progress.add_done(1);
        report.loaded.push(run);
    }
    // The derived tables follow the ledger: each folds in the loaded runs it does not hold yet, those of this
    // load and those of an earlier load that died between its ledger row and its refresh, and is rebuilt whole
    // after an upgrade that changed the models.
    failpoint("load.pause_before_models").await;
    let clock = Instant::now();
    report.rebuilt = crate::models::refresh(warehouse).await?;
    report.models_duration = clock.elapsed();
    if report.loaded.is_empty() && !report.rebuilt.is_empty() {
        tracing::warn!(
            "derived tables were behind the loaded runs, the models or the price overrides (an interrupted load, an \
             upgrade, or an override written since): refreshed"
        );
        report.found_stale = true;
    }
    Ok(report)
}

fn run_param(manifest: &Manifest) -> Vec<Param> {
    vec![("run_id".into(), manifest.run_id.to_string())]
}

async fn count_rows(warehouse: &dyn Warehouse, table: &str, params: &[Param]) -> Result<u64, LoadError> {
    count_of(warehouse, &format!("SELECT count() FROM {table} WHERE run_id = {{run_id:String}}"), params).await
}

async fn load_run(
    lake: &Lake,
    warehouse: &dyn Warehouse,
    known: &[KnownDataset],
    inlets: &HashSet<String>,
    manifest: &Manifest,
    options: &LoadOptions,
) -> Result<LoadedRun, LoadError> {
    let clock = Instant::now();
    let run_id = manifest.run_id.to_string();
    let fail = |reason: String| LoadError::Run { run_id: run_id.clone(), reason };

    // Refuse the whole run before touching anything if any dataset is unknown or newer than we read, or loads
    // through an inlet the warehouse lacks; else each dataset's table to insert into.
    let mut targets = Vec::with_capacity(manifest.datasets.len());
    for dataset in &manifest.datasets {
        let Some(supported) = known.iter().find(|k| k.name == dataset.name) else {
            return Err(fail(format!(
                "dataset {} is unknown to this costlake; upgrade costlake to load this run",
                dataset.name
            )));
        };
        if dataset.schema_version > supported.schema_version {
            return Err(fail(format!(
                "dataset {} has schema version {} but this costlake reads up to {}; upgrade costlake",
                dataset.name, dataset.schema_version, supported.schema_version
            )));
        }
        let target = match inlet_of(supported, dataset.schema_version, inlets) {
            Some(inlet) if !inlets.contains(&inlet) => {
                return Err(fail(format!(
                    "dataset {} version {} loads through the table {inlet} and its view, which this warehouse \
                     lacks. The migration in transform/migrations/ that creates them is recorded as applied, so no \
                     load runs it again: run its statements on this warehouse (they are IF NOT EXISTS); a replica \
                     outside a Replicated database has only what ran on it",
                    dataset.name, dataset.schema_version
                )));
            }
            Some(inlet) => inlet,
            None => table_of(&dataset.name),
        };
        targets.push(target);
    }

    // Every file is there, whole and Parquet before anything is written: a damaged lake refuses the run with
    // the file's name and nothing of it in the warehouse.
    check_files(lake, manifest, options.file_wait).await?;

    let params = run_param(manifest);
    let mut leftover_rows_removed = 0;
    for dataset in known {
        let table = table_of(dataset.name);
        let leftover = count_rows(warehouse, &table, &params).await?;
        if leftover > 0 {
            warehouse.execute(&format!("DELETE FROM {table} WHERE run_id = {{run_id:String}}"), &params).await?;
            leftover_rows_removed += leftover;
        }
    }
    if leftover_rows_removed > 0 {
        tracing::warn!(%run_id, rows = leftover_rows_removed, "removed the rows of an interrupted earlier load");
    }

    for (index, (dataset, target)) in manifest.datasets.iter().zip(&targets).enumerate() {
        let table = table_of(&dataset.name);
        let dataset_clock = Instant::now();
        // `what`: the lake file the engine refused, or the files of a batch when its error names none of them.
        let refused = |what: &str, message: &str| {
            fail(format!(
                "{what} could not be loaded into {target}: {message}. If a file is damaged, restore it, or delete \
                 the run's manifest {} to drop the run; rows it left are removed by the next load",
                manifest_path_of(lake, manifest)
            ))
        };
        let batches = if warehouse.reads_local_files() { local_batches(lake, dataset) } else { None };
        match batches {
            // The engine reads the files itself, a batch per statement: its parallel Parquet reader, and parts of
            // the engine's block size rather than one insert (and its parts, merged later) per file.
            Some(batches) => {
                let insert = format!(
                    "INSERT INTO {target} SELECT * FROM file({{files:String}}, Parquet) \
                     SETTINGS use_structure_from_insertion_table_in_table_functions = 1"
                );
                for batch in batches {
                    let files = vec![("files".to_string(), batch.glob())];
                    warehouse.execute(&insert, &files).await.map_err(|error| match &error {
                        WarehouseError::Query { message, .. } => refused(&batch.culprit(message), message),
                        _ => error.into(),
                    })?;
                    failpoint("load.mid_files").await;
                }
            }
            None => {
                for file in &dataset.files {
                    let stream = lake
                        .get_stream(&Path::from(file.path.as_str()))
                        .await?
                        .map_err(|e| e.to_string())
                        // The file's bytes are all in the engine, the insert not complete.
                        .chain(futures::stream::once(failpoint("load.mid_insert")).filter_map(|()| async { None }))
                        .boxed();
                    warehouse.insert(target, "Parquet", stream).await.map_err(|error| {
                        // The engine refused the file's content: say which file, and what to do about it.
                        let what = format!("the lake file {}", file.path);
                        match &error {
                            WarehouseError::Insert { message, .. } => refused(&what, message),
                            WarehouseError::Query { .. } => refused(&what, &error.to_string()),
                            _ => error.into(),
                        }
                    })?;
                }
            }
        }
        let loaded = count_rows(warehouse, &table, &params).await?;
        if loaded != dataset.rows {
            return Err(fail(format!(
                "{table} holds {loaded} rows of this run after loading but the manifest declares {}; the run stays unloaded, run `costlake load` again",
                dataset.rows
            )));
        }
        tracing::info!(
            %run_id,
            dataset = %dataset.name,
            rows = loaded,
            bytes = dataset.files.iter().map(|f| f.bytes).sum::<u64>(),
            ms = dataset_clock.elapsed().as_millis() as u64,
            "dataset loaded"
        );
        failpoint(&format!("load.pause_after_dataset={}", index + 1)).await;
    }

    let rows: u64 = manifest.datasets.iter().map(|d| d.rows).sum();
    let manifest_json = String::from_utf8_lossy(&manifest.to_json()).into_owned();
    failpoint("load.before_ledger").await;
    warehouse
        .execute(
            "INSERT INTO _load_ledger (run_id, organization_id, snapshot_date, snapshot_at, loaded_at, rows, datasets, manifest) \
             SELECT {run_id:String}, {organization_id:String}, toDate({snapshot_date:String}), \
             parseDateTime64BestEffort({snapshot_at:String}, 6, 'UTC'), now64(3), {rows:UInt64}, {datasets:Array(String)}, \
             {manifest:String}",
            &[
                ("run_id".into(), run_id.clone()),
                ("organization_id".into(), manifest.organization_id.clone().unwrap_or_default()),
                ("snapshot_date".into(), manifest.snapshot_date.to_string()),
                ("snapshot_at".into(), manifest.started_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
                ("rows".into(), rows.to_string()),
                ("datasets".into(), crate::warehouse::string_array(manifest.datasets.iter().map(|d| &d.name))),
                ("manifest".into(), manifest_json),
            ],
        )
        .await?;
    failpoint("load.after_ledger").await;
    tracing::info!(%run_id, rows, ms = clock.elapsed().as_millis() as u64, "run loaded");
    Ok(LoadedRun { run_id, rows, duration: clock.elapsed(), leftover_rows_removed })
}

/// At most this many files per statement when the engine reads a local lake's files itself: the statement's
/// parameter stays a few tens of KiB whatever the run's size.
const FILES_PER_STATEMENT: usize = 500;

/// Files of one dataset of a run, in one folder of a local lake, that the engine reads in one statement.
struct LocalBatch<'a> {
    folder: std::path::PathBuf,
    files: Vec<(&'a FileEntry, String)>,
}

impl LocalBatch<'_> {
    /// The engine's glob naming exactly these files: `folder/{a.parquet,b.parquet}`.
    fn glob(&self) -> String {
        let names: Vec<&str> = self.files.iter().map(|(_, name)| name.as_str()).collect();
        match names.as_slice() {
            [one] => self.folder.join(one).display().to_string(),
            _ => format!("{}/{{{}}}", self.folder.display(), names.join(",")),
        }
    }

    /// The file an engine error names (`… (in file/uri /…/datasets/…/part-00003.parquet) …`), or the batch's
    /// files when it names none.
    fn culprit(&self, message: &str) -> String {
        if let Some((file, _)) = self.files.iter().find(|(file, _)| message.contains(&format!("/{}", file.path))) {
            return format!("the lake file {}", file.path);
        }
        match self.files.as_slice() {
            [(only, _)] => format!("the lake file {}", only.path),
            [(first, _), .., (last, _)] => {
                format!("one of the {} lake files {} … {}", self.files.len(), first.path, last.path)
            }
            [] => "the lake files".to_string(),
        }
    }
}

/// The dataset's files in batches the engine can read itself, or `None` when each file must be streamed to it: a
/// lake in a bucket, or a path the engine could read otherwise than the store does (a glob character or an
/// archive's `::` in the lake's directory, a character the store would encode in a file's path, a name whose
/// extension would have the engine decompress it).
fn local_batches<'a>(lake: &Lake, dataset: &'a DatasetEntry) -> Option<Vec<LocalBatch<'a>>> {
    // costlake's own layout (`datasets/<name>/snapshot_date=<date>/run_id=<id>/part-00000.parquet`) maps to the
    // same file for the store and the engine's glob.
    let plain = |text: &str| {
        text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '=' | '/'))
            && !text.contains("..")
            && text.ends_with(".parquet")
    };
    let no_glob = |text: &str| !text.contains(['*', '?', '{', '}', '[', ']', ',', ':', '\\']);
    let mut batches: Vec<LocalBatch<'a>> = Vec::new();
    for file in &dataset.files {
        if !plain(&file.path) {
            return None;
        }
        let local = lake.local_file(&Path::from(file.path.as_str()))?;
        let folder = local.parent()?.to_path_buf();
        let name = local.file_name()?.to_str()?.to_string();
        if !no_glob(folder.to_str()?) {
            return None;
        }
        match batches.last_mut() {
            Some(batch) if batch.folder == folder && batch.files.len() < FILES_PER_STATEMENT => {
                batch.files.push((file, name));
            }
            _ => batches.push(LocalBatch { folder, files: vec![(file, name)] }),
        }
    }
    Some(batches)
}

/// Where the run's manifest is, for a person to find it: the lake's location and the manifest's path in it.
fn manifest_path_of(lake: &Lake, manifest: &Manifest) -> String {
    format!("{lake}/{}", costlake_lake::layout::manifest_path(&manifest.run_id, manifest.snapshot_date))
}

/// Checks every file the manifest names: inside the run's own folder (a manifest naming another run's file would
/// load that run's rows twice), present (waiting up to `wait` for a store that serves new objects late), of the
/// size the manifest declares, and ending with Parquet's magic bytes. Files are checked eight at a time (two
/// requests each: on S3 a run of thousands of files would otherwise wait on every round trip in turn); the first
/// failing file in manifest order is the one named.
async fn check_files(lake: &Lake, manifest: &Manifest, wait: Duration) -> Result<(), LoadError> {
    let files = manifest.datasets.iter().flat_map(|dataset| dataset.files.iter().map(move |file| (dataset, file)));
    futures::stream::iter(files)
        .map(|(dataset, file)| check_file(lake, manifest, dataset, file, wait))
        .buffered(8)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

async fn check_file(
    lake: &Lake,
    manifest: &Manifest,
    dataset: &DatasetEntry,
    file: &FileEntry,
    wait: Duration,
) -> Result<(), LoadError> {
    let fail = |reason: String| LoadError::Run { run_id: manifest.run_id.to_string(), reason };
    let remedy = || {
        format!(
            "restore it, or delete the run's manifest {} to drop the run (a later collection removes its files)",
            manifest_path_of(lake, manifest)
        )
    };
    let folder = costlake_lake::layout::run_dataset_dir(&dataset.name, manifest.snapshot_date, &manifest.run_id);
    let path = Path::from(file.path.as_str());
    if !path.prefix_matches(&folder) || path.as_ref() == folder.as_ref() {
        return Err(fail(format!(
            "its manifest names the file {} for dataset {}, outside the run's folder {folder}; the manifest \
             was edited or damaged: delete {} to drop the run",
            file.path,
            dataset.name,
            manifest_path_of(lake, manifest)
        )));
    }
    let clock = Instant::now();
    let mut announced = false;
    let size = loop {
        match lake.size_of(&path).await? {
            Some(size) => break size,
            None if clock.elapsed() < wait => {
                if !std::mem::replace(&mut announced, true) {
                    tracing::warn!(
                        file = %file.path,
                        "a file the run's manifest names is not in the lake (yet?): waiting for it (at most {} s)",
                        wait.as_secs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            None => {
                return Err(fail(format!(
                    "the lake file {} its manifest names is missing (waited {} s for it); {}",
                    file.path,
                    clock.elapsed().as_secs(),
                    remedy()
                )));
            }
        }
    };
    if size != file.bytes {
        return Err(fail(format!(
            "the lake file {} is {size} bytes but its manifest declares {}: it was truncated or overwritten; {}",
            file.path,
            file.bytes,
            remedy()
        )));
    }
    let magic = if size >= 12 { lake.get_range(&path, size - 4..size).await? } else { Default::default() };
    if magic.as_ref() != b"PAR1" {
        return Err(fail(format!("the lake file {} is not a Parquet file (no PAR1 footer); {}", file.path, remedy())));
    }
    Ok(())
}

pub(crate) use costlake_lake::failpoint::failpoint;

/// The datasets a run of the lake holds, for tests and `costlake runs`.
pub async fn manifests(lake: &Lake) -> Result<Vec<Manifest>, LoadError> {
    let paths = lake.list_manifests().await?;
    futures::stream::iter(paths)
        .then(|path| async move { lake.read_manifest(&path).await })
        .try_collect()
        .await
        .map_err(LoadError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use costlake_lake::LakeLocation;

    fn dataset(paths: &[&str]) -> DatasetEntry {
        DatasetEntry {
            name: "instance_ips".into(),
            schema_version: 1,
            rows: paths.len() as u64,
            files: paths.iter().map(|path| FileEntry { path: path.to_string(), rows: 1, bytes: 100 }).collect(),
        }
    }

    const FOLDER: &str = "datasets/instance_ips/snapshot_date=2026-12-05/run_id=20261205T120000Z-0a1b2c3d";

    #[test]
    fn a_local_lake_s_files_are_read_in_batches_of_one_folder_by_exact_name() {
        let dir = tempfile::tempdir().unwrap();
        // Through a symbolic link and `..`: the engine is given the folder the store resolved.
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        let lake = Lake::open(&LakeLocation::Local(dir.path().join("link/../link"))).unwrap();
        let canonical = std::fs::canonicalize(dir.path().join("real")).unwrap();

        let names: Vec<String> =
            (0..FILES_PER_STATEMENT + 2).map(|i| format!("{FOLDER}/part-{i:05}.parquet")).collect();
        let paths: Vec<&str> = names.iter().map(String::as_str).collect();
        let entry = dataset(&paths);
        let batches = local_batches(&lake, &entry).expect("costlake's own layout is read by the engine");
        assert_eq!(batches.iter().map(|b| b.files.len()).collect::<Vec<_>>(), [FILES_PER_STATEMENT, 2]);
        assert_eq!(
            batches[1].glob(),
            format!(
                "{}/{FOLDER}/{{part-{:05}.parquet,part-{:05}.parquet}}",
                canonical.display(),
                FILES_PER_STATEMENT,
                FILES_PER_STATEMENT + 1
            )
        );
        let one = dataset(&paths[..1]);
        let single = local_batches(&lake, &one).unwrap();
        assert_eq!(single[0].glob(), format!("{}/{FOLDER}/part-00000.parquet", canonical.display()));

        // Anything the engine could read otherwise than the store: streamed instead.
        for odd in ["a b.parquet", "part-{1..9}.parquet", "part,1.parquet", "part-1.parquet.gz", "p%41.parquet"] {
            let path = format!("{FOLDER}/{odd}");
            assert!(local_batches(&lake, &dataset(&[paths[0], &path])).is_none(), "{odd}");
        }
        let globbed = dir.path().join("lake[1]");
        let lake = Lake::open(&LakeLocation::Local(globbed)).unwrap();
        assert!(local_batches(&lake, &entry).is_none(), "a glob character in the lake's directory");
        let bucket = Lake::from_store(Arc::new(object_store::memory::InMemory::new()), "", "memory");
        assert!(local_batches(&bucket, &entry).is_none(), "a lake that is not a directory of this machine");
    }

    #[test]
    fn an_engine_error_names_the_file_it_names_or_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&LakeLocation::Local(dir.path().to_path_buf())).unwrap();
        let names: Vec<String> = (0..12).map(|i| format!("{FOLDER}/part-{i:05}.parquet")).collect();
        let paths: Vec<&str> = names.iter().map(String::as_str).collect();
        let entry = dataset(&paths);
        let batch = &local_batches(&lake, &entry).unwrap()[0];
        let message = |name: &str| {
            format!(
                "TProtocolException: Invalid data: (in file/uri {}/{name}): While executing File",
                batch.folder.display()
            )
        };
        assert_eq!(batch.culprit(&message("part-00011.parquet")), format!("the lake file {FOLDER}/part-00011.parquet"));
        assert_eq!(batch.culprit(&message("part-00001.parquet")), format!("the lake file {FOLDER}/part-00001.parquet"));
        assert_eq!(
            batch.culprit("Memory limit exceeded"),
            format!("one of the 12 lake files {FOLDER}/part-00000.parquet … {FOLDER}/part-00011.parquet")
        );
    }
}
