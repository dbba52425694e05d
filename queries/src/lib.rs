//! Reports: canned SQL in `queries/*.sql`, each with a header that says what it answers.
//!
//! ```sql
//! -- ghost-resources: resources that keep billing while doing nothing
//! --
//! -- <what it answers, in a few lines>
//! --
//! -- @param min_snapshot_age_days UInt32 = 90  a snapshot at least this many days old is old
//! -- @money monthly_cost currency
//! -- @totals kind, project_id
//! ```
//!
//! Parameters are ClickHouse query parameters (`{name:Type}` in the SQL, values bound by the engine), never
//! spliced into the text. `@money` names a money column and its currency column (exact decimal strings);
//! `@totals` asks for sums of the money per value of each listed column, per currency. `@partitions` is
//! `@totals` for a column each of whose values splits the same money again (cost-allocation: every tag key
//! allocates the whole spend), so its groups are never added up into one grand total. `@table` names the columns a
//! table shows to fit a terminal (the others with `--wide`, and always in JSON and CSV). `@dashboard` names the
//! Grafana dashboard that shows it ([`grafana`]).

pub mod grafana;
pub mod html;
pub mod output;

use costlake_transform::warehouse::{Param, Warehouse, WarehouseError};
use serde_json::Value;

pub use output::{Format, render, render_with, totals};

mod generated {
    include!(concat!(env!("OUT_DIR"), "/reports.rs"));
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no report named {name:?}{suggestion}; available: {available}")]
    Unknown { name: String, suggestion: String, available: String },
    #[error("report {report}: unknown parameter {name:?}; it takes: {known}")]
    UnknownParam { report: String, name: String, known: String },
    #[error("report {report}: parameter {name} must be {ty}, got {value:?}")]
    BadParam { report: String, name: String, ty: String, value: String },
    #[error("parameter {0:?} must be name=value")]
    Syntax(String),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error("the warehouse returned output costlake cannot read ({0})")]
    Output(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    /// ClickHouse type of the placeholder (`UInt32`, `String`, `Date`).
    pub ty: String,
    pub default: String,
    /// The accepted values, when the header lists them as `(a|b|c)` after the default.
    pub choices: Vec<String>,
    pub help: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub name: String,
    pub title: String,
    pub description: String,
    pub params: Vec<ParamSpec>,
    /// (money column, its currency column)
    pub money: Vec<(String, String)>,
    pub totals: Vec<String>,
    /// Columns of `totals` whose values each split the same money: no grand total across them.
    pub partitions: Vec<String>,
    /// The columns a table shows, to fit a terminal (`@table`); empty for all. `--wide`, JSON and CSV have all.
    pub table: Vec<String>,
    /// The Grafana dashboard whose panel shows it (`@dashboard costs|waste|utilisation`).
    pub dashboard: String,
    pub sql: String,
}

