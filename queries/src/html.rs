//! `costlake report all --format html`: one self-contained page (styles, charts and the table sorting inline, no
//! external fetch) a manager can open: the run it was built from, charts (the month's daily cost per project, the
//! drift waterfall, waste by kind, rightsizing savings) drawn as SVG here, and every report as a sortable table
//! whose cells are the report's JSON values, as they are.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::{Report, ResultSet};

/// The month's daily cost per project (the newest billing period), for the first chart: `day`, `project`, `cost`
/// (decimal text), `currency`.
pub const DAILY_COST_SQL: &str = "SELECT toString(d.day) AS day, coalesce(pn.name, d.project_id) AS project, \
     toString(sum(d.cost)) AS cost, any(d.currency) AS currency \
     FROM billing_daily AS d LEFT JOIN project_names AS pn ON pn.id = d.project_id \
     WHERE d.billing_period = (SELECT max(billing_period) FROM billing_daily) \
     GROUP BY day, project ORDER BY day, project";

/// The run the page was built from, as the header shows it.
pub struct RunInfo {
    pub run_id: String,
    pub organization_id: String,
    pub snapshot_at: String,
}

/// What the page holds.
pub struct Page<'a> {
    pub run: Option<RunInfo>,
    pub generated_at: String,
    pub daily: &'a ResultSet,
    pub reports: Vec<(&'a Report, &'a ResultSet)>,
}

/// A value as the page shows it: JSON's text of it (decimals are strings there), nothing for null.
pub fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(text) => Decimal::from_str(text).ok(),
        Value::Number(number) => Decimal::from_str(&number.to_string()).ok(),
        _ => None,
    }
}

/// Rows of `set` as column → value maps.
fn rows(set: &ResultSet) -> Vec<BTreeMap<&str, &Value>> {
    set.rows.iter().map(|row| set.columns.iter().map(|(name, _)| name.as_str()).zip(row.iter()).collect()).collect()
}

const COLOURS: &[&str] = &["#3b6fd4", "#e0803a", "#3aa57a", "#b04fb0", "#c9b83b", "#4fb0c6", "#d45b5b", "#7a7a7a"];

