//! Ingest: snapshot an organisation's inventory, prices and billing from the Scaleway APIs into Parquet in the
//! lake.
//!
//! ```text
//! scaleway (client, pagination, retries)  ->  sources/* (one module per product: API, datasets, walk)
//!     -> dataset (JSON page -> Arrow batch)  ->  sink (Parquet on a blocking thread, multipart upload)
//!     -> collect (all sources, then the manifest as commit marker)
//! ```

pub mod collect;
pub mod dataset;
pub mod decode;
pub mod doctor;
pub mod scaleway;
pub mod sink;
pub mod sources;

pub use collect::{CollectOptions, DEFAULT_ORPHAN_GRACE, collect};
pub use sources::CollectError;
