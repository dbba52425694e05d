//! Harnesses for costlake's tests. Everything here is real and on loopback: the Scaleway simulator, an S3
//! server, a ClickHouse HTTP front, the `costlake` binary itself. Each harness stops when dropped.
//!
//! Suites: `tests/tests/*.rs` exercise the libraries (warehouse conformance on both backends, recorded API
//! fixtures, the lake ↔ warehouse schema contract); `tests/e2e/*.rs` run the `costlake` binary end to end
//! (they are registered in cli/Cargo.toml so that Cargo builds the binary for them).

pub mod clickhouse_front;
pub mod engine;
pub mod replay;
pub mod s3;
pub mod sandbox;
