//! One module per Scaleway product the collectors in `ingest/src/sources/` know, each with its part of the model,
//! its wire shapes (the JSON, field for field as recorded) and its routes (handlers over the state built at start;
//! [`crate::server`] mounts them behind the gate).
//!
//! Products import the shared modules (`http`, `paging`, `listing`, `wire`, `prices`, `ids`, `config`); only
//! Billing and Cockpit also read the organisation aggregate ([`crate::org`]), which they bill and measure. No shared
//! module imports a product (but `org.rs`, which builds the planted utilisation servers from Cockpit's table), and
//! no product imports the server.

pub(crate) mod account;
pub(crate) mod billing;
pub(crate) mod block;
pub(crate) mod catalog;
pub(crate) mod cockpit;
pub(crate) mod instance;
