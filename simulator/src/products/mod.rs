//! One module per Scaleway product the collectors in `ingest/src/sources/` know, each with its part of the model,
//! its wire shapes (the JSON, field for field as recorded) and its routes (handlers over the state built at start;
//! [`crate::server`] mounts them behind the gate).
//!
//! Products import the shared modules (`http`, `paging`, `listing`, `wire`, `prices`, `ids`, `config`); only
//! Billing, Cockpit and IPAM also read the organisation aggregate ([`crate::org`]), which they bill, measure and
//! list the addresses of, and Cockpit the Managed Database and Kapsule tables ([`rdb`], [`k8s`]), whose load
//! profiles it serves; Autoscaling reads the load balancers ([`lb`]) it registers groups behind. No shared module
//! imports a product (but `org.rs`, which builds the planted utilisation servers from Cockpit's table and the load
//! balancers, databases, scaling groups and Kapsule clusters from theirs), and no product imports the server.
//!
//! The Load Balancer ([`lb`]) and Managed Database ([`rdb`]) products build their resources themselves, each from
//! its own seeded stream and table, so that adding them changed no other id, and Billing does not charge them (the
//! pinned bills stay as they were). So does Autoscaling ([`autoscaling`]): its groups (their templates, policies and
//! events) come from the `scaling-groups` stream; `web-asg` registers its members behind the load balancer `web-lb`.
//! So does Kapsule ([`k8s`], the `kapsule` stream): its nodes' Instances are neither served by the Instance API
//! nor billed, only measured by Cockpit. IPAM ([`ipam`]) lists the addresses the other products hold, drawing new
//! ids (the `ipam` stream) for the databases' private addresses only.

pub(crate) mod account;
pub(crate) mod autoscaling;
pub(crate) mod billing;
pub(crate) mod block;
pub(crate) mod catalog;
pub(crate) mod cockpit;
pub(crate) mod instance;
pub(crate) mod ipam;
pub(crate) mod k8s;
pub(crate) mod lb;
pub(crate) mod rdb;
