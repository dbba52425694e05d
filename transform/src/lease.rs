//! The load lease: one `costlake load` at a time writes to a shared ClickHouse server.
//!
//! Two loads racing on one server (a Serverless Job retried while the first still runs) would each delete the
//! other's rows as "leftovers of an interrupted load" and insert the same run twice. ClickHouse has no locks, so
//! the lease is rows of `_load_lease` (migration 0013): each load inserts its own row stamped by the server's
//! clock, waits a moment for any insert stamped earlier to become visible, and the oldest live row holds the
//! lease. The others wait in line, renewing their rows so they keep their place, and refuse with a clear error
//! after a bound. The holder renews its row every third of the lease's length while it works, and checks it
//! still holds it: a load killed with `kill -9` blocks the next one only until its row expires.
//!
//! Writes ask for a quorum and reads for sequential consistency, so the rows agree on every replica of a
//! replicated server (both settings are ignored by a single server). The embedded warehouse needs none of this:
//! chDB opens a directory from one process at a time ([`Warehouse::exclusive`]).

use std::time::{Duration, Instant};

use crate::warehouse::{Param, Result, Warehouse, WarehouseError};

/// How long a lease lives without renewal, and how long a load waits for another to finish.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    pub ttl: Duration,
    pub wait: Duration,
}

impl LeaseOptions {
    pub const DEFAULT_TTL: Duration = Duration::from_secs(60);
    pub const DEFAULT_WAIT: Duration = Duration::from_secs(30 * 60);
}

impl Default for LeaseOptions {
    fn default() -> Self {
        LeaseOptions { ttl: Self::DEFAULT_TTL, wait: Self::DEFAULT_WAIT }
    }
}

/// Long enough for an insert stamped before ours to be committed and visible: the race a lease row settles
/// is between two inserts in flight at once.
const SETTLE: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error(
        "another costlake load ({holder}, since {since}) is loading into {warehouse}; waited {waited} s for it. \
         If that process is gone, its lease expires at {expires} (it lasts load_lease_seconds, \
         COSTLAKE_LOAD_LEASE_SECONDS, after its last renewal): run `costlake load` again then, or wait longer with \
         COSTLAKE_LOAD_WAIT_SECONDS"
    )]
    Busy { warehouse: String, holder: String, since: String, expires: String, waited: u64 },
    #[error(
        "this load lost its lease on {warehouse} ({reason}): it stopped before recording anything; run \
         `costlake load` again"
    )]
    Lost { warehouse: String, reason: String },
}

/// A lease row as read back.
#[derive(Debug)]
struct Holder {
    token: String,
    holder: String,
    acquired_at: String,
    expires_at: String,
}

/// A held lease. Release it with [`Lease::release`]; dropped without release, it expires after its TTL.
#[derive(Debug)]
pub struct Lease {
    token: String,
    options: LeaseOptions,
}

/// Who this process is, for the others' messages: host and pid.
fn whoami() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "an unknown host".into());
    format!("pid {} on {host}", std::process::id())
}

impl Lease {
    /// Takes the lease, waiting in line behind live holders for at most `options.wait`.
    pub async fn acquire(warehouse: &dyn Warehouse, options: LeaseOptions) -> Result<Lease, LeaseError> {
        let lease = Lease { token: uuid::Uuid::new_v4().to_string(), options };
        let clock = Instant::now();
        lease.join_line(warehouse).await?;
        let mut announced = None;
        loop {
            let first = lease.first_in_line(warehouse).await?;
            match first {
                Some(first) if first.token == lease.token => {
                    if announced.is_some() {
                        tracing::info!(waited_s = clock.elapsed().as_secs(), "load lease taken");
                    }
                    return Ok(lease);
                }
                // Our own row expired while we waited (this process stalled): queue again.
                None => lease.join_line(warehouse).await?,
                Some(first) => {
                    if clock.elapsed() >= lease.options.wait {
                        lease.release(warehouse).await?;
                        return Err(LeaseError::Busy {
                            warehouse: warehouse.describe(),
                            holder: first.holder,
                            since: first.acquired_at,
                            expires: first.expires_at,
                            waited: clock.elapsed().as_secs(),
                        });
                    }
                    if announced.as_ref() != Some(&first.token) {
                        tracing::warn!(
                            "another costlake load ({}, since {}) is loading into this warehouse: waiting for it (at most {} s)",
                            first.holder,
                            first.acquired_at,
                            lease.options.wait.as_secs()
                        );
                        announced = Some(first.token.clone());
                    }
                    tokio::time::sleep(lease.poll()).await;
                    lease.write(warehouse, None).await?;
                    if !lease.live(warehouse).await? {
                        // Our row expired while we waited (this process stalled): queue again, at the back.
                        lease.join_line(warehouse).await?;
                    }
                }
            }
        }
    }

    /// Inserts a new row for this lease, at the back of the line, and lets any insert stamped before it become
    /// visible.
    async fn join_line(&self, warehouse: &dyn Warehouse) -> Result<()> {
        self.write(warehouse, Some(&whoami())).await?;
        tokio::time::sleep(SETTLE).await;
        Ok(())
    }

