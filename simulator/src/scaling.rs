//! The oracle of a scaling-groups report: every Autoscaling group with its bounds, its size, the events the API
//! serves counted by kind, its flaps, and what it costs now.
//!
//! A **flap** is two consecutive scale events of the scaler (ordered by time; other events do not break the pair)
//! of opposite direction less than `max(3 × cooldown, 15 min)` apart; it belongs to the UTC day of its second event.
//! A group is **flapping** when some day holds 3 flaps or more. The cost is `current_size` × the hourly price of the
//! template's commercial type in the group's zone (the price book the Instance `products/servers` list serves) ×
//! 730. **CPU before** a direction's scale events: for each such event, the members' CPU seconds used over their
//! CPU seconds available in the whole UTC hour before the event's hour (5-minute intervals that end in it, as
//! Cockpit serves their counters), averaged over the events, in percent. Everything is derived from the model's
//! events and served series by those rules, not from the table's intent.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::SimConfig;
use crate::org::Organization;
use crate::prices::{INSTANCE_ZONES, hourly_to_monthly};
use crate::products::autoscaling::{ScalingEvent, ScalingGroup};
use crate::products::cockpit::{Metric, SAMPLE_SECONDS, Series, build_series, metrics_clock_ms};

/// The shortest window (seconds) within which a reversal counts as a flap, whatever the cooldown.
pub const FLAP_FLOOR_SECONDS: u64 = 15 * 60;
/// How many times a cooldown a reversal must wait not to count as a flap.
pub const FLAP_COOLDOWNS: u64 = 3;
/// Flaps on one UTC day that make a group flapping.
pub const FLAPPING_DAILY_FLAPS: u32 = 3;

/// One scaling group as a report must describe it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalingGroupTruth {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub zone: String,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub cooldown_seconds: u64,
    pub current_size: u32,
    /// The template's commercial type.
    pub commercial_type: String,
    pub scale_ups: u32,
    pub scale_downs: u32,
    /// Events that are not a scaler's scale up or down.
    pub other_events: u32,
    pub flaps: u32,
    pub flapping: bool,
    pub monthly_cost: Decimal,
    /// The members' CPU in the hour before its scale-ups (percent, unrounded); `None` without such an event.
    pub cpu_before_scale_ups_percent: Option<f64>,
    /// The same before its scale-downs.
    pub cpu_before_scale_downs_percent: Option<f64>,
}

/// What a scaling-groups report must find for a configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalingTruth {
    /// `web-asg` (healthy), `batch-asg` (flapping), `api-asg` (at its maximum), in that order.
    pub groups: Vec<ScalingGroupTruth>,
}

impl ScalingTruth {
    pub fn group(&self, name: &str) -> Option<&ScalingGroupTruth> {
        self.groups.iter().find(|g| g.name == name)
    }
}

/// The scaling-groups oracle for `config`.
pub fn scaling(config: &SimConfig) -> ScalingTruth {
    truth(&Organization::build(config), config.seed)
}

pub(crate) fn truth(org: &Organization, seed: u64) -> ScalingTruth {
    let series = build_series(org, seed);
    let clock = metrics_clock_ms(org.today);
    let groups = org
        .scaling_groups
        .iter()
        .filter_map(|g| {
            // An unpriced type would be a bug in the tables; the oracle then says nothing rather than a wrong cost.
            let hourly = INSTANCE_ZONES
                .contains(&g.zone.as_str())
                .then(|| org.prices.server_type(&g.template.commercial_type))
                .flatten()?
                .hourly_price;
            let count = |d: i8| g.events.iter().filter(|e| e.direction() == Some(d)).count() as u32;
            let (scale_ups, scale_downs) = (count(1), count(-1));
            let by_day = flaps_by_day(g);
            Some(ScalingGroupTruth {
                id: g.id.clone(),
                name: g.name.clone(),
                project_id: g.project_id.clone(),
                zone: g.zone.clone(),
                min_replicas: g.min_replicas,
                max_replicas: g.max_replicas,
                cooldown_seconds: g.cooldown_seconds,
                current_size: g.current_size,
                commercial_type: g.template.commercial_type.clone(),
                scale_ups,
                scale_downs,
                other_events: g.events.len() as u32 - scale_ups - scale_downs,
                flaps: by_day.values().sum(),
                flapping: by_day.values().any(|&n| n >= FLAPPING_DAILY_FLAPS),
                monthly_cost: (hourly_to_monthly(hourly) * Decimal::from(g.current_size)).normalize(),
                cpu_before_scale_ups_percent: cpu_before(g, &series, clock, 1),
                cpu_before_scale_downs_percent: cpu_before(g, &series, clock, -1),
            })
        })
        .collect();
    ScalingTruth { groups }
}

/// The members' CPU in the hour before each of the group's scale events of `direction`, averaged over those events,
/// in percent; `None` without such an event (or without a member's sample in those hours).
fn cpu_before(g: &ScalingGroup, series: &[Series], clock_ms: i64, direction: i8) -> Option<f64> {
    const HOUR_MS: i64 = 3_600_000;
    let step = SAMPLE_SECONDS * 1000;
    let members: Vec<&Series> =
        g.members.iter().filter_map(|m| series.iter().find(|s| s.server_id == m.server_id)).collect();
    let per_event: Vec<f64> = g
        .events
        .iter()
        .filter(|e| e.direction() == Some(direction))
        .filter_map(|e| {
            let hour = e.created_at.timestamp_millis().div_euclid(HOUR_MS) * HOUR_MS - HOUR_MS;
            let (mut used, mut available) = (0.0, 0.0);
            for s in &members {
                let Some((first, last)) = s.load.sample_range(clock_ms) else { continue };
                for t in (hour..hour + HOUR_MS).step_by(step as usize).filter(|t| t - step >= first && *t <= last) {
                    used += s.value(Metric::Cpu, t) - s.value(Metric::Cpu, t - step);
                    available += SAMPLE_SECONDS as f64 * s.value(Metric::Vcpu, t);
                }
            }
            (available > 0.0).then(|| used / available)
        })
        .collect();
    (!per_event.is_empty()).then(|| 100.0 * per_event.iter().sum::<f64>() / per_event.len() as f64)
}

