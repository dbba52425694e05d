//! Grafana dashboards for the official ClickHouse datasource (`grafana-clickhouse-datasource`), generated from the
//! reports so that every report has its panel: each report's header names its dashboard (`@dashboard costs`,
//! `waste` or `utilisation`), and its panel runs the report's own SQL with the dashboard's `organization` and
//! `project` variables and the report's defaults. Charts that follow Grafana's time range (daily cost, CPU) are
//! written here with the datasource's macros.
//!
//! The JSON files live in `deploy/grafana/dashboards/`; a test regenerates them and fails when they differ
//! (`COSTLAKE_UPDATE_DASHBOARDS=1` rewrites them), and runs every panel through `costlake serve`.

use serde_json::{Value, json};

use crate::Report;

/// The dashboards, in order: file stem, title, what it answers.
pub const DASHBOARDS: &[(&str, &str, &str)] = &[
    (
        "costs",
        "costlake: costs",
        "Where the money goes and what changed: the bill per day and project, month to date and forecast, drift, anomalies and allocation.",
    ),
    (
        "waste",
        "costlake: waste",
        "What keeps billing while doing nothing: ghost resources, what they were billed, idle load balancers and databases.",
    ),
    (
        "utilisation",
        "costlake: utilisation",
        "What is idle or oversized: CPU of every Instance, rightsizing, scaling groups, Kapsule pools and efficiency.",
    ),
];

/// The datasource every panel uses (as provisioned by deploy/grafana/provisioning/datasources/costlake.yaml).
pub const DATASOURCE_UID: &str = "costlake";
const PLUGIN: &str = "grafana-clickhouse-datasource";

fn datasource() -> Value {
    json!({"type": PLUGIN, "uid": DATASOURCE_UID})
}

/// A report's SQL for a panel: `{organization:String}` and `{project:String}` become the dashboard's
/// variables (`sqlstring`: quoted, quotes doubled; "All" is `''`, which the reports read as every one), every
/// other parameter its default, cast to its type.
pub fn panel_sql(report: &Report) -> String {
    let mut sql = report.sql.clone();
    for param in &report.params {
        let value = match param.name.as_str() {
            "organization" | "project" => format!("${{{}:sqlstring}}", param.name),
            // A composite default is a literal of its own (ClickHouse casts no String to a Map).
            _ if param.default.trim() == "{}" => format!("CAST(map() AS {})", param.ty),
            _ if param.ty.starts_with("Array(") || param.ty.starts_with("Map(") => {
                format!("CAST({} AS {})", param.default, param.ty)
            }
            _ => format!("CAST('{}' AS {})", param.default.replace('\\', "\\\\").replace('\'', "\\'"), param.ty),
        };
        // Scan forward: the replacement of organization and project holds `{organization:` itself.
        let placeholder = format!("{{{}:", param.name);
        let mut out = String::with_capacity(sql.len());
        let mut rest = sql.as_str();
        while let Some(start) = rest.find(&placeholder) {
            let Some(length) = rest[start..].find('}') else { break };
            out.push_str(&rest[..start]);
            out.push_str(&value);
            rest = &rest[start + length + 1..];
        }
        out.push_str(rest);
        sql = out;
    }
    sql
}

/// `organization = ''` or the one chosen, in SQL over a table with an `organization_id` column.
const ORGANIZATION_FILTER: &str = "(${organization:sqlstring} = '' OR organization_id = ${organization:sqlstring})";
/// The same for a project, by id or name (`project_names` joined as `pn`).
const PROJECT_FILTER: &str =
    "(${project:sqlstring} = '' OR project_id = ${project:sqlstring} OR pn.name = ${project:sqlstring})";

/// Charts written for Grafana (time series and stats over the dashboard's time range), per dashboard.
fn charts(dashboard: &str) -> Vec<(&'static str, &'static str, &'static str, String)> {
    // (title, description, panel type, SQL)
    match dashboard {
        "costs" => vec![
            (
                "Month to date",
                "The bill of the newest month with billing data, to its newest day (forecast's month_to_date).",
                "stat",
                format!(
                    "SELECT sum(d.cost) AS month_to_date, any(d.currency) AS currency\n\
                     FROM billing_daily AS d LEFT JOIN project_names AS pn ON pn.id = d.project_id\n\
                     WHERE d.billing_period = (SELECT max(billing_period) FROM billing_daily WHERE {ORGANIZATION_FILTER})\n  \
                     AND {ORGANIZATION_FILTER} AND {PROJECT_FILTER}"
                ),
            ),
            (
                "Daily cost by project",
                "Each day's cost (billing_daily), per project, over the dashboard's time range.",
                "timeseries",
                format!(
                    "SELECT toDateTime(d.day) AS time, coalesce(pn.name, d.project_id) AS project, sum(d.cost) AS cost\n\
                     FROM billing_daily AS d LEFT JOIN project_names AS pn ON pn.id = d.project_id\n\
                     WHERE $__dateFilter(d.day) AND {ORGANIZATION_FILTER} AND {PROJECT_FILTER}\n\
                     GROUP BY time, project\nORDER BY time, project"
                ),
            ),
        ],
        "waste" => vec![(
            "Ghost resources: euros a month by kind",
            "ghost-resources, summed per kind (resources without a known price count as 0).",
            "barchart",
            String::new(), // filled from the ghost-resources report below
        )],
        "utilisation" => vec![(
            "CPU p95 per Instance (daily)",
            "Each Instance's daily p95 CPU utilisation in percent (instance_cpu_daily), over the dashboard's time range.",
            "timeseries",
            format!(
                "SELECT toDateTime(c.day) AS time, coalesce(c.resource_name, c.resource_id) AS instance,\n       \
                 round(max(c.cpu_p95) * 100, 1) AS cpu_p95_percent\n\
                 FROM instance_cpu_daily AS c LEFT JOIN project_names AS pn ON pn.id = c.project_id\n\
                 WHERE $__dateFilter(c.day) AND {ORGANIZATION_FILTER} AND {PROJECT_FILTER}\n\
                 GROUP BY time, instance\nORDER BY time, instance"
            ),
        )],
        _ => Vec::new(),
    }
}

