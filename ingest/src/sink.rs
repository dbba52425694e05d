//! Streams a dataset's record batches into Parquet files in the lake, with bounded memory and without
//! blocking the async runtime.
//!
//! Two halves per dataset:
//! - an **encoder** on a blocking thread (`spawn_blocking`) owns the `ArrowWriter`: Parquet encoding and zstd
//!   are CPU work and must never run on the reactor;
//! - an **uploader** task streams the encoded bytes to the lake as a multipart upload.
//!
//! Memory is bounded by the channels (a few batches, a few chunks), the row group being encoded (flushed at
//! `ROW_GROUP_ROWS` rows or `ROW_GROUP_BYTES` bytes, whichever comes first) and the upload parts in flight.
//! A dataset rolls to a new file every `ROWS_PER_FILE` rows of the warehouse (samples, for a dataset of series,
//! see `DatasetSpec::rows_are_samples_of`) so that very large organisations stream in bounded pieces to a
//! server too.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use bytes::Bytes;
use chrono::NaiveDate;
use costlake_lake::{DatasetEntry, FileEntry, Lake, LakeError, RunId, layout};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::dataset::DatasetSpec;

pub const ROW_GROUP_ROWS: usize = 8 * 1024;
/// A row group's columns are held in memory until it is flushed, per open dataset (about 40 at once): wide
/// datasets (servers with their raw JSON, charges) reach this bound long before `ROW_GROUP_ROWS`, narrow ones
/// (metric points) do not. 8 MiB → 1 MiB: collect's peak at 100x 124-140 → 116-122 MiB, the lake within 0.5 %.
pub const ROW_GROUP_BYTES: usize = 1024 * 1024;
/// Also bounds the loader where a file is streamed to the engine (a server, a lake in a bucket): the engine
/// reads about a whole file's column at once, so files stay small.
pub const ROWS_PER_FILE: u64 = 50_000;
/// What the encoder hands the uploader at a time: a local lake's part, so that it writes each chunk as it comes;
/// S3 gathers them into parts of 8 MiB.
const CHUNK_BYTES: usize = costlake_lake::LOCAL_PART_SIZE;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("dataset {dataset}: Parquet encoding failed: {reason}")]
    Encode { dataset: String, reason: String },
    #[error("dataset {dataset}: the write was cancelled")]
    Cancelled { dataset: String },
}

enum Chunk {
    StartFile { part: u32 },
    Bytes(Bytes),
    EndFile { rows: u64 },
}

/// The sending side of a dataset: cloneable, so concurrent zone fan-outs can feed one dataset.
#[derive(Clone)]
pub struct BatchSender {
    dataset: &'static str,
    tx: mpsc::Sender<RecordBatch>,
}

impl BatchSender {
    pub async fn send(&self, batch: RecordBatch) -> Result<(), SinkError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        // A closed channel means the writer already failed; its error surfaces from `finish`.
        self.tx.send(batch).await.map_err(|_| SinkError::Cancelled { dataset: self.dataset.to_string() })
    }

    pub fn dataset(&self) -> &'static str {
        self.dataset
    }
}

pub struct DatasetSink {
    name: &'static str,
    schema_version: u32,
    sender: BatchSender,
    cancelled: Arc<AtomicBool>,
    task: JoinHandle<Result<Vec<FileEntry>, SinkError>>,
}

impl DatasetSink {
    pub fn start(lake: Lake, spec: &DatasetSpec, run_id: RunId, snapshot_date: NaiveDate) -> DatasetSink {
        let (tx, rx) = mpsc::channel::<RecordBatch>(4);
        let cancelled = Arc::new(AtomicBool::new(false));
        let files = FileNaming { dataset: spec.name, run_id, snapshot_date };
        let task = tokio::spawn(write_dataset(lake, files, spec.schema(), spec.samples, rx, cancelled.clone()));
        let name = spec.name;
        DatasetSink {
            name,
            schema_version: spec.schema_version,
            sender: BatchSender { dataset: name, tx },
            cancelled,
            task,
        }
    }

