//! Cockpit v1 (metrics): the data sources and tokens of every project × region (control plane), and the
//! Prometheus API of each "Scaleway Metrics" data source (data plane), serving the CPU series of the running
//! servers.
//!
//! * this file: the model: the planted utilisation cases ([`PLANTS`]), each running server's load profile, the
//!   closed form of its series ([`Series`]), and [`utilisation()`], the oracle of the rightsizing findings;
//! * [`promql`]: the little of PromQL and of the Prometheus HTTP parameters the data plane understands (vector
//!   selectors, RE2-like regular expressions, timestamps and durations);
//! * [`api`]: the handlers, the tokens and the served-points counter.
//!
//! # Series
//!
//! Every running server has a load profile: a utilisation (fraction of all its vCPUs)
//! `u(t) = base + amplitude × (1 + sin(2π (t − phase) / 86400)) / 2`. Healthy servers draw `base` in [0.30, 0.40],
//! `amplitude` in [0.30, 0.45] and `phase` from the seed and their id; the [`PLANTS`] fix theirs. Non-running
//! servers have no metrics.
//!
//! Samples exist every 300 s, at Unix times that are multiples of 300, from `boot` (the creation date, or `today`
//! − 90 days at midnight if later) up to the **metrics clock** (the billing clock's date at 04:00 UTC), and are
//! kept 31 days before it. At a sample time `t`, `instance_server_cpu_seconds_total` is
//! `ncpus × ∫_{start}^{t} u + j(t)`, `start` being the beginning of the current life (boot, or the restart of
//! `util-restarted-web`) and `j(t)` a deterministic jitter in `[0, 0.2 × base × 300 × ncpus)`; so the counter
//! strictly increases within a life, drops once at a restart, and the 5-minute utilisation derived from it is
//! within ±20 % of `base` of the profile. `instance_server_vcpu_count` is `ncpus`. Every value is a closed form:
//! serving a point costs O(1).

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::SimConfig;
use crate::ids::{fnv1a, splitmix64};
use crate::org::Organization;
use crate::prices::{HOURS_PER_MONTH, PriceBook};

pub(crate) mod api;
pub(crate) mod promql;

/// The regions of the Cockpit API.
pub const COCKPIT_REGIONS: [&str; 3] = ["fr-par", "nl-ams", "pl-waw"];

pub const CPU_METRIC: &str = "instance_server_cpu_seconds_total";
pub const VCPU_METRIC: &str = "instance_server_vcpu_count";

/// Seconds between two samples.
pub const SAMPLE_SECONDS: i64 = 300;
/// Days of samples a metrics data source keeps before the metrics clock.
pub const METRICS_RETENTION_DAYS: i64 = 31;
/// Days before `today` before which no server has samples.
pub const METRICS_HISTORY_DAYS: u64 = 90;

const SAMPLE_MS: i64 = SAMPLE_SECONDS * 1000;
const DAY_MS: i64 = 86_400_000;

/// A planted utilisation case: a running server built like the healthy ones (see `org.rs`), with a fixed load.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plant {
    pub name: &'static str,
    pub role: &'static str,
    pub commercial_type: &'static str,
    /// Index of the project (modulo the number of projects).
    pub project: usize,
    pub zone: &'static str,
    pub created_days_ago: u64,
    /// `(base, amplitude)`; `None` for a healthy profile.
    pub load: Option<(f64, f64)>,
    /// The CPU counter resets (a reboot) this many days before `today`, at 13:37 UTC.
    pub restart_days_ago: Option<u64>,
    pub recommendation: &'static str,
    pub recommended_type: Option<&'static str>,
}

/// The planted utilisation cases, in the order of [`UtilisationTruth::planted`].
pub(crate) const PLANTS: [Plant; 5] = [
    Plant {
        name: "util-idle-batch",
        role: "worker",
        commercial_type: "GP1-XS",
        project: 0,
        zone: "fr-par-1",
        created_days_ago: 200,
        load: Some((0.01, 0.02)),
        restart_days_ago: None,
        recommendation: "idle",
        recommended_type: None,
    },
    Plant {
        name: "util-oversized-api",
        role: "api",
        commercial_type: "PRO2-S",
        project: 1,
        zone: "fr-par-1",
        created_days_ago: 200,
        load: Some((0.04, 0.08)),
        restart_days_ago: None,
        recommendation: "downsize",
        recommended_type: Some("PRO2-XXS"),
    },
    Plant {
        name: "util-watch-worker",
        role: "worker",
        commercial_type: "DEV1-L",
        project: 0,
        zone: "fr-par-1",
        created_days_ago: 200,
        load: Some((0.15, 0.12)),
        restart_days_ago: None,
        recommendation: "watch",
        recommended_type: None,
    },
    Plant {
        name: "util-new-canary",
        role: "web",
        commercial_type: "DEV1-S",
        project: 0,
        zone: "fr-par-1",
        created_days_ago: 5,
        load: None,
        restart_days_ago: None,
        recommendation: "insufficient_data",
        recommended_type: None,
    },
    Plant {
        name: "util-restarted-web",
        role: "web",
        commercial_type: "POP2-2C-8G",
        project: 0,
        zone: "fr-par-1",
        created_days_ago: 200,
        load: None,
        restart_days_ago: Some(10),
        recommendation: "ok",
        recommended_type: None,
    },
];

