//! costlake-simulator: a loopback HTTP server that speaks the real Scaleway API shapes (Instance, Block, Account,
//! Product Catalog, Billing, Cockpit, Load Balancer, Managed Database, Autoscaling, Kubernetes Kapsule, IPAM) for a
//! synthetic, deterministic organisation with planted "ghost" resources, planted utilisation cases, planted idle
//! services, planted scaling groups (one flapping, one at its maximum) and planted Kapsule pools (two oversized).
//!
//! Used by `costlake demo` and by the end-to-end tests. [`planted()`] is the test oracle: the findings a correct
//! ghost-resources report must produce for a given [`SimConfig`]; [`billing()`] that of the bill,
//! [`utilisation()`] that of a rightsizing report, [`services()`] that of an idle-services report (load balancers
//! and databases), [`scaling()`] that of a scaling-groups report (flaps, groups at their maximum, their cost) and
//! [`kapsule()`] that of a Kapsule pools report (the nodes a pool could do without, their cost).
//!
//! # Layout
//!
//! The simulator mirrors the collectors (`ingest/src/sources/`): one module per product, over small shared files.
//!
//! * `products/{account,instance,block,catalog,lb,rdb}.rs`: each product's model, wire shapes and routes (`lb.rs`
//!   and `rdb.rs` also hold the tables of their load balancers and databases, planted ones included);
//! * `products/autoscaling.rs`: the Autoscaling groups (their table, templates, policies and events), the v1alpha1
//!   and v1alpha2 wire shapes and routes;
//! * `products/k8s.rs`: the Kapsule clusters, pools and nodes (their table, with each pool's load), wire shapes and
//!   routes; `products/ipam.rs`: the IPAM addresses, derived from the organisation's flexible IPs, load balancers
//!   and databases;
//! * `products/billing/`: the Billing model (`mod.rs`), its book built in named steps
//!   (`book.rs`), wire shapes (`wire.rs`) and handlers with the billing clock (`api.rs`);
//! * `products/cockpit/`: the Cockpit model (`mod.rs`: the planted utilisation cases, load profiles and the closed
//!   form of the CPU series, the [`utilisation()`] oracle), the databases' CPU and connection series
//!   (`databases.rs`), the PromQL selectors, regexes, timestamps and durations the data plane parses
//!   (`promql.rs`), and the control- and data-plane handlers (`api.rs`);
//! * `org.rs`: the organisation aggregate, generated from the seed; `planted.rs`: the oracle of ghost findings;
//!   `services.rs`: the oracle of idle load balancers and databases; `scaling.rs`: the oracle of scaling groups;
//!   `kapsule.rs`: the oracle of Kapsule pools;
//! * `server.rs`: state, start/shutdown, the router mounting the products' routes, and the gate (auth, faults);
//! * `http.rs`, `paging.rs`, `listing.rs`, `wire.rs`: errors and query parameters, the `Legacy`/`TotalCount`/`Token`
//!   pagination schemes, pre-rendered list items and their orders, shared JSON formatting;
//! * `prices.rs`, `config.rs`, `faults.rs`, `ids.rs`: the price book and zones, the knobs, injected faults, seeded
//!   ids and timestamps.
//!
//! Imports go one way: shared files import no product and not the server (but `org.rs` reads Cockpit's table of
//! planted utilisation servers and builds the load balancers, databases, scaling groups and Kapsule clusters from
//! theirs, and the oracles read the products they judge); products import shared files (Billing, Cockpit and IPAM
//! also the organisation they bill, measure and list the addresses of, Cockpit the databases' and Kapsule pools'
//! load profiles, Autoscaling the load balancers it registers groups behind); the server imports the products.
//!
//! # What is served
//!
//! | path (GET) | pagination | auth |
//! |---|---|---|
//! | `/account/v3/projects` | TotalCount (`page`, `page_size` ≤ 100, default 20, `total_count`) | token |
//! | `/instance/v1/zones/{zone}/{servers,volumes,ips,snapshots}` | Legacy (`page`, `per_page` ≤ 100, default 50, `X-Total-Count` + `Link`) | token |
//! | `/instance/v1/zones/{zone}/products/servers` | Legacy, over the map's sorted keys | none |
//! | `/block/v1/zones/{zone}/{volumes,snapshots,volume-types}` | TotalCount | token |
//! | `/lb/v1/zones/{zone}/lbs`, `/lb/v1/zones/{zone}/lbs/{lb_id}/backends` | TotalCount | token |
//! | `/rdb/v1/regions/{region}/instances` | TotalCount | token |
//! | `/k8s/v1/regions/{region}/clusters`, `…/clusters/{cluster_id}/{pools,nodes}` (404 for an unknown cluster; nodes filter `pool_id`) | TotalCount | token |
//! | `/ipam/v1/regions/{region}/ips` (filters `project_id`, `organization_id`, `attached`, `resource_type`; `order_by` `created_at_desc` by default) | TotalCount | token |
//! | `/autoscaling/v1alpha1/zones/{zone}/{instance-groups,instance-templates,instance-policies}` (policies need `instance_group_id`, else 400) | TotalCount, `order_by` `created_at_desc` (default) / `created_at_asc` | token |
//! | `/autoscaling/v1alpha1/zones/{zone}/instance-groups/{instance_group_id}/events` (404 for an unknown group) | TotalCount | token |
//! | `/autoscaling/v1alpha2/zones/{zone}/groups` (fr-par-1/2/3 only) | Token | token |
//! | `/product-catalog/v2alpha1/public-catalog/products` | TotalCount | none |
//! | `/billing/v2beta1/{consumptions,invoices,taxes,discounts}` | TotalCount | token |
//! | `/billing/v2beta1/charges` (FinOps) | Token (`page_size` ≤ 100, default 20, opaque `page_token`, `next_page_token`) | token |
//! | `/cockpit/v1/regions/{region}/data-sources` | TotalCount | token |
//! | `/cockpit/v1/regions/{region}/tokens` (GET; POST creates, DELETE `…/tokens/{id}` deletes) | TotalCount | token |
//! | `/cockpit-data/{data_source_id}/prometheus/api/v1/{query_range,series,label/{name}/values}` (GET or form POST) | none | `X-Token` |
//!
//! The Billing API answers for a movable **billing clock** (`billing_today`, [`Simulator::set_billing_today`]):
//! consumptions are month-to-date over the complete days before it, invoices cover the complete months before its
//! month, charges the complete days before it. Costs come from a deterministic daily table with planted billing
//! events (a drift, an anomaly, a restatement credit, a deleted-but-billed server and a running-but-unbilled one);
//! [`billing`] is its oracle. `deny=billing` withdraws every Billing endpoint, `deny=charges` only the charges.
//!
//! Cockpit serves, for every project × region (`fr-par`, `nl-ams`, `pl-waw`), a "Scaleway Metrics" data source
//! (retention 31 days) whose `url` is the simulator's own data plane, `{base_url}/cockpit-data/{id}`, and a
//! "Scaleway Logs" one (7 days, no data plane). Tokens are created, listed and deleted per region; the data plane
//! wants the secret of a live token of the data source's project and region with `read_only_metrics` or
//! `full_access_metrics_rules` in `X-Token` (else 401 `{"status":"error","errorType":"unauthorized",…}`) and
//! serves the series `instance_server_cpu_seconds_total` (counter) and `instance_server_vcpu_count` (gauge) of the
//! running servers, Kapsule nodes and scaling groups' members (all Instances the Instance API lists) of that
//! project in that region's zones, labelled `__name__`, `az`, `project_id`, `region`, `resource_id`,
//! `resource_name`: a sample every 300 s up to the **metrics clock** (the billing clock's date at
//! 04:00 UTC) and for 31 days before it, in closed form. It serves the databases of that project and region the same
//! way: `rdb_instance_postgresql_node_cpu_seconds_total` (counter, one series per `mode`: `idle`, `system`, `user`)
//! and `rdb_instance_postgresql_pg_stat_database_numbackends` (gauge), labelled `__name__`, (`mode`), `region`,
//! `resource_id`, `resource_name`. `query_range` takes a single vector selector and refuses
//! more than 11,000 points per series (400 `bad_data`). `deny=cockpit` forbids the control plane;
//! `withdrawn=cockpit` and `down=cockpit` take both planes away.
//!
//! Every response passes through the same gate, in this order: `withdrawn` (404) and `down` (503); the
//! `X-Auth-Token` check (401);
//! `burst_429` (per distinct path + query); `rate_429` / `rate_5xx` (seeded draws in arrival order); `deny` (403);
//! `vanished` (404 `not_found` for the resource it deleted: `vanished=lb+k8s+autoscaling` deletes the first load
//! balancer with a backend, the first Kapsule cluster and the first scaling group once listed, so their GET and
//! every list under them answer 404, as when they are deleted during a collection); then the handler; then
//! `latency_ms`, counted from the request's arrival: the answer leaves that long after it, or when it is ready.
//! `deny=autoscaling`, `withdrawn=autoscaling` and `down=autoscaling` cover both Autoscaling versions; `k8s` and
//! `ipam` can be denied, withdrawn or down like any product. Unknown paths are 404
//! `not_found`, unknown zones and regions 404 `unknown_resource`, bad paging or order parameters 400
//! `invalid_arguments`.
//!
//! # Determinism
//!
//! Everything is derived from [`SimConfig`]: ids come from seeded streams, one per part of the organisation
//! (`projects`, `healthy`, `ghosts`, `edge`, `utilisation`, `load-balancers`, `databases`, `scaling-groups`,
//! `kapsule`, `ipam`, ...), so the ghosts', the planted utilisation servers', the load balancers', the databases',
//! the scaling groups' and the Kapsule clusters' ids depend on `seed` alone and not on the number of servers or
//! projects; timestamps are "D days before `today`, 08:00 UTC" with seeded microseconds. Cockpit token ids and secrets follow the seed and the order in
//! which tokens are created.
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
mod kapsule;
mod listing;
mod org;
mod paging;
mod planted;
mod prices;
mod products;
mod scaling;
mod server;
mod services;
mod wire;

