//! Rendering a result: a table for people (with totals), JSON and CSV for programs.
//!
//! JSON is an array of objects, one per row, in column order; money stays a decimal string exactly as the
//! engine computed it. CSV has a header row; NULL is an empty field. The table rounds money to cents for
//! reading only, says `unknown` where there is no price, and ends with the report's totals.
//!
//! Names and descriptions come from the API, so from anyone who can name a resource: in table and CSV output
//! their control characters are shown escaped ([`terminal_safe`]), never sent to the terminal (an escape
//! sequence would clear the screen or retitle the window, a newline would forge a row). JSON escapes them itself.

use std::collections::BTreeMap;
use std::io::Write;
use std::str::FromStr;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::{Report, ResultSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
    /// A GitHub-flavoured Markdown table (the table's columns, whole ids) and its totals, to paste in a ticket.
    Markdown,
    /// A self-contained HTML page: the table, sortable, and its chart (`report all`: every report, with charts).
    Html,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(value: &str) -> Result<Format, String> {
        match value {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "markdown" | "md" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            other => Err(format!("unknown format {other:?}: use table, json, csv, markdown or html")),
        }
    }
}

/// Sums of one money column per value of a grouping column.
#[derive(Debug, Clone, PartialEq)]
pub struct TotalsBlock {
    pub by: String,
    pub money: String,
    /// Each group splits the same money (`@partitions`): the groups are not added up.
    pub partition: bool,
    pub groups: BTreeMap<String, GroupTotal>,
}

