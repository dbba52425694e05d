//! The test oracle: the findings a correct ghost-resources report must produce for the simulated organisation.
//!
//! The rows are derived from the planted resources themselves and from the published price tables, applying the
//! billing rules independently of any report code: a stopped server still pays for its volumes and flexible IPs,
//! a server stopped in place also keeps paying for compute, local (`l_ssd`) storage has no published price.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::SimConfig;
use crate::org::Organization;
use crate::prices::{hourly_to_monthly, storage_monthly};
use crate::products::instance::ServerVolume;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlantedGhost {
    /// `stopped_server` | `unattached_volume` | `orphaned_ip` | `old_snapshot` | `orphaned_snapshot`.
    pub kind: &'static str,
    pub resource_id: String,
    /// The resource's name; an IP has none, so its address.
    pub name: String,
    pub project_id: String,
    pub zone: String,
    /// The API state/status string of the resource.
    pub state: String,
    pub since: NaiveDate,
    /// `today - since`.
    pub age_days: i64,
    pub size_bytes: Option<u64>,
    /// `None` when the collected APIs publish no price for the resource.
    pub monthly_cost: Option<Decimal>,
    pub over_a_year: bool,
}

/// The ghosts planted in the organisation for `config`, in a fixed order.
pub fn planted(config: &SimConfig) -> Vec<PlantedGhost> {
    findings(&Organization::build(config))
}

pub(crate) fn findings(org: &Organization) -> Vec<PlantedGhost> {
    let g = &org.ghosts;
    let mut rows = Vec::new();
    let mut push = |kind,
                    resource_id: &str,
                    name: &str,
                    project_id: &str,
                    zone: &str,
                    state: &str,
                    since: NaiveDate,
                    size,
                    cost: Option<Decimal>| {
        let age_days = (org.today - since).num_days();
        rows.push(PlantedGhost {
            kind,
            resource_id: resource_id.to_string(),
            name: name.to_string(),
            project_id: project_id.to_string(),
            zone: zone.to_string(),
            state: state.to_string(),
            since,
            age_days,
            size_bytes: size,
            monthly_cost: cost.map(|c| c.normalize()),
            over_a_year: age_days > 365,
        });
    };

    for id in [&g.stopped_server, &g.standby_server] {
        if let Some(s) = org.server(id) {
            let cost = stopped_server_cost(org, id);
            let since = s.modification_date.date_naive();
            push("stopped_server", &s.id, &s.name, &s.project_id, &s.zone, &s.state, since, None, cost);
        }
    }

    for id in [&g.unattached_block_volume, &g.never_attached_block_volume] {
        if let Some(v) = org.block_volume(id) {
            // Idle since it was detached, or since creation when it never was attached.
            let since = v.last_detached_at.unwrap_or(v.created_at).date_naive();
            let cost = org.prices.volume_type(&v.zone, &v.volume_type).map(|t| storage_monthly(v.size, t.pricing));
            push("unattached_volume", &v.id, &v.name, &v.project_id, &v.zone, &v.status, since, Some(v.size), cost);
        }
    }
    if let Some(v) = org.instance_volume(&g.unattached_local_volume) {
        let since = v.modification_date.date_naive();
        push("unattached_volume", &v.id, &v.name, &v.project_id, &v.zone, &v.state, since, Some(v.size), None);
    }

    for id in &g.orphaned_ips {
        if let Some(ip) = org.ip(id) {
            // IPs carry no timestamps: the first time a collector sees them is "today".
            let cost = org.prices.flexible_ipv4(&ip.zone).map(hourly_to_monthly);
            push("orphaned_ip", &ip.id, &ip.address, &ip.project_id, &ip.zone, &ip.state, org.today, None, cost);
        }
    }

    for (kind, id) in [
        ("old_snapshot", &g.old_snapshot),
        ("old_snapshot", &g.year_old_snapshot),
        ("orphaned_snapshot", &g.orphaned_block_snapshot),
    ] {
        if let Some(s) = org.block_snapshot(id) {
            let since = s.created_at.date_naive();
            let cost = org.prices.snapshot_price(&s.zone).map(|p| storage_monthly(s.size, p));
            push(kind, &s.id, &s.name, &s.project_id, &s.zone, &s.status, since, Some(s.size), cost);
        }
    }
    if let Some(s) = org.instance_snapshot(&g.orphaned_instance_snapshot) {
        let since = s.creation_date.date_naive();
        push("orphaned_snapshot", &s.id, &s.name, &s.project_id, &s.zone, &s.state, since, Some(s.size), None);
    }
    rows
}

