//! The price book the simulator publishes (Instance server types, Block volume types, flexible IPs, Load Balancer
//! offers, Managed Database node types), and the zones and regions each API serves. Shared by the Instance, Block,
//! Product Catalog and Billing products and by the oracles ([`crate::planted()`], [`crate::services()`]), so a
//! finding's expected cost is always what a collector could have derived from the served responses.

use rust_decimal::Decimal;

/// Scaleway bills by the hour and quotes monthly figures for 730 hours.
pub const HOURS_PER_MONTH: u32 = 730;

/// Sizes and per-GB prices use decimal gigabytes (`scw.Size`: GB = 1000 MB).
pub const GB: u64 = 1_000_000_000;

pub const INSTANCE_ZONES: [&str; 10] = [
    "fr-par-1", "fr-par-2", "fr-par-3", "nl-ams-1", "nl-ams-2", "nl-ams-3", "pl-waw-1", "pl-waw-2", "pl-waw-3",
    "it-mil-1",
];

pub const BLOCK_ZONES: [&str; 9] =
    ["fr-par-1", "fr-par-2", "fr-par-3", "nl-ams-1", "nl-ams-2", "nl-ams-3", "pl-waw-1", "pl-waw-2", "pl-waw-3"];

/// The zones of the Load Balancer API (its zoned flavour: `/lb/v1/zones/{zone}`).
pub const LB_ZONES: [&str; 8] =
    ["fr-par-1", "fr-par-2", "nl-ams-1", "nl-ams-2", "nl-ams-3", "pl-waw-1", "pl-waw-2", "pl-waw-3"];

/// The regions of the Managed Database (RDB) API.
pub const RDB_REGIONS: [&str; 3] = ["fr-par", "nl-ams", "pl-waw"];

/// Hardware facts of a commercial type, copied from the recorded `products/servers` pages.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerType {
    pub name: &'static str,
    /// EUR per hour, as published in `hourly_price`.
    pub hourly_price: Decimal,
    pub ncpus: u32,
    pub ram: u64,
    pub volumes_max_size: u64,
    /// Whether the type accepts local (`l_ssd`) volumes.
    pub local_volumes: bool,
    pub bandwidth: u64,
    pub block_bandwidth: u64,
    pub range: &'static str,
    pub cpu: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VolumeType {
    pub name: &'static str,
    pub perf_iops: u32,
    /// EUR per GB per hour.
    pub pricing: Decimal,
    /// EUR per GB per hour, for snapshots taken of a volume of this type.
    pub snapshot_pricing: Decimal,
}

/// A Load Balancer offer, billed by the hour whatever it forwards.
#[derive(Debug, Clone, PartialEq)]
pub struct LbType {
    /// Lower case, as the Load Balancer API writes `type` (`lb-s`); the catalog's `product` is it upper-cased.
    pub name: &'static str,
    /// EUR per hour.
    pub hourly_price: Decimal,
}

/// A Managed Database node type, billed by the hour per node (a high-availability cluster runs two).
#[derive(Debug, Clone, PartialEq)]
pub struct DbNodeType {
    /// Lower case, as the RDB API writes `node_type` (`db-dev-s`).
    pub name: &'static str,
    /// EUR per hour and node.
    pub hourly_price: Decimal,
    pub vcpus: u32,
    /// Bytes (GB = 10^9, like every `scw.Size`).
    pub memory: u64,
}

/// Prices are identical in every zone; the per-zone lookups exist so that callers do not rely on it.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceBook {
    pub server_types: Vec<ServerType>,
    pub volume_types: Vec<VolumeType>,
    /// EUR per hour for a flexible (routed) IPv4.
    pub flexible_ipv4_hourly: Decimal,
    pub flexible_ipv6_hourly: Decimal,
    pub lb_types: Vec<LbType>,
    /// The node types the simulated databases use (the catalog publishes these only).
    pub db_node_types: Vec<DbNodeType>,
}

