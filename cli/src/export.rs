//! `costlake export focus`: the FOCUS 1.2 view, as CSV or Parquet, one billing month at a time, so that memory
//! holds one month of rows whatever the size of the organisation or of the date range.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use arrow::array::RecordBatchReader;
use bytes::Bytes;
use costlake_transform::Warehouse;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

#[derive(clap::Args)]
pub struct ExportArgs {
    /// What to export
    #[arg(value_enum)]
    what: ExportKind,
    /// csv or parquet [default: parquet for an --output ending in .parquet, else csv]
    #[arg(long, short)]
    format: Option<ExportFormat>,
    /// File to write (written whole, then renamed into place); stdout when absent (CSV only)
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// First day of charges to export, YYYY-MM-DD
    #[arg(long)]
    from: Option<String>,
    /// Last day of charges to export, YYYY-MM-DD
    #[arg(long)]
    to: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ExportKind {
    /// FOCUS 1.2 cost and usage rows
    Focus,
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Parquet,
}

/// Where the rows go: CSV appended chunk by chunk, or Parquet re-encoded batch by batch into one file.
enum Sink {
    Csv(Box<dyn Write + Send>),
    Parquet(Option<Box<ArrowWriter<File>>>, File),
}

impl Sink {
    /// Appends one month, fetched whole from the engine in `format` (CSV, or Parquet to re-encode).
    fn append(&mut self, chunk: Bytes) -> anyhow::Result<()> {
        match self {
            Sink::Csv(out) => out.write_all(&chunk).context("cannot write the export"),
            Sink::Parquet(writer, file) => {
                let reader = ParquetRecordBatchReaderBuilder::try_new(chunk)
                    .context("the warehouse sent Parquet that does not decode")?
                    .build()?;
                if writer.is_none() {
                    let properties =
                        WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default())).build();
                    let file = file.try_clone().context("cannot write the export")?;
                    *writer = Some(Box::new(ArrowWriter::try_new(file, reader.schema(), Some(properties))?));
                }
                let writer = writer.as_mut().expect("created above");
                for batch in reader {
                    writer.write(&batch?)?;
                }
                Ok(())
            }
        }
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            Sink::Csv(mut out) => out.flush().context("cannot write the export"),
            Sink::Parquet(writer, _) => {
                writer.expect("at least the schema was written").close()?;
                Ok(())
            }
        }
    }
}

/// Runs `sink.append` on a blocking thread: decoding and encoding Parquet are CPU-bound.
async fn append(sink: Sink, chunk: Bytes) -> anyhow::Result<Sink> {
    tokio::task::spawn_blocking(move || {
        let mut sink = sink;
        sink.append(chunk).map(|_| sink)
    })
    .await?
}

