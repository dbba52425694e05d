//! The Grafana dashboards of deploy/grafana/ against the demo's data: every panel's and variable's query, its
//! variables and the ClickHouse datasource's macros expanded as the plugin does (grafana-clickhouse-datasource
//! v4.x, pkg/macros), sent to `costlake serve` as the plugin's driver sends it (POST, Native with its protocol
//! version, basic auth, its extra settings). Panels must answer, and answer what the reports answer.

mod common;

use std::collections::BTreeMap;
use std::str::FromStr;

use costlake_tests::sandbox::Sandbox;
use rust_decimal::Decimal;
use serde_json::Value;

const PASSWORD: &str = "grafana-viewer-3c1e";

/// The dashboard's time range and interval, as Grafana hands them to the datasource.
struct TimeRange {
    from_day: String,
    to_day: String,
    from_s: i64,
    to_s: i64,
    interval_s: i64,
}

/// The plugin's backend macros (pkg/macros/macros.go, v4.0.3 onwards), with `(arg)` trimmed as its parser does.
fn expand_macros(sql: &str, range: &TimeRange) -> String {
    let mut out = sql.to_string();
    for (name, expand) in [
        (
            "$__dateFilter(",
            &(|c: &str, r: &TimeRange| format!("{c} >= toDate('{}') AND {c} <= toDate('{}')", r.from_day, r.to_day))
                as &dyn Fn(&str, &TimeRange) -> String,
        ),
        ("$__timeFilter(", &|c: &str, r: &TimeRange| {
            format!("{c} >= toDateTime({}) AND {c} <= toDateTime({})", r.from_s, r.to_s)
        }),
        ("$__timeInterval(", &|c: &str, r: &TimeRange| {
            format!("toStartOfInterval(toDateTime({c}), INTERVAL {} second)", r.interval_s)
        }),
    ] {
        while let Some(start) = out.find(name) {
            let open = start + name.len();
            let mut depth = 1;
            let mut end = open;
            for (i, ch) in out[open..].char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = open + i;
                    break;
                }
            }
            assert!(depth == 0, "unbalanced {name} in {sql}");
            let replacement = expand(out[open..end].trim(), range);
            out.replace_range(start..end + 1, &replacement);
        }
    }
    let out = out
        .replace("$__fromTime", &format!("toDateTime({})", range.from_s))
        .replace("$__toTime", &format!("toDateTime({})", range.to_s))
        .replace("$__interval_s", &range.interval_s.to_string());
    assert!(!out.contains("$__"), "a macro this test does not know:\n{out}");
    out
}

/// Grafana's template variables: "All" is the variable's custom all value, raw (`''`); a chosen value goes
/// through the `sqlstring` format (quoted, `'` doubled, `"` escaped).
fn expand_variables(sql: &str, chosen: &BTreeMap<&str, Option<String>>) -> String {
    let mut out = sql.to_string();
    for (name, value) in chosen {
        let text = match value {
            None => "''".to_string(),
            Some(v) => format!("'{}'", v.replace('\'', "''").replace('"', "\\\"")),
        };
        out = out.replace(&format!("${{{name}:sqlstring}}"), &text);
    }
    assert!(!out.contains("${"), "a variable left unexpanded:\n{out}");
    out
}

struct Serve {
    base: String,
    http: reqwest::Client,
}

impl Serve {
    /// As the plugin's driver (clickhouse-go ≥ 2.38 over HTTP): POST, Native with block info, its settings.
    async fn as_grafana(&self, sql: &str) -> (u16, Vec<u8>) {
        let url = format!(
            "{}/?database=costlake&limit=0&max_execution_time=65&default_format=Native&client_protocol_version=54460",
            self.base
        );
        let response =
            self.http.post(url).basic_auth("grafana", Some(PASSWORD)).body(sql.to_string()).send().await.unwrap();
        let status = response.status().as_u16();
        assert!(status != 200 || response.headers().get("x-clickhouse-exception-code").is_none());
        (status, response.bytes().await.unwrap().to_vec())
    }

    /// The same query's rows as JSON objects, decimals as strings (the reports' own JSON).
    async fn rows(&self, sql: &str) -> Vec<Value> {
        let url = format!(
            "{}/?database=costlake&default_format=JSONEachRow&output_format_json_quote_decimals=1&output_format_json_quote_64bit_integers=0",
            self.base
        );
        let response =
            self.http.post(url).basic_auth("grafana", Some(PASSWORD)).body(sql.to_string()).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "{text}\n{sql}");
        text.lines().map(|line| serde_json::from_str(line).expect("a JSON row")).collect()
    }
}