// ---------------------------------------------------------------------------------------------------------------
// The oracle

/// A planted utilisation case and the finding a correct rightsizing report must produce for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlantedUtilisation {
    pub server_id: String,
    pub name: String,
    pub project_id: String,
    pub zone: String,
    pub commercial_type: String,
    /// `idle` | `downsize` | `watch` | `insufficient_data` | `ok`.
    pub recommendation: &'static str,
    /// The commercial type to move to (`downsize` only).
    pub recommended_type: Option<&'static str>,
    /// The server's hourly price × 730.
    pub monthly_cost: Decimal,
    /// `idle`: the whole monthly cost; `downsize`: (hourly − recommended hourly) × 730; otherwise `None`.
    pub monthly_savings: Option<Decimal>,
}

/// The planted utilisation cases of an organisation: `util-idle-batch`, `util-oversized-api`, `util-watch-worker`,
/// `util-new-canary` and `util-restarted-web`, in that order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UtilisationTruth {
    pub planted: Vec<PlantedUtilisation>,
}

/// The utilisation oracle for `config`: the servers planted with a known CPU profile, and what a correct report
/// recommends for each.
pub fn utilisation(config: &SimConfig) -> UtilisationTruth {
    truth(&Organization::build(config))
}

pub(crate) fn truth(org: &Organization) -> UtilisationTruth {
    let prices = &org.prices;
    let monthly = |hourly: Decimal| (hourly * Decimal::from(HOURS_PER_MONTH)).normalize();
    let planted = PLANTS
        .iter()
        .zip(&org.utilisation_servers)
        .filter_map(|(plant, id)| {
            let s = org.server(id)?;
            let hourly = prices.server_type(&s.commercial_type)?.hourly_price;
            let recommended_hourly = plant.recommended_type.and_then(|t| prices.server_type(t)).map(|t| t.hourly_price);
            let monthly_savings = match plant.recommendation {
                "idle" => Some(monthly(hourly)),
                "downsize" => recommended_hourly.map(|r| monthly(hourly - r)),
                _ => None,
            };
            Some(PlantedUtilisation {
                server_id: s.id.clone(),
                name: s.name.clone(),
                project_id: s.project_id.clone(),
                zone: s.zone.clone(),
                commercial_type: s.commercial_type.clone(),
                recommendation: plant.recommendation,
                recommended_type: plant.recommended_type,
                monthly_cost: monthly(hourly),
                monthly_savings,
            })
        })
        .collect();
    UtilisationTruth { planted }
}

// ---------------------------------------------------------------------------------------------------------------
// Series

/// The two metrics every running server has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Metric {
    Cpu,
    Vcpu,
}

impl Metric {
    pub(crate) const ALL: [Metric; 2] = [Metric::Cpu, Metric::Vcpu];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Metric::Cpu => CPU_METRIC,
            Metric::Vcpu => VCPU_METRIC,
        }
    }
}

/// The metrics of one running server: its labels and its load profile.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub server_id: String,
    pub name: String,
    pub project_id: String,
    pub region: String,
    pub zone: String,
    pub ncpus: u32,
    /// The start of each life of the CPU counter (ms since the epoch), ascending: boot, then the restart if any.
    pub lives: Vec<i64>,
    pub base: f64,
    pub amplitude: f64,
    /// In [0, one day), ms.
    pub phase_ms: i64,
    jitter_key: u64,
}

/// The region of a zone (`fr-par-1` → `fr-par`).
pub(crate) fn region_of(zone: &str) -> &str {
    zone.rsplit_once('-').map_or(zone, |(region, _)| region)
}

/// The metrics clock for a billing clock date: that date at 04:00 UTC, in ms since the epoch.
pub(crate) fn metrics_clock_ms(billing_today: NaiveDate) -> i64 {
    billing_today.and_time(NaiveTime::from_hms_opt(4, 0, 0).unwrap_or_default()).and_utc().timestamp_millis()
}

/// A uniform draw in [0, 1) from a hash.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn midnight_ms(day: NaiveDate) -> i64 {
    day.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