pub async fn export(warehouse: &dyn Warehouse, args: ExportArgs) -> anyhow::Result<()> {
    let ExportKind::Focus = args.what;
    let format = args.format.unwrap_or_else(|| {
        let parquet =
            args.output.as_ref().and_then(|p| p.extension()).is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
        if parquet { ExportFormat::Parquet } else { ExportFormat::Csv }
    });
    if format == ExportFormat::Parquet && args.output.is_none() {
        crate::commands::usage!("Parquet is binary: give a file with --output (CSV can go to stdout)");
    }
    // Only the bounds given become conditions: ClickHouse evaluates both sides of an OR, so an empty date
    // string cannot sit in a guarded `toDate(...)`.
    let mut params = Vec::new();
    let mut conditions = Vec::new();
    let mut bounds = Vec::new();
    for (name, value, condition) in [
        ("from", &args.from, "ChargePeriodStart >= {from:Date}"),
        ("to", &args.to, "ChargePeriodStart < {to:Date} + 1"),
    ] {
        let Some(value) = value.as_deref().filter(|v| !v.is_empty()) else { continue };
        // YYYY-MM-DD as written, as the reports take it (chrono alone would take 2026-9-1 too).
        let day = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").ok().filter(|_| value.len() == 10);
        let Some(day) = day else {
            crate::commands::usage!("--{name} {value:?} is not a date (YYYY-MM-DD)");
        };
        params.push((name.to_string(), value.to_string()));
        conditions.push(condition);
        bounds.push(day);
    }
    if let [from, to] = bounds[..]
        && from > to
    {
        crate::commands::usage!("--from {from} is after --to {to}: nothing could be exported");
    }
    let filter = |extra: &str| {
        let all: Vec<&str> = conditions.iter().copied().chain((!extra.is_empty()).then_some(extra)).collect();
        if all.is_empty() { String::new() } else { format!("WHERE {}", all.join(" AND ")) }
    };

    let months_sql = format!(
        "SELECT DISTINCT toString(toStartOfMonth(ChargePeriodStart)) FROM focus_costs {} ORDER BY 1",
        filter("")
    );
    let months = warehouse.query(&months_sql, &params, "TabSeparated").await?;
    let months: Vec<String> = String::from_utf8_lossy(&months).lines().map(str::to_string).collect();
    if months.is_empty() {
        let held = warehouse
            .query(
                "SELECT min(toDate(ChargePeriodStart)), max(toDate(ChargePeriodStart)), count() FROM focus_costs",
                &[],
                "TabSeparated",
            )
            .await?;
        let held = String::from_utf8_lossy(&held).into_owned();
        let held: Vec<&str> = held.trim().split('\t').collect();
        let what = match held.as_slice() {
            [_, _, "0"] => "the warehouse holds no charges yet".to_string(),
            [first, last, _] => format!("the warehouse holds charges from {first} to {last}"),
            _ => "the warehouse holds none in that range".to_string(),
        };
        tracing::warn!("no charges to export: {what}; only the columns are written");
    }

    // Beside the file, whole name and all (focus.csv.partial), renamed into place once complete.
    let partial = args.output.as_ref().map(|path| {
        let mut name = path.as_os_str().to_os_string();
        name.push(".partial");
        PathBuf::from(name)
    });
    let written = write(warehouse, &args, format, &months, &params, &filter, partial.as_deref()).await;
    if let Err(error) = written {
        // Nothing half-written stays behind.
        if let Some(partial) = &partial {
            let _ = std::fs::remove_file(partial);
        }
        return Err(error);
    }
    if let (Some(partial), Some(path)) = (&partial, &args.output) {
        std::fs::rename(partial, path).with_context(|| format!("cannot write {}", path.display()))?;
        let kind = if format == ExportFormat::Parquet { "Parquet" } else { "CSV" };
        eprintln!("wrote FOCUS 1.2 ({kind}, {} billing months) to {}", months.len(), path.display());
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn write(
    warehouse: &dyn Warehouse,
    args: &ExportArgs,
    export_format: ExportFormat,
    months: &[String],
    params: &[(String, String)],
    filter: &dyn Fn(&str) -> String,
    partial: Option<&Path>,
) -> anyhow::Result<()> {
    // An error names the file asked for, not its temporary name.
    let create_partial = |partial: &Path| {
        let asked = args.output.as_deref().unwrap_or(partial);
        File::create(partial).with_context(|| format!("cannot write {}", asked.display()))
    };
    let mut sink = match (partial, export_format) {
        (Some(path), ExportFormat::Csv) => Sink::Csv(Box::new(std::io::BufWriter::new(create_partial(path)?))),
        (Some(path), ExportFormat::Parquet) => Sink::Parquet(None, create_partial(path)?),
        (None, _) => Sink::Csv(Box::new(std::io::BufWriter::new(crate::commands::Stdout))),
    };
    let format = |first: bool| match export_format {
        ExportFormat::Parquet => "Parquet",
        ExportFormat::Csv if first => "CSVWithNames",
        ExportFormat::Csv => "CSV",
    };
    let order = "ORDER BY ChargePeriodStart, BillingAccountId, SubAccountId, SkuId, ResourceId";
    // Empty fields for NULL, as the reports' CSV writes them (ClickHouse's default is \N).
    let settings = "SETTINGS output_format_parquet_compression_method = 'zstd', format_csv_null_representation = ''";
    if months.is_empty() {
        // No rows: still the columns (a CSV header, a Parquet schema).
        let sql = format!("SELECT * FROM focus_costs LIMIT 0 {settings}");
        sink = append(sink, warehouse.query(&sql, &[], format(true)).await?).await?;
    }
    for (index, month) in months.iter().enumerate() {
        let sql = format!(
            "SELECT * FROM focus_costs {} {order} {settings}",
            filter("toStartOfMonth(ChargePeriodStart) = {month:Date}")
        );
        let mut month_params = params.to_vec();
        month_params.push(("month".to_string(), month.clone()));
        let chunk = warehouse.query(&sql, &month_params, format(index == 0)).await?;
        sink = append(sink, chunk).await?;
    }
    tokio::task::spawn_blocking(move || sink.finish()).await?
}

pub(crate) fn create(path: &Path) -> anyhow::Result<File> {
    File::create(path).with_context(|| format!("cannot write {}", path.display()))
}
