//! Test hook for the crash-safety tests: with `COSTLAKE_FAILPOINT=<name>` the process stops (forever) the first
//! time it reaches the point of that name, and with `<name>@<n>` the n-th time, so a test can `kill -9` it there
//! deterministically, without sleeps. With a `~<ms>` suffix it stops that long and goes on instead, so a test
//! can hold a process at a point while another starts (overlapping loads). Debug builds only (the tests' binary): a release build never reads the
//! variable. It lives in the lake crate, the one both halves of the pipeline depend on. Points:
//! - `collect.mid_page`: an API page's body is received, not decoded yet;
//! - `collect.mid_row_group`: rows are in the Parquet writer, their row group not flushed (a blocking thread);
//! - `collect.pause_mid_upload`: a file's upload is started (staged, not complete);
//! - `collect.mid_upload_part`: a chunk of a file is uploaded, the upload not complete;
//! - `collect.pause_before_commit`: every dataset is written, the manifest is not;
//! - `collect.after_commit`: the manifest is written (in `run`, before the load);
//! - `load.mid_insert`: the first chunk of a Parquet file is in the engine, the rest not;
//! - `load.mid_files`: a batch of a dataset's files read by the engine itself (a local lake) is in its table,
//!   the rest of the dataset not, its rows not counted;
//! - `load.pause_after_dataset=N`: after a run's N-th dataset is inserted;
//! - `load.before_ledger`, `load.after_ledger`: around a run's ledger row;
//! - `load.pause_before_models`: after every ledger row, before the rebuild of the materialised tables;
//! - `models.mid_rebuild`: a twin table emptied, not filled yet;
//! - `models.pause_before_exchange`: a rebuilt table not swapped in yet;
//! - `models.after_exchange`: swapped in, its rebuild not recorded yet.

use std::time::Duration;

/// Pauses (forever, or for the armed time) if `name` is the armed point and this is the armed hit.
pub async fn failpoint(name: &str) {
    if let Some((spec, pause)) = armed(name) {
        eprintln!("costlake: failpoint {spec} reached, pausing");
        tokio::time::sleep(pause).await;
        eprintln!("costlake: failpoint {spec} passed");
    }
}

/// [`failpoint`] for code on a blocking thread (the Parquet encoder).
pub fn failpoint_blocking(name: &str) {
    if let Some((spec, pause)) = armed(name) {
        eprintln!("costlake: failpoint {spec} reached, pausing");
        std::thread::sleep(pause);
        eprintln!("costlake: failpoint {spec} passed");
    }
}

#[cfg(not(debug_assertions))]
fn armed(_name: &str) -> Option<(&'static str, Duration)> {
    None
}

#[cfg(debug_assertions)]
fn armed(name: &str) -> Option<(&'static str, Duration)> {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    // (the variable's value, the point's name, the hit that pauses, the pause), read once.
    static SPEC: OnceLock<Option<(String, String, u64, Duration)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);
    // "Forever": a year, as far as a test is concerned.
    const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);
    let (spec, point, nth, pause) = SPEC
        .get_or_init(|| {
            let spec = std::env::var("COSTLAKE_FAILPOINT").ok()?;
            let (rest, pause) = match spec.split_once('~') {
                Some((rest, ms)) => (rest, Duration::from_millis(ms.parse().ok()?)),
                None => (spec.as_str(), FOREVER),
            };
            let (point, nth) = match rest.split_once('@') {
                Some((point, nth)) => (point.to_string(), nth.parse().ok()?),
                None => (rest.to_string(), 1),
            };
            Some((spec.clone(), point, nth, pause))
        })
        .as_ref()?;
    (point == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *nth).then_some((spec.as_str(), *pause))
}
