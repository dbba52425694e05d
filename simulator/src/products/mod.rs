//! One module per Scaleway product the collectors in `ingest/src/sources/` know, each with its part of the model,
//! its wire shapes (the JSON, field for field as recorded) and its routes (handlers over the state built at start;
//! [`crate::server`] mounts them behind the gate).
//!
//! Products import the shared modules (`http`, `paging`, `listing`, `wire`, `prices`, `ids`, `config`); only
//! Billing also reads the organisation aggregate ([`crate::org`]), which it bills. No shared module imports a
//! product, and no product imports the server.

pub(crate) mod account;
pub(crate) mod billing;
pub(crate) mod block;
pub(crate) mod catalog;
pub(crate) mod instance;