/// Horizontal bars, one per (label, amount), each with its amount written beside it (`class="value"`).
fn bars(id: &str, title: &str, items: &[(String, Decimal)], unit: &str) -> String {
    if items.is_empty() {
        return String::new();
    }
    let max = items.iter().map(|(_, v)| v.abs()).max().unwrap_or(Decimal::ONE).max(Decimal::new(1, 6));
    let height = 28 * items.len() + 10;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg class=\"chart\" id=\"{id}\" viewBox=\"0 0 760 {height}\" width=\"760\" height=\"{height}\" role=\"img\">",
        escape(title)
    );
    for (i, (label, amount)) in items.iter().enumerate() {
        let width = (amount.abs() / max * Decimal::from(420)).round().to_string();
        let y = 28 * i + 5;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" class=\"label\">{}</text><rect x=\"220\" y=\"{y}\" width=\"{width}\" height=\"20\" fill=\"{}\"><title>{} {} {unit}</title></rect><text x=\"{}\" y=\"{}\" class=\"value\" data-key=\"{}\">{}</text>",
            y + 15,
            escape(label),
            COLOURS[i % COLOURS.len()],
            escape(label),
            amount,
            230 + width.parse::<usize>().unwrap_or(0),
            y + 15,
            escape(label),
            amount
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// Stacked daily bars per project, with each project's total in the legend (`class="value"`).
fn daily_chart(daily: &ResultSet) -> String {
    let rows = rows(daily);
    let mut days: BTreeMap<&str, Vec<(&str, Decimal)>> = BTreeMap::new();
    let mut totals: BTreeMap<&str, Decimal> = BTreeMap::new();
    let mut currency = "";
    for row in &rows {
        let (Some(Value::String(day)), Some(Value::String(project)), Some(cost)) =
            (row.get("day").copied(), row.get("project").copied(), row.get("cost").and_then(|v| decimal(v)))
        else {
            continue;
        };
        if let Some(Value::String(c)) = row.get("currency").copied() {
            currency = c;
        }
        days.entry(day).or_default().push((project, cost));
        *totals.entry(project).or_default() += cost;
    }
    if days.is_empty() {
        return String::new();
    }
    let projects: Vec<&str> = totals.keys().copied().collect();
    let colour = |p: &str| COLOURS[projects.iter().position(|q| *q == p).unwrap_or(0) % COLOURS.len()];
    let max =
        days.values().map(|v| v.iter().map(|(_, c)| c.max(&Decimal::ZERO)).sum::<Decimal>()).max().unwrap_or_default();
    let max = max.max(Decimal::new(1, 6));
    let step = (720 / days.len()).max(4);
    let mut svg = String::from(
        "<figure><figcaption>Daily cost per project, this month (billing_daily)</figcaption><svg class=\"chart\" id=\"daily-cost\" viewBox=\"0 0 760 260\" width=\"760\" height=\"260\" role=\"img\">",
    );
    for (i, (day, costs)) in days.iter().enumerate() {
        let mut top = Decimal::from(220);
        for (project, cost) in costs {
            let height = ((*cost).max(Decimal::ZERO) / max * Decimal::from(200)).round();
            top -= height;
            let _ = write!(
                svg,
                "<rect x=\"{}\" y=\"{top}\" width=\"{}\" height=\"{height}\" fill=\"{}\"><title>{} {} {cost} {}</title></rect>",
                20 + i * step,
                step.saturating_sub(2).max(1),
                colour(project),
                escape(day),
                escape(project),
                escape(currency)
            );
        }
    }
    let first = days.keys().next().copied().unwrap_or("");
    let last = days.keys().last().copied().unwrap_or("");
    let _ = write!(
        svg,
        "<text x=\"20\" y=\"240\" class=\"label\">{}</text><text x=\"640\" y=\"240\" class=\"label\">{}</text></svg>",
        escape(first),
        escape(last)
    );
    svg.push_str("<ul class=\"legend\">");
    for project in &projects {
        let _ = write!(
            svg,
            "<li><span class=\"swatch\" style=\"background:{}\"></span>{} <span class=\"value\" data-key=\"{}\">{}</span> {}</li>",
            colour(project),
            escape(project),
            escape(project),
            totals[project],
            escape(currency)
        );
    }
    svg.push_str("</ul></figure>");
    svg
}

/// The drift waterfall: each change of cost-drift in its order, from the previous window's level to the current's.
fn waterfall(set: &ResultSet) -> String {
    let rows = rows(set);
    let deltas: Vec<(String, Decimal)> = rows
        .iter()
        .filter_map(|row| {
            let delta = row.get("delta").and_then(|v| decimal(v))?;
            let label = ["sku", "product", "category", "project_name", "project_id"]
                .iter()
                .find_map(|c| row.get(c).and_then(|v| v.as_str()).filter(|s| !s.is_empty()))
                .unwrap_or("?");
            Some((label.to_string(), delta))
        })
        .collect();
    if deltas.is_empty() {
        return String::new();
    }
    let mut level = Decimal::ZERO;
    let (mut low, mut high) = (Decimal::ZERO, Decimal::ZERO);
    for (_, delta) in &deltas {
        level += delta;
        low = low.min(level);
        high = high.max(level);
    }
    let span = (high - low).max(Decimal::new(1, 6));
    let y_of = |v: Decimal| (Decimal::from(215) - (v - low) / span * Decimal::from(190)).round();
    let step = (720 / (deltas.len() + 1)).max(6);
    let mut svg = String::from(
        "<figure><figcaption>What changed (cost-drift), change by change, and the net</figcaption><svg class=\"chart\" id=\"drift-waterfall\" viewBox=\"0 0 760 240\" width=\"760\" height=\"240\" role=\"img\">",
    );
    let mut level = Decimal::ZERO;
    for (i, (label, delta)) in deltas.iter().enumerate() {
        let next = level + delta;
        let (top, bottom) = (y_of(level.max(next)), y_of(level.min(next)));
        let fill = if *delta >= Decimal::ZERO { "#d45b5b" } else { "#3aa57a" };
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"><title>{}</title></rect><text x=\"{}\" y=\"{}\" class=\"value\" data-key=\"{}\">{delta}</text>",
            20 + i * step,
            step.saturating_sub(3).max(2),
            (bottom - top).max(Decimal::ONE),
            escape(label),
            20 + i * step,
            top - Decimal::from(3),
            escape(label)
        );
        level = next;
    }
    let _ = write!(
        svg,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#3b6fd4\"><title>net</title></rect><text x=\"{}\" y=\"232\" class=\"value net\" data-key=\"net\">{level}</text></svg></figure>",
        20 + deltas.len() * step,
        y_of(level.max(Decimal::ZERO)),
        step.saturating_sub(3).max(2),
        (y_of(level.min(Decimal::ZERO)) - y_of(level.max(Decimal::ZERO))).max(Decimal::ONE),
        20 + deltas.len() * step
    );
    svg
}

/// Σ `amount` per `key` over a report's rows (null amounts count as nothing).
fn sums(set: &ResultSet, key: &str, amount: &str) -> Vec<(String, Decimal)> {
    let mut totals: BTreeMap<String, Decimal> = BTreeMap::new();
    for row in rows(set) {
        let label = row.get(key).map(|v| cell_text(v)).unwrap_or_default();
        *totals.entry(label).or_default() += row.get(amount).and_then(|v| decimal(v)).unwrap_or_default();
    }
    let mut items: Vec<(String, Decimal)> = totals.into_iter().collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    items
}

