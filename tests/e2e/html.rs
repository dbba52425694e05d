//! `costlake report all --format html` opened in a real headless browser (Debian's Chromium): the page loads with
//! nothing fetched from anywhere, its script runs, its charts drew, and every number it shows is the number the
//! same report gives as JSON (chart totals summed from it to the last decimal). A screenshot is kept in
//! target/tmp/costlake-report.png.

mod common;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::Value;

/// Chromium with no way out: every host name fails to resolve and every request goes to a closed loopback
/// port, so a page that tried to fetch anything would show it, and nothing leaves the machine.
async fn chromium(args: &[&str]) -> std::process::Output {
    // A profile of its own, gone with the test: nothing read from or left in the user's.
    let profile = tempfile::tempdir().expect("profile dir");
    let mut command = tokio::process::Command::new(costlake_tests::engine::chromium());
    command
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args([
            "--headless",
            "--disable-quic",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            "--hide-scrollbars",
        ])
        .args(args)
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("chromium finished within 2 minutes")
        .expect("run chromium")
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The text of each `<td>` of each row of the section `report-NAME`'s table, from the browser's DOM.
fn table_cells(dom: &str, name: &str) -> Vec<Vec<String>> {
    let start = dom.find(&format!("id=\"report-{name}\"")).unwrap_or_else(|| panic!("no section for {name}"));
    let section = &dom[start..];
    let section = &section[..section.find("</section>").expect("section end")];
    let body = &section[section.find("<tbody>").expect("tbody") + 7..];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td>").skip(1).map(|cell| unescape(&cell[..cell.find("</td>").expect("cell end")])).collect()
        })
        .collect()
}

/// `data-key → shown amount` of the `class="value"` texts inside the chart `id`.
fn chart_values(dom: &str, id: &str) -> BTreeMap<String, Decimal> {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no chart {id}"));
    let chart = &dom[start..];
    let chart = &chart[..chart.find("</figure>").expect("figure end")];
    assert!(chart.matches("<rect").count() > 0, "{id} drew nothing");
    chart
        .split("class=\"value")
        .skip(1)
        .map(|piece| {
            let key = piece.split("data-key=\"").nth(1).unwrap().split('"').next().unwrap();
            let text = piece.split('>').nth(1).unwrap().split('<').next().unwrap();
            (unescape(key), Decimal::from_str(text.trim()).unwrap_or_else(|e| panic!("{id} shows {text:?}: {e}")))
        })
        .collect()
}

fn money(value: &Value) -> Decimal {
    value.as_str().map(|s| Decimal::from_str(s).unwrap()).unwrap_or_default()
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_draws_in_a_browser_and_shows_the_reports_numbers() {
    let sandbox = common::demo_sandbox().await;

    let page = sandbox.path("report.html");
    let written = sandbox.ok(&["report", "all", "--format", "html", "--output", page.to_str().unwrap()]).await;
    assert!(written.stderr.contains("wrote"), "{}", written.stderr);
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: no external script, style, image or font.
    for outside in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(outside), "the page refers to something outside it: {outside}");
    }
    // `report all` is HTML only.
    let refused = sandbox.run(&["report", "all"]).await;
    assert!(!refused.success() && refused.stderr.contains("--format html"), "{}", refused.stderr);

    let url = format!("file://{}", page.display());
    let dom = chromium(&["--dump-dom", &url]).await;
    assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(dom.contains("data-sortable=\"ready\""), "the page's script did not run");
    let runs = sandbox.ok(&["sql", "SELECT run_id FROM runs ORDER BY snapshot_at DESC LIMIT 1", "-f", "json"]).await;
    assert!(dom.contains(runs.json()[0]["run_id"].as_str().unwrap()), "the page names the run it was built from");
    // Each report's description is there whole, down to its last line (it was cut after its first).
    let last_lines: Vec<String> = costlake_queries::reports()
        .iter()
        .map(|report| report.description.lines().last().unwrap().trim().to_string())
        .filter(|line| !line.contains(['&', '<', '>']))
        .collect();
    assert!(last_lines.len() > 5, "{last_lines:?}");
    for line in &last_lines {
        assert!(dom.contains(line.as_str()), "the page lacks the description's line {line:?}");
    }
    // A report's page of its own is built from its rows alone: it does not say that no run is loaded.
    let one = sandbox.ok(&["report", "ghost-resources", "--format", "html"]).await.stdout;
    assert!(!one.contains("No run loaded") && one.contains("Page built "), "{one:.600}");

    // Every report's table holds exactly its JSON rows, cell by cell.
    let mut answers = BTreeMap::new();
    for report in costlake_queries::reports() {
        let json = sandbox.ok(&["report", &report.name, "-f", "json"]).await.json();
        let rows = json.as_array().unwrap().clone();
        let cells = table_cells(&dom, &report.name);
        assert_eq!(cells.len(), rows.len(), "{}: rows", report.name);
        for (shown, row) in cells.iter().zip(&rows) {
            let expected: Vec<String> = row.as_object().unwrap().values().map(text).collect();
            assert_eq!(shown, &expected, "{}", report.name);
        }
        answers.insert(report.name.clone(), rows);
    }

    // The charts: amounts summed from the same JSON, to the last decimal.
    let mut by_kind: BTreeMap<String, Decimal> = BTreeMap::new();
    for row in &answers["ghost-resources"] {
        *by_kind.entry(text(&row["kind"])).or_default() += money(&row["monthly_cost"]);
    }
    assert_eq!(chart_values(&dom, "waste-by-kind"), by_kind);
    let mut savings: BTreeMap<String, Decimal> = BTreeMap::new();
    for row in &answers["rightsizing"] {
        *savings.entry(text(&row["name"])).or_default() += money(&row["monthly_savings"]);
    }
    assert_eq!(chart_values(&dom, "rightsizing-savings"), savings);
    let drift = chart_values(&dom, "drift-waterfall");
    let net: Decimal = answers["cost-drift"].iter().map(|r| money(&r["delta"])).sum();
    assert_eq!(drift["net"], net);
    // The month's daily chart: each project's total is forecast's month to date for it.
    let daily = chart_values(&dom, "daily-cost");
    let projects: Vec<&Value> = answers["forecast"].iter().filter(|r| r["level"] == "project").collect();
    assert!(!projects.is_empty());
    for project in projects {
        let name = text(&project["project_name"]);
        assert_eq!(daily.get(&name), Some(&money(&project["month_to_date"])), "{name}");
    }

    // A screenshot, kept for people to look at.
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("costlake-report.png");
    let _ = std::fs::remove_file(&screenshot);
    let shot = chromium(&["--window-size=1280,2400", &format!("--screenshot={}", screenshot.display()), &url]).await;
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "{} bytes", png.len());
}
