//! Sweeping the lake: the files of runs that never committed (killed, crashed, out of memory) are garbage, since
//! the loader never reads a run without its manifest, but they are bytes someone pays for. Each collection sweeps
//! them first, once they are older than a grace period, so a run still writing (another job, or a slow one) is
//! never touched: a run is swept only when its newest file is older than the grace.
//!
//! On a local lake the sweep walks the directory itself: `object_store` does not list the staged files
//! (`part-00000.parquet#1`) of uploads that a killed run never completed, and those are most of what a crash
//! leaves. On S3, an upload that was never completed is not an object at all: the bucket's lifecycle rule
//! (`AbortIncompleteMultipartUpload`) removes it; the sweep removes the completed files of uncommitted runs.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::{Path as FsPath, PathBuf};
use std::time::{Duration, SystemTime};

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::{Lake, LakeError, Result, RunId, layout};

/// What a sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Swept {
    /// Uncommitted runs whose files were removed.
    pub runs: u64,
    /// Files removed (staged upload parts and write probes included).
    pub files: u64,
}

impl Lake {
    /// Removes the files of every run that has no manifest and whose newest file is older than `grace`, and the
    /// write probes older than `grace`. `current` (the run about to write) is never touched.
    pub async fn sweep_uncommitted(&self, grace: Duration, current: &RunId) -> Result<Swept> {
        let committed: BTreeSet<String> = self
            .list_manifests()
            .await?
            .iter()
            .filter_map(|p| {
                p.filename().and_then(|n| n.strip_prefix("run_id=")?.strip_suffix(".json")).map(String::from)
            })
            .collect();
        let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
        let swept = match &self.local_dir {
            Some(dir) => {
                let dir = dir.clone();
                let current = current.to_string();
                tokio::task::spawn_blocking(move || sweep_local(&dir, &committed, &current, cutoff))
                    .await
                    .map_err(|e| self.local_error(std::io::Error::other(e)))?
                    .map_err(|e| self.local_error(e))?
            }
            None => self.sweep_store(&committed, current.as_str(), cutoff).await?,
        };
        if swept.files > 0 {
            tracing::info!(runs = swept.runs, files = swept.files, "removed the files of uncommitted runs");
        }
        Ok(swept)
    }

    fn local_error(&self, error: std::io::Error) -> LakeError {
        LakeError::Store {
            lake: self.display.clone(),
            op: "sweep",
            path: "datasets/".into(),
            source: Box::new(object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(error) }),
        }
    }

    async fn sweep_store(&self, committed: &BTreeSet<String>, current: &str, cutoff: SystemTime) -> Result<Swept> {
        // run id -> (its files, its newest modification)
        let mut runs: BTreeMap<String, (Vec<Path>, SystemTime)> = BTreeMap::new();
        let mut probes = Vec::new();
        for prefix in [layout::datasets_root(), Path::from("_probe")] {
            let full = self.full(&prefix);
            let listed: Vec<_> =
                self.store.list(Some(&full)).try_collect().await.map_err(|e| self.err("list", &full, e))?;
            for meta in listed {
                let modified = SystemTime::from(meta.last_modified);
                if prefix.as_ref() == "_probe" {
                    if modified < cutoff {
                        probes.push(meta.location);
                    }
                    continue;
                }
                let relative = self.relative(&meta.location);
                let Some(run) = relative.parts().find_map(|p| p.as_ref().strip_prefix("run_id=").map(String::from))
                else {
                    continue;
                };
                let entry = runs.entry(run).or_insert_with(|| (Vec::new(), SystemTime::UNIX_EPOCH));
                entry.0.push(meta.location);
                entry.1 = entry.1.max(modified);
            }
        }
        let mut swept = Swept::default();
        for (run, (files, newest)) in runs {
            if committed.contains(&run) || run == current || newest >= cutoff {
                continue;
            }
            for file in &files {
                self.store.delete(file).await.map_err(|e| self.err("delete", file, e))?;
            }
            swept.runs += 1;
            swept.files += files.len() as u64;
        }
        for probe in &probes {
            self.store.delete(probe).await.map_err(|e| self.err("delete", probe, e))?;
            swept.files += 1;
        }
        Ok(swept)
    }
}