/// What a stopped server keeps costing per month: compute only when stopped in place, plus its SBS volumes and
/// the flexible IPs attached to it. `None` if any of those has no published price.
fn stopped_server_cost(org: &Organization, server_id: &str) -> Option<Decimal> {
    let s = org.server(server_id)?;
    let mut total = Decimal::ZERO;
    if s.state == "stopped in place" {
        total += hourly_to_monthly(org.prices.server_type(&s.commercial_type)?.hourly_price);
    }
    for volume in &s.volumes {
        match volume {
            ServerVolume::Sbs { id } => {
                let v = org.block_volume(id)?;
                total += storage_monthly(v.size, org.prices.volume_type(&v.zone, &v.volume_type)?.pricing);
            }
            ServerVolume::Local { .. } => return None,
        }
    }
    for ip in org.ips.iter().filter(|ip| ip.server.as_ref().is_some_and(|r| r.id == s.id)) {
        total += hourly_to_monthly(org.prices.flexible_ipv4(&ip.zone)?);
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Option<Decimal> {
        Some(Decimal::from_str(s).unwrap())
    }

    #[test]
    fn matches_the_specification() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let config = SimConfig { today, ..SimConfig::default() };
        let rows = planted(&config);
        let summary: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.kind,
                    r.name.as_str(),
                    r.state.as_str(),
                    r.zone.as_str(),
                    r.age_days,
                    r.size_bytes,
                    r.monthly_cost,
                    r.over_a_year,
                )
            })
            .collect();
        let ip_names: Vec<_> = rows.iter().filter(|r| r.kind == "orphaned_ip").map(|r| r.name.clone()).collect();
        assert_eq!(
            summary,
            vec![
                ("stopped_server", "legacy-api-1", "stopped", "fr-par-1", 35, None, dec("6.3656"), false),
                (
                    "stopped_server",
                    "batch-worker-standby",
                    "stopped in place",
                    "fr-par-2",
                    12,
                    None,
                    dec("170.893"),
                    false
                ),
                (
                    "unattached_volume",
                    "old-data",
                    "available",
                    "fr-par-1",
                    60,
                    Some(500_000_000_000),
                    dec("43.07"),
                    false
                ),
                (
                    "unattached_volume",
                    "tmp-migration",
                    "available",
                    "nl-ams-1",
                    20,
                    Some(250_000_000_000),
                    dec("27.5575"),
                    false
                ),
                (
                    "unattached_volume",
                    "scratch-leftover",
                    "available",
                    "fr-par-1",
                    45,
                    Some(20_000_000_000),
                    None,
                    false
                ),
                ("orphaned_ip", ip_names[0].as_str(), "detached", "fr-par-1", 0, None, dec("2.92"), false),
                ("orphaned_ip", ip_names[1].as_str(), "detached", "nl-ams-1", 0, None, dec("2.92"), false),
                (
                    "old_snapshot",
                    "pre-upgrade-backup",
                    "available",
                    "fr-par-1",
                    120,
                    Some(50_000_000_000),
                    dec("1.7885"),
                    false
                ),
                (
                    "old_snapshot",
                    "yearly-archive",
                    "available",
                    "fr-par-1",
                    400,
                    Some(200_000_000_000),
                    dec("7.154"),
                    true
                ),
                (
                    "orphaned_snapshot",
                    "deleted-vm-snap",
                    "available",
                    "fr-par-2",
                    10,
                    Some(30_000_000_000),
                    dec("1.0731"),
                    false
                ),
                (
                    "orphaned_snapshot",
                    "old-local-snap",
                    "available",
                    "fr-par-1",
                    200,
                    Some(10_000_000_000),
                    None,
                    false
                ),
            ]
        );
        assert!(ip_names.iter().all(|a| a.starts_with("51.15.")));
        let org = Organization::build(&config);
        let p0 = &org.projects[0].id;
        let p1 = &org.projects[1].id;
        let projects: Vec<_> = rows
            .iter()
            .map(|r| {
                if &r.project_id == p0 {
                    0
                } else if &r.project_id == p1 {
                    1
                } else {
                    9
                }
            })
            .collect();
        assert_eq!(projects, [0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1]);
        assert!(rows.iter().all(|r| r.since == today - chrono::Days::new(r.age_days as u64)));
    }

    #[test]
    fn serializes_money_as_a_decimal_string() {
        let rows = planted(&SimConfig::default());
        let json = serde_json::to_value(&rows[0]).unwrap();
        assert_eq!(json["monthly_cost"], "6.3656");
        assert_eq!(json["kind"], "stopped_server");
    }
}