impl TotalsBlock {
    /// The line under the groups: their sum, or, when each group splits the same money, that money once.
    pub fn summary(&self) -> String {
        if self.partition {
            // Adding the groups up would count the same euros once per group.
            let mut sums = self.groups.values().map(|g| &g.sums);
            let first = sums.next().cloned().unwrap_or_default();
            return if sums.all(|s| *s == first) {
                format!("Each {} splits the same {}: {}", self.by, self.money, money_text(&first))
            } else {
                format!("Each {} splits its own {}: not added up across them", self.by, self.money)
            };
        }
        let mut all = GroupTotal::default();
        for total in self.groups.values() {
            all.rows += total.rows;
            all.unpriced += total.unpriced;
            for (currency, sum) in &total.sums {
                *all.sums.entry(currency.clone()).or_default() += *sum;
            }
        }
        let mut line = format!("All {}: {}", plural(all.rows, "row"), money_text(&all.sums));
        if all.unpriced > 0 {
            line.push_str(&format!(", plus {} without a known price", all.unpriced));
        }
        line
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupTotal {
    pub rows: u64,
    /// Rows whose money is NULL (no known price): counted, never summed as zero.
    pub unpriced: u64,
    /// Sum per currency.
    pub sums: BTreeMap<String, Decimal>,
}

/// The report's `@totals`, computed exactly from the rows (decimal strings, never floats).
pub fn totals(set: &ResultSet, report: &Report) -> Vec<TotalsBlock> {
    let mut blocks = Vec::new();
    for (money, currency) in &report.money {
        let (Some(money_at), Some(currency_at)) = (set.column(money), set.column(currency)) else {
            continue;
        };
        for by in &report.totals {
            let Some(by_at) = set.column(by) else {
                continue;
            };
            let mut groups: BTreeMap<String, GroupTotal> = BTreeMap::new();
            for row in &set.rows {
                let group = groups.entry(text(&row[by_at])).or_default();
                group.rows += 1;
                match row[money_at].as_str().and_then(|s| Decimal::from_str(s).ok()) {
                    Some(amount) => {
                        *group.sums.entry(text(&row[currency_at])).or_default() += amount;
                    }
                    None => group.unpriced += 1,
                }
            }
            let partition = report.partitions.contains(by);
            blocks.push(TotalsBlock { by: by.clone(), money: money.clone(), partition, groups });
        }
    }
    blocks
}

fn money_text(sums: &BTreeMap<String, Decimal>) -> String {
    if sums.is_empty() {
        return "unknown".into();
    }
    sums.iter().map(|(currency, sum)| format!("{:.2} {currency}", sum.round_dp(2))).collect::<Vec<_>>().join(" + ")
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => terminal_safe(s),
        other => other.to_string(),
    }
}

/// Text with every control character (C0, DEL, C1: escape sequences, CR, BS, NUL, newlines, tabs) replaced by
/// its visible escape (`\x1b`, `\n`, `\u{9b}`); everything else, accents and emoji included, is kept.
pub fn terminal_safe(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The longest text a table cell shows; longer values end in `…` (JSON and CSV keep them whole).
pub const MAX_CELL_CHARS: usize = 160;

fn truncated(text: String) -> String {
    if text.chars().count() <= MAX_CELL_CHARS {
        return text;
    }
    let mut short: String = text.chars().take(MAX_CELL_CHARS - 1).collect();
    short.push('…');
    short
}

/// `1 row`, `2 rows`.
pub fn plural(count: u64, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

/// Writes `set` in `format`. `report` adds the money formatting and the totals of the table format.
pub fn render(set: &ResultSet, format: Format, report: Option<&Report>, out: &mut dyn Write) -> std::io::Result<()> {
    render_with(set, format, report, false, out)
}

/// A canonical UUID (`7749d23e-1c81-4785-9416-c47f113c68e0`).
fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// The columns a table leaves out unless `wide`: those not in the report's `@table`, or without one, an id whose
/// name sits beside it (`project_id` when `project_name` is there). JSON and CSV keep every column.
fn hidden_in_table(set: &ResultSet, report: Option<&Report>, wide: bool) -> Vec<bool> {
    let chosen = report.map(|r| r.table.as_slice()).filter(|columns| !columns.is_empty());
    set.columns
        .iter()
        .map(|(name, _)| {
            !wide
                && match chosen {
                    Some(columns) => !columns.contains(name),
                    None => name
                        .strip_suffix("_id")
                        .is_some_and(|stem| set.columns.iter().any(|(other, _)| *other == format!("{stem}_name"))),
                }
        })
        .collect()
}

/// Like [`render`]; `wide` makes a table show every column and whole ids (a table otherwise fits the terminal:
/// ids shortened, an id beside its name left out, long text wrapped).
pub fn render_with(
    set: &ResultSet,
    format: Format,
    report: Option<&Report>,
    wide: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            let rows: Vec<Value> = set
                .rows
                .iter()
                .map(|row| {
                    let object: Map<String, Value> =
                        set.columns.iter().map(|(name, _)| name.clone()).zip(row.iter().cloned()).collect();
                    Value::Object(object)
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(set.columns.iter().map(|(name, _)| name))?;
            for row in &set.rows {
                writer.write_record(row.iter().map(text))?;
            }
            writer.flush()
        }
        Format::Table => render_table(set, report, wide, out),
        Format::Markdown => render_markdown(set, report, wide, out),
        Format::Html => {
            let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
            out.write_all(crate::html::render_one(set, report, &now).as_bytes())
        }
    }
}

/// How a table (or Markdown) shows one value: money in cents ("unknown" without a price), bytes in units, an id
/// shortened unless `whole_ids`; and whether it is a number (right-aligned).
fn shown_cell(
    report: Option<&Report>,
    (name, ty): &(String, String),
    value: &Value,
    whole_ids: bool,
) -> (String, bool) {
    let shown = if is_money(report, name) {
        value.as_str().map(cents).unwrap_or_else(|| "unknown".into())
    } else if name.ends_with("_bytes") {
        human_bytes(value)
    } else {
        match text(value) {
            // The first 8 characters tell ids apart on screen; JSON, CSV and --wide have them whole.
            id if !whole_ids && is_uuid(&id) => format!("{}…", &id[..8]),
            other => other,
        }
    };
    (shown, ty.contains("Int") || ty.contains("Decimal") || ty.contains("Float"))
}

/// A Markdown table cell: backslashes and pipes escaped (`terminal_safe` already made line breaks visible).
fn markdown_cell(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|")
}

fn markdown_table(out: &mut dyn Write, header: &[&str], numeric: &[bool], rows: &[Vec<String>]) -> std::io::Result<()> {
    writeln!(out, "| {} |", header.iter().map(|h| markdown_cell(h)).collect::<Vec<_>>().join(" | "))?;
    let rule: Vec<&str> = numeric.iter().map(|&n| if n { "---:" } else { "---" }).collect();
    writeln!(out, "| {} |", rule.join(" | "))?;
    for row in rows {
        writeln!(out, "| {} |", row.iter().map(|c| markdown_cell(c)).collect::<Vec<_>>().join(" | "))?;
    }
    Ok(())
}

/// Markdown: the table's columns (every one with `wide`), whole ids, money in cents, then the report's totals.
fn render_markdown(set: &ResultSet, report: Option<&Report>, wide: bool, out: &mut dyn Write) -> std::io::Result<()> {
    if set.columns.is_empty() {
        return writeln!(out, "(no result)");
    }
    let hidden = hidden_in_table(set, report, wide);
    let shown: Vec<&(String, String)> = set.columns.iter().zip(&hidden).filter(|(_, h)| !**h).map(|(c, _)| c).collect();
    let mut numeric = vec![false; shown.len()];
    let mut rows = Vec::new();
    for row in &set.rows {
        let cells = set.columns.iter().zip(row).zip(&hidden).filter(|(_, h)| !**h).enumerate().map(
            |(k, ((column, value), _))| {
                let (text, is_number) = shown_cell(report, column, value, true);
                numeric[k] = is_number;
                text
            },
        );
        rows.push(cells.collect());
    }
    let header: Vec<&str> = shown.iter().map(|(name, _)| name.as_str()).collect();
    markdown_table(out, &header, &numeric, &rows)?;
    writeln!(out, "\n{}", plural(set.rows.len() as u64, "row"))?;
    let Some(report) = report else { return Ok(()) };
    for block in totals(set, report) {
        if block.groups.is_empty() {
            continue;
        }
        writeln!(out, "\n**Total {} per {}**\n", block.money, block.by)?;
        let rows: Vec<Vec<String>> = block
            .groups
            .iter()
            .map(|(group, total)| {
                vec![
                    if group.is_empty() { "(none)".to_string() } else { group.clone() },
                    total.rows.to_string(),
                    money_text(&total.sums),
                    total.unpriced.to_string(),
                ]
            })
            .collect();
        markdown_table(out, &[&block.by, "rows", &block.money, "unknown"], &[false, true, true, true], &rows)?;
        writeln!(out, "\n{}", block.summary())?;
    }
    Ok(())
}

fn is_money(report: Option<&Report>, column: &str) -> bool {
    report.is_some_and(|r| r.money.iter().any(|(m, _)| m == column))
}

fn cents(value: &str) -> String {
    Decimal::from_str(value).map(|d| d.round_dp(2).to_string()).unwrap_or_else(|_| value.to_string())
}

fn human_bytes(value: &Value) -> String {
    match value.as_u64() {
        Some(bytes) if bytes >= 1_000_000_000_000 => format!("{:.1} TB", bytes as f64 / 1e12),
        Some(bytes) if bytes >= 1_000_000_000 => format!("{:.1} GB", bytes as f64 / 1e9),
        Some(bytes) if bytes >= 1_000_000 => format!("{:.1} MB", bytes as f64 / 1e6),
        Some(bytes) => format!("{bytes} B"),
        None => text(value),
    }
}

/// Narrowest a long text column (a reason, a list of SKUs) may get before short columns give up their width.
const LONG_TEXT_MIN: usize = 20;
/// Columns whose values are at most this wide are short: they keep their values whole, never wrapped.
const SHORT_MAX: usize = 24;

/// Fits a table in `width` characters: short columns (names, states, dates, euros) keep their values whole, and
/// their headers too where the width allows (a header that must wrap breaks at its underscores); long text wraps
/// in what is left. Without room for that, comfy-table's own arrangement decides.
fn fit_columns(table: &mut Table, width: u16) {
    let count = table.column_count();
    let headers: Vec<String> = table.header().map(|h| h.cell_iter().map(|c| c.content()).collect()).unwrap_or_default();
    let value_widths: Vec<usize> = (0..count)
        .map(|index| {
            table
                .column_cells_iter(index)
                .flatten()
                .map(|c| c.content().lines().map(|l| l.chars().count()).max().unwrap_or(0))
                .max()
                .unwrap_or(0)
        })
        .collect();
    const PADDING: usize = 2;
    // Borders: one per column and one more.
    let mut budget = (width as usize).saturating_sub(count + 1);
    let short: Vec<usize> = (0..count).filter(|&i| value_widths[i] <= SHORT_MAX).collect();
    let long_count = count - short.len();
    budget = budget.saturating_sub(long_count * (LONG_TEXT_MIN + PADDING));
    let mut given: Vec<usize> = short.iter().map(|&i| value_widths[i].max(3) + PADDING).collect();
    let floor: usize = given.iter().sum();
    if floor > budget {
        return;
    }
    // What is left goes to the headers, the cheapest first: room for each header's longest word (a header that
    // wraps breaks between words), then for whole headers.
    let mut left = budget - floor;
    let header_width = |i: usize, whole: bool| {
        let header = headers.get(i).map_or("", String::as_str);
        let width = if whole {
            header.chars().count()
        } else {
            header.split('_').map(|w| w.chars().count()).max().unwrap_or(0)
        };
        width + PADDING
    };
    for whole in [false, true] {
        let mut wants: Vec<(usize, usize)> =
            short.iter().enumerate().map(|(k, &i)| (k, header_width(i, whole).saturating_sub(given[k]))).collect();
        wants.sort_by_key(|&(_, extra)| extra);
        for (k, extra) in wants {
            if extra <= left {
                given[k] += extra;
                left -= extra;
            }
        }
    }
    let mut wrapped_headers = false;
    let mut names = headers.clone();
    for (k, &i) in short.iter().enumerate() {
        if let Some(column) = table.column_mut(i) {
            column.set_constraint(comfy_table::ColumnConstraint::Absolute(comfy_table::Width::Fixed(
                u16::try_from(given[k]).unwrap_or(u16::MAX),
            )));
        }
        if let Some(name) = names.get_mut(i)
            && name.chars().count() + PADDING > given[k]
        {
            *name = name.replace('_', " ");
            wrapped_headers = true;
        }
    }
    if wrapped_headers {
        table.set_header(names);
    }
}

fn render_table(set: &ResultSet, report: Option<&Report>, wide: bool, out: &mut dyn Write) -> std::io::Result<()> {
    if set.columns.is_empty() {
        return writeln!(out, "(no result)");
    }
    let hidden = hidden_in_table(set, report, wide);
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    if !wide {
        // The terminal's width (or COLUMNS): long text wraps within it.
        table.set_content_arrangement(ContentArrangement::Dynamic);
        if let Some(width) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
            table.set_width(width);
        }
    }
    table.set_header(set.columns.iter().zip(&hidden).filter(|(_, hide)| !**hide).map(|((name, _), _)| name.as_str()));
    for row in &set.rows {
        let cells: Vec<comfy_table::Cell> = set
            .columns
            .iter()
            .zip(row)
            .zip(&hidden)
            .filter(|(_, hide)| !**hide)
            .map(|((column, value), _)| {
                let (shown, numeric) = shown_cell(report, column, value, wide);
                let cell = comfy_table::Cell::new(truncated(shown));
                if numeric { cell.set_alignment(CellAlignment::Right) } else { cell }
            })
            .collect();
        table.add_row(cells);
    }
    if !wide && let Some(width) = table.width() {
        fit_columns(&mut table, width);
    }
    writeln!(out, "{table}")?;
    writeln!(out, "{}", plural(set.rows.len() as u64, "row"))?;

    let Some(report) = report else { return Ok(()) };
    for block in totals(set, report) {
        if block.groups.is_empty() {
            continue;
        }
        writeln!(out, "\nTotal {} per {}:", block.money, block.by)?;
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(vec![block.by.as_str(), "rows", block.money.as_str(), "unknown"]);
        for (group, total) in &block.groups {
            table.add_row(vec![
                comfy_table::Cell::new(if group.is_empty() { "(none)".to_string() } else { truncated(group.clone()) }),
                comfy_table::Cell::new(total.rows).set_alignment(CellAlignment::Right),
                comfy_table::Cell::new(money_text(&total.sums)).set_alignment(CellAlignment::Right),
                comfy_table::Cell::new(total.unpriced).set_alignment(CellAlignment::Right),
            ]);
        }
        writeln!(out, "{table}")?;
        writeln!(out, "{}", block.summary())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (ResultSet, Report) {
        let report = Report::parse(
            "r",
            "-- r: t\n-- d\n-- @param p String = ''  x\n-- @money monthly_cost currency\n-- @totals kind\nSELECT {p:String}",
        )
        .unwrap();
        let set = ResultSet {
            columns: vec![
                ("kind".into(), "String".into()),
                ("size_bytes".into(), "Nullable(UInt64)".into()),
                ("monthly_cost".into(), "Nullable(Decimal(38, 6))".into()),
                ("currency".into(), "Nullable(String)".into()),
            ],
            rows: vec![
                vec!["orphaned_ip".into(), Value::Null, "2.92".into(), "EUR".into()],
                vec!["orphaned_ip".into(), Value::Null, "2.92".into(), "EUR".into()],
                vec!["unattached_volume".into(), 20_000_000_000u64.into(), Value::Null, Value::Null],
                vec!["unattached_volume".into(), 500_000_000_000u64.into(), "43.07".into(), "EUR".into()],
            ],
        };
        (set, report)
    }

    #[test]
    fn totals_are_exact_and_count_unpriced_rows() {
        let (set, report) = sample();
        let blocks = totals(&set, &report);
        assert_eq!(blocks.len(), 1);
        let ips = &blocks[0].groups["orphaned_ip"];
        assert_eq!((ips.rows, ips.unpriced, ips.sums["EUR"]), (2, 0, Decimal::from_str("5.84").unwrap()));
        let volumes = &blocks[0].groups["unattached_volume"];
        assert_eq!((volumes.rows, volumes.unpriced, volumes.sums["EUR"]), (2, 1, Decimal::from_str("43.07").unwrap()));
    }

    #[test]
    fn renders_json_csv_and_table() {
        let (set, report) = sample();
        let mut json = Vec::new();
        render(&set, Format::Json, Some(&report), &mut json).unwrap();
        let parsed: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed[0]["monthly_cost"], Value::from("2.92"));
        assert_eq!(parsed[2]["monthly_cost"], Value::Null);

        let mut csv = Vec::new();
        render(&set, Format::Csv, Some(&report), &mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert!(csv.starts_with("kind,size_bytes,monthly_cost,currency\n"), "{csv}");
        assert!(csv.contains("unattached_volume,20000000000,,\n"), "{csv}");

        let mut table = Vec::new();
        render(&set, Format::Table, Some(&report), &mut table).unwrap();
        let table = String::from_utf8(table).unwrap();
        assert!(
            table.contains("unknown") && table.contains("500.0 GB") && table.contains("Total monthly_cost per kind"),
            "{table}"
        );
        assert!(table.contains("All 4 rows: 48.91 EUR, plus 1 without a known price"), "{table}");
    }

    #[test]
    fn renders_markdown_with_its_totals_and_escaped_pipes() {
        let (mut set, report) = sample();
        set.rows[0][0] = "a|b".into();
        let mut out = Vec::new();
        render(&set, Format::Markdown, Some(&report), &mut out).unwrap();
        let markdown = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = markdown.lines().collect();
        assert_eq!(lines[0], "| kind | size_bytes | monthly_cost | currency |", "{markdown}");
        assert_eq!(lines[1], "| --- | ---: | ---: | --- |", "{markdown}");
        assert_eq!(lines[2], "| a\\|b |  | 2.92 | EUR |", "{markdown}");
        assert!(lines.contains(&"| unattached_volume | 500.0 GB | 43.07 | EUR |"), "{markdown}");
        assert!(markdown.contains("**Total monthly_cost per kind**"), "{markdown}");
        assert!(lines.contains(&"| unattached_volume | 2 | 43.07 EUR | 1 |"), "{markdown}");
        assert!(markdown.contains("All 4 rows: 48.91 EUR, plus 1 without a known price"), "{markdown}");
        assert_eq!("md".parse::<Format>(), Ok(Format::Markdown));
    }

    /// cost-allocation: every tag key splits the whole spend; adding the keys up would count each euro once per key.
    #[test]
    fn partitions_are_not_added_up_across_groups() {
        let report = Report::parse(
            "a",
            "-- a: t\n-- @param p String = ''  x\n-- @money cost currency\n-- @partitions tag_key\nSELECT {p:String}",
        )
        .unwrap();
        assert_eq!(
            (report.totals.clone(), report.partitions.clone()),
            (vec!["tag_key".into()], vec!["tag_key".into()])
        );
        let row = |key: &str, value: Value, cost: &str| vec![Value::from(key), value, Value::from(cost), "EUR".into()];
        let mut set = ResultSet {
            columns: vec![
                ("tag_key".into(), "String".into()),
                ("tag_value".into(), "Nullable(String)".into()),
                ("cost".into(), "Decimal(38, 9)".into()),
                ("currency".into(), "String".into()),
            ],
            rows: vec![
                row("team", "web".into(), "60.5"),
                row("team", Value::Null, "39.5"),
                row("env", "prod".into(), "100"),
                row("env", Value::Null, "0"),
            ],
        };
        let render_table = |set: &ResultSet| {
            let mut out = Vec::new();
            render(set, Format::Table, Some(&report), &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let table = render_table(&set);
        assert!(table.contains("Each tag_key splits the same cost: 100.00 EUR"), "{table}");
        assert!(!table.contains("All 4 rows") && !table.contains("200"), "{table}");
        set.rows[3] = row("env", Value::Null, "1");
        let table = render_table(&set);
        assert!(table.contains("Each tag_key splits its own cost: not added up across them"), "{table}");
    }

    #[test]
    fn a_hostile_name_reaches_no_terminal_raw() {
        let (mut set, report) = sample();
        let hostile = "web\u{1b}[2J\u{1b}]0;pwned\u{7}\r\nforged,row\u{8}\u{0}\u{9b}31m";
        set.rows[0][0] = Value::from(hostile);
        set.rows[1][0] = Value::from("x".repeat(500));
        for format in [Format::Table, Format::Csv] {
            let mut out = Vec::new();
            render(&set, format, Some(&report), &mut out).unwrap();
            let out = String::from_utf8(out).unwrap();
            let bad: Vec<char> = out.chars().filter(|c| c.is_control() && *c != '\n').collect();
            assert!(bad.is_empty(), "{format:?} printed control characters {bad:?}:\n{out}");
            assert!(out.contains("web\\x1b[2J\\x1b]0;pwned\\x07\\r\\nforged"), "{format:?}: {out}");
            assert!(!out.lines().any(|l| l.starts_with("forged")), "{format:?}: a newline forged a row:\n{out}");
            if format == Format::Table {
                assert!(out.contains(&format!("{}…", "x".repeat(MAX_CELL_CHARS - 1))), "long values are cut");
                assert!(!out.contains(&"x".repeat(MAX_CELL_CHARS)), "long values are cut");
            }
        }
        let mut json = Vec::new();
        render(&set, Format::Json, Some(&report), &mut json).unwrap();
        let parsed: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed[0]["kind"], Value::from(hostile), "JSON keeps the value, escaped by JSON itself");
    }
}
