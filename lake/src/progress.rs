//! Live counters of a stage at work (a collection, a load), for whoever shows its progress: the stage writes
//! them as it goes, a progress bar reads them a few times a second. Relaxed atomics: a bar needs no ordering,
//! and a stage pays one uncontended add per page or batch.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Progress {
    /// Units of work of the stage (products to collect, runs to load), once known.
    total: AtomicU64,
    done: AtomicU64,
    rows: AtomicU64,
    api_calls: AtomicU64,
    retries: AtomicU64,
}

/// What a [`Progress`] says at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressSnapshot {
    pub total: u64,
    pub done: u64,
    pub rows: u64,
    pub api_calls: u64,
    pub retries: u64,
}

impl Progress {
    pub fn add_total(&self, units: u64) {
        self.total.fetch_add(units, Ordering::Relaxed);
    }

    pub fn add_done(&self, units: u64) {
        self.done.fetch_add(units, Ordering::Relaxed);
    }

    pub fn add_rows(&self, rows: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }

    pub fn add_api_call(&self) {
        self.api_calls.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            total: self.total.load(Ordering::Relaxed),
            done: self.done.load(Ordering::Relaxed),
            rows: self.rows.load(Ordering::Relaxed),
            api_calls: self.api_calls.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}
