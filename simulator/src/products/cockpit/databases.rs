//! The Managed Database series: what the "Scaleway Metrics" data source of a database's project and region serves
//! for it, in closed form like the servers' ones.
//!
//! * `rdb_instance_postgresql_node_cpu_seconds_total{mode}` (counter, seconds summed over the node's vCPUs), one
//!   series per `mode` in `idle`, `system`, `user`: with `B(t) = vcpus × (∫ u + j(t))` the busy time of the
//!   database's [`Load`] (the same closed form and jitter as a server's counter), `user = 0.7 B`,
//!   `system = 0.3 B` and `idle = vcpus × (t − boot + J) − B`, `J` being the jitter's bound (so `idle` starts at
//!   zero or above). The CPU utilisation of a 5-minute step, `Δ(user + system) / Δ(idle + user + system)`, is then
//!   the profile's average over the step within ±20 % of `base`, and every counter strictly increases.
//! * `rdb_instance_postgresql_pg_stat_database_numbackends` (gauge): the open connections, from the database's
//!   [`Connections`] profile: `Busy` follows the daily shape of the load (4 at night to about 40 at the peak, plus
//!   0-2), `Few` draws 1-3 per sample, `Never` is always 0.
//!
//! Labels: `__name__`, `mode` (CPU only), `region`, `resource_id` (the database id), `resource_name`. Samples every
//! 300 s over the same history as the servers' (from creation, or `today` − 90 days, to the metrics clock; 31 days
//! kept). Healthy databases peak between 48 % and 60 % every day; the planted ones follow [`DATABASES`].

use super::{Load, history_start, ticks, unit};
use crate::ids::{fnv1a, splitmix64};
use crate::org::Organization;
use crate::products::rdb::{Connections, DATABASES};

pub const DB_CPU_METRIC: &str = "rdb_instance_postgresql_node_cpu_seconds_total";
pub const DB_CONNECTIONS_METRIC: &str = "rdb_instance_postgresql_pg_stat_database_numbackends";

/// The share of busy CPU time spent in user mode; the rest is system time.
const USER_SHARE: f64 = 0.7;

/// The metrics of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DbMetric {
    /// The CPU counter of one `mode`.
    Cpu(&'static str),
    Connections,
}

impl DbMetric {
    /// In the order Prometheus sorts their series: by name, then by `mode`.
    pub(crate) const ALL: [DbMetric; 4] =
        [DbMetric::Cpu("idle"), DbMetric::Cpu("system"), DbMetric::Cpu("user"), DbMetric::Connections];

    pub(crate) fn name(self) -> &'static str {
        match self {
            DbMetric::Cpu(_) => DB_CPU_METRIC,
            DbMetric::Connections => DB_CONNECTIONS_METRIC,
        }
    }
}

/// The metrics of one database: its labels, its load profile and its connections.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DbSeries {
    pub database_id: String,
    pub name: String,
    pub project_id: String,
    pub region: String,
    pub vcpus: u32,
    pub load: Load,
    pub connections: Connections,
    connections_key: u64,
}

/// The series of every database of `org`, ordered as Prometheus orders them (by `region`, `resource_id`,
/// `resource_name`).
pub(crate) fn build_db_series(org: &Organization, seed: u64) -> Vec<DbSeries> {
    let mut series: Vec<DbSeries> = org
        .databases
        .iter()
        .zip(&DATABASES)
        .filter_map(|(d, spec)| {
            let vcpus = org.prices.db_node_type(&d.region, &d.node_type)?.vcpus;
            let h = splitmix64(seed ^ fnv1a("database-profile") ^ fnv1a(&d.id));
            let (base, amplitude) = spec.cpu.unwrap_or_else(|| {
                let base = 0.15 + 0.10 * unit(h);
                let peak = 0.48 + 0.12 * unit(splitmix64(h));
                (base, peak - base)
            });
            let lives = vec![history_start(org.today, d.created_at.timestamp_millis())];
            Some(DbSeries {
                database_id: d.id.clone(),
                name: d.name.clone(),
                project_id: d.project_id.clone(),
                region: d.region.clone(),
                vcpus,
                load: Load::new(seed, &d.id, lives, base, amplitude),
                connections: spec.connections,
                connections_key: splitmix64(seed ^ fnv1a("database-connections") ^ fnv1a(&d.id)),
            })
        })
        .collect();
    series.sort_by(|a, b| (&a.region, &a.database_id, &a.name).cmp(&(&b.region, &b.database_id, &b.name)));
    series
}

impl DbSeries {
    /// The value of `metric` at sample time `t` (ms, a multiple of 300 s within the series' samples).
    pub(crate) fn value(&self, metric: DbMetric, t: i64) -> f64 {
        let vcpus = f64::from(self.vcpus);
        match metric {
            DbMetric::Cpu(mode) => {
                let busy = vcpus * self.load.busy(t);
                match mode {
                    "user" => ticks(USER_SHARE * busy),
                    "system" => ticks((1.0 - USER_SHARE) * busy),
                    _ => {
                        let elapsed = (t - self.load.life_start(t)) as f64 / 1000.0;
                        let jitter_bound = 0.2 * self.load.base * super::SAMPLE_SECONDS as f64;
                        ticks(vcpus * (elapsed + jitter_bound) - busy)
                    }
                }
            }
            DbMetric::Connections => {
                let draw = splitmix64(self.connections_key ^ t as u64) % 3;
                match self.connections {
                    Connections::Never => 0.0,
                    Connections::Few => (1 + draw) as f64,
                    Connections::Busy => 4.0 + (36.0 * self.load.shape(t)).round() + draw as f64,
                }
            }
        }
    }

