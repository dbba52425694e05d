//! The Scaleway API: configuration (`scw` conventions), the shared HTTP client, pagination and errors.

pub mod client;
pub mod config;
pub mod error;
pub mod pager;

pub use client::{ClientOptions, Response, ScalewayClient};
pub use config::ScwConfig;
pub use error::ApiError;
pub use pager::{ListShape, MAX_PAGE_SIZE, Page, Pager, Scheme};