/// Every file under `dir` (recursively) and the newest modification among them (the folder's own when it holds
/// no file); `None` when `dir` is gone. What disappears during the walk (another run sweeping the same lake, a
/// live run renaming its staged parts) is skipped.
fn files_under(dir: &FsPath) -> std::io::Result<Option<(Vec<PathBuf>, SystemTime)>> {
    let mut files = Vec::new();
    let mut newest = None;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Some(entries) = present(std::fs::read_dir(&current))? else { continue };
        for entry in entries {
            let Some((path, meta)) = present(entry.and_then(|e| Ok((e.path(), e.metadata()?))))? else { continue };
            if meta.is_dir() {
                pending.push(path);
            } else {
                newest = newest.max(Some(meta.modified()?));
                files.push(path);
            }
        }
    }
    let newest = match newest {
        Some(newest) => newest,
        None => match present(std::fs::metadata(dir))? {
            Some(meta) => meta.modified()?,
            None => return Ok(None),
        },
    };
    Ok(Some((files, newest)))
}

/// `None` for what another process removed first: two runs may sweep one lake at once.
fn present<T>(result: std::io::Result<T>) -> std::io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn read_dir_paths(dir: &FsPath) -> std::io::Result<Vec<PathBuf>> {
    match present(std::fs::read_dir(dir))? {
        Some(entries) => entries.map(|e| e.map(|e| e.path())).collect(),
        None => Ok(Vec::new()),
    }
}

