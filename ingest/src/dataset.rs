//! Datasets: named, versioned column sets that a collector fills from API items.
//!
//! A dataset is declared as data (a list of [`Column`]s saying where each value comes from and its type);
//! one generic builder turns a page of JSON items into an Arrow record batch. Adding a field is one line,
//! and every dataset gets the same guarantees: the run columns, exact decimals, the whole item kept as
//! JSON in `raw` so that fields costlake does not model yet are never lost.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Decimal128Builder, Float64Builder, Int64Builder, ListArray, ListBuilder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::decode;

/// Money and prices: Decimal(38, 9), the precision of Scaleway's `nanos`.
pub const DECIMAL_PRECISION: u8 = 38;
pub const DECIMAL_SCALE: i8 = 9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    U64,
    I64,
    Bool,
    /// UTC, microseconds (the API's precision). ClickHouse: `DateTime64(6, 'UTC')`.
    Timestamp,
    /// A number, numeric string or Money amount, as Decimal(38, 9).
    Decimal,
    /// The `currency_code` of a Money object.
    Currency,
    StrList,
    /// A JSON subtree kept as text.
    Json,
    /// A measurement (a metric sample), never money. ClickHouse: `Float64`.
    F64,
    /// A series' sample times, in order ([`Kind::Timestamp`] each). With [`DatasetSpec::rows_are_samples_of`]
    /// the warehouse holds one row per element, unnested at load.
    TimestampList,
    /// A series' sample values ([`Kind::F64`] each), element for element with its [`Kind::TimestampList`].
    F64List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A dotted path into the item.
    Path(&'static str),
    /// The run id.
    RunId,
    /// The time the run started, shared by every row of the run.
    SnapshotAt,
    /// The organisation the run collected.
    OrganizationId,
    /// The zone or region the request targeted (the fan-out key, authoritative even when an item omits it).
    Locality,
    /// The whole item as JSON.
    Raw,
    /// A constant, for facts the API states in its documentation rather than its body (e.g. the currency of
    /// Instance `hourly_price`, "in Euro").
    Const(&'static str),
    /// A value shared by every item of a page but not part of the items: a request parameter (the billing
    /// period asked for) or a top-level field of the body (`updated_at` of a consumption list).
    Extra(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub source: Origin,
    /// A required value missing from an item makes the response malformed (used for identifiers).
    pub required: bool,
}

pub const fn col(name: &'static str, kind: Kind, path: &'static str) -> Column {
    Column { name, kind, source: Origin::Path(path), required: false }
}

pub const fn key(name: &'static str, path: &'static str) -> Column {
    Column { name, kind: Kind::Str, source: Origin::Path(path), required: true }
}

/// The columns every dataset starts with.
pub const RUN_COLUMNS: [Column; 3] = [
    Column { name: "run_id", kind: Kind::Str, source: Origin::RunId, required: true },
    Column { name: "snapshot_at", kind: Kind::Timestamp, source: Origin::SnapshotAt, required: true },
    Column { name: "organization_id", kind: Kind::Str, source: Origin::OrganizationId, required: true },
];

pub const LOCALITY: fn(&'static str) -> Column =
    |name| Column { name, kind: Kind::Str, source: Origin::Locality, required: true };

pub const fn constant(name: &'static str, value: &'static str) -> Column {
    Column { name, kind: Kind::Str, source: Origin::Const(value), required: true }
}

pub const fn extra(name: &'static str, kind: Kind, key: &'static str) -> Column {
    Column { name, kind, source: Origin::Extra(key), required: false }
}

pub const RAW: Column = Column { name: "raw", kind: Kind::Json, source: Origin::Raw, required: true };

/// A dataset: its name in the lake (and, prefixed with `raw_`, its table in the warehouse), the version of its
/// column set, and the columns.
#[derive(Debug, Clone)]
pub struct DatasetSpec {
    pub name: &'static str,
    pub schema_version: u32,
    pub columns: Vec<Column>,
    /// The list column whose elements are the dataset's rows in the warehouse, when a row of the lake holds a
    /// series' run of samples (see [`DatasetSpec::rows_are_samples_of`]).
    pub samples: Option<&'static str>,
}

/// Values shared by every row of a page.
#[derive(Debug, Clone)]
pub struct RowContext {
    pub run_id: String,
    pub snapshot_at: DateTime<Utc>,
    pub organization_id: String,
    pub locality: String,
    /// Values for [`Origin::Extra`] columns.
    pub extras: Vec<(&'static str, Value)>,
}

impl DatasetSpec {
    /// `RUN_COLUMNS`, then `columns`, then `raw`.
    pub fn new(name: &'static str, schema_version: u32, columns: &[Column]) -> DatasetSpec {
        let mut all = RUN_COLUMNS.to_vec();
        all.extend_from_slice(columns);
        all.push(RAW);
        DatasetSpec { name, schema_version, columns: all, samples: None }
    }

    /// `RUN_COLUMNS`, then `columns`, and no `raw`: for datasets whose columns hold the whole source (a metric
    /// sample is its labels, kept as JSON, a time and a value) and whose rows are too many to repeat it.
    pub fn without_raw(name: &'static str, schema_version: u32, columns: &[Column]) -> DatasetSpec {
        let mut all = RUN_COLUMNS.to_vec();
        all.extend_from_slice(columns);
        DatasetSpec { name, schema_version, columns: all, samples: None }
    }

    /// A row holds a series' samples, element for element in `column` and the other list columns: the text a
    /// series repeats is written once per row, not once per sample, and the manifest counts the samples, the
    /// rows the warehouse gets (its inlet table unnests them, see `transform::load`).
    pub fn rows_are_samples_of(mut self, column: &'static str) -> DatasetSpec {
        debug_assert!(self.columns.iter().any(|c| c.name == column && c.kind == Kind::TimestampList));
        self.samples = Some(column);
        self
    }

    /// The rows `batch` gives the warehouse: its rows, or its samples (see [`DatasetSpec::rows_are_samples_of`]).
    pub fn warehouse_rows(&self, batch: &RecordBatch) -> u64 {
        warehouse_rows(self.samples, batch)
    }

    pub fn schema(&self) -> SchemaRef {
        let fields: Vec<Field> =
            self.columns.iter().map(|c| Field::new(c.name, arrow_type(c.kind), !c.required)).collect();
        Arc::new(Schema::new(fields))
    }

    /// Builds one record batch from a page of items. `label(i)` names item `i` in errors
    /// (e.g. `servers[3]`), so a malformed field is reported where it is.
    pub fn build(
        &self,
        items: &[Value],
        ctx: &RowContext,
        label: &(dyn Fn(usize) -> String + Sync),
    ) -> Result<RecordBatch, String> {
        self.build_rows(items, ctx).map_err(|error| error.describe(label))
    }

    /// [`DatasetSpec::build`], its error naming the item by index: for a caller that builds on another thread
    /// and names the item on its own.
    pub fn build_rows(&self, items: &[Value], ctx: &RowContext) -> Result<RecordBatch, RowError> {
        let at = |index: usize, detail: String| RowError { index: Some(index), detail };
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            let mut builder = ColumnBuilder::new(column.kind, items.len());
            for (index, item) in items.iter().enumerate() {
                let value = match column.source {
                    Origin::Path(path) => decode::lookup(item, path).map(Cell::Json),
                    Origin::RunId => Some(Cell::Text(&ctx.run_id)),
                    Origin::SnapshotAt => Some(Cell::Time(ctx.snapshot_at)),
                    Origin::OrganizationId => Some(Cell::Text(&ctx.organization_id)),
                    Origin::Locality => Some(Cell::Text(&ctx.locality)),
                    Origin::Raw => Some(Cell::Json(item)),
                    Origin::Const(text) => Some(Cell::Text(text)),
                    Origin::Extra(key) => ctx
                        .extras
                        .iter()
                        .find(|(k, _)| *k == key)
                        .map(|(_, v)| v)
                        .filter(|v| !v.is_null())
                        .map(Cell::Json),
                };
                let field = match column.source {
                    Origin::Path(path) => path,
                    _ => column.name,
                };
                let appended = builder.append(value).map_err(|e| at(index, format!("{field}: {e}")))?;
                if column.required && !appended {
                    return Err(at(index, format!("{field}: required field is missing")));
                }
            }
            arrays.push(builder.finish());
        }
        RecordBatch::try_new(self.schema(), arrays)
            .map_err(|e| RowError { index: None, detail: format!("internal: {e}") })
    }
}

/// Why a page's items did not become a batch: the item (by index) and what is wrong with it.
#[derive(Debug)]
pub struct RowError {
    pub index: Option<usize>,
    pub detail: String,
}

impl RowError {
    /// The message, the item named by `label` (`servers[3].state: …`).
    pub fn describe(&self, label: &(dyn Fn(usize) -> String + Sync)) -> String {
        match self.index {
            Some(index) => format!("{}.{}", label(index), self.detail),
            None => self.detail.clone(),
        }
    }
}

pub fn arrow_type(kind: Kind) -> DataType {
    match kind {
        Kind::Str | Kind::Currency | Kind::Json => DataType::Utf8,
        Kind::U64 => DataType::UInt64,
        Kind::I64 => DataType::Int64,
        Kind::Bool => DataType::Boolean,
        Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Kind::Decimal => DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
        Kind::StrList => DataType::List(Arc::new(Field::new("item", DataType::Utf8, false))),
        Kind::F64 => DataType::Float64,
        Kind::TimestampList => DataType::List(Arc::new(list_item(Kind::Timestamp))),
        Kind::F64List => DataType::List(Arc::new(list_item(Kind::F64))),
    }
}

/// The rows `batch` gives the warehouse: its rows, or the elements of its `samples` list column.
pub fn warehouse_rows(samples: Option<&str>, batch: &RecordBatch) -> u64 {
    let lists = samples.and_then(|name| batch.column_by_name(name));
    match lists.and_then(|column| column.as_any().downcast_ref::<ListArray>()) {
        Some(lists) => {
            let offsets = lists.value_offsets();
            (offsets[offsets.len() - 1] - offsets[0]) as u64
        }
        None => batch.num_rows() as u64,
    }
}

/// The element of a list column: never null (a series has no missing sample, only fewer).
pub fn list_item(kind: Kind) -> Field {
    Field::new("item", arrow_type(kind), false)
}

enum Cell<'a> {
    Json(&'a Value),
    Text(&'a str),
    Time(DateTime<Utc>),
}

enum ColumnBuilder {
    Str(StringBuilder),
    U64(UInt64Builder),
    I64(Int64Builder),
    Bool(BooleanBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Decimal(Decimal128Builder),
    Currency(StringBuilder),
    StrList(ListBuilder<StringBuilder>),
    Json(StringBuilder),
    F64(Float64Builder),
    TimestampList(ListBuilder<TimestampMicrosecondBuilder>),
    F64List(ListBuilder<Float64Builder>),
}

impl ColumnBuilder {
    fn new(kind: Kind, capacity: usize) -> ColumnBuilder {
        match kind {
            Kind::Str => ColumnBuilder::Str(StringBuilder::with_capacity(capacity, capacity * 16)),
            Kind::U64 => ColumnBuilder::U64(UInt64Builder::with_capacity(capacity)),
            Kind::I64 => ColumnBuilder::I64(Int64Builder::with_capacity(capacity)),
            Kind::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            Kind::Timestamp => {
                ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"))
            }
            Kind::Decimal => ColumnBuilder::Decimal(
                Decimal128Builder::with_capacity(capacity)
                    .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)
                    .expect("valid decimal precision"),
            ),
            Kind::Currency => ColumnBuilder::Currency(StringBuilder::with_capacity(capacity, capacity * 3)),
            Kind::StrList => ColumnBuilder::StrList(ListBuilder::new(StringBuilder::new()).with_field(Field::new(
                "item",
                DataType::Utf8,
                false,
            ))),
            Kind::Json => ColumnBuilder::Json(StringBuilder::with_capacity(capacity, capacity * 256)),
            Kind::F64 => ColumnBuilder::F64(Float64Builder::with_capacity(capacity)),
            Kind::TimestampList => ColumnBuilder::TimestampList(
                ListBuilder::new(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
                    .with_field(list_item(Kind::Timestamp)),
            ),
            Kind::F64List => {
                ColumnBuilder::F64List(ListBuilder::new(Float64Builder::new()).with_field(list_item(Kind::F64)))
            }
        }
    }

    /// Appends one value (or null); returns whether a non-null value was appended.
    fn append(&mut self, cell: Option<Cell<'_>>) -> Result<bool, String> {
        let Some(cell) = cell else {
            self.append_null();
            return Ok(false);
        };
        match (self, cell) {
            (ColumnBuilder::Str(b), Cell::Text(text)) => b.append_value(text),
            (ColumnBuilder::Str(b), Cell::Json(v)) => b.append_value(decode::as_str(v)?),
            (ColumnBuilder::U64(b), Cell::Json(v)) => b.append_value(decode::as_u64(v)?),
            (ColumnBuilder::I64(b), Cell::Json(v)) => b.append_value(decode::as_i64(v)?),
            (ColumnBuilder::Bool(b), Cell::Json(v)) => b.append_value(decode::as_bool(v)?),
            (ColumnBuilder::Timestamp(b), Cell::Time(t)) => b.append_value(t.timestamp_micros()),
            (ColumnBuilder::Timestamp(b), Cell::Json(v)) => match decode::as_timestamp(v)? {
                Some(t) => b.append_value(t.timestamp_micros()),
                None => {
                    b.append_null();
                    return Ok(false);
                }
            },
            (ColumnBuilder::Decimal(b), Cell::Json(v)) => b.append_value(to_scaled_i128(decode::as_decimal(v)?)?),
            (ColumnBuilder::Currency(b), Cell::Json(v)) => match decode::as_money(v)?.1 {
                Some(code) => b.append_value(code),
                None => {
                    b.append_null();
                    return Ok(false);
                }
            },
            (ColumnBuilder::StrList(b), Cell::Json(v)) => {
                for tag in decode::as_str_list(v)? {
                    b.values().append_value(tag);
                }
                b.append(true);
            }
            (ColumnBuilder::Json(b), Cell::Json(v)) => b.append_value(v.to_string()),
            (ColumnBuilder::Json(b), Cell::Text(text)) => b.append_value(text),
            (ColumnBuilder::F64(b), Cell::Json(v)) => b.append_value(sample_value(v)?),
            (ColumnBuilder::TimestampList(b), Cell::Json(v)) => {
                for (index, time) in json_list(v)?.iter().enumerate() {
                    let time = decode::as_timestamp(time).map_err(|e| format!("[{index}]: {e}"))?;
                    let time = time.ok_or_else(|| format!("[{index}]: no time"))?;
                    b.values().append_value(time.timestamp_micros());
                }
                b.append(true);
            }
            (ColumnBuilder::F64List(b), Cell::Json(v)) => {
                for (index, value) in json_list(v)?.iter().enumerate() {
                    b.values().append_value(sample_value(value).map_err(|e| format!("[{index}]: {e}"))?);
                }
                b.append(true);
            }
            _ => return Err("internal: column kind and source do not match".into()),
        }
        Ok(true)
    }

    fn append_null(&mut self) {
        match self {
            ColumnBuilder::Str(b) | ColumnBuilder::Currency(b) | ColumnBuilder::Json(b) => b.append_null(),
            ColumnBuilder::U64(b) => b.append_null(),
            ColumnBuilder::I64(b) => b.append_null(),
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Timestamp(b) => b.append_null(),
            ColumnBuilder::Decimal(b) => b.append_null(),
            ColumnBuilder::StrList(b) => b.append(false),
            ColumnBuilder::F64(b) => b.append_null(),
            ColumnBuilder::TimestampList(b) => b.append(false),
            ColumnBuilder::F64List(b) => b.append(false),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            ColumnBuilder::Str(mut b) | ColumnBuilder::Currency(mut b) | ColumnBuilder::Json(mut b) => {
                Arc::new(b.finish())
            }
            ColumnBuilder::U64(mut b) => Arc::new(b.finish()),
            ColumnBuilder::I64(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(mut b) => Arc::new(b.finish()),
            ColumnBuilder::StrList(mut b) => Arc::new(b.finish()),
            ColumnBuilder::F64(mut b) => Arc::new(b.finish()),
            ColumnBuilder::TimestampList(mut b) => Arc::new(b.finish()),
            ColumnBuilder::F64List(mut b) => Arc::new(b.finish()),
        }
    }
}

/// A sample's value: Prometheus writes them as strings ("0.0312", "NaN"); JSON numbers are accepted too.
fn sample_value(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| "not a finite number".to_string()),
        Value::String(text) => text.parse().map_err(|_| format!("{text:?} is not a number")),
        other => Err(format!("expected a number, got {other}")),
    }
}

fn json_list(value: &Value) -> Result<&Vec<Value>, String> {
    value.as_array().ok_or_else(|| format!("expected a list, got {value}"))
}

/// The Decimal(38, 9) mantissa of `value`. More than nine decimals is finer than Scaleway's own `nanos`: it is
/// rounded half-even (banker's rounding), the only rounding on the way from the API to the warehouse.
fn to_scaled_i128(value: Decimal) -> Result<i128, String> {
    let mut scaled = value.round_dp(DECIMAL_SCALE as u32);
    scaled.rescale(DECIMAL_SCALE as u32);
    if scaled.scale() != DECIMAL_SCALE as u32 {
        return Err(format!("{value} does not fit Decimal(38, 9)"));
    }
    Ok(scaled.mantissa())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Decimal128Type, UInt64Type};
    use serde_json::json;

    fn ctx() -> RowContext {
        RowContext {
            run_id: "run".into(),
            snapshot_at: "2026-11-22T08:00:00Z".parse().unwrap(),
            organization_id: "org".into(),
            locality: "fr-par-1".into(),
            extras: vec![("period", Value::from("2026-11"))],
        }
    }

    #[test]
    fn builds_typed_columns_and_keeps_raw() {
        let spec = DatasetSpec::new(
            "things",
            1,
            &[
                key("id", "id"),
                col("size", Kind::U64, "size"),
                col("price", Kind::Decimal, "price"),
                col("currency", Kind::Currency, "price"),
                col("tags", Kind::StrList, "tags"),
                col("created_at", Kind::Timestamp, "created_at"),
                LOCALITY("zone"),
                extra("period", Kind::Str, "period"),
            ],
        );
        let items = vec![
            json!({"id": "a", "size": 10, "price": {"currency_code": "EUR", "units": 0, "nanos": 118000}, "tags": ["x=1"], "created_at": "2026-01-01T00:00:00+00:00", "new_field": [1]}),
            json!({"id": "b", "size": "20", "price": null, "tags": null}),
        ];
        let batch = spec.build(&items, &ctx(), &|i| format!("things[{i}]")).unwrap();
        assert_eq!(batch.num_rows(), 2);
        let size = batch.column_by_name("size").unwrap().as_primitive::<UInt64Type>();
        assert_eq!((size.value(0), size.value(1)), (10, 20));
        let price = batch.column_by_name("price").unwrap().as_primitive::<Decimal128Type>();
        assert_eq!(price.value(0), 118_000);
        assert!(price.is_null(1));
        let raw = batch.column_by_name("raw").unwrap().as_string::<i32>();
        assert!(raw.value(0).contains("new_field"));
        let zone = batch.column_by_name("zone").unwrap().as_string::<i32>();
        assert_eq!(zone.value(1), "fr-par-1");
        let period = batch.column_by_name("period").unwrap().as_string::<i32>();
        assert_eq!((period.value(0), period.value(1)), ("2026-11", "2026-11"));
    }

    #[test]
    fn samples_as_lists_are_counted_by_element_and_a_bad_element_is_named() {
        let spec = DatasetSpec::without_raw(
            "series",
            1,
            &[key("id", "id"), col("ts", Kind::TimestampList, "ts"), col("value", Kind::F64List, "value")],
        )
        .rows_are_samples_of("ts");
        let items = vec![
            json!({"id": "a", "ts": ["2026-11-22T08:00:00Z", "2026-11-22T08:05:00Z"], "value": ["0.5", 2]}),
            json!({"id": "b", "ts": ["2026-11-22T08:00:00Z"], "value": ["NaN"]}),
            json!({"id": "c"}),
        ];
        let batch = spec.build(&items, &ctx(), &|i| format!("series[{i}]")).unwrap();
        assert_eq!((batch.num_rows(), spec.warehouse_rows(&batch)), (3, 3));
        let values = batch.column_by_name("value").unwrap().as_list::<i32>();
        assert_eq!(values.value(0).as_primitive::<arrow::datatypes::Float64Type>().values().to_vec(), [0.5, 2.0]);
        assert!(values.is_null(2), "a missing list is NULL, not empty");
        let times = batch.column_by_name("ts").unwrap().as_list::<i32>();
        let first = times.value(0);
        let first = first.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        assert_eq!(first.value(1) - first.value(0), 300_000_000);
        // A slice of the batch counts its own samples.
        assert_eq!(spec.warehouse_rows(&batch.slice(1, 2)), 1);

        let err = spec.build(&[json!({"id": "d", "value": [1, "x"]})], &ctx(), &|i| format!("series[{i}]"));
        assert!(err.unwrap_err().starts_with("series[0].value: [1]: \"x\" is not a number"));
        let err = spec.build(&[json!({"id": "d", "ts": ["2026-11-22T08:00:00Z", null]})], &ctx(), &|i| i.to_string());
        let err = err.unwrap_err();
        assert!(err.starts_with("0.ts: [1]: expected an RFC 3339 timestamp"), "{err}");
        let err = spec.build(&[json!({"id": "d", "ts": "2026-11-22T08:00:00Z"})], &ctx(), &|i| i.to_string());
        assert!(err.unwrap_err().contains("expected a list"));
    }

    #[test]
    fn a_wrong_field_names_the_item_and_the_path() {
        let spec = DatasetSpec::new("things", 1, &[key("id", "id"), col("created_at", Kind::Timestamp, "created_at")]);
        let items = vec![json!({"id": "a"}), json!({"id": "b", "created_at": "yesterday"})];
        let err = spec.build(&items, &ctx(), &|i| format!("servers[{i}]")).unwrap_err();
        assert!(err.starts_with("servers[1].created_at: expected an RFC 3339 timestamp"), "{err}");
        let err = spec.build(&[json!({"name": "x"})], &ctx(), &|i| format!("servers[{i}]")).unwrap_err();
        assert_eq!(err, "servers[0].id: required field is missing");
    }

    #[test]
    fn decimals_beyond_nanos_round_half_even() {
        assert_eq!(to_scaled_i128(Decimal::new(12_345_678_905, 10)).unwrap(), 1_234_567_890);
        assert_eq!(to_scaled_i128(Decimal::new(15, 1)).unwrap(), 1_500_000_000);
    }
}