/// The flaps of a group, by the UTC day of their second event.
pub(crate) fn flaps_by_day(g: &ScalingGroup) -> BTreeMap<NaiveDate, u32> {
    let window = (FLAP_COOLDOWNS * g.cooldown_seconds).max(FLAP_FLOOR_SECONDS) as i64;
    let mut scale: Vec<(&ScalingEvent, i8)> = g.events.iter().filter_map(|e| e.direction().map(|d| (e, d))).collect();
    scale.sort_by_key(|(e, _)| e.created_at);
    let mut days = BTreeMap::new();
    for pair in scale.windows(2) {
        let ((a, da), (b, db)) = (pair[0], pair[1]);
        let apart = (b.created_at - a.created_at).num_microseconds().unwrap_or(i64::MAX);
        if da != db && apart < window * 1_000_000 {
            *days.entry(b.created_at.date_naive()).or_insert(0) += 1;
        }
    }
    days
}

#[cfg(test)]
mod tests {
    use chrono::Days;

    use super::*;
    use crate::products::autoscaling::FLAP_DAYS_AGO;

    fn config() -> SimConfig {
        SimConfig { today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), ..SimConfig::default() }
    }

    #[test]
    fn the_planted_groups() {
        let config = config();
        let org = Organization::build(&config);
        let truth = scaling(&config);
        let names: Vec<&str> = truth.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["web-asg", "batch-asg", "api-asg"]);
        let web = truth.group("web-asg").unwrap();
        assert_eq!((web.scale_ups, web.scale_downs, web.other_events, web.flaps, web.flapping), (28, 28, 2, 0, false));
        assert_eq!(web.project_id, org.projects[0].id);
        assert_eq!(web.monthly_cost.to_string(), "120.45"); // 3 × 0.055 × 730
        let batch = truth.group("batch-asg").unwrap();
        assert!(batch.flapping && batch.flaps >= 7, "{batch:?}");
        assert_eq!((batch.flaps, batch.scale_ups, batch.scale_downs, batch.other_events), (7, 8, 8, 1));
        assert_eq!(batch.project_id, org.projects[1].id);
        assert_eq!(batch.monthly_cost.to_string(), "28.908"); // 2 × 0.0198 × 730
        let by_day = flaps_by_day(&org.scaling_groups[1]);
        assert_eq!(by_day.into_iter().collect::<Vec<_>>(), [(config.today - Days::new(FLAP_DAYS_AGO), 7)]);
        let api = truth.group("api-asg").unwrap();
        assert_eq!(api.current_size, api.max_replicas);
        assert_eq!((api.scale_ups, api.scale_downs, api.other_events, api.flaps, api.flapping), (3, 0, 0, 0, false));
        assert_eq!(api.monthly_cost.to_string(), "479.61"); // 3 × 0.219 × 730
        // web-asg's members are hot before its scale-ups and cool before its scale-downs; batch-asg's sit near 50 %
        // either way (its events follow noise); api-asg's are hot (the jitter adds up to 20 % of the base).
        let before = |g: &ScalingGroupTruth| (g.cpu_before_scale_ups_percent, g.cpu_before_scale_downs_percent);
        let within = |v: Option<f64>, lo: f64, hi: f64| v.is_some_and(|v| v > lo && v < hi);
        assert!(within(before(web).0, 60.0, 80.0) && within(before(web).1, 25.0, 45.0), "{web:?}");
        assert!(within(before(batch).0, 45.0, 60.0) && within(before(batch).1, 45.0, 60.0), "{batch:?}");
        assert!(within(before(api).0, 75.0, 95.0) && before(api).1.is_none(), "{api:?}");
        assert!(org.scaling_groups.iter().all(|g| g.members.len() == g.current_size as usize));
    }

    #[test]
    fn flaps_follow_the_rule() {
        let mut g = Organization::build(&config()).scaling_groups[0].clone();
        assert!(flaps_by_day(&g).is_empty());
        // A reversal just under 3 × 300 s is a flap; at exactly 15 minutes it is not.
        let up = g.events.iter().position(|e| e.direction() == Some(1)).unwrap();
        let down = g.events.iter().position(|e| e.direction() == Some(-1)).unwrap();
        g.events[down].created_at = g.events[up].created_at + chrono::Duration::seconds(899);
        assert_eq!(flaps_by_day(&g).values().sum::<u32>(), 1);
        g.events[down].created_at = g.events[up].created_at + chrono::Duration::seconds(900);
        assert!(flaps_by_day(&g).is_empty());
    }

    #[test]
    fn ids_depend_on_the_seed_only() {
        let a = scaling(&SimConfig { servers: 0, projects: 2, ..config() });
        let b = scaling(&SimConfig { servers: 250, projects: 7, ..config() });
        let ids = |t: &ScalingTruth| t.groups.iter().map(|g| g.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&scaling(&SimConfig { seed: 7, ..config() })));
    }
}