impl Default for PriceBook {
    fn default() -> Self {
        const GIB: u64 = 1 << 30;
        const AMD: &str = "AMD EPYC™ 7281 (2.1 GHz)";
        const INTEL: &str = "Intel Xeon Platinum 8481C (2.7 GHz)";
        let t = |name,
                 hourly: Decimal,
                 ncpus,
                 ram_gib: u64,
                 volumes_max_gb: u64,
                 local,
                 bandwidth,
                 block_bandwidth,
                 range,
                 cpu| {
            ServerType {
                name,
                hourly_price: hourly,
                ncpus,
                ram: ram_gib * GIB,
                volumes_max_size: volumes_max_gb * GB,
                local_volumes: local,
                bandwidth,
                block_bandwidth,
                range,
                cpu,
            }
        };
        PriceBook {
            server_types: vec![
                t("DEV1-S", Decimal::new(88, 4), 2, 2, 20, true, 200_000_000, 104_857_600, "Development", AMD),
                t("DEV1-M", Decimal::new(198, 4), 3, 4, 40, true, 300_000_000, 157_286_400, "Development", AMD),
                t("DEV1-L", Decimal::new(42, 3), 4, 8, 80, true, 400_000_000, 209_715_200, "Development", AMD),
                t("PRO2-XXS", Decimal::new(55, 3), 2, 8, 0, false, 350_000_000, 131_072_000, "General Purpose", AMD),
                t("PRO2-S", Decimal::new(219, 3), 8, 32, 0, false, 1_500_000_000, 524_288_000, "General Purpose", AMD),
                t("PLAY2-PICO", Decimal::new(14, 3), 1, 2, 0, false, 100_000_000, 41_943_040, "Development", AMD),
                t("GP1-XS", Decimal::new(913, 4), 4, 16, 150, true, 500_000_000, 314_572_800, "General Purpose", AMD),
                t(
                    "POP2-2C-8G",
                    Decimal::new(735, 4),
                    2,
                    8,
                    0,
                    false,
                    400_000_000,
                    419_430_400,
                    "General Purpose",
                    INTEL,
                ),
            ],
            volume_types: vec![
                VolumeType {
                    name: "sbs_5k",
                    perf_iops: 5000,
                    pricing: Decimal::new(118, 6),
                    snapshot_pricing: Decimal::new(49, 6),
                },
                VolumeType {
                    name: "sbs_15k",
                    perf_iops: 15000,
                    pricing: Decimal::new(151, 6),
                    snapshot_pricing: Decimal::new(49, 6),
                },
            ],
            flexible_ipv4_hourly: Decimal::new(4, 3),
            flexible_ipv6_hourly: Decimal::ZERO,
            lb_types: vec![
                LbType { name: "lb-s", hourly_price: Decimal::new(124, 4) },
                LbType { name: "lb-gp-m", hourly_price: Decimal::new(874, 4) },
                LbType { name: "lb-gp-l", hourly_price: Decimal::new(2196, 4) },
            ],
            db_node_types: vec![
                DbNodeType { name: "db-dev-s", hourly_price: Decimal::new(164, 4), vcpus: 2, memory: 2 * GB },
                DbNodeType { name: "db-dev-m", hourly_price: Decimal::new(322, 4), vcpus: 3, memory: 4 * GB },
                DbNodeType { name: "db-pro2-xxs", hourly_price: Decimal::new(894, 4), vcpus: 2, memory: 8 * GB },
            ],
        }
    }
}

impl PriceBook {
    pub fn server_type(&self, name: &str) -> Option<&ServerType> {
        self.server_types.iter().find(|t| t.name == name)
    }

    /// Volume types published by the Block API in `zone` (none outside the Block zones).
    pub fn volume_types_in(&self, zone: &str) -> &[VolumeType] {
        if BLOCK_ZONES.contains(&zone) { &self.volume_types } else { &[] }
    }

    pub fn volume_type(&self, zone: &str, name: &str) -> Option<&VolumeType> {
        self.volume_types_in(zone).iter().find(|t| t.name == name)
    }

    /// The snapshot price of a zone, when every volume type there agrees on it: a snapshot without a parent
    /// volume gives no other way to choose.
    pub fn snapshot_price(&self, zone: &str) -> Option<Decimal> {
        let mut prices = self.volume_types_in(zone).iter().map(|t| t.snapshot_pricing);
        let first = prices.next()?;
        prices.all(|p| p == first).then_some(first)
    }

    pub fn flexible_ipv4(&self, zone: &str) -> Option<Decimal> {
        INSTANCE_ZONES.contains(&zone).then_some(self.flexible_ipv4_hourly)
    }

    /// A Load Balancer offer (lower case, `lb-s`) sold in `zone` (none outside the Load Balancer zones).
    pub fn lb_type(&self, zone: &str, name: &str) -> Option<&LbType> {
        LB_ZONES.contains(&zone).then(|| self.lb_types.iter().find(|t| t.name == name)).flatten()
    }

    /// A Managed Database node type (lower case, `db-dev-s`) sold in `region`.
    pub fn db_node_type(&self, region: &str, name: &str) -> Option<&DbNodeType> {
        RDB_REGIONS.contains(&region).then(|| self.db_node_types.iter().find(|t| t.name == name)).flatten()
    }
}

/// `units` + `nanos` of a Money value, with the same sign on both parts.
pub fn money_parts(value: Decimal) -> (i64, i64) {
    let units = value.trunc();
    let nanos = ((value - units) * Decimal::from(1_000_000_000u64)).trunc();
    (i64::try_from(units).unwrap_or(0), i64::try_from(nanos).unwrap_or(0))
}

/// Monthly cost of `size` bytes at `per_gb_hour`.
pub fn storage_monthly(size: u64, per_gb_hour: Decimal) -> Decimal {
    Decimal::from(size) / Decimal::from(GB) * per_gb_hour * Decimal::from(HOURS_PER_MONTH)
}

pub fn hourly_to_monthly(hourly: Decimal) -> Decimal {
    hourly * Decimal::from(HOURS_PER_MONTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parts_split_units_and_nanos() {
        assert_eq!(money_parts(Decimal::new(118, 6)), (0, 118_000));
        assert_eq!(money_parts(Decimal::new(4, 3)), (0, 4_000_000));
        assert_eq!(money_parts(Decimal::new(936, 2)), (9, 360_000_000));
        assert_eq!(money_parts(Decimal::new(-175, 2)), (-1, -750_000_000));
    }

    #[test]
    fn snapshot_price_is_shared_by_the_zone() {
        let book = PriceBook::default();
        assert_eq!(book.snapshot_price("fr-par-2"), Some(Decimal::new(49, 6)));
        assert_eq!(book.snapshot_price("it-mil-1"), None);
    }
}