fn variable(name: &str, label: &str, sql: &str) -> Value {
    json!({
        "name": name,
        "label": label,
        "type": "query",
        "datasource": datasource(),
        "query": {"rawSql": sql, "editorType": "sql", "format": 1, "queryType": "table"},
        "definition": sql,
        "refresh": 1,
        "includeAll": true,
        // Raw, unformatted: the SQL empty string, which every report reads as "all".
        "allValue": "''",
        "multi": false,
        "current": {"selected": true, "text": "All", "value": "$__all"},
        "sort": 1,
    })
}

/// The variables' queries, for the test that runs them.
pub const VARIABLE_QUERIES: &[(&str, &str)] = &[
    ("organization", "SELECT DISTINCT organization_id FROM runs ORDER BY organization_id"),
    ("project", "SELECT DISTINCT coalesce(name, id) AS project FROM project_names ORDER BY project"),
];

fn panel(id: u64, y: u64, title: &str, description: &str, kind: &str, sql: &str, format: u64) -> Value {
    let (width, height) = match kind {
        "stat" => (8, 6),
        "table" => (24, 10),
        _ => (24, 9),
    };
    let mut panel = json!({
        "id": id,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource(),
        "gridPos": {"x": 0, "y": y, "w": width, "h": height},
        "targets": [{
            "refId": "A",
            "datasource": datasource(),
            "editorType": "sql",
            "queryType": if format == 0 { "timeseries" } else { "table" },
            "format": format,
            "rawSql": sql,
        }],
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {},
    });
    if kind == "table" {
        panel["options"] = json!({"showHeader": true, "cellHeight": "sm"});
    }
    panel
}

/// Every dashboard as (file stem, JSON), from the reports given (all of them: [`crate::reports`]).
pub fn dashboards(reports: &[Report]) -> Vec<(String, Value)> {
    DASHBOARDS
        .iter()
        .map(|(stem, title, description)| {
            let mut panels = Vec::new();
            let mut y = 0;
            let mut id = 1;
            for (chart_title, chart_description, kind, sql) in charts(stem) {
                let sql = if sql.is_empty() {
                    let ghosts = reports.iter().find(|r| r.name == "ghost-resources").expect("ghost-resources");
                    format!(
                        "SELECT kind, sum(coalesce(monthly_cost, 0)) AS monthly_cost\nFROM (\n{}\n)\nGROUP BY kind\nORDER BY monthly_cost DESC, kind",
                        panel_sql(ghosts).trim_end().trim_end_matches(';')
                    )
                } else {
                    sql
                };
                let format = if kind == "timeseries" { 0 } else { 1 };
                panels.push(panel(id, y, chart_title, chart_description, kind, &sql, format));
                id += 1;
                y += 9;
            }
            for report in reports.iter().filter(|r| r.dashboard == *stem) {
                let description = format!(
                    "{}\n\n`costlake report {}` answers the same with its defaults; other parameters there.",
                    report.description, report.name
                );
                let title = format!("{}: {}", report.name, report.title);
                panels.push(panel(id, y, &title, &description, "table", &panel_sql(report), 1));
                id += 1;
                y += 10;
            }
            let dashboard = json!({
                "uid": format!("costlake-{stem}"),
                "title": title,
                "description": description,
                "tags": ["costlake", "scaleway", "finops"],
                "timezone": "utc",
                "editable": true,
                "schemaVersion": 39,
                "version": 1,
                "refresh": "",
                "time": {"from": "now-30d", "to": "now"},
                "templating": {"list": VARIABLE_QUERIES.iter().map(|(name, sql)| {
                    variable(name, if *name == "organization" { "Organisation" } else { "Project" }, sql)
                }).collect::<Vec<_>>()},
                "annotations": {"list": []},
                "panels": panels,
            });
            (stem.to_string(), dashboard)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_report_has_a_dashboard_and_a_panel_without_parameters() {
        let reports = crate::reports();
        for report in &reports {
            assert!(
                DASHBOARDS.iter().any(|(stem, _, _)| *stem == report.dashboard),
                "queries/{}.sql: `-- @dashboard {}` must name one of costs, waste, utilisation",
                report.name,
                report.dashboard
            );
            let sql = panel_sql(report);
            for param in &report.params {
                let variable = format!("${{{}:sqlstring}}", param.name);
                let rest = sql.replace(&variable, "");
                assert!(!rest.contains(&format!("{{{}:", param.name)), "{}: {} left", report.name, param.name);
            }
        }
        let all = dashboards(&reports);
        let panels: usize = all.iter().map(|(_, d)| d["panels"].as_array().unwrap().len()).sum();
        assert_eq!(panels, reports.len() + 4);
    }

    #[test]
    fn the_dashboard_files_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/dashboards");
        let update = std::env::var_os("COSTLAKE_UPDATE_DASHBOARDS").is_some();
        for (stem, dashboard) in dashboards(&crate::reports()) {
            let path = dir.join(format!("{stem}.json"));
            let text = serde_json::to_string_pretty(&dashboard).unwrap() + "\n";
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == text,
                "{} is not what the reports generate: run `COSTLAKE_UPDATE_DASHBOARDS=1 cargo test -p costlake-queries dashboard_files` and commit it",
                path.display()
            );
        }
    }
}