impl Report {
    /// Parses the header of a report file. `name` is the file stem; the header must agree with it.
    pub fn parse(name: &str, sql: &str) -> Result<Report, String> {
        let mut lines = sql.lines().take_while(|l| l.trim_start().starts_with("--")).map(|l| {
            let body = l.trim_start().trim_start_matches("--");
            body.strip_prefix(' ').unwrap_or(body).to_string()
        });
        let first = lines.next().ok_or("the file must start with a `-- name: title` comment")?;
        let (declared, title) = first.split_once(':').ok_or("the first line must be `-- name: title`")?;
        if declared.trim() != name {
            return Err(format!("its header names it {:?} but the file is {name}.sql", declared.trim()));
        }
        // The title goes on over the next lines, up to the blank comment line before the description.
        let mut lines = lines.peekable();
        let mut title = title.trim().to_string();
        while let Some(more) = lines.next_if(|l| !l.trim().is_empty() && !l.starts_with('@')) {
            title.push(' ');
            title.push_str(more.trim());
        }
        let mut report = Report {
            name: name.to_string(),
            title,
            description: String::new(),
            params: Vec::new(),
            money: Vec::new(),
            totals: Vec::new(),
            partitions: Vec::new(),
            table: Vec::new(),
            dashboard: String::new(),
            sql: sql.to_string(),
        };
        let mut description = Vec::new();
        for line in lines {
            if let Some(rest) = line.strip_prefix("@param ") {
                let (spec, help) = rest.split_once("  ").unwrap_or((rest, ""));
                let (head, default) = spec.split_once(" = ").ok_or(format!("@param {rest:?} needs ` = default`"))?;
                let (name, ty) = head
                    .trim()
                    .split_once(' ')
                    .ok_or(format!("@param {rest:?} must be `name Type = default [(a|b)]  help`"))?;
                let (default, choices) = match default.split_once(" (") {
                    Some((default, choices)) => {
                        (default, choices.trim_end_matches(')').split('|').map(|c| c.trim().to_string()).collect())
                    }
                    None => (default, Vec::new()),
                };
                let default = default.trim().trim_matches('\'').to_string();
                report.params.push(ParamSpec {
                    name: name.into(),
                    ty: ty.trim().into(),
                    default,
                    choices,
                    help: help.trim().into(),
                });
            } else if let Some(rest) = line.strip_prefix("@money ") {
                let mut words = rest.split_whitespace();
                let (Some(column), Some(currency)) = (words.next(), words.next()) else {
                    return Err(format!("@money {rest:?} must be `column currency_column`"));
                };
                report.money.push((column.into(), currency.into()));
            } else if let Some(rest) = line.strip_prefix("@totals ") {
                report.totals.extend(rest.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()));
            } else if let Some(rest) = line.strip_prefix("@table ") {
                report.table = rest.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
            } else if let Some(rest) = line.strip_prefix("@dashboard ") {
                report.dashboard = rest.trim().to_string();
            } else if let Some(rest) = line.strip_prefix("@partitions ") {
                let columns: Vec<String> =
                    rest.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
                report.totals.extend(columns.iter().cloned());
                report.partitions.extend(columns);
            } else {
                description.push(line);
            }
        }
        report.description = description.join("\n").trim().to_string();
        for param in &report.params {
            if !report.sql.contains(&format!("{{{}:", param.name)) {
                return Err(format!("@param {} is not used as {{{}:Type}} in the SQL", param.name, param.name));
            }
        }
        Ok(report)
    }

    /// The parameters to bind: every declared one, defaults overridden by `overrides` (name=value).
    pub fn bind(&self, overrides: &[(String, String)]) -> Result<Vec<Param>, ReportError> {
        for (name, value) in overrides {
            let Some(spec) = self.params.iter().find(|p| &p.name == name) else {
                return Err(ReportError::UnknownParam {
                    report: self.name.clone(),
                    name: name.clone(),
                    known: self.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "),
                });
            };
            if !spec.choices.is_empty() && !spec.choices.contains(value) {
                return Err(ReportError::BadParam {
                    report: self.name.clone(),
                    name: name.clone(),
                    ty: format!("one of {}", spec.choices.join(", ")),
                    value: value.clone(),
                });
            }
            if spec.ty.starts_with("Decimal") && value.parse::<rust_decimal::Decimal>().is_err() {
                return Err(ReportError::BadParam {
                    report: self.name.clone(),
                    name: name.clone(),
                    ty: "a decimal number".into(),
                    value: value.clone(),
                });
            }
            // Dates travel as strings so that '' can mean "the newest day"; check their form here.
            let is_date = name == "as_of" || name.ends_with("_date");
            if is_date && !value.is_empty() && chrono_like_date(value).is_none() {
                return Err(ReportError::BadParam {
                    report: self.name.clone(),
                    name: name.clone(),
                    ty: "a date, YYYY-MM-DD".into(),
                    value: value.clone(),
                });
            }
            // A map travels in ClickHouse's own text form; JSON's double-quoted keys are the usual slip.
            let map = value.trim();
            if spec.ty.starts_with("Map(")
                && !(map.starts_with('{') && map.ends_with('}') && !map[1..].trim_start().starts_with('"'))
            {
                return Err(ReportError::BadParam {
                    report: self.name.clone(),
                    name: name.clone(),
                    ty: "a map in single quotes, such as {'web-shop':500,'*':2000}".into(),
                    value: value.clone(),
                });
            }
            if let Some((low, high)) = integer_range(&spec.ty)
                && !value.parse::<i128>().is_ok_and(|v| (low..=high).contains(&v))
            {
                return Err(ReportError::BadParam {
                    report: self.name.clone(),
                    name: name.clone(),
                    ty: format!("an integer from {low} to {high} ({})", spec.ty),
                    value: value.clone(),
                });
            }
        }
        Ok(self
            .params
            .iter()
            .map(|spec| {
                let value = overrides
                    .iter()
                    .rev()
                    .find(|(name, _)| name == &spec.name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| spec.default.clone());
                (spec.name.clone(), value)
            })
            .collect())
    }
}

/// `YYYY-MM-DD`, a day of the calendar: the engine would read 2026-02-30 as 2026-03-02.
fn chrono_like_date(value: &str) -> Option<()> {
    let [y, m, d] = value.split('-').collect::<Vec<&str>>()[..] else { return None };
    let (year, month, day) = (y.parse::<i32>().ok()?, m.parse::<u32>().ok()?, d.parse::<u32>().ok()?);
    (y.len() == 4 && m.len() == 2 && d.len() == 2).then_some(())?;
    chrono::NaiveDate::from_ymd_opt(year, month, day).map(|_| ())
}