    fn poll(&self) -> Duration {
        (self.options.ttl / 3).clamp(Duration::from_millis(100), Duration::from_secs(2))
    }

    /// Inserts this lease's row with a fresh expiry: new with `holder`, else a renewal keeping its place. An
    /// expired row is never renewed: it would come back ahead of the load that took over.
    async fn write(&self, warehouse: &dyn Warehouse, holder: Option<&str>) -> Result<()> {
        let ttl = ("ttl_ms".to_string(), self.options.ttl.as_millis().to_string());
        let token = ("token".to_string(), self.token.clone());
        match holder {
            Some(holder) => {
                warehouse
                    .execute(
                        "INSERT INTO _load_lease (token, holder, acquired_at, expires_at, updated_at) \
                         SETTINGS insert_quorum = 'auto' \
                         SELECT {token:String}, {holder:String}, now64(6), \
                         now64(6) + toIntervalMillisecond({ttl_ms:UInt64}), now64(6)",
                        &[token, ttl, ("holder".into(), holder.to_string())],
                    )
                    .await
            }
            None => {
                warehouse
                    .execute(
                        "INSERT INTO _load_lease (token, holder, acquired_at, expires_at, updated_at) \
                         SETTINGS insert_quorum = 'auto' \
                         SELECT token, holder, acquired_at, now64(6) + toIntervalMillisecond({ttl_ms:UInt64}), \
                         now64(6) FROM _load_lease FINAL WHERE token = {token:String} AND expires_at > now64(6) \
                         SETTINGS select_sequential_consistency = 1",
                        &[token, ttl],
                    )
                    .await
            }
        }
    }

    /// Whether this lease's row is live.
    async fn live(&self, warehouse: &dyn Warehouse) -> Result<bool> {
        let out = warehouse
            .query(
                "SELECT count() FROM _load_lease FINAL WHERE token = {token:String} AND expires_at > now64(6) \
                 SETTINGS select_sequential_consistency = 1",
                &[("token".into(), self.token.clone())],
                "TabSeparated",
            )
            .await?;
        Ok(String::from_utf8_lossy(&out).trim() != "0")
    }

    /// The oldest live lease row: the holder.
    async fn first_in_line(&self, warehouse: &dyn Warehouse) -> Result<Option<Holder>> {
        let out = warehouse
            .query(
                "SELECT token, holder, toString(acquired_at), toString(expires_at) FROM _load_lease FINAL \
                 WHERE expires_at > now64(6) ORDER BY acquired_at, token LIMIT 1 \
                 SETTINGS select_sequential_consistency = 1",
                &[],
                "TabSeparated",
            )
            .await?;
        // Tokens are UUIDs and holders "pid N on HOST": nothing a TSV field escapes.
        let text = String::from_utf8_lossy(&out);
        let fields: Vec<String> = text.trim_end_matches('\n').split('\t').map(str::to_string).collect();
        Ok(match fields.as_slice() {
            [token, holder, acquired_at, expires_at] if !token.is_empty() => Some(Holder {
                token: token.clone(),
                holder: holder.clone(),
                acquired_at: format!("{acquired_at} UTC"),
                expires_at: format!("{expires_at} UTC"),
            }),
            _ => None,
        })
    }

    /// Renews the lease every third of its TTL for as long as it is polled, and returns only if it was lost:
    /// another load holds it (ours expired: this process or the server stalled longer than the TTL) or renewals
    /// kept failing until it expired. Run it beside the work (`select!`), so losing the lease stops the work.
    pub async fn keep(&self, warehouse: &dyn Warehouse) -> LeaseError {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(self.options.ttl / 3).await;
            let lost = |reason: String| LeaseError::Lost { warehouse: warehouse.describe(), reason };
            match self.write(warehouse, None).await {
                Ok(()) => renewed = Instant::now(),
                Err(error) if renewed.elapsed() < self.options.ttl => {
                    tracing::warn!("could not renew the load lease (will retry): {error}");
                    continue;
                }
                Err(error) => {
                    return lost(format!("it could not be renewed for {} s: {error}", renewed.elapsed().as_secs()));
                }
            }
            match self.first_in_line(warehouse).await {
                Ok(Some(first)) if first.token == self.token => {}
                Ok(Some(first)) => {
                    return lost(format!("it expired and {} (since {}) holds it now", first.holder, first.acquired_at));
                }
                Ok(None) => return lost("it expired".into()),
                Err(error) => tracing::warn!("could not check the load lease (will retry): {error}"),
            }
        }
    }

    /// Ends the lease now: its row expires at once, and the next load in line takes it.
    pub async fn release(&self, warehouse: &dyn Warehouse) -> Result<()> {
        warehouse
            .execute(
                "INSERT INTO _load_lease (token, holder, acquired_at, expires_at, updated_at) \
                 SETTINGS insert_quorum = 'auto' \
                 SELECT token, holder, acquired_at, now64(6), now64(6) FROM _load_lease FINAL \
                 WHERE token = {token:String} SETTINGS select_sequential_consistency = 1",
                &[("token".into(), self.token.clone())] as &[Param],
            )
            .await
    }
}
