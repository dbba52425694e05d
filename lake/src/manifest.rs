//! The per-run manifest: what a run collected, from which APIs, how long it took and how it went.
//! Written last, it is the commit marker of the run.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::RunId;

/// Version of the manifest file format. A loader refuses a newer format with a clear message.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub manifest_version: u32,
    pub run_id: RunId,
    /// UTC date of `started_at`; the Hive partition of every file of the run.
    pub snapshot_date: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub organization_id: Option<String>,
    pub costlake_version: String,
    /// Base URL of the Scaleway API the run talked to (the simulator's in a demo).
    pub api_url: String,
    pub sources: Vec<SourceEntry>,
    pub datasets: Vec<DatasetEntry>,
    pub stats: RunStats,
    /// What the run could not collect without failing (an optional endpoint the key may not see).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Files of earlier uncommitted runs this run removed from the lake before writing (see `Lake::sweep_uncommitted`).
    #[serde(default)]
    pub orphans_removed: crate::Swept,
    /// Products that failed (their datasets are absent from this run: the loader keeps using the newest run that
    /// holds them), with the error.
    #[serde(default)]
    pub failed_sources: Vec<FailedSource>,
    /// Where incremental collectors stopped, by key (e.g. `cockpit/fr-par/<data source>/<metric>` → the last
    /// timestamp collected): the next run of the organisation starts there. Only committed runs count, so a run
    /// killed before its commit is collected again, with no gap and no duplicate.
    #[serde(default)]
    pub cursors: std::collections::BTreeMap<String, String>,
}

/// A product a run could not collect.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FailedSource {
    pub name: String,
    pub error: String,
}

/// One collector (one Scaleway product API).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceEntry {
    pub name: String,
    /// API path prefix and version, e.g. `instance/v1`.
    pub api_versions: Vec<String>,
    pub duration_ms: u64,
    pub stats: RunStats,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatasetEntry {
    pub name: String,
    /// Version of the dataset's column set; the warehouse migration that creates its table names it.
    pub schema_version: u32,
    /// The rows the dataset's table gets: the Parquet rows, or for a dataset whose rows hold a series' samples as
    /// lists (`cockpit_metric_points` version 2) the samples.
    pub rows: u64,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Path relative to the lake root.
    pub path: String,
    /// Counted as [`DatasetEntry::rows`] counts them.
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunStats {
    pub api_calls: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub server_errors: u64,
    pub pages: u64,
}

impl RunStats {
    pub fn add(&mut self, other: &RunStats) {
        self.api_calls += other.api_calls;
        self.retries += other.retries;
        self.rate_limited += other.rate_limited;
        self.server_errors += other.server_errors;
        self.pages += other.pages;
    }
}

impl Manifest {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a manifest always serialises")
    }

    pub fn from_json(data: &[u8]) -> Result<Manifest, String> {
        // Read the version first so a newer format gets a useful message rather than a field error.
        let probe: serde_json::Value = serde_json::from_slice(data).map_err(|e| format!("not JSON ({e})"))?;
        let version = probe.get("manifest_version").and_then(serde_json::Value::as_u64);
        match version {
            Some(v) if v == u64::from(MANIFEST_VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "manifest_version {v} is not supported by this costlake (which reads {MANIFEST_VERSION}); upgrade costlake"
                ));
            }
            None => return Err("field manifest_version is missing".into()),
        }
        let manifest: Manifest = serde_json::from_value(probe).map_err(|e| e.to_string())?;
        for dataset in &manifest.datasets {
            let sum: u64 = dataset.files.iter().map(|f| f.rows).sum();
            if sum != dataset.rows {
                return Err(format!(
                    "dataset {} declares {} rows but its files hold {sum}",
                    dataset.name, dataset.rows
                ));
            }
        }
        Ok(manifest)
    }

    pub fn dataset(&self, name: &str) -> Option<&DatasetEntry> {
        self.datasets.iter().find(|d| d.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let started: DateTime<Utc> = "2026-11-22T08:15:00Z".parse().unwrap();
        Manifest {
            manifest_version: MANIFEST_VERSION,
            orphans_removed: crate::Swept::default(),
            failed_sources: Vec::new(),
            cursors: Default::default(),
            run_id: RunId::new(started),
            snapshot_date: started.date_naive(),
            started_at: started,
            finished_at: started,
            organization_id: Some("org".into()),
            costlake_version: "0.1.0".into(),
            api_url: "https://api.scaleway.com".into(),
            sources: vec![],
            datasets: vec![DatasetEntry {
                name: "instance_servers".into(),
                schema_version: 1,
                rows: 3,
                files: vec![FileEntry { path: "a".into(), rows: 3, bytes: 10 }],
            }],
            stats: RunStats::default(),
            warnings: vec![],
        }
    }

    #[test]
    fn round_trips_and_checks_row_counts() {
        let manifest = sample();
        assert_eq!(Manifest::from_json(&manifest.to_json()).unwrap(), manifest);

        let mut broken = manifest.clone();
        broken.datasets[0].rows = 4;
        let err = Manifest::from_json(&broken.to_json()).unwrap_err();
        assert!(err.contains("declares 4 rows"), "{err}");
    }

    #[test]
    fn refuses_a_newer_format_by_name() {
        let mut manifest = sample();
        manifest.manifest_version = 99;
        let err = Manifest::from_json(&manifest.to_json()).unwrap_err();
        assert!(err.contains("manifest_version 99"), "{err}");
        assert!(Manifest::from_json(b"{").unwrap_err().contains("not JSON"));
    }
}

/// A dataset a costlake build knows: its name in the lake and the newest schema version it writes (and so
/// reads). `ingest` declares them; `transform` loads only these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownDataset {
    pub name: &'static str,
    pub schema_version: u32,
    /// Files of `schema_version` hold a series per row, its samples as lists, and must load through an inlet
    /// (`raw_<name>_v<version>`) that unnests them into the table. Files of an older version load through their
    /// version's inlet where the warehouse has one, else into the table.
    pub through_inlet: bool,
}
