//! costlake-simulator: a loopback HTTP server that speaks the real Scaleway API shapes (Instance, Block, Account,
//! Product Catalog) for a synthetic, deterministic organisation with planted "ghost" resources.
//!
//! Used by `costlake demo` and by the end-to-end tests. [`planted`] is the test oracle: the findings a correct
//! ghost-resources report must produce for a given [`SimConfig`].
//!
//! # What is served
//!
//! | path (GET) | pagination | auth |
//! |---|---|---|
//! | `/account/v3/projects` | B (`page`, `page_size` ≤ 100, default 20, `total_count`) | token |
//! | `/instance/v1/zones/{zone}/{servers,volumes,ips,snapshots}` | A (`page`, `per_page` ≤ 100, default 50, `X-Total-Count` + `Link`) | token |
//! | `/instance/v1/zones/{zone}/products/servers` | A, over the map's sorted keys | none |
//! | `/block/v1/zones/{zone}/{volumes,snapshots,volume-types}` | B | token |
//! | `/product-catalog/v2alpha1/public-catalog/products` | B | none |
//! | `/billing/v2beta1/{consumptions,invoices,taxes,discounts}` | B | token |
//! | `/billing/v2beta1/charges` (FinOps) | C (`page_size` ≤ 100, default 20, opaque `page_token`, `next_page_token`) | token |
//!
//! The Billing API answers for a movable **billing clock** (`billing_today`, [`Simulator::set_billing_today`]):
//! consumptions are month-to-date over the complete days before it, invoices cover the complete months before its
//! month, charges the complete days before it. Costs come from a deterministic daily table with planted billing
//! events (a drift, an anomaly, a restatement credit, a deleted-but-billed server and a running-but-unbilled one);
//! [`billing`] is its oracle. `deny=billing` withdraws every Billing endpoint, `deny=charges` only the charges.
//!
//! Every response passes through the same gate, in this order: `latency_ms`; the `X-Auth-Token` check (401);
//! `burst_429` (per distinct path + query); `rate_429` / `rate_5xx` (seeded draws in arrival order); `deny` (403);
//! then the handler. Unknown paths are 404 `not_found`, unknown zones 404 `unknown_resource`, bad paging or order
//! parameters 400 `invalid_arguments`.
//!
//! # Determinism
//!
//! Everything is derived from [`SimConfig`]: ids come from seeded streams, one per part of the organisation
//! (`projects`, `healthy`, `ghosts`, `edge`, ...), so the ghosts' ids depend on `seed` alone and not on the number
//! of servers or projects; timestamps are "D days before `today`, 08:00 UTC" with seeded microseconds.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let config = costlake_simulator::SimConfig::default().with_knobs("servers=200,burst_429=1").unwrap();
//! let sim = costlake_simulator::Simulator::start(config.clone(), None).await?;
//! println!("point the collector at {}", sim.base_url());
//! let expected = costlake_simulator::planted(&config);
//! let bill = costlake_simulator::billing(&config);
//! sim.set_billing_today(bill.history_start + chrono::Days::new(40));
//! # let _ = expected;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
#![recursion_limit = "256"]

mod billing;
mod billing_api;
mod catalog;
mod config;
mod faults;
mod ids;
mod org;
mod paging;
mod planted;
mod server;
mod wire;

pub use billing::{
    Anomaly, BILLING_HORIZON_DAYS, BillingTruth, DailyCost, Drift, GhostCharge, Restatement, billing, month_of,
};
pub use catalog::{BLOCK_ZONES, GB, HOURS_PER_MONTH, INSTANCE_ZONES, PriceBook, ServerType, VolumeType};
pub use config::{DEFAULT_SECRET_KEY, DENIABLE_PRODUCTS, MALFORMED_MODES, SimConfig, default_organization_id};
pub use org::{
    BlockSnapshot, BlockVolume, FlexibleIp, GhostIds, InstanceSnapshot, InstanceVolume, Organization, ParentVolume,
    Project, Server, ServerRef, ServerVolume, VolumeReference, organization,
};
pub use planted::{PlantedGhost, planted};
pub use server::{SimStats, Simulator};
