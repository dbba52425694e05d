//! Cockpit v1 (metrics): the data sources and tokens of every project × region (control plane), and the
//! Prometheus API of each "Scaleway Metrics" data source (data plane), serving the CPU series of the running
//! servers and Kapsule nodes and the CPU and connection series of the managed databases.
//!
//! * this file: the model: the planted utilisation cases ([`PLANTS`]), the load profile every series follows
//!   ([`Load`]), the closed form of a server's series ([`Series`]), one served series of any kind ([`Line`]), and
//!   [`utilisation()`], the oracle of the rightsizing findings;
//! * [`databases`]: the databases' series, whose profiles come from the Managed Database table;
//! * [`promql`]: the little of PromQL and of the Prometheus HTTP parameters the data plane understands (vector
//!   selectors, RE2-like regular expressions, timestamps and durations);
//! * [`api`]: the handlers, the tokens and the served-points counter.
//!
//! # Series
//!
//! Every running server has a load profile: a utilisation (fraction of all its vCPUs)
//! `u(t) = base + amplitude × (1 + sin(2π (t − phase) / 86400)) / 2`. Healthy servers draw `base` in [0.30, 0.40],
//! `amplitude` in [0.30, 0.45] and `phase` from the seed and their id; the [`PLANTS`] fix theirs. Non-running
//! servers have no metrics. Every Kapsule node is measured as a running server, by its Instance's id (the one in
//! its `provider_id`) and its node name, with its pool's fixed load (the Kapsule table, see
//! [`crate::products::k8s`]) from the node's creation; so is every
//! scaling group's member, with its group's member load (see [`crate::products::autoscaling`]). Only
//! `util-memory-bound-app` also has a memory series ([`MEMORY_METRIC`]).
//!
//! Samples exist every 300 s, at Unix times that are multiples of 300, from `boot` (the creation date, or `today`
//! − 90 days at midnight if later) up to the **metrics clock** (the billing clock's date at 04:00 UTC), and are
//! kept 31 days before it. At a sample time `t`, `instance_server_cpu_seconds_total` is
//! `ncpus × ∫_{start}^{t} u + j(t)`, `start` being the beginning of the current life (boot, or the restart of
//! `util-restarted-web`) and `j(t)` a deterministic jitter in `[0, 0.2 × base × 300 × ncpus)`; so the counter
//! strictly increases within a life, drops once at a restart, and the 5-minute utilisation derived from it is
//! within ±20 % of `base` of the profile. `instance_server_vcpu_count` is `ncpus`. Every value is a closed form:
//! serving a point costs O(1). A database's series follow the same [`Load`] over the same sample times (see
//! [`databases`]); a data source serves the servers' series first, then the databases', each metric's series in
//! label order, as Prometheus sorts a result.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::SimConfig;
use crate::ids::{fnv1a, splitmix64};
use crate::org::Organization;
use crate::prices::{HOURS_PER_MONTH, PriceBook};
use crate::products::k8s::CLUSTERS;

pub(crate) mod api;
pub(crate) mod databases;
pub(crate) mod promql;

pub use databases::{DB_CONNECTIONS_METRIC, DB_CPU_METRIC};
pub(crate) use databases::{DbMetric, DbSeries};

/// The regions of the Cockpit API.
pub const COCKPIT_REGIONS: [&str; 3] = ["fr-par", "nl-ams", "pl-waw"];

pub const CPU_METRIC: &str = "instance_server_cpu_seconds_total";
pub const VCPU_METRIC: &str = "instance_server_vcpu_count";
/// Bytes of memory in use: a name no primary source confirms (a third-party runbook lists it), served for the
/// plants that have a memory profile only.
pub const MEMORY_METRIC: &str = "instance_server_memory_used";

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
    /// `(base, amplitude)` of its memory in use, as fractions of its type's RAM, served as
    /// [`MEMORY_METRIC`]; `None`: no memory series (as for every healthy server).
    pub memory: Option<(f64, f64)>,
    pub recommendation: &'static str,
    pub recommended_type: Option<&'static str>,
}