fn name(path: &FsPath) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// `<dir>/datasets/<dataset>/snapshot_date=<d>/run_id=<id>/…` and `<dir>/_probe/<id>`. A run is judged by its
/// newest file over all its datasets (a live run may not have touched a small dataset's file for hours).
fn sweep_local(
    dir: &FsPath,
    committed: &BTreeSet<String>,
    current: &str,
    cutoff: SystemTime,
) -> std::io::Result<Swept> {
    // run id -> (its folders with their file counts, its newest modification)
    let mut runs: BTreeMap<String, (Vec<(PathBuf, u64)>, SystemTime)> = BTreeMap::new();
    let mut date_dirs = Vec::new();
    for dataset in read_dir_paths(&dir.join("datasets"))? {
        for date in read_dir_paths(&dataset)?.into_iter().filter(|p| name(p).starts_with("snapshot_date=")) {
            for run_dir in read_dir_paths(&date)? {
                let Some(run) = name(&run_dir).strip_prefix("run_id=") else { continue };
                if committed.contains(run) || run == current || !run_dir.is_dir() {
                    continue;
                }
                let Some((files, newest)) = files_under(&run_dir)? else { continue };
                let entry = runs.entry(run.to_string()).or_insert_with(|| (Vec::new(), SystemTime::UNIX_EPOCH));
                entry.0.push((run_dir, files.len() as u64));
                entry.1 = entry.1.max(newest);
            }
            date_dirs.push(date);
        }
    }
    let probe_dir = dir.join("_probe");
    let mut swept = Swept::default();
    for (run, (folders, newest)) in runs {
        if newest >= cutoff {
            continue;
        }
        // Claimed first: of two runs sweeping one lake at once, one only removes (and counts) a dead run. The mark
        // of a sweep that died is a probe like any other, removed once older than the grace.
        std::fs::create_dir_all(&probe_dir)?;
        let mark = probe_dir.join(format!("{run}.sweeping"));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&mark) {
            Ok(_) => {}
            // Claimed by the other sweep, or its probe folder removed between the two calls: left to a later sweep.
            Err(e) if matches!(e.kind(), ErrorKind::AlreadyExists | ErrorKind::NotFound) => continue,
            Err(e) => return Err(e),
        }
        let mut files_removed = None;
        for (folder, files) in folders {
            // Gone already: the other sweep removed the run before this one listed the rest of it.
            if present(std::fs::remove_dir_all(&folder))?.is_some() {
                *files_removed.get_or_insert(0) += files;
            }
        }
        present(std::fs::remove_file(&mark))?;
        if let Some(files) = files_removed {
            swept.runs += 1;
            swept.files += files;
        }
    }
    // An empty date folder goes too once nothing has changed in it for the grace period (a later run recreates
    // what it needs). Not sooner: a run starting beside this one may have just created it and be about to create
    // its own folder inside, which then fails (two `costlake run` at once did, on the same day's folder).
    for date in date_dirs {
        let untouched = std::fs::metadata(&date).and_then(|m| m.modified()).is_ok_and(|at| at < cutoff);
        if untouched && read_dir_paths(&date)?.is_empty() {
            let _ = std::fs::remove_dir(&date);
        }
    }
    for probe in read_dir_paths(&probe_dir)? {
        let Some(meta) = present(std::fs::metadata(&probe))? else { continue };
        if meta.modified()? < cutoff && name(&probe) != current && present(std::fs::remove_file(&probe))?.is_some() {
            swept.files += 1;
        }
    }
    if probe_dir.is_dir() && read_dir_paths(&probe_dir)?.is_empty() {
        let _ = std::fs::remove_dir(&probe_dir);
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use chrono::NaiveDate;

    use super::*;
    use crate::LakeLocation;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn run(id: &str) -> RunId {
        RunId::parse(id).unwrap()
    }

    /// Every file under `dir`, relative, sorted.
    fn walk(dir: &FsPath) -> Vec<String> {
        let mut out: Vec<String> = files_under(dir)
            .expect("the walk of a test's lake")
            .map(|(files, _)| files)
            .unwrap_or_default()
            .iter()
            .map(|f| f.strip_prefix(dir).unwrap().display().to_string())
            .collect();
        out.sort();
        out
    }

    fn age(path: &FsPath, by: Duration) {
        let file = std::fs::File::options().append(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - by).unwrap();
    }

    async fn manifest_for(lake: &Lake, id: &RunId) {
        let path = layout::manifest_path(id, date());
        lake.put(&path, Bytes::from_static(b"{}")).await.unwrap();
    }

    #[tokio::test]
    async fn a_local_sweep_removes_old_uncommitted_runs_and_their_staged_parts_only() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&LakeLocation::Local(dir.path().to_path_buf())).unwrap();
        let (committed, dead, live, current) = (
            run("20261122T040000Z-00000001"),
            run("20261122T050000Z-00000002"),
            run("20261122T060000Z-00000003"),
            run("20261122T070000Z-00000004"),
        );
        let hour = Duration::from_secs(3600);
        // The live run's other dataset has not been touched for two hours: the run is judged as a whole.
        let quiet = dir.path().join(layout::dataset_file("account_projects", date(), &live, 0).as_ref());
        std::fs::create_dir_all(quiet.parent().unwrap()).unwrap();
        std::fs::write(&quiet, b"PAR1").unwrap();
        age(&quiet, 2 * hour);
        for id in [&committed, &dead, &live, &current] {
            let part = dir.path().join(layout::dataset_file("instance_servers", date(), id, 0).as_ref());
            std::fs::create_dir_all(part.parent().unwrap()).unwrap();
            std::fs::write(&part, b"PAR1").unwrap();
            // What a killed multipart upload leaves: a staged file object_store does not list.
            let staged = part.with_file_name("part-00001.parquet#1");
            std::fs::write(&staged, b"").unwrap();
            if *id != live {
                age(&part, 2 * hour);
                age(&staged, 2 * hour);
            }
        }
        manifest_for(&lake, &committed).await;
        std::fs::create_dir_all(dir.path().join("_probe")).unwrap();
        std::fs::write(dir.path().join("_probe").join(dead.as_str()), b"probe").unwrap();
        age(&dir.path().join("_probe").join(dead.as_str()), 2 * hour);

        // Within the grace nothing goes: a run that wrote an hour ago may still be running.
        assert_eq!(lake.sweep_uncommitted(3 * hour, &current).await.unwrap(), Swept::default());
        let swept = lake.sweep_uncommitted(hour, &current).await.unwrap();
        assert_eq!(swept, Swept { runs: 1, files: 3 }, "the dead run's part, its staged part, its probe");
        let left = walk(dir.path());
        assert!(left.iter().all(|f| !f.contains(dead.as_str())), "{left:?}");
        // The live run keeps its two files and the dataset it has not touched for two hours.
        for (kept, files) in [(&committed, 2), (&live, 3), (&current, 2)] {
            let count = left.iter().filter(|f| f.starts_with("datasets/") && f.contains(kept.as_str())).count();
            assert_eq!(count, files, "{kept}");
        }
        assert!(!dir.path().join("_probe").exists(), "an emptied probe folder goes too");
    }

    /// Two runs starting at once sweep the same lake: each may remove a folder or a probe the other is walking.
    /// Neither fails, and together they remove every dead run once.
    #[test]
    fn two_local_sweeps_at_once_both_succeed() {
        let hour = Duration::from_secs(3600);
        for round in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let dead = 150;
            for n in 0..dead {
                let id = run(&format!("20261122T050000Z-{n:08x}"));
                for dataset in ["instance_servers", "block_volumes", "billing_charges"] {
                    let part = dir.path().join(layout::dataset_file(dataset, date(), &id, 0).as_ref());
                    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
                    for file in [part.clone(), part.with_file_name("part-00001.parquet#1")] {
                        std::fs::write(&file, b"PAR1").unwrap();
                        age(&file, 2 * hour);
                    }
                }
                let probe = dir.path().join("_probe").join(id.as_str());
                std::fs::create_dir_all(probe.parent().unwrap()).unwrap();
                std::fs::write(&probe, b"probe").unwrap();
                age(&probe, 2 * hour);
            }
            let cutoff = SystemTime::now() - hour;
            let sweep = |current: &'static str| {
                let dir = dir.path().to_path_buf();
                std::thread::spawn(move || sweep_local(&dir, &BTreeSet::new(), current, cutoff))
            };
            let (a, b) = (sweep("20261122T070000Z-aaaaaaaa"), sweep("20261122T070000Z-bbbbbbbb"));
            let (a, b) = (a.join().unwrap(), b.join().unwrap());
            let (a, b) = (
                a.unwrap_or_else(|e| panic!("round {round}: {e}")),
                b.unwrap_or_else(|e| panic!("round {round}: {e}")),
            );
            assert_eq!(a.runs + b.runs, dead, "round {round}: each run counted once: {a:?} {b:?}");
            assert_eq!(a.files + b.files, dead * 7, "round {round}: six parts and a probe a run");
            assert!(walk(dir.path()).is_empty(), "round {round}: {:?}", walk(dir.path()));
        }
    }

    #[tokio::test]
    async fn a_store_sweep_removes_the_listed_files_of_uncommitted_runs() {
        let store = Arc::new(object_store::memory::InMemory::new());
        let lake = Lake::from_store(store, "lake", "memory://lake");
        let (committed, dead, current) =
            (run("20261122T040000Z-00000001"), run("20261122T050000Z-00000002"), run("20261122T070000Z-00000004"));
        for id in [&committed, &dead, &current] {
            for part in 0..2 {
                let path = layout::dataset_file("block_volumes", date(), id, part);
                lake.put(&path, Bytes::from_static(b"PAR1")).await.unwrap();
            }
        }
        manifest_for(&lake, &committed).await;
        let hour = Duration::from_secs(3600);
        assert_eq!(lake.sweep_uncommitted(hour, &current).await.unwrap(), Swept::default(), "all written just now");
        assert_eq!(lake.sweep_uncommitted(Duration::ZERO, &current).await.unwrap(), Swept { runs: 1, files: 2 });
        for (id, files) in [(&committed, 2), (&dead, 0), (&current, 2)] {
            let dir = layout::run_dataset_dir("block_volumes", date(), id);
            assert_eq!(lake.delete_prefix(&dir).await.unwrap(), files, "{id}");
        }
    }
}
