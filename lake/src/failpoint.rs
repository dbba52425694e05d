//! Test hook for the crash-safety tests: with `COSTLAKE_FAILPOINT=<name>` the process stops (forever) at the point
//! of that name, so a test can `kill -9` it there deterministically, without sleeps. It lives in the lake crate,
//! the one both halves of the pipeline depend on. Points:
//! - `collect.pause_mid_upload`: a dataset's first file is being uploaded (staged, not complete);
//! - `collect.pause_before_commit`: every dataset is written, the manifest is not;
//! - `load.pause_after_dataset=N`: after a run's N-th dataset is inserted;
//! - `load.pause_before_models`: after every ledger row, before the rebuild of the materialised tables;
//! - `models.pause_before_exchange`: a rebuilt table not swapped in yet.

use std::time::Duration;

pub async fn failpoint(name: &str) {
    if std::env::var("COSTLAKE_FAILPOINT").is_ok_and(|spec| spec == name) {
        eprintln!("costlake: failpoint {name} reached, pausing");
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
}