/// The planted utilisation cases, in the order of [`UtilisationTruth::planted`].
pub(crate) const PLANTS: [Plant; 6] = [
    Plant {
        name: "util-idle-batch",
        role: "worker",
        commercial_type: "GP1-XS",
        project: 0,
        zone: "fr-par-1",
        created_days_ago: 200,
        load: Some((0.01, 0.02)),
        restart_days_ago: None,
        memory: None,
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
        memory: None,
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
        memory: None,
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
        memory: None,
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
        memory: None,
        recommendation: "ok",
        recommended_type: None,
    },
    // Its CPU alone would fit DEV1-S (2 vCPUs), but its memory (up to 36 % of 8 GiB, 2.9 GiB) does not fit
    // DEV1-S's 2 GiB: DEV1-M's 4 GiB hold it.
    Plant {
        name: "util-memory-bound-app",
        role: "api",
        commercial_type: "DEV1-L",
        project: 0,
        zone: "fr-par-1",
        created_days_ago: 200,
        load: Some((0.04, 0.08)),
        restart_days_ago: None,
        memory: Some((0.30, 0.06)),
        recommendation: "downsize",
        recommended_type: Some("DEV1-M"),
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
/// `util-new-canary`, `util-restarted-web` and `util-memory-bound-app`, in that order.
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

/// The metrics of a running server: CPU and vCPUs for every one, memory for those with a memory profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Metric {
    Cpu,
    Memory,
    Vcpu,
}

impl Metric {
    /// In the order of their names, as Prometheus orders series.
    pub(crate) const ALL: [Metric; 3] = [Metric::Cpu, Metric::Memory, Metric::Vcpu];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Metric::Cpu => CPU_METRIC,
            Metric::Memory => MEMORY_METRIC,
            Metric::Vcpu => VCPU_METRIC,
        }
    }
}

/// A load profile and the sample times it is served at: what a server's and a database's series share.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Load {
    /// The start of each life of the counters (ms since the epoch), ascending: boot, then the restart if any.
    pub lives: Vec<i64>,
    pub base: f64,
    pub amplitude: f64,
    /// In [0, one day), ms.
    pub phase_ms: i64,
    jitter_key: u64,
}

impl Load {
    /// A profile whose phase and jitter are drawn from `seed` and the resource id.
    pub(crate) fn new(seed: u64, resource_id: &str, lives: Vec<i64>, base: f64, amplitude: f64) -> Load {
        let h = splitmix64(seed ^ fnv1a("utilisation-profile") ^ fnv1a(resource_id));
        let h3 = splitmix64(h ^ 0x5bd1_e995);
        Load {
            lives,
            base,
            amplitude,
            phase_ms: (h3 % DAY_MS as u64) as i64,
            jitter_key: splitmix64(seed ^ fnv1a("cpu-jitter") ^ fnv1a(resource_id)),
        }
    }

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

    /// The start of the life `t` (ms) belongs to.
    pub(crate) fn life_start(&self, t: i64) -> i64 {
        self.lives.iter().rev().find(|l| **l <= t).copied().unwrap_or(self.lives[0])
    }

    /// Busy seconds per vCPU since the start of the current life at sample time `t`: `∫ u` plus a deterministic
    /// jitter in `[0, 0.2 × base × 300)`, so a 5-minute step stays within ±20 % of `base` of the profile's average.
    pub(crate) fn busy(&self, t: i64) -> f64 {
        let jitter = unit(splitmix64(self.jitter_key ^ t as u64)) * 0.2 * self.base * SAMPLE_SECONDS as f64;
        self.integral(self.life_start(t), t) + jitter
    }

    /// `(1 + sin(2π (t − phase) / 86400)) / 2` at `t` (ms): the daily shape, 0 at night, 1 at the peak.
    pub(crate) fn shape(&self, t: i64) -> f64 {
        let x = std::f64::consts::TAU * ((t - self.phase_ms).rem_euclid(DAY_MS) as f64 / DAY_MS as f64);
        (1.0 + x.sin()) / 2.0
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
        self.base + self.amplitude * self.shape(t)
    }
}

/// CPU time is accounted in 10 ms ticks; a 5-minute step is thousands of ticks, so rounding keeps the counters
/// strictly increasing.
pub(crate) fn ticks(seconds: f64) -> f64 {
    (seconds * 100.0).round() / 100.0
}

/// The metrics of one running server (or Kapsule node): its labels and its load profile.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    /// The Instance id (`resource_id`): a Kapsule node's is the Instance of its `provider_id`.
    pub server_id: String,
    pub name: String,
    pub project_id: String,
    pub region: String,
    pub zone: String,
    pub ncpus: u32,
    /// Bytes of RAM of its type.
    pub ram: u64,
    /// `(base, amplitude)` of its memory in use as fractions of `ram`, following the load's daily shape; `None`:
    /// no memory series.
    pub memory: Option<(f64, f64)>,
    pub load: Load,
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
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn midnight_ms(day: NaiveDate) -> i64 {
    day.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

/// The first sample a resource created at `created_ms` can have: nothing is kept from before `today` − 90 days.
pub(crate) fn history_start(today: NaiveDate, created_ms: i64) -> i64 {
    created_ms.max(midnight_ms(today.checked_sub_days(Days::new(METRICS_HISTORY_DAYS)).unwrap_or(today)))
}

/// The series of every running server and every Kapsule node of `org`, ordered as Prometheus orders them (by `az`,
/// `project_id`, `region`, `resource_id`, `resource_name`).
pub(crate) fn build_series(org: &Organization, seed: u64) -> Vec<Series> {
    let prices = PriceBook::default();
    let mut series: Vec<Series> = org
        .servers
        .iter()
        .filter(|s| s.state == "running")
        .filter_map(|s| {
            let server_type = prices.server_type(&s.commercial_type)?;
            let plant = org.utilisation_servers.iter().position(|id| *id == s.id).map(|i| PLANTS[i]);
            let h = splitmix64(seed ^ fnv1a("utilisation-profile") ^ fnv1a(&s.id));
            let h2 = splitmix64(h);
            let (base, amplitude) =
                plant.and_then(|p| p.load).unwrap_or_else(|| (0.30 + 0.10 * unit(h), 0.30 + 0.15 * unit(h2)));
            let mut lives = vec![history_start(org.today, s.creation_date.timestamp_millis())];
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
                ncpus: server_type.ncpus,
                ram: server_type.ram,
                memory: plant.and_then(|p| p.memory),
                load: Load::new(seed, &s.id, lives, base, amplitude),
            })
        })
        .collect();
    series.extend(kapsule_series(org, seed, &prices));
    series.extend(scaling_series(org, seed, &prices));
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