pub use config::{DEFAULT_SECRET_KEY, DENIABLE_PRODUCTS, MALFORMED_MODES, SimConfig, default_organization_id};
pub use kapsule::{KapsuleTruth, POOL_MIN_DAYS, POOL_TARGET_UTILISATION, POOL_WINDOW_DAYS, PoolTruth, kapsule};
pub use org::{GhostIds, Organization, organization};
pub use planted::{PlantedGhost, planted};
pub use prices::{
    BLOCK_ZONES, DbNodeType, GB, HOURS_PER_MONTH, INSTANCE_ZONES, LB_ZONES, LbType, PriceBook, RDB_REGIONS, ServerType,
    VolumeType,
};
pub use products::account::Project;
pub use products::autoscaling::{
    AUTOSCALING_V2_ZONES, AUTOSCALING_ZONES, InstanceTemplate, SCALE_DOWN, SCALE_UP, ScalingEvent, ScalingGroup,
    ScalingPolicy,
};
pub use products::billing::book::billing;
pub use products::billing::{
    Anomaly, BILLING_HORIZON_DAYS, BillingTruth, DailyCost, Drift, GhostCharge, Restatement, month_of,
};
pub use products::block::{BlockSnapshot, BlockVolume, ParentVolume, VolumeReference};
pub use products::cockpit::api::MAX_POINTS_PER_SERIES;
pub use products::cockpit::{
    COCKPIT_REGIONS, CPU_METRIC, DB_CONNECTIONS_METRIC, DB_CPU_METRIC, MEMORY_METRIC, METRICS_HISTORY_DAYS,
    METRICS_RETENTION_DAYS, PlantedUtilisation, SAMPLE_SECONDS, UtilisationTruth, VCPU_METRIC, utilisation,
};
pub use products::instance::{FlexibleIp, InstanceSnapshot, InstanceVolume, Server, ServerRef, ServerVolume};
pub use products::ipam::IPAM_REGIONS;
pub use products::k8s::{K8S_REGIONS, KapsuleCluster, KapsuleNode, KapsulePool};
pub use products::lb::{LbBackend, LbIp, LoadBalancer};
pub use products::rdb::{Database, DbEndpoint};
pub use scaling::{FLAP_COOLDOWNS, FLAP_FLOOR_SECONDS, FLAPPING_DAILY_FLAPS, ScalingGroupTruth, ScalingTruth, scaling};
pub use server::{SimStats, Simulator};
pub use services::{IdleService, ServicesTruth, services};
