//! costlake-simulator: a loopback HTTP server that speaks the real Scaleway API shapes (Instance, Block, Account,
//! Product Catalog) for a synthetic, deterministic organisation with planted "ghost" resources.
//!
//! Used by `costlake demo` and by the end-to-end tests. [`planted()`] is the test oracle: the findings a correct
//! ghost-resources report must produce for a given [`SimConfig`].
//!
//! # Layout
//!
//! The simulator mirrors the collectors (`ingest/src/sources/`): one module per product, over small shared files.
//!
//! * `products/{account,instance,block,catalog}.rs`: each product's model, wire shapes and routes;
//! * `products/billing/`: the Billing model (`mod.rs`), its book built in named steps
//!   (`book.rs`), wire shapes (`wire.rs`) and handlers with the billing clock (`api.rs`);
//! * `org.rs`: the organisation aggregate, generated from the seed; `planted.rs`: the oracle of ghost findings;
//! * `server.rs`: state, start/shutdown, the router mounting the products' routes, and the gate (auth, faults);
//! * `http.rs`, `paging.rs`, `listing.rs`, `wire.rs`: errors and query parameters, the `Legacy`/`TotalCount`/`Token`
//!   pagination schemes, pre-rendered list items and their orders, shared JSON formatting;
//! * `prices.rs`, `config.rs`, `faults.rs`, `ids.rs`: the price book and zones, the knobs, injected faults, seeded
//!   ids and timestamps.
//!
//! Imports go one way: shared files import no product and not the server; products import shared files (Billing
//! also the organisation it bills); the server imports the products.
//!
//! # What is served
//!
//! | path (GET) | pagination | auth |
//! |---|---|---|
//! | `/account/v3/projects` | TotalCount (`page`, `page_size` ≤ 100, default 20, `total_count`) | token |
//! | `/instance/v1/zones/{zone}/{servers,volumes,ips,snapshots}` | Legacy (`page`, `per_page` ≤ 100, default 50, `X-Total-Count` + `Link`) | token |
//! | `/instance/v1/zones/{zone}/products/servers` | Legacy, over the map's sorted keys | none |
//! | `/block/v1/zones/{zone}/{volumes,snapshots,volume-types}` | TotalCount | token |
//! | `/product-catalog/v2alpha1/public-catalog/products` | TotalCount | none |
//! | `/billing/v2beta1/{consumptions,invoices,taxes,discounts}` | TotalCount | token |
//! | `/billing/v2beta1/charges` (FinOps) | Token (`page_size` ≤ 100, default 20, opaque `page_token`, `next_page_token`) | token |
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

mod config;
mod faults;
mod http;
mod ids;
mod listing;
mod org;
mod paging;
mod planted;
mod prices;
mod products;
mod server;
mod wire;

pub use config::{DEFAULT_SECRET_KEY, DENIABLE_PRODUCTS, MALFORMED_MODES, SimConfig, default_organization_id};
pub use org::{GhostIds, Organization, organization};
pub use planted::{PlantedGhost, planted};
pub use prices::{BLOCK_ZONES, GB, HOURS_PER_MONTH, INSTANCE_ZONES, PriceBook, ServerType, VolumeType};
pub use products::account::Project;
pub use products::billing::book::billing;
pub use products::billing::{
    Anomaly, BILLING_HORIZON_DAYS, BillingTruth, DailyCost, Drift, GhostCharge, Restatement, month_of,
};
pub use products::block::{BlockSnapshot, BlockVolume, ParentVolume, VolumeReference};
pub use products::instance::{FlexibleIp, InstanceSnapshot, InstanceVolume, Server, ServerRef, ServerVolume};
pub use server::{SimStats, Simulator};
