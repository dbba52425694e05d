//! Harnesses for costlake's end-to-end tests. Everything here is real and on loopback: the Scaleway simulator,
//! an S3 server, a ClickHouse HTTP front, the `costlake` binary itself. Each harness stops when dropped.

pub mod clickhouse_front;
pub mod engine;
