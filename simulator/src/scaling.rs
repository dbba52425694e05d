//! The oracle of a scaling-groups report: every Autoscaling group with its bounds, its size, the events the API
//! serves counted by kind, its flaps, and what it costs now.
//!
//! A **flap** is two consecutive scale events of the scaler (ordered by time; other events do not break the pair)
//! of opposite direction less than `max(3 × cooldown, 15 min)` apart; it belongs to the UTC day of its second event.
//! A group is **flapping** when some day holds 3 flaps or more. The cost is `current_size` × the hourly price of the
//! template's commercial type in the group's zone (the price book the Instance `products/servers` list serves) ×
//! 730. Everything is derived from the model's events by that rule, not from the table's intent.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::SimConfig;
use crate::org::Organization;
use crate::prices::{INSTANCE_ZONES, hourly_to_monthly};
use crate::products::autoscaling::{ScalingEvent, ScalingGroup};

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
    truth(&Organization::build(config))
}

pub(crate) fn truth(org: &Organization) -> ScalingTruth {
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
            })
        })
        .collect();
    ScalingTruth { groups }
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
