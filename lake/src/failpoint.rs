//! Test hook for the crash-safety tests: with `COSTLAKE_FAILPOINT=<name>` the process stops (forever) the first
//! time it reaches the point of that name, and with `<name>@<n>` the n-th time, so a test can `kill -9` it there
//! deterministically, without sleeps. Debug builds only (the tests' binary): a release build never reads the
//! variable. It lives in the lake crate, the one both halves of the pipeline depend on. Points:
//! - `collect.mid_page`: an API page's body is received, not decoded yet;
//! - `collect.mid_row_group`: rows are in the Parquet writer, their row group not flushed (a blocking thread);
//! - `collect.pause_mid_upload`: a file's upload is started (staged, not complete);
//! - `collect.mid_upload_part`: a chunk of a file is uploaded, the upload not complete;
//! - `collect.pause_before_commit`: every dataset is written, the manifest is not;
//! - `collect.after_commit`: the manifest is written (in `run`, before the load);
//! - `load.mid_insert`: the first chunk of a Parquet file is in the engine, the rest not;
//! - `load.pause_after_dataset=N`: after a run's N-th dataset is inserted;
//! - `load.before_ledger`, `load.after_ledger`: around a run's ledger row;
//! - `load.pause_before_models`: after every ledger row, before the rebuild of the materialised tables;
//! - `models.mid_rebuild`: a twin table emptied, not filled yet;
//! - `models.pause_before_exchange`: a rebuilt table not swapped in yet;
//! - `models.after_exchange`: swapped in, its rebuild not recorded yet.

use std::time::Duration;

/// Pauses forever if `name` is the armed point and this is the armed hit.
pub async fn failpoint(name: &str) {
    if let Some(spec) = armed(name) {
        eprintln!("costlake: failpoint {spec} reached, pausing");
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
}

/// [`failpoint`] for code on a blocking thread (the Parquet encoder).
pub fn failpoint_blocking(name: &str) {
    if let Some(spec) = armed(name) {
        eprintln!("costlake: failpoint {spec} reached, pausing");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

#[cfg(not(debug_assertions))]
fn armed(_name: &str) -> Option<&'static str> {
    None
}

#[cfg(debug_assertions)]
fn armed(name: &str) -> Option<&'static str> {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    // (the variable's value, the point's name, the hit that pauses), read once.
    static SPEC: OnceLock<Option<(String, String, u64)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);
    let (spec, point, nth) = SPEC
        .get_or_init(|| {
            let spec = std::env::var("COSTLAKE_FAILPOINT").ok()?;
            let (point, nth) = match spec.split_once('@') {
                Some((point, nth)) => (point.to_string(), nth.parse().ok()?),
                None => (spec.clone(), 1),
            };
            Some((spec, point, nth))
        })
        .as_ref()?;
    (point == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *nth).then_some(spec.as_str())
}
