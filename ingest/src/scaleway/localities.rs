//! Where each product exists. There is no "all zones" endpoint: a collector fans out over these itself, as
//! the official SDKs do client-side (`scw.WithZones`). Lists from scaleway-sdk-go's generated `Zones()`.

pub const INSTANCE_ZONES: &[&str] = &[
    "fr-par-1", "fr-par-2", "fr-par-3", "nl-ams-1", "nl-ams-2", "nl-ams-3", "pl-waw-1", "pl-waw-2", "pl-waw-3",
    "it-mil-1",
];

pub const BLOCK_ZONES: &[&str] =
    &["fr-par-1", "fr-par-2", "fr-par-3", "nl-ams-1", "nl-ams-2", "nl-ams-3", "pl-waw-1", "pl-waw-2", "pl-waw-3"];

/// The locality recorded for APIs that are not localised (Account, Billing, Product Catalog).
pub const GLOBAL: &str = "global";