fn decimal(value: &Value) -> Decimal {
    match value {
        Value::String(s) => Decimal::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}")),
        Value::Number(n) => Decimal::from_str(&n.to_string()).unwrap(),
        Value::Null => Decimal::ZERO,
        other => panic!("not money: {other}"),
    }
}

/// Σ `column` over `rows`, per `key` column.
fn totals_by(rows: &[Value], key: &str, column: &str) -> BTreeMap<String, Decimal> {
    let mut totals = BTreeMap::new();
    for row in rows {
        *totals.entry(row[key].as_str().unwrap_or("").to_string()).or_insert(Decimal::ZERO) += decimal(&row[column]);
    }
    totals
}

async fn report(sandbox: &Sandbox, name: &str, params: &[&str]) -> Vec<Value> {
    let mut args = vec!["report", name, "-f", "json"];
    for param in params {
        args.extend(["-p", param]);
    }
    sandbox.ok(&args).await.json().as_array().expect("a JSON array").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grafana_panel_runs_through_serve_on_the_demo_data_and_agrees_with_the_reports() {
    let mut sandbox = common::demo_sandbox().await;

    // What the reports answer, before serve holds the warehouse.
    let names = costlake_queries::reports();
    let mut answers = BTreeMap::new();
    for r in &names {
        answers.insert(r.name.clone(), report(&sandbox, &r.name, &[]).await);
    }
    let forecast_of_shop = report(&sandbox, "forecast", &["project=web-shop"]).await;
    let ghosts_of_shop = report(&sandbox, "ghost-resources", &["project=web-shop"]).await;
    let days = sandbox
        .ok(&[
            "sql",
            "SELECT toString(min(day)) AS first, toString(max(day)) AS last FROM \
             (SELECT day FROM billing_daily UNION ALL SELECT day FROM instance_cpu_daily)",
            "-f",
            "json",
        ])
        .await
        .json();
    let last = days[0]["last"].as_str().unwrap().to_string();
    let seconds_of = |day: &str| {
        let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
        date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()
    };
    // Grafana's "Last 30 days" ending the day after the newest data.
    let to_s = seconds_of(&last) + 86_400;
    let from_s = to_s - 30 * 86_400;
    let day_of = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap().format("%Y-%m-%d").to_string();
    let range = TimeRange { from_day: day_of(from_s), to_day: day_of(to_s), from_s, to_s, interval_s: 3600 };

    sandbox.set("COSTLAKE_SERVE_PASSWORD", PASSWORD);
    let (mut server, line, _log) =
        sandbox.start_reading(&["serve", "--listen", "127.0.0.1:0", "--user", "grafana"], "serving").await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let serve = Serve { base: format!("http://127.0.0.1:{}", common::port_of(&line)), http: reqwest::Client::new() };

    // The provisioned datasource is the one every panel names.
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana");
    let provisioning = std::fs::read_to_string(deploy.join("provisioning/datasources/costlake.yaml")).unwrap();
    assert!(provisioning.contains("type: grafana-clickhouse-datasource") && provisioning.contains("uid: costlake"));

    let all: BTreeMap<&str, Option<String>> = [("organization", None), ("project", None)].into();
    let mut dashboards = BTreeMap::new();
    for (stem, _, _) in costlake_queries::grafana::DASHBOARDS {
        let text = std::fs::read_to_string(deploy.join(format!("dashboards/{stem}.json"))).unwrap();
        dashboards.insert(*stem, serde_json::from_str::<Value>(&text).unwrap());
    }

    // The variables' queries: the organisation and the demo's projects.
    let dashboard = &dashboards["costs"];
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    let mut values = BTreeMap::new();
    for variable in variables {
        let sql = expand_variables(variable["query"]["rawSql"].as_str().unwrap(), &all);
        assert_eq!(serve.as_grafana(&sql).await.0, 200, "{sql}");
        let rows = serve.rows(&sql).await;
        let listed: Vec<String> =
            rows.iter().map(|r| r.as_object().unwrap().values().next().unwrap().as_str().unwrap().into()).collect();
        values.insert(variable["name"].as_str().unwrap().to_string(), listed);
    }
    assert_eq!(values["organization"].len(), 1, "{values:?}");
    assert!(values["project"].contains(&"web-shop".to_string()), "{values:?}");

    // Every panel of every dashboard, as Grafana runs it, then its rows.
    let mut panels = BTreeMap::new();
    for (stem, dashboard) in &dashboards {
        for panel in dashboard["panels"].as_array().unwrap() {
            let title = panel["title"].as_str().unwrap().to_string();
            assert_eq!(panel["datasource"]["uid"], "costlake", "{stem}: {title}");
            let raw = panel["targets"][0]["rawSql"].as_str().unwrap();
            let sql = expand_macros(&expand_variables(raw, &all), &range);
            let (status, body) = serve.as_grafana(&sql).await;
            assert_eq!(status, 200, "{stem}: {title}: {}\n{sql}", String::from_utf8_lossy(&body));
            // Native with block info: at least the block header (columns, rows) for every panel.
            assert!(body.len() > 8, "{stem}: {title}: an empty Native answer");
            panels.insert(title, (raw.to_string(), serve.rows(&sql).await));
        }
    }

    // A report's panel answers exactly what `costlake report` answers with the same defaults.
    for r in &names {
        let (_, rows) = &panels[&format!("{}: {}", r.name, r.title)];
        let expected = &answers[&r.name];
        assert_eq!(rows.len(), expected.len(), "{}: the panel and the report disagree on the row count", r.name);
        for (got, want) in rows.iter().zip(expected) {
            for (column, value) in want.as_object().unwrap() {
                let same = match (&got[column], value) {
                    (a, b) if a == b => true,
                    (Value::String(_) | Value::Number(_), Value::String(_)) => {
                        Decimal::from_str(&got[column].to_string().replace('"', "")).ok()
                            == Decimal::from_str(value.as_str().unwrap()).ok()
                    }
                    _ => false,
                };
                assert!(same, "{} column {column}: panel {} but report {}", r.name, got[column], value);
            }
        }
    }
    for name in ["ghost-resources", "forecast", "cost-drift", "rightsizing", "ghost-cost"] {
        assert!(!answers[name].is_empty(), "the demo plants something for {name}");
    }

    // The charts agree with the reports: ghosts' euros by kind, month to date.
    let (_, by_kind) = &panels["Ghost resources: euros a month by kind"];
    let expected = totals_by(&answers["ghost-resources"], "kind", "monthly_cost");
    assert_eq!(totals_by(by_kind, "kind", "monthly_cost"), expected);
    assert!(expected.values().any(|v| *v > Decimal::ZERO), "{expected:?}");
    let organisation = answers["forecast"].iter().find(|r| r["level"] == "organisation").expect("organisation row");
    let (_, month_to_date) = &panels["Month to date"];
    assert_eq!(decimal(&month_to_date[0]["month_to_date"]), decimal(&organisation["month_to_date"]));
    // The daily chart over the forecast's month sums to its month to date: $__dateFilter bounds both days.
    let month = organisation["month"].as_str().unwrap();
    let last_day = organisation["last_day"].as_str().unwrap();
    let month_range = TimeRange {
        from_day: format!("{month}-01"),
        to_day: last_day.to_string(),
        from_s: seconds_of(&format!("{month}-01")),
        to_s: seconds_of(last_day) + 86_399,
        interval_s: 3600,
    };
    let (daily, _) = &panels["Daily cost by project"];
    let rows = serve.rows(&expand_macros(&expand_variables(daily, &all), &month_range)).await;
    let total: Decimal = rows.iter().map(|r| decimal(&r["cost"])).sum();
    assert_eq!(total, decimal(&organisation["month_to_date"]));
    let (_, cpu) = &panels["CPU p95 per Instance (daily)"];
    assert!(!cpu.is_empty(), "the demo collects Instance metrics");

    // One project chosen (by its name, as the variable lists it): the panels follow it.
    let shop: BTreeMap<&str, Option<String>> = [("organization", None), ("project", Some("web-shop".into()))].into();
    let (stat, _) = &panels["Month to date"];
    let rows = serve.rows(&expand_macros(&expand_variables(stat, &shop), &range)).await;
    let project = forecast_of_shop.iter().find(|r| r["level"] == "project").expect("web-shop's row");
    assert_eq!(decimal(&rows[0]["month_to_date"]), decimal(&project["month_to_date"]));
    let ghosts = &format!("ghost-resources: {}", names.iter().find(|r| r.name == "ghost-resources").unwrap().title);
    let rows = serve.rows(&expand_macros(&expand_variables(&panels[ghosts].0, &shop), &range)).await;
    assert_eq!(rows.len(), ghosts_of_shop.len());
    assert!(rows.len() < answers["ghost-resources"].len(), "one project holds fewer ghosts than the organisation");

    server.kill().await.expect("stop serve");
    let _ = server.wait().await;
}
