//! Deterministic randomness and time formatting.
//!
//! Each part of the organisation draws from its own named stream, so that e.g. the planted ghosts keep the same ids
//! whatever the number of healthy servers or projects.

use chrono::{DateTime, Days, NaiveDate, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};

pub(crate) struct IdStream(StdRng);

impl IdStream {
    pub(crate) fn new(seed: u64, stream: &str) -> Self {
        IdStream(StdRng::seed_from_u64(seed ^ fnv1a(stream)))
    }

    /// A random (version 4) UUID, like the ones Scaleway hands out.
    pub(crate) fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.0.random()).into_uuid().to_string()
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.0.random_range(0..n) }
    }

    /// "`days` days ago at 08:00 UTC", with a sub-second part so that timestamps look recorded rather than typed.
    pub(crate) fn days_ago(&mut self, today: NaiveDate, days: u64) -> DateTime<Utc> {
        let micros = self.below(1_000_000) as u32;
        at_eight(today, days, micros)
    }
}

pub(crate) fn at_eight(today: NaiveDate, days: u64, micros: u32) -> DateTime<Utc> {
    // `SimConfig::validate` keeps `today` far from chrono's limits, so the fallbacks are never taken.
    let date = today.checked_sub_days(Days::new(days)).unwrap_or(today);
    date.and_hms_micro_opt(8, 0, 0, micros).unwrap_or_default().and_utc()
}

/// Instance API style: `2025-11-03T17:15:36.733100+00:00`.
pub(crate) fn instance_ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// Style of the newer APIs (Block, Account): `2026-07-20T14:37:47.247765Z`.
pub(crate) fn api_ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(crate) fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A stateless mixer: the n-th draw of a seeded sequence without keeping an RNG behind a lock.
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A UUID-shaped id from a 128-bit value (for request ids, which must not consume the organisation's streams).
pub(crate) fn uuid_from(a: u64, b: u64) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a = IdStream::new(1, "x").uuid();
        assert_eq!(a, IdStream::new(1, "x").uuid());
        assert_ne!(a, IdStream::new(1, "y").uuid());
        assert_ne!(a, IdStream::new(2, "x").uuid());
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn timestamp_formats() {
        let t = at_eight(NaiveDate::from_ymd_opt(2026, 3, 10).unwrap(), 9, 733_100);
        assert_eq!(instance_ts(t), "2026-03-01T08:00:00.733100+00:00");
        assert_eq!(api_ts(t), "2026-03-01T08:00:00.733100Z");
    }
}