/// The series of every Kapsule node, as of a running server: labelled with the node's Instance id and name, with
/// its pool's load from the node's creation.
fn kapsule_series(org: &Organization, seed: u64, prices: &PriceBook) -> Vec<Series> {
    let mut series = Vec::new();
    for (cluster, spec) in org.kapsule_clusters.iter().zip(&CLUSTERS) {
        for (pool, pool_spec) in cluster.pools.iter().zip(spec.pools) {
            let Some(server_type) = prices.server_type(&pool.commercial_type) else { continue };
            let (base, amplitude) = pool_spec.load;
            for node in &pool.nodes {
                let lives = vec![history_start(org.today, node.created_at.timestamp_millis())];
                series.push(Series {
                    server_id: node.instance_id.clone(),
                    name: node.name.clone(),
                    project_id: cluster.project_id.clone(),
                    region: cluster.region.clone(),
                    zone: pool.zone.clone(),
                    ncpus: server_type.ncpus,
                    ram: server_type.ram,
                    memory: None,
                    load: Load::new(seed, &node.instance_id, lives, base, amplitude),
                });
            }
        }
    }
    series
}

/// The series of every scaling group's members, as of a running server of the group's template type, with the
/// group's member load.
fn scaling_series(org: &Organization, seed: u64, prices: &PriceBook) -> Vec<Series> {
    let mut series = Vec::new();
    for group in &org.scaling_groups {
        let Some(server_type) = prices.server_type(&group.template.commercial_type) else { continue };
        let (base, amplitude) = group.member_load;
        // The shape peaks a quarter of a day after the phase.
        let phase_ms = (group.member_peak_hour - 6).rem_euclid(24) * 3_600_000;
        for member in &group.members {
            let lives = vec![history_start(org.today, member.created_at.timestamp_millis())];
            series.push(Series {
                server_id: member.server_id.clone(),
                name: member.name.clone(),
                project_id: group.project_id.clone(),
                region: region_of(&group.zone).to_string(),
                zone: group.zone.clone(),
                ncpus: server_type.ncpus,
                ram: server_type.ram,
                memory: None,
                load: Load { phase_ms, ..Load::new(seed, &member.server_id, lives, base, amplitude) },
            });
        }
    }
    series
}

impl Series {
    /// The value of `metric` at sample time `t` (ms, a multiple of 300 s within the series' samples).
    pub(crate) fn value(&self, metric: Metric, t: i64) -> f64 {
        match metric {
            Metric::Vcpu => f64::from(self.ncpus),
            Metric::Cpu => ticks(f64::from(self.ncpus) * self.load.busy(t)),
            Metric::Memory => {
                let (base, amplitude) = self.memory.unwrap_or_default();
                (self.ram as f64 * (base + amplitude * self.load.shape(t))).round()
            }
        }
    }

    /// Whether it has a series of `metric`.
    pub(crate) fn has(&self, metric: Metric) -> bool {
        metric != Metric::Memory || self.memory.is_some()
    }

    /// The label pairs of one of its series, sorted by name as Prometheus sorts them.
    pub(crate) fn labels(&self, metric: Metric) -> Vec<(&'static str, &str)> {
        vec![
            ("__name__", metric.name()),
            ("az", &self.zone),
            ("project_id", &self.project_id),
            ("region", &self.region),
            ("resource_id", &self.server_id),
            ("resource_name", &self.name),
        ]
    }
}