/// The series of every running server of `org`, ordered as Prometheus orders them (by `az`, `project_id`,
/// `region`, `resource_id`, `resource_name`).
pub(crate) fn build_series(org: &Organization, seed: u64) -> Vec<Series> {
    let prices = PriceBook::default();
    let history_start = midnight_ms(org.today.checked_sub_days(Days::new(METRICS_HISTORY_DAYS)).unwrap_or(org.today));
    let mut series: Vec<Series> = org
        .servers
        .iter()
        .filter(|s| s.state == "running")
        .filter_map(|s| {
            let ncpus = prices.server_type(&s.commercial_type)?.ncpus;
            let plant = org.utilisation_servers.iter().position(|id| *id == s.id).map(|i| PLANTS[i]);
            let h = splitmix64(seed ^ fnv1a("utilisation-profile") ^ fnv1a(&s.id));
            let (h2, h3) = (splitmix64(h), splitmix64(h ^ 0x5bd1_e995));
            let (base, amplitude) =
                plant.and_then(|p| p.load).unwrap_or_else(|| (0.30 + 0.10 * unit(h), 0.30 + 0.15 * unit(h2)));
            let phase_ms = (h3 % DAY_MS as u64) as i64;
            let mut lives = vec![s.creation_date.timestamp_millis().max(history_start)];
            if let Some(days) = plant.and_then(|p| p.restart_days_ago) {
                let day = org.today.checked_sub_days(Days::new(days)).unwrap_or(org.today);
                let reset: DateTime<Utc> =
                    day.and_time(NaiveTime::from_hms_opt(13, 37, 0).unwrap_or_default()).and_utc();
                if reset.timestamp_millis() > lives[0] {
                    lives.push(reset.timestamp_millis());
                }
            }
            Some(Series {
                server_id: s.id.clone(),
                name: s.name.clone(),
                project_id: s.project_id.clone(),
                region: region_of(&s.zone).to_string(),
                zone: s.zone.clone(),
                ncpus,
                lives,
                base,
                amplitude,
                phase_ms,
                jitter_key: splitmix64(seed ^ fnv1a("cpu-jitter") ^ fnv1a(&s.id)),
            })
        })
        .collect();
    series.sort_by(|a, b| {
        (&a.zone, &a.project_id, &a.region, &a.server_id, &a.name).cmp(&(
            &b.zone,
            &b.project_id,
            &b.region,
            &b.server_id,
            &b.name,
        ))
    });
    series
}

impl Series {
    /// The first and last sample times (ms, multiples of 300 s) served at metrics clock `clock_ms`, if any.
    pub(crate) fn sample_range(&self, clock_ms: i64) -> Option<(i64, i64)> {
        let last = clock_ms.div_euclid(SAMPLE_MS) * SAMPLE_MS;
        let oldest = self.lives[0].max(clock_ms - METRICS_RETENTION_DAYS * DAY_MS);
        let first = oldest.div_euclid(SAMPLE_MS) * SAMPLE_MS + if oldest % SAMPLE_MS == 0 { 0 } else { SAMPLE_MS };
        (first <= last).then_some((first, last))
    }

    /// Whether the series has a sample in `[start, end]` (ms) at metrics clock `clock_ms`.
    pub(crate) fn has_sample_in(&self, clock_ms: i64, start: i64, end: i64) -> bool {
        self.sample_range(clock_ms).is_some_and(|(first, last)| {
            let from = start.max(first);
            let to = end.min(last);
            // The first multiple of 300 s at or after `from`.
            let aligned = from.div_euclid(SAMPLE_MS) * SAMPLE_MS + if from % SAMPLE_MS == 0 { 0 } else { SAMPLE_MS };
            aligned <= to
        })
    }

    /// The value of `metric` at sample time `t` (ms, a multiple of 300 s within the series' samples).
    pub(crate) fn value(&self, metric: Metric, t: i64) -> f64 {
        match metric {
            Metric::Vcpu => f64::from(self.ncpus),
            Metric::Cpu => {
                let start = self.lives.iter().rev().find(|l| **l <= t).copied().unwrap_or(self.lives[0]);
                let ncpus = f64::from(self.ncpus);
                let jitter = unit(splitmix64(self.jitter_key ^ t as u64)) * 0.2 * self.base * SAMPLE_SECONDS as f64;
                let raw = ncpus * (self.integral(start, t) + jitter);
                // CPU time is accounted in 10 ms ticks; a 5-minute step is thousands of ticks, so rounding keeps
                // the counter strictly increasing.
                (raw * 100.0).round() / 100.0
            }
        }
    }

