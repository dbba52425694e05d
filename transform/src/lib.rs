//! Transform: committed lake runs → ClickHouse, idempotently, and the cost/inventory model on top.
//!
//! ```text
//! warehouse (one trait: embedded chDB | ClickHouse server over HTTP)
//!   <- migrate (versioned SQL in transform/migrations/, recorded in _migrations)
//!   <- load    (manifests not in the _load_ledger → raw_* tables → ledger row, last), one at a time (lease)
//! ```

pub mod warehouse;

pub use warehouse::{Warehouse, WarehouseError, WarehouseLocation};
pub mod lease;
pub mod load;
pub mod migrate;
pub mod models;

pub use lease::LeaseOptions;
pub use load::{LoadError, LoadOptions, LoadReport, load, load_with_progress, refresh_after_write};
pub use migrate::migrate;
