//! A runtime that never stalls, measured: with `COSTLAKE_HEARTBEAT_MS=<period>` the process runs on a
//! single-threaded async runtime with a task that wakes every period and records how late it woke, and prints the
//! worst lateness when the command ends. One thread makes the measure strict: any future that blocks (Parquet
//! encoding, an engine call, a large JSON decode on the reactor) delays the heartbeat by as long as it blocks,
//! where the default multi-threaded runtime would let another worker hide it. The tests assert the bound; the
//! benchmark prints it at scale.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static WORST_LAG_MICROS: AtomicU64 = AtomicU64::new(0);
static TICKS: AtomicU64 = AtomicU64::new(0);

/// The heartbeat's period, if asked for.
pub fn period() -> Option<Duration> {
    let ms: u64 = std::env::var("COSTLAKE_HEARTBEAT_MS").ok()?.trim().parse().ok()?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// Starts the heartbeat on the current runtime.
pub fn start(period: Duration) {
    tokio::spawn(async move {
        let mut due = tokio::time::Instant::now() + period;
        loop {
            tokio::time::sleep_until(due).await;
            let now = tokio::time::Instant::now();
            let lag = now.saturating_duration_since(due).as_micros() as u64;
            WORST_LAG_MICROS.fetch_max(lag, Ordering::Relaxed);
            if lag > 10_000 {
                tracing::debug!(lag_ms = lag / 1000, "the async runtime woke the heartbeat late");
            }
            TICKS.fetch_add(1, Ordering::Relaxed);
            due = now + period;
        }
    });
}

/// The line the process prints at the end: `heartbeat: N ticks every P ms, worst lag L ms`.
pub fn summary(period: Duration) -> String {
    format!(
        "heartbeat: {} ticks every {} ms, worst lag {:.1} ms",
        TICKS.load(Ordering::Relaxed),
        period.as_millis(),
        WORST_LAG_MICROS.load(Ordering::Relaxed) as f64 / 1000.0
    )
}