/// Every report shipped with costlake, sorted by name.
pub fn reports() -> Vec<Report> {
    generated::SOURCES
        .iter()
        .map(|(name, sql)| Report::parse(name, sql).unwrap_or_else(|e| panic!("queries/{name}.sql: {e}")))
        .collect()
}

/// The name of `known` that `name` most likely misspells: within three edits.
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::levenshtein(k, name), k))
        .min()
        .filter(|(distance, _)| *distance <= 3)
        .map(|(_, k)| k)
}

pub fn find(name: &str) -> Result<Report, ReportError> {
    let all = reports();
    if let Some(report) = all.iter().find(|r| r.name == name) {
        return Ok(report.clone());
    }
    let suggestion = match closest(name, all.iter().map(|r| r.name.as_str())) {
        Some(known) => format!(" (did you mean {known}?)"),
        None => String::new(),
    };
    Err(ReportError::Unknown {
        name: name.to_string(),
        suggestion,
        available: all.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", "),
    })
}

/// Parses `name=value` command-line parameters.
pub fn parse_params(raw: &[String]) -> Result<Vec<(String, String)>, ReportError> {
    raw.iter()
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| ReportError::Syntax(item.clone()))
        })
        .collect()
}

/// A query result: column names and ClickHouse types, rows as JSON values (decimals as exact strings).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSet {
    pub columns: Vec<(String, String)>,
    pub rows: Vec<Vec<Value>>,
}

impl ResultSet {
    /// The format every query is fetched in: names, types, then one JSON array per row.
    pub const FORMAT: &'static str = "JSONCompactEachRowWithNamesAndTypes";

    pub fn parse(bytes: &[u8]) -> Result<ResultSet, ReportError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ReportError::Output(e.to_string()))?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let mut header = |what: &str| -> Result<Vec<String>, ReportError> {
            match lines.next() {
                None => Ok(Vec::new()),
                Some(line) => serde_json::from_str(line).map_err(|e| ReportError::Output(format!("{what}: {e}"))),
            }
        };
        let names = header("column names")?;
        let types = header("column types")?;
        let rows = lines
            .map(|line| serde_json::from_str::<Vec<Value>>(line).map_err(|e| ReportError::Output(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ResultSet { columns: names.into_iter().zip(types).collect(), rows })
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| n == name)
    }
}

/// Runs any SQL on the warehouse and reads the result.
pub async fn query(warehouse: &dyn Warehouse, sql: &str, params: &[Param]) -> Result<ResultSet, ReportError> {
    let bytes = warehouse.query(sql, params, ResultSet::FORMAT).await?;
    ResultSet::parse(&bytes)
}

/// The values a ClickHouse integer type holds (`UInt32` → 0..=4294967295); `None` for other types.
fn integer_range(ty: &str) -> Option<(i128, i128)> {
    let (signed, bits) = match ty.strip_prefix("UInt") {
        Some(bits) => (false, bits),
        None => (true, ty.strip_prefix("Int")?),
    };
    let bits: u32 = bits.parse().ok().filter(|b| [8, 16, 32, 64].contains(b))?;
    Some(if signed { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) } else { (0, (1i128 << bits) - 1) })
}