fn table(id: &str, heading: &str, description: &str, set: &ResultSet) -> String {
    let mut html = format!(
        "<section class=\"report\" id=\"report-{}\"><h2>{}</h2><p class=\"about\">{}</p>",
        escape(id),
        escape(heading),
        escape(description)
    );
    if set.rows.is_empty() {
        html.push_str("<p class=\"empty\">No rows.</p>");
    }
    html.push_str("<table class=\"sortable\"><thead><tr>");
    for (name, ty) in &set.columns {
        let numeric = ty.contains("Int") || ty.contains("Decimal") || ty.contains("Float");
        let _ = write!(html, "<th data-numeric=\"{numeric}\" title=\"{}\">{}</th>", escape(ty), escape(name));
    }
    html.push_str("</tr></thead><tbody>");
    for row in &set.rows {
        html.push_str("<tr>");
        for value in row {
            let _ = write!(html, "<td>{}</td>", escape(&cell_text(value)));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></section>");
    html
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:2em;color:#222}header p{color:#555}\
figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.4em}svg.chart text{font-size:11px}\
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1em}.swatch{display:inline-block;width:10px;\
height:10px;margin-right:4px}table{border-collapse:collapse;margin:.5em 0 2em;font-size:12px}th,td{border:1px \
solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3;cursor:pointer}\
th.asc::after{content:' ▲'}th.desc::after{content:' ▼'}.charts{display:flex;flex-wrap:wrap;gap:2em}\
p.about{white-space:pre-wrap;color:#444;max-width:60em}";

/// Sorting by a column on a click on its header (numbers as numbers), and a mark that the script ran.
const SCRIPT: &str = "document.querySelectorAll('table.sortable').forEach(function(table){\
table.querySelectorAll('th').forEach(function(th,index){th.addEventListener('click',function(){\
var numeric=th.dataset.numeric==='true';var asc=!th.classList.contains('asc');\
table.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc')});th.classList.add(asc?'asc':'desc');\
var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);rows.sort(function(a,b){\
var x=a.cells[index].textContent,y=b.cells[index].textContent;var c=numeric?(parseFloat(x||'NaN')||0)-(parseFloat(y||'NaN')||0):x.localeCompare(y);\
return asc?c:-c});rows.forEach(function(r){body.appendChild(r)})})})});document.body.dataset.sortable='ready';";

/// The whole page.
pub fn render(page: &Page) -> String {
    let about = match &page.run {
        Some(run) => format!(
            "Organisation <code>{}</code>, from run <code id=\"run-id\">{}</code> collected at {} UTC; page built {} UTC.",
            escape(&run.organization_id),
            escape(&run.run_id),
            escape(&run.snapshot_at),
            escape(&page.generated_at)
        ),
        None => format!("No run loaded yet; page built {} UTC.", escape(&page.generated_at)),
    };
    render_about(page, &about)
}

/// The page, `about` (HTML) saying what it was built from.
fn render_about(page: &Page, about: &str) -> String {
    let mut html =
        String::from("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>costlake report</title>");
    let _ = write!(html, "<style>{STYLE}</style></head><body><header><h1>costlake: where the money goes</h1>");
    let _ = write!(html, "<p>{about}</p>");
    html.push_str("</header><div class=\"charts\">");
    html.push_str(&daily_chart(page.daily));
    for (report, set) in &page.reports {
        html.push_str(&match report.name.as_str() {
            "cost-drift" => waterfall(set),
            "ghost-resources" => bars(
                "waste-by-kind",
                "Ghost resources: euros a month by kind",
                &sums(set, "kind", "monthly_cost"),
                "EUR a month",
            ),
            "rightsizing" => bars(
                "rightsizing-savings",
                "Rightsizing: euros a month saved per Instance",
                &sums(set, "name", "monthly_savings"),
                "EUR a month",
            ),
            _ => String::new(),
        });
    }
    html.push_str("</div>");
    for (report, set) in &page.reports {
        html.push_str(&table(&report.name, &format!("{}: {}", report.name, report.title), &report.description, set));
    }
    let _ = writeln!(html, "<script>{SCRIPT}</script></body></html>");
    html
}

/// One result as a page of its own (`costlake report NAME --format html`, `costlake sql ... --format html`): its
/// table, and its chart when it has one.
pub fn render_one(set: &ResultSet, report: Option<&Report>, generated_at: &str) -> String {
    let empty = ResultSet { columns: Vec::new(), rows: Vec::new() };
    match report {
        // Rendered from the report's rows alone: the run they come from is not known here, so not stated.
        Some(report) => render_about(
            &Page { run: None, generated_at: generated_at.into(), daily: &empty, reports: vec![(report, set)] },
            &format!("Page built {} UTC.", escape(generated_at)),
        ),
        None => format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>costlake</title><style>{STYLE}</style></head><body>{}<script>{SCRIPT}</script></body></html>\n",
            table("sql", "costlake sql", "", set)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_the_data_holds() {
        assert_eq!(
            escape("<b>\"x\" & 'y'\u{1b}[2J</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;\u{FFFD}[2J&lt;/b&gt;"
        );
        assert_eq!(cell_text(&Value::Null), "");
        assert_eq!(cell_text(&serde_json::json!("12.5")), "12.5");
        assert_eq!(cell_text(&serde_json::json!(3)), "3");
    }
}