/// One served time series: a server's or a database's, for one of its metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Line<'a> {
    Server(&'a Series, Metric),
    Database(&'a DbSeries, DbMetric),
}

impl<'a> Line<'a> {
    /// Every series of these servers and databases, ordered as Prometheus orders them: by metric name, then by the
    /// other labels (the inputs are each sorted already).
    pub(crate) fn all(servers: &[&'a Series], databases: &[&'a DbSeries]) -> Vec<Line<'a>> {
        let servers = Metric::ALL
            .into_iter()
            .flat_map(|m| servers.iter().filter(move |s| s.has(m)).map(move |s| Line::Server(s, m)));
        let databases = DbMetric::ALL.into_iter().flat_map(|m| databases.iter().map(move |d| Line::Database(d, m)));
        servers.chain(databases).collect()
    }

    pub(crate) fn labels(&self) -> Vec<(&'static str, &'a str)> {
        match *self {
            Line::Server(s, m) => s.labels(m),
            Line::Database(d, m) => d.labels(m),
        }
    }

    pub(crate) fn load(&self) -> &'a Load {
        match *self {
            Line::Server(s, _) => &s.load,
            Line::Database(d, _) => &d.load,
        }
    }

    /// The value at sample time `t` (ms, a multiple of 300 s within the series' samples).
    pub(crate) fn value(&self, t: i64) -> f64 {
        match *self {
            Line::Server(s, m) => s.value(m, t),
            Line::Database(d, m) => d.value(m, t),
        }
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
        let numeric: f64 =
            (0..steps).map(|i| s.load.utilisation_at(a + ((i as f64 + 0.5) * dt) as i64) * dt / 1000.0).sum();
        let closed = s.load.integral(a, b);
        assert!((numeric - closed).abs() < 1e-3 * closed, "{numeric} vs {closed}");
    }

    #[test]
    fn profiles_and_plants() {
        let org = Organization::build(&config());
        let series = build_series(&org, 42);
        let nodes: Vec<&str> = org
            .kapsule_clusters
            .iter()
            .flat_map(|c| &c.pools)
            .flat_map(|p| &p.nodes)
            .map(|n| n.instance_id.as_str())
            .collect();
        assert_eq!(nodes.len(), 11);
        let members: Vec<&str> =
            org.scaling_groups.iter().flat_map(|g| &g.members).map(|m| m.server_id.as_str()).collect();
        assert_eq!(members.len(), 8);
        let running = org.servers.iter().filter(|s| s.state == "running").count();
        assert_eq!(series.len(), running + nodes.len() + members.len());
        for s in &series {
            let id = s.server_id.as_str();
            if org.utilisation_servers.contains(&s.server_id) || nodes.contains(&id) || members.contains(&id) {
                continue;
            }
            assert!((0.30..0.40).contains(&s.load.base) && (0.30..0.45).contains(&s.load.amplitude), "{s:?}");
        }
        let restarted = series.iter().find(|s| s.name == "util-restarted-web").unwrap();
        assert_eq!(restarted.load.lives.len(), 2);
        assert_eq!(restarted.load.lives[1] % 60_000, 0);
        let truth = truth(&org);
        assert_eq!(truth.planted.len(), 6);
        let memory_bound = &truth.planted[5];
        assert_eq!((memory_bound.recommendation, memory_bound.recommended_type), ("downsize", Some("DEV1-M")));
        // (0.042 - 0.0198) x 730.
        assert_eq!(memory_bound.monthly_savings, Some(Decimal::new(16206, 3)));
        let with_memory: Vec<&str> = series.iter().filter(|s| s.has(Metric::Memory)).map(|s| s.name.as_str()).collect();
        assert_eq!(with_memory, ["util-memory-bound-app"]);
        let s = series.iter().find(|s| s.memory.is_some()).unwrap();
        let gib = 1024.0 * 1024.0 * 1024.0;
        let peak = (0..288).map(|i| s.value(Metric::Memory, 1_790_000_100_000 + i * SAMPLE_MS)).fold(0.0, f64::max);
        assert!(peak > 2.0 * gib && peak < 4.0 * gib, "{peak}");
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
        let (first, last) = canary.load.sample_range(clock).unwrap();
        assert_eq!(last, clock);
        assert!(first >= canary.load.lives[0] && first - canary.load.lives[0] < SAMPLE_MS);
        let old = series.iter().find(|s| s.name == "util-idle-batch").unwrap();
        assert_eq!(old.load.sample_range(clock).unwrap().0, clock - METRICS_RETENTION_DAYS * DAY_MS);
        assert!(canary.load.sample_range(clock - 6 * DAY_MS).is_none());
        for s in &series {
            let (first, last) = s.load.sample_range(clock).unwrap();
            let mut previous = s.value(Metric::Cpu, first);
            let mut drops = 0;
            for t in (first + SAMPLE_MS..=last).step_by(SAMPLE_MS as usize) {
                let v = s.value(Metric::Cpu, t);
                if v <= previous {
                    drops += 1;
                }
                previous = v;
            }
            assert_eq!(drops, s.load.lives.len() - 1, "{}", s.name);
        }
    }
}