    /// The label pairs of one of its series, sorted by name as Prometheus sorts them.
    pub(crate) fn labels(&self, metric: DbMetric) -> Vec<(&'static str, &str)> {
        let mut labels = vec![("__name__", metric.name())];
        if let DbMetric::Cpu(mode) = metric {
            labels.push(("mode", mode));
        }
        labels.extend([
            ("region", self.region.as_str()),
            ("resource_id", &self.database_id),
            ("resource_name", &self.name),
        ]);
        labels
    }

    /// The CPU utilisation of the 5-minute step ending at sample time `t`, computed from the served counters as a
    /// collector would: `Δ(user + system) / Δ(idle + user + system)`.
    #[cfg(test)]
    pub(crate) fn step_utilisation(&self, t: i64) -> f64 {
        let at = |t| {
            let [idle, system, user] = ["idle", "system", "user"].map(|m| self.value(DbMetric::Cpu(m), t));
            (user + system, idle + user + system)
        };
        let ((busy0, all0), (busy1, all1)) = (at(t - super::SAMPLE_MS), at(t));
        (busy1 - busy0) / (all1 - all0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::NaiveDate;

    use super::super::{DAY_MS, SAMPLE_MS, metrics_clock_ms};
    use super::*;
    use crate::config::SimConfig;

    fn org() -> Organization {
        Organization::build(&SimConfig {
            today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            ..SimConfig::default()
        })
    }

    /// Per complete UTC day of samples: (max step utilisation, min connections, max connections).
    fn days(s: &DbSeries, clock: i64) -> BTreeMap<i64, (f64, f64, f64)> {
        let (first, last) = s.load.sample_range(clock).unwrap();
        let mut out: BTreeMap<i64, (f64, f64, f64)> = BTreeMap::new();
        for t in (first + SAMPLE_MS..=last).step_by(SAMPLE_MS as usize) {
            let day = (t - 1).div_euclid(DAY_MS);
            let u = s.step_utilisation(t);
            let c = s.value(DbMetric::Connections, t);
            let e = out.entry(day).or_insert((0.0, f64::MAX, 0.0));
            *e = (e.0.max(u), e.1.min(c), e.2.max(c));
        }
        // Only the days whose 288 steps were all served.
        let complete = |day: &i64| day * DAY_MS >= first && (day + 1) * DAY_MS <= last;
        out.into_iter().filter(|(day, _)| complete(day)).collect()
    }

    #[test]
    fn counters_increase_and_utilisation_follows_the_profile() {
        let org = org();
        let series = build_db_series(&org, 42);
        assert_eq!(series.len(), 4);
        let clock = metrics_clock_ms(org.today);
        for s in &series {
            let (first, last) = s.load.sample_range(clock).unwrap();
            for mode in ["idle", "system", "user"] {
                let mut previous = s.value(DbMetric::Cpu(mode), first);
                assert!(previous >= 0.0, "{} {mode}", s.name);
                for t in (first + SAMPLE_MS..=last).step_by(SAMPLE_MS as usize) {
                    let v = s.value(DbMetric::Cpu(mode), t);
                    assert!(v > previous, "{} {mode} at {t}", s.name);
                    previous = v;
                }
            }
            for t in (first + SAMPLE_MS..=last).step_by(SAMPLE_MS as usize * 7) {
                let u = s.step_utilisation(t);
                let profile = s.load.base + s.load.amplitude * s.load.shape(t - SAMPLE_MS / 2);
                assert!((u - profile).abs() <= 0.2 * s.load.base + 0.01, "{}: {u} vs {profile}", s.name);
            }
        }
    }

    #[test]
    fn planted_databases_have_their_properties_every_day() {
        let org = org();
        let clock = metrics_clock_ms(org.today);
        let series = build_db_series(&org, 42);
        let by_name = |name: &str| series.iter().find(|s| s.name == name).unwrap();
        for name in ["db-main", "db-orders"] {
            let days = days(by_name(name), clock);
            assert!(days.len() >= 30, "{name}");
            for (day, (peak, least, most)) in days {
                assert!((0.40..=0.70).contains(&peak), "{name} day {day}: peak {peak}");
                assert!(least >= 4.0 && most >= 30.0, "{name} day {day}: {least}..{most} connections");
            }
        }
        let archive = days(by_name("db-archive-2023"), clock);
        assert!(archive.len() >= 30);
        for (day, (peak, least, most)) in archive {
            assert!(peak <= 0.08, "archive day {day}: {peak}");
            assert!(least >= 1.0 && most <= 3.0, "archive day {day}");
        }
        let orphan = days(by_name("db-staging-orphan"), clock);
        assert!(orphan.len() >= 30);
        for (day, (peak, _, most)) in orphan {
            assert!((0.30..=0.40).contains(&peak), "orphan day {day}: {peak}");
            assert_eq!(most, 0.0, "orphan day {day}");
        }
    }

    #[test]
    fn labels_are_sorted_and_name_the_database() {
        let org = org();
        let series = build_db_series(&org, 42);
        let s = &series[0];
        for metric in DbMetric::ALL {
            let labels = s.labels(metric);
            let names: Vec<&str> = labels.iter().map(|(n, _)| *n).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted);
            assert!(labels.contains(&("resource_id", s.database_id.as_str())));
        }
        assert_eq!(s.labels(DbMetric::Cpu("user"))[1], ("mode", "user"));
    }
}