/// Runs a report with `overrides` on top of its defaults.
pub async fn run(
    warehouse: &dyn Warehouse,
    report: &Report,
    overrides: &[(String, String)],
) -> Result<ResultSet, ReportError> {
    let params = report.bind(overrides)?;
    let clock = std::time::Instant::now();
    let result = query(warehouse, &report.sql, &params).await?;
    tracing::debug!(
        report = report.name,
        rows = result.rows.len(),
        ms = clock.elapsed().as_millis() as u64,
        "report answered"
    );
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_parameters_are_checked_against_their_type_before_the_engine_sees_them() {
        let report = find("ghost-resources").unwrap();
        let bad = report.bind(&[("min_snapshot_age_days".into(), "-5".into())]).unwrap_err().to_string();
        assert!(bad.contains("an integer from 0 to 4294967295 (UInt32)") && bad.contains("-5"), "{bad}");
        assert!(report.bind(&[("min_snapshot_age_days".into(), "4294967296".into())]).is_err());
        assert!(report.bind(&[("min_snapshot_age_days".into(), "30".into())]).is_ok());
    }

    #[test]
    fn dates_must_be_days_of_the_calendar_and_maps_in_the_engines_form() {
        let forecast = find("forecast").unwrap();
        for bad in ["2026-02-30", "2026-13-01", "2026-1-5", "yesterday"] {
            let error = forecast.bind(&[("as_of".into(), bad.into())]).unwrap_err().to_string();
            assert!(error.contains("YYYY-MM-DD"), "{bad}: {error}");
        }
        assert!(forecast.bind(&[("as_of".into(), "2028-02-29".into())]).is_ok());
        let error = forecast.bind(&[("budgets".into(), r#"{"web-shop":2500}"#.into())]).unwrap_err().to_string();
        assert!(error.contains("{'web-shop':500,'*':2000}"), "{error}");
        for good in ["{'web-shop':2500}", "{}", " {'a b':1, '*':2} ", "{'my \"x\"':5}"] {
            assert!(forecast.bind(&[("budgets".into(), good.into())]).is_ok(), "{good}");
        }
        assert_eq!(integer_range("Int8"), Some((-128, 127)));
        assert_eq!(integer_range("String"), None);
    }

    #[test]
    fn every_shipped_report_has_a_valid_header() {
        let all = reports();
        assert!(all.iter().any(|r| r.name == "ghost-resources"));
        for report in all {
            assert!(!report.title.is_empty() && !report.description.is_empty(), "{}", report.name);
        }
    }

    #[test]
    fn a_title_goes_on_to_the_blank_line() {
        // efficiency's, kapsule-pools' and scaling-groups' titles take two lines: the second was the start of the
        // description, and the report list, Grafana and the HTML page showed half a title.
        let sql = "-- demo: a title that goes\n-- on\n--\n-- What it answers.\n-- @money cost currency\nSELECT 1";
        let report = Report::parse("demo", sql).unwrap();
        assert_eq!(report.title, "a title that goes on");
        assert_eq!(report.description, "What it answers.");
        let efficiency = reports().into_iter().find(|r| r.name == "efficiency").unwrap();
        assert!(efficiency.title.ends_with("of the Instance capacity paid for sits idle"), "{}", efficiency.title);
        assert!(efficiency.description.starts_with("Over the days"), "{}", efficiency.description);
    }

    #[test]
    fn parses_headers_and_binds_parameters() {
        let sql = "-- demo: a title\n--\n-- What it answers.\n--\n-- @param days UInt32 = 90  age threshold\n-- @param project String = ''  filter\n-- @money cost currency\n-- @totals kind\nSELECT {days:UInt32}, {project:String}";
        let report = Report::parse("demo", sql).unwrap();
        assert_eq!(report.title, "a title");
        assert_eq!(report.description, "What it answers.");
        assert_eq!(
            report.params[0],
            ParamSpec {
                name: "days".into(),
                ty: "UInt32".into(),
                default: "90".into(),
                choices: vec![],
                help: "age threshold".into()
            }
        );
        assert_eq!(report.params[1].default, "");
        assert_eq!(report.money, vec![("cost".to_string(), "currency".to_string())]);
        assert_eq!(report.totals, vec!["kind".to_string()]);

        let bound = report.bind(&[("days".into(), "120".into())]).unwrap();
        assert_eq!(bound, vec![("days".to_string(), "120".to_string()), ("project".to_string(), String::new())]);
        assert!(matches!(report.bind(&[("dayz".into(), "1".into())]), Err(ReportError::UnknownParam { .. })));
        assert!(matches!(report.bind(&[("days".into(), "ninety".into())]), Err(ReportError::BadParam { .. })));
        assert!(Report::parse("other", sql).unwrap_err().contains("other.sql"));
        assert!(Report::parse("demo", "-- demo: t\n-- @param x UInt8 = 1\nSELECT 1").unwrap_err().contains("not used"));
    }

    #[test]
    fn reads_the_compact_json_format() {
        let out = b"[\"kind\",\"monthly_cost\"]\n[\"String\",\"Nullable(Decimal(38, 6))\"]\n[\"orphaned_ip\",\"2.92\"]\n[\"x\",null]\n";
        let set = ResultSet::parse(out).unwrap();
        assert_eq!(set.columns[1], ("monthly_cost".to_string(), "Nullable(Decimal(38, 6))".to_string()));
        assert_eq!(set.rows.len(), 2);
        assert_eq!(set.rows[0][1], Value::from("2.92"));
        assert_eq!(ResultSet::parse(b"").unwrap().rows.len(), 0);
        assert!(parse_params(&["a=b=c".into()]).unwrap()[0].1 == "b=c");
        assert!(parse_params(&["nope".into()]).is_err());
    }
}
