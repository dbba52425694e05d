//! The lake's layout, Hive-style so that any engine (ClickHouse `s3()`/`file()` with globs, DuckDB, Athena,
//! Spark) can read it without costlake:
//!
//! ```text
//! <lake>/datasets/<dataset>/snapshot_date=<YYYY-MM-DD>/run_id=<run_id>/part-<NNNNN>.parquet
//! <lake>/manifests/snapshot_date=<YYYY-MM-DD>/run_id=<run_id>.json      <- written last: the commit marker
//! <lake>/_probe/<run_id>                                               <- transient write probe
//! ```
//!
//! A run whose manifest is missing (crashed, killed, failed) does not exist for the loader; its dataset files
//! are garbage that the collector deletes on failure when it can.

use chrono::{DateTime, NaiveDate, Utc};
use object_store::path::Path;
use rand::Rng;

/// Identifies one collection run. Sorts by start time: `20261122T081500Z-3fa85f64`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    pub fn new(started_at: DateTime<Utc>) -> RunId {
        let suffix: u32 = rand::rng().random();
        RunId(format!("{}-{suffix:08x}", started_at.format("%Y%m%dT%H%M%SZ")))
    }

    /// Parses a run id read back from the lake or the warehouse, rejecting anything that could not be a
    /// path segment we wrote.
    pub fn parse(value: &str) -> Option<RunId> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| RunId(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn datasets_root() -> Path {
    Path::from("datasets")
}

pub fn manifests_root() -> Path {
    Path::from("manifests")
}

/// The folder holding one run's files of one dataset.
pub fn run_dataset_dir(dataset: &str, snapshot_date: NaiveDate, run_id: &RunId) -> Path {
    Path::from_iter([
        "datasets".to_string(),
        dataset.to_string(),
        format!("snapshot_date={snapshot_date}"),
        format!("run_id={run_id}"),
    ])
}

pub fn dataset_file(dataset: &str, snapshot_date: NaiveDate, run_id: &RunId, part: u32) -> Path {
    run_dataset_dir(dataset, snapshot_date, run_id).join(format!("part-{part:05}.parquet"))
}

pub fn manifest_path(run_id: &RunId, snapshot_date: NaiveDate) -> Path {
    Path::from_iter([
        "manifests".to_string(),
        format!("snapshot_date={snapshot_date}"),
        format!("run_id={run_id}.json"),
    ])
}

pub fn probe_path(run_id: &RunId) -> Path {
    Path::from_iter(["_probe".to_string(), run_id.to_string()])
}

pub(crate) fn is_manifest(path: &Path) -> bool {
    path.filename().is_some_and(|name| name.starts_with("run_id=") && name.ends_with(".json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_hive_style() {
        let run = RunId::parse("20261122T081500Z-0000abcd").unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(
            dataset_file("instance_servers", date, &run, 0).as_ref(),
            "datasets/instance_servers/snapshot_date=2026-11-22/run_id=20261122T081500Z-0000abcd/part-00000.parquet"
        );
        assert_eq!(
            manifest_path(&run, date).as_ref(),
            "manifests/snapshot_date=2026-11-22/run_id=20261122T081500Z-0000abcd.json"
        );
        assert!(is_manifest(&manifest_path(&run, date)));
        assert!(!is_manifest(&dataset_file("x", date, &run, 1)));
    }

    #[test]
    fn run_ids_sort_by_start_time_and_reject_path_tricks() {
        let early = RunId::new("2026-11-22T08:00:00Z".parse().unwrap());
        let late = RunId::new("2026-11-22T09:00:00Z".parse().unwrap());
        assert!(early < late);
        assert!(RunId::parse(early.as_str()).is_some());
        assert!(RunId::parse("../etc").is_none());
        assert!(RunId::parse("").is_none());
    }
}