    pub fn sender(&self) -> BatchSender {
        self.sender.clone()
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Closes the dataset: flushes the last row group, completes the upload, returns the manifest entry.
    pub async fn finish(self) -> Result<DatasetEntry, SinkError> {
        drop(self.sender);
        let files = match self.task.await {
            Ok(result) => result?,
            Err(join) => {
                return Err(SinkError::Encode { dataset: self.name.to_string(), reason: join.to_string() });
            }
        };
        Ok(DatasetEntry {
            name: self.name.to_string(),
            schema_version: self.schema_version,
            rows: files.iter().map(|f| f.rows).sum(),
            files,
        })
    }

    /// Abandons the dataset: the upload in progress is aborted, nothing more is written.
    pub async fn abort(self) {
        self.cancelled.store(true, Ordering::SeqCst);
        drop(self.sender);
        let _ = self.task.await;
    }
}

/// Where a dataset's files go: the run's folder of the dataset, numbered from 0.
struct FileNaming {
    dataset: &'static str,
    run_id: RunId,
    snapshot_date: NaiveDate,
}

async fn write_dataset(
    lake: Lake,
    naming: FileNaming,
    schema: SchemaRef,
    samples: Option<&'static str>,
    batches: mpsc::Receiver<RecordBatch>,
    cancelled: Arc<AtomicBool>,
) -> Result<Vec<FileEntry>, SinkError> {
    let name = naming.dataset;
    let (chunks_tx, mut chunks) = mpsc::channel::<Chunk>(4);
    let encoder_cancelled = cancelled.clone();
    let encoder =
        tokio::task::spawn_blocking(move || encode(name, schema, samples, batches, chunks_tx, encoder_cancelled));

    let mut files = Vec::new();
    let mut current: Option<(costlake_lake::ObjectWriter, String)> = None;
    let upload_result: Result<(), SinkError> = async {
        while let Some(chunk) = chunks.recv().await {
            match chunk {
                Chunk::StartFile { part } => {
                    let path = layout::dataset_file(name, naming.snapshot_date, &naming.run_id, part);
                    current = Some((lake.create(&path).await?, path.to_string()));
                    costlake_lake::failpoint::failpoint("collect.pause_mid_upload").await;
                }
                Chunk::Bytes(bytes) => {
                    if let Some((writer, _)) = current.as_mut() {
                        writer.write(bytes).await?;
                        costlake_lake::failpoint::failpoint("collect.mid_upload_part").await;
                    }
                }
                Chunk::EndFile { rows } => {
                    if let Some((writer, path)) = current.take() {
                        if cancelled.load(Ordering::SeqCst) {
                            writer.abort().await;
                            return Err(SinkError::Cancelled { dataset: name.to_string() });
                        }
                        let bytes = writer.finish().await?;
                        files.push(FileEntry { path, rows, bytes });
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    // Whatever happened, an upload left open is aborted so no partial object stays behind.
    if let Some((writer, _)) = current.take() {
        writer.abort().await;
    }
    drop(chunks);
    let encoded = encoder.await.map_err(|e| SinkError::Encode { dataset: name.to_string(), reason: e.to_string() })?;
    // The upload's error before the encoder's: when the upload fails, the encoder only sees that it stopped.
    upload_result?;
    encoded?;
    if cancelled.load(Ordering::SeqCst) {
        return Err(SinkError::Cancelled { dataset: name.to_string() });
    }
    Ok(files)
}

/// Runs on a blocking thread.
fn encode(
    name: &'static str,
    schema: SchemaRef,
    samples: Option<&'static str>,
    mut batches: mpsc::Receiver<RecordBatch>,
    chunks: mpsc::Sender<Chunk>,
    cancelled: Arc<AtomicBool>,
) -> Result<(), SinkError> {
    let fail = |reason: String| SinkError::Encode { dataset: name.to_string(), reason };
    let properties = writer_properties(&schema);

    let mut part = 0u32;
    let mut writer: Option<ArrowWriter<ChunkWriter>> = None;
    let mut rows_in_file = 0u64;
    while let Some(batch) = batches.blocking_recv() {
        if cancelled.load(Ordering::SeqCst) {
            return Err(SinkError::Cancelled { dataset: name.to_string() });
        }
        if writer.is_none() {
            chunks.blocking_send(Chunk::StartFile { part }).map_err(|_| fail("the upload stopped".into()))?;
            let sink = ChunkWriter { buffer: Vec::new(), chunks: chunks.clone() };
            writer = Some(
                ArrowWriter::try_new(sink, schema.clone(), Some(properties.clone()))
                    .map_err(|e| fail(e.to_string()))?,
            );
        }
        let active = writer.as_mut().expect("just created");
        active.write(&batch).map_err(|e| fail(e.to_string()))?;
        // The rows the warehouse gets: a file of samples is bounded like one of rows.
        rows_in_file += crate::dataset::warehouse_rows(samples, &batch);
        costlake_lake::failpoint::failpoint_blocking("collect.mid_row_group");
        if rows_in_file >= ROWS_PER_FILE {
            close_file(writer.take().expect("active"), &chunks, rows_in_file).map_err(fail)?;
            rows_in_file = 0;
            part += 1;
        }
    }
    if let Some(active) = writer.take() {
        close_file(active, &chunks, rows_in_file).map_err(fail)?;
    }
    Ok(())
}

/// zstd, bounded row groups, and no minimum and maximum for top-level text columns. The loader reads whole
/// files, so no reader of the lake prunes by a text column's range, and finding it compares every value as
/// bytes: 24 % of encoding the metric points when each repeated its series' 10 text columns (version 1), the
/// labels' JSON the longest value. Timestamps and numbers keep theirs, cheap to compute and what an ad hoc
/// reader of the lake filters on.
///
/// A series' samples (lists of times and of values) take no dictionary: nearly every time and value is new, so
/// interning each one was a tenth of collecting the points for a dictionary the writer then gives up. The
/// times, in order and a step apart, are delta-encoded; the values are written as their bytes' planes
/// (`BYTE_STREAM_SPLIT`), which zstd compresses better than the values whole.
fn writer_properties(schema: &SchemaRef) -> WriterProperties {
    let text = schema.fields().iter().filter(|field| {
        matches!(field.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary)
    });
    let builder = text.fold(WriterProperties::builder(), |builder, field| {
        builder.set_column_statistics_enabled(ColumnPath::from(field.name().as_str()), EnabledStatistics::None)
    });
    let samples = schema.fields().iter().filter_map(|field| match field.data_type() {
        DataType::List(item) => match item.data_type() {
            DataType::Timestamp(..) => Some((field, item, Encoding::DELTA_BINARY_PACKED)),
            DataType::Float64 => Some((field, item, Encoding::BYTE_STREAM_SPLIT)),
            _ => None,
        },
        _ => None,
    });
    samples
        .fold(builder, |builder, (field, item, encoding)| {
            // A list's values: <name>.list.<item>, as the Arrow writer lays lists out.
            let leaf = ColumnPath::new(vec![field.name().clone(), "list".into(), item.name().clone()]);
            builder.set_column_dictionary_enabled(leaf.clone(), false).set_column_encoding(leaf, encoding)
        })
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid zstd level")))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_created_by(concat!("costlake ", env!("CARGO_PKG_VERSION")).to_string())
        .build()
}

fn close_file(mut writer: ArrowWriter<ChunkWriter>, chunks: &mpsc::Sender<Chunk>, rows: u64) -> Result<(), String> {
    // `finish` writes the footer (`into_inner` alone would leave a file without one); then hand over what the
    // chunk writer still buffers.
    writer.finish().map_err(|e| e.to_string())?;
    writer.inner_mut().flush().map_err(|e| e.to_string())?;
    chunks.blocking_send(Chunk::EndFile { rows }).map_err(|_| "the upload stopped".to_string())
}

/// `std::io::Write` for the encoder: hands chunks of about `CHUNK_BYTES` to the uploader, blocking when it is
/// behind. Its buffer grows as it fills rather than being reserved whole (every dataset of a run keeps a file
/// open, most of them small) and is reused; each chunk is a copy of exactly its bytes, where handing over the
/// buffer itself would keep its spare capacity (up to as much again) alive until the part is written.
struct ChunkWriter {
    buffer: Vec<u8>,
    chunks: mpsc::Sender<Chunk>,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::copy_from_slice(&self.buffer);
        self.buffer.clear();
        self.chunks
            .blocking_send(Chunk::Bytes(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Kind, RowContext, col, key};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use serde_json::json;

    /// A local lake in a temporary directory, and the `things` dataset (an id and a size) of one run.
    struct Things {
        _dir: tempfile::TempDir,
        lake: Lake,
        spec: DatasetSpec,
        run: RunId,
        started: chrono::DateTime<chrono::Utc>,
        ctx: RowContext,
    }

    fn things() -> Things {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&costlake_lake::LakeLocation::Local(dir.path().to_path_buf())).unwrap();
        let spec = DatasetSpec::new("things", 1, &[key("id", "id"), col("size", Kind::U64, "size")]);
        let started: chrono::DateTime<chrono::Utc> = "2026-11-22T08:00:00Z".parse().unwrap();
        let run = RunId::new(started);
        let ctx = RowContext {
            run_id: run.to_string(),
            snapshot_at: started,
            organization_id: "org".into(),
            locality: "fr-par-1".into(),
            extras: Vec::new(),
        };
        Things { _dir: dir, lake, spec, run, started, ctx }
    }

    #[test]
    fn samples_take_no_dictionary_times_are_delta_encoded_and_text_has_no_statistics() {
        let schema = crate::sources::cockpit::metric_points().schema();
        let properties = writer_properties(&schema);
        let leaf = |column: &str| ColumnPath::new(vec![column.into(), "list".into(), "item".into()]);
        for (column, encoding) in [("ts", Encoding::DELTA_BINARY_PACKED), ("value", Encoding::BYTE_STREAM_SPLIT)] {
            assert!(!properties.dictionary_enabled(&leaf(column)), "{column}");
            assert_eq!(properties.encoding(&leaf(column)), Some(encoding), "{column}");
        }
        let labels = ColumnPath::from("labels");
        assert!(properties.dictionary_enabled(&labels), "a series' text keeps its dictionary");
        assert_eq!(properties.statistics_enabled(&labels), EnabledStatistics::None);
        // Every leaf the properties name is one the writer lays out.
        let leaves = parquet::arrow::ArrowSchemaConverter::new().convert(&schema).unwrap();
        let paths: Vec<String> = leaves.columns().iter().map(|c| c.path().string()).collect();
        assert!(
            paths.contains(&"ts.list.item".to_string()) && paths.contains(&"value.list.item".to_string()),
            "{paths:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streams_pages_into_one_parquet_file() {
        let Things { _dir, lake, spec, run, started, ctx } = things();
        let sink = DatasetSink::start(lake.clone(), &spec, run.clone(), started.date_naive());
        for page in 0..5u64 {
            let items: Vec<_> = (0..100u64).map(|i| json!({"id": format!("{page}-{i}"), "size": i})).collect();
            sink.sender().send(spec.build(&items, &ctx, &|i| i.to_string()).unwrap()).await.unwrap();
        }
        let entry = sink.finish().await.unwrap();
        assert_eq!(entry.rows, 500);
        assert_eq!(entry.files.len(), 1);

        let bytes = lake.get(&object_store::path::Path::from(entry.files[0].path.as_str())).await.unwrap();
        assert_eq!(bytes.len() as u64, entry.files[0].bytes);
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap();
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 500);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_empty_dataset_writes_no_file_and_abort_leaves_nothing() {
        let Things { _dir: dir, lake, spec, run, started, ctx } = things();
        let sink = DatasetSink::start(lake.clone(), &spec, run.clone(), started.date_naive());
        let entry = sink.finish().await.unwrap();
        assert_eq!((entry.rows, entry.files.len()), (0, 0));

        let sink = DatasetSink::start(lake.clone(), &spec, run.clone(), started.date_naive());
        sink.sender().send(spec.build(&[json!({"id": "a"})], &ctx, &|i| i.to_string()).unwrap()).await.unwrap();
        sink.abort().await;
        let files: Vec<_> = walk(dir.path());
        assert!(files.iter().all(|f| !f.ends_with(".parquet")), "{files:?}");
    }

    /// A dataset larger than a file: every row lands once, in files numbered without a gap, and text columns
    /// carry no minimum and maximum where numbers and timestamps do.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_row_is_written_once_in_files_numbered_in_order() {
        let Things { _dir, lake, spec, run, started, ctx } = things();
        let sink = DatasetSink::start(lake.clone(), &spec, run.clone(), started.date_naive());
        // Enough rows for several files.
        let (pages, per_page) = (60u64, 2_000u64);
        for page in 0..pages {
            let items: Vec<_> = (0..per_page).map(|i| json!({"id": format!("{page}-{i}"), "size": i})).collect();
            sink.sender().send(spec.build(&items, &ctx, &|i| i.to_string()).unwrap()).await.unwrap();
        }
        let entry = sink.finish().await.unwrap();
        assert_eq!(entry.rows, pages * per_page);
        let numbered: Vec<String> = (0..entry.files.len() as u32)
            .map(|part| layout::dataset_file("things", started.date_naive(), &run, part).to_string())
            .collect();
        assert_eq!(entry.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(), numbered);
        assert!(entry.files.len() >= 3, "{} files", entry.files.len());

        let mut ids = std::collections::BTreeSet::new();
        for file in &entry.files {
            let bytes = lake.get(&object_store::path::Path::from(file.path.as_str())).await.unwrap();
            let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
            let group = builder.metadata().row_group(0).clone();
            let stats = |name: &str| {
                group.columns().iter().find(|c| c.column_path().string() == name).unwrap().statistics().cloned()
            };
            assert!(stats("id").is_none() && stats("raw").is_none(), "text columns have no statistics");
            assert!(stats("size").is_some() && stats("snapshot_at").is_some(), "numbers and times keep theirs");
            let mut rows = 0;
            for batch in builder.build().unwrap() {
                let batch = batch.unwrap();
                let column = batch.column_by_name("id").unwrap();
                let id = column.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
                ids.extend(id.iter().map(|v| v.unwrap().to_string()));
                rows += batch.num_rows() as u64;
            }
            assert_eq!(rows, file.rows, "{}", file.path);
        }
        assert_eq!(ids.len() as u64, pages * per_page, "every row once");
    }

    fn walk(dir: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path.display().to_string());
            }
        }
        out
    }
}