    /// `∫_a^b u(t) dt` in seconds (a, b in ms), in closed form.
    fn integral(&self, a: i64, b: i64) -> f64 {
        let period = DAY_MS as f64 / 1000.0;
        let omega = std::f64::consts::TAU / period;
        // The phase angle, reduced modulo a day in integers so that large timestamps lose no precision.
        let angle = |t: i64| omega * ((t - self.phase_ms).rem_euclid(DAY_MS) as f64 / 1000.0);
        let span = (b - a) as f64 / 1000.0;
        let sine = -(angle(b).cos() - angle(a).cos()) / omega;
        self.base * span + self.amplitude / 2.0 * (span + sine)
    }

    /// The utilisation at `t` (ms), as a fraction of all vCPUs.
    #[cfg(test)]
    fn utilisation_at(&self, t: i64) -> f64 {
        let period = DAY_MS as f64 / 1000.0;
        let x = std::f64::consts::TAU / period * ((t - self.phase_ms).rem_euclid(DAY_MS) as f64 / 1000.0);
        self.base + self.amplitude * (1.0 + x.sin()) / 2.0
    }

    /// The label pairs of one of its series, sorted by name as Prometheus sorts them.
    pub(crate) fn labels(&self, metric: Metric) -> [(&'static str, &str); 6] {
        [
            ("__name__", metric.name()),
            ("az", &self.zone),
            ("project_id", &self.project_id),
            ("region", &self.region),
            ("resource_id", &self.server_id),
            ("resource_name", &self.name),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SimConfig {
        SimConfig { today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), ..SimConfig::default() }
    }

    #[test]
    fn the_integral_matches_a_numeric_one() {
        let org = Organization::build(&config());
        let series = build_series(&org, 42);
        let s = &series[3];
        let a = 1_790_000_000_000i64;
        let b = a + 7 * 3_600_000 + 1234;
        let steps = 100_000;
        let dt = (b - a) as f64 / steps as f64;
        let numeric: f64 = (0..steps).map(|i| s.utilisation_at(a + ((i as f64 + 0.5) * dt) as i64) * dt / 1000.0).sum();
        let closed = s.integral(a, b);
        assert!((numeric - closed).abs() < 1e-3 * closed, "{numeric} vs {closed}");
    }

    #[test]
    fn profiles_and_plants() {
        let org = Organization::build(&config());
        let series = build_series(&org, 42);
        assert_eq!(series.len(), org.servers.iter().filter(|s| s.state == "running").count());
        for s in &series {
            if org.utilisation_servers.contains(&s.server_id) {
                continue;
            }
            assert!((0.30..0.40).contains(&s.base) && (0.30..0.45).contains(&s.amplitude), "{s:?}");
        }
        let restarted = series.iter().find(|s| s.name == "util-restarted-web").unwrap();
        assert_eq!(restarted.lives.len(), 2);
        assert_eq!(restarted.lives[1] % 60_000, 0);
        let truth = truth(&org);
        assert_eq!(truth.planted.len(), 5);
        let downsize = &truth.planted[1];
        assert_eq!((downsize.recommendation, downsize.recommended_type), ("downsize", Some("PRO2-XXS")));
        assert_eq!(downsize.monthly_savings, Some(Decimal::new(11972, 2)));
        assert_eq!(truth.planted[0].monthly_savings, Some(truth.planted[0].monthly_cost));
        assert_eq!(downsize.project_id, org.projects[1].id);
    }

    #[test]
    fn samples_follow_the_clock_and_retention() {
        let org = Organization::build(&config());
        let series = build_series(&org, 42);
        let clock = metrics_clock_ms(org.today);
        let canary = series.iter().find(|s| s.name == "util-new-canary").unwrap();
        let (first, last) = canary.sample_range(clock).unwrap();
        assert_eq!(last, clock);
        assert!(first >= canary.lives[0] && first - canary.lives[0] < SAMPLE_MS);
        let old = series.iter().find(|s| s.name == "util-idle-batch").unwrap();
        assert_eq!(old.sample_range(clock).unwrap().0, clock - METRICS_RETENTION_DAYS * DAY_MS);
        assert!(canary.sample_range(clock - 6 * DAY_MS).is_none());
        for s in &series {
            let (first, last) = s.sample_range(clock).unwrap();
            let mut previous = s.value(Metric::Cpu, first);
            let mut drops = 0;
            for t in (first + SAMPLE_MS..=last).step_by(SAMPLE_MS as usize) {
                let v = s.value(Metric::Cpu, t);
                if v <= previous {
                    drops += 1;
                }
                previous = v;
            }
            assert_eq!(drops, s.lives.len() - 1, "{}", s.name);
        }
    }
}
