//! Injected failures: per-URL 429 bursts and seeded random 429/503s.
//!
//! Random faults draw from `splitmix64(seed, n)` where `n` counts the requests that reached the draw, so a client
//! that sends its requests in the same order sees the same faults.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::SimConfig;
use crate::ids::{fnv1a, splitmix64};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 as the Scaleway gateway sends it (empty body, no Retry-After).
    RateLimited,
    /// 503 with a JSON error body.
    Unavailable,
}

#[derive(Debug)]
pub struct Faults {
    seed: u64,
    burst: u32,
    rate_429: f64,
    rate_5xx: f64,
    attempts: Mutex<HashMap<String, u32>>,
    draws: AtomicU64,
}

impl Faults {
    pub fn new(config: &SimConfig) -> Self {
        Faults {
            seed: config.seed ^ fnv1a("faults"),
            burst: config.burst_429,
            rate_429: config.rate_429,
            rate_5xx: config.rate_5xx,
            attempts: Mutex::new(HashMap::new()),
            draws: AtomicU64::new(0),
        }
    }

    /// Decides the fate of one request to `url` (path and query, as sent).
    pub fn check(&self, url: &str) -> Option<Fault> {
        if self.burst > 0 {
            // A poisoned lock only means another request panicked mid-update; the counts are still usable.
            let mut attempts = self.attempts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let seen = attempts.entry(url.to_string()).or_insert(0);
            if *seen < self.burst {
                *seen += 1;
                return Some(Fault::RateLimited);
            }
        }
        if self.rate_429 <= 0.0 && self.rate_5xx <= 0.0 {
            return None;
        }
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        let draw = unit_interval(splitmix64(self.seed ^ splitmix64(n)));
        if draw < self.rate_429 {
            Some(Fault::RateLimited)
        } else if draw < self.rate_429 + self.rate_5xx {
            Some(Fault::Unavailable)
        } else {
            None
        }
    }
}

/// Maps 64 random bits to [0, 1) with the 53 bits an f64 holds.
fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_is_per_url() {
        let f = Faults::new(&SimConfig { burst_429: 2, ..SimConfig::default() });
        assert_eq!(f.check("/a"), Some(Fault::RateLimited));
        assert_eq!(f.check("/b"), Some(Fault::RateLimited));
        assert_eq!(f.check("/a"), Some(Fault::RateLimited));
        assert_eq!(f.check("/a"), None);
        assert_eq!(f.check("/a?page=2"), Some(Fault::RateLimited));
    }

    #[test]
    fn random_faults_are_reproducible_and_near_the_rate() {
        let config = SimConfig { rate_429: 0.2, rate_5xx: 0.1, ..SimConfig::default() };
        let run = || {
            let f = Faults::new(&config);
            (0..2000).map(|_| f.check("/x")).collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let limited = first.iter().filter(|f| **f == Some(Fault::RateLimited)).count();
        let unavailable = first.iter().filter(|f| **f == Some(Fault::Unavailable)).count();
        assert!((300..500).contains(&limited), "{limited}");
        assert!((130..270).contains(&unavailable), "{unavailable}");
    }

    #[test]
    fn no_faults_by_default() {
        let f = Faults::new(&SimConfig::default());
        assert!((0..100).all(|_| f.check("/x").is_none()));
    }
}
