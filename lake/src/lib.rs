//! The lake: where `ingest` lands Parquet snapshots and where `transform` reads them back.
//!
//! It is the one contract between the two halves of the pipeline, so it lives in its own crate:
//! - [`location`]: what `--lake` means (a local directory, or `s3://bucket/prefix` on Scaleway Object Storage
//!   or any S3-compatible endpoint) and how to open it with `object_store`;
//! - [`layout`]: the Hive-style paths of datasets and manifests;
//! - [`manifest`]: the per-run manifest, written last, which is the commit marker of a run;
//! - [`Lake`]: the handle both sides use (streamed writes, listing committed runs, streamed reads).

pub mod failpoint;
pub mod layout;
pub mod location;
pub mod manifest;
pub mod progress;
mod sweep;

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

pub use layout::RunId;
pub use location::{LakeLocation, S3Settings};
pub use manifest::{DatasetEntry, FailedSource, FileEntry, KnownDataset, Manifest, RunStats, SourceEntry};
pub use progress::{Progress, ProgressSnapshot};
pub use sweep::Swept;

/// Errors from the lake. Each names the lake (never its credentials) and the object involved.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("invalid lake location {location:?}: {reason}")]
    InvalidLocation { location: String, reason: String },
    #[error(
        "lake {lake} is unreachable or refuses writes ({op} {path}): {source}; check the lake location, its endpoint and its credentials"
    )]
    Unreachable {
        lake: String,
        op: &'static str,
        path: String,
        #[source]
        source: Box<object_store::Error>,
    },
    #[error("lake {lake}: {op} {path} failed: {source}")]
    Store {
        lake: String,
        op: &'static str,
        path: String,
        #[source]
        source: Box<object_store::Error>,
    },
    #[error(
        "lake {lake}: manifest {path} is not a valid costlake manifest: {reason}; remove it or re-run the collection that wrote it"
    )]
    BadManifest { lake: String, path: String, reason: String },
}

pub type Result<T, E = LakeError> = std::result::Result<T, E>;

/// A handle on the lake. Cheap to clone.
#[derive(Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    /// Prefix inside the store under which the whole layout lives (empty for a local directory).
    root: Path,
    /// Human-readable location, safe to log: it never carries credentials.
    display: String,
    /// The directory of a local lake: the sweep walks it itself, because `object_store` hides the staged files
    /// (`part-00000.parquet#1`) of uploads a killed run never finished.
    local_dir: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake").field("location", &self.display).finish()
    }
}

impl std::fmt::Display for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

impl Lake {
    /// Opens (and for a local directory, creates) the lake. Does not touch the network: call
    /// [`Lake::check_writable`] before a collection so an unreachable lake fails before any API call.
    pub fn open(location: &LakeLocation) -> Result<Lake> {
        let (store, root) = location.open_store()?;
        let local_dir = match location {
            // As the store resolved it (symbolic links, `..`), so a path made here names the file the store has.
            LakeLocation::Local(dir) => Some(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone())),
            LakeLocation::S3 { .. } => None,
        };
        Ok(Lake { store, root, display: location.to_string(), local_dir })
    }

    /// Wraps an existing store (tests use `object_store::memory::InMemory`).
    pub fn from_store(store: Arc<dyn ObjectStore>, root: &str, display: impl Into<String>) -> Lake {
        Lake { store, root: Path::from(root), display: display.into(), local_dir: None }
    }

    fn full(&self, relative: &Path) -> Path {
        if self.root.as_ref().is_empty() {
            relative.clone()
        } else {
            self.root.parts().chain(relative.parts()).collect()
        }
    }

    fn relative(&self, full: &Path) -> Path {
        match full.prefix_match(&self.root) {
            Some(parts) => parts.collect(),
            None => full.clone(),
        }
    }

    fn err(&self, op: &'static str, path: &Path, source: object_store::Error) -> LakeError {
        LakeError::Store { lake: self.display.clone(), op, path: path.to_string(), source: Box::new(source) }
    }

    /// Writes then deletes a small probe object: proves the lake is reachable and accepts writes.
    pub async fn check_writable(&self, run_id: &RunId) -> Result<()> {
        let probe = self.full(&layout::probe_path(run_id));
        let unreachable = |op, source| LakeError::Unreachable {
            lake: self.display.clone(),
            op,
            path: probe.to_string(),
            source: Box::new(source),
        };
        self.store
            .put(&probe, PutPayload::from_static(b"costlake write probe\n"))
            .await
            .map_err(|e| unreachable("put", e))?;
        self.store.delete(&probe).await.map_err(|e| unreachable("delete", e))?;
        Ok(())
    }

    /// Starts a streamed (multipart) write of `relative`. Memory stays bounded by the part size.
    pub async fn create(&self, relative: &Path) -> Result<ObjectWriter> {
        let full = self.full(relative);
        let upload = self.store.put_multipart(&full).await.map_err(|e| self.err("create", &full, e))?;
        Ok(ObjectWriter {
            lake: self.clone(),
            path: full,
            inner: Some(WriteMultipart::new_with_chunk_size(upload, self.part_size())),
            bytes: 0,
        })
    }

    /// The parts a streamed write sends: the object store's minimum for S3, and for a local lake each chunk as it
    /// comes (every dataset of a run writes at once: 40 of them each holding 8 MiB is most of a run's memory).
    fn part_size(&self) -> usize {
        if self.local_dir.is_some() { LOCAL_PART_SIZE } else { PART_SIZE }
    }

    /// Writes a small object in one request.
    pub async fn put(&self, relative: &Path, data: Bytes) -> Result<()> {
        let full = self.full(relative);
        self.store.put(&full, PutPayload::from_bytes(data)).await.map_err(|e| self.err("put", &full, e))?;
        Ok(())
    }

    /// Reads a whole (small) object.
    pub async fn get(&self, relative: &Path) -> Result<Bytes> {
        let full = self.full(relative);
        let got = self.store.get(&full).await.map_err(|e| self.err("get", &full, e))?;
        got.bytes().await.map_err(|e| self.err("get", &full, e))
    }

    /// Where an object of a local lake is on this machine's file system (`None` for a lake in a bucket), so an
    /// engine on this machine can read it itself.
    pub fn local_file(&self, relative: &Path) -> Option<std::path::PathBuf> {
        let dir = self.local_dir.as_ref()?;
        Some(relative.parts().fold(dir.clone(), |path, part| path.join(part.as_ref())))
    }

    /// The size of an object, or `None` when the store does not have it (or not yet: a store that lists or
    /// serves a new object a moment after it was written).
    pub async fn size_of(&self, relative: &Path) -> Result<Option<u64>> {
        let full = self.full(relative);
        match self.store.head(&full).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("head", &full, e)),
        }
    }

    /// A byte range of an object.
    pub async fn get_range(&self, relative: &Path, range: std::ops::Range<u64>) -> Result<Bytes> {
        let full = self.full(relative);
        self.store.get_range(&full, range).await.map_err(|e| self.err("get", &full, e))
    }

    /// Streams an object in chunks, for loading large Parquet files without holding them in memory.
    pub async fn get_stream(&self, relative: &Path) -> Result<BoxStream<'static, Result<Bytes>>> {
        let full = self.full(relative);
        let got = self.store.get(&full).await.map_err(|e| self.err("get", &full, e))?;
        let lake = self.display.clone();
        let path = full.to_string();
        Ok(got
            .into_stream()
            .map_err(move |source| LakeError::Store {
                lake: lake.clone(),
                op: "read",
                path: path.clone(),
                source: Box::new(source),
            })
            .boxed())
    }

    /// Deletes one object.
    pub async fn delete(&self, relative: &Path) -> Result<()> {
        let full = self.full(relative);
        self.store.delete(&full).await.map_err(|e| self.err("delete", &full, e))
    }

    /// Deletes objects under a relative prefix (used to drop the files of a failed, uncommitted run).
    pub async fn delete_prefix(&self, relative: &Path) -> Result<usize> {
        let full = self.full(relative);
        let listed: Vec<_> = self
            .store
            .list(Some(&full))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|e| self.err("list", &full, e))?;
        for location in &listed {
            self.store.delete(location).await.map_err(|e| self.err("delete", location, e))?;
        }
        Ok(listed.len())
    }

    /// Lists committed runs: every manifest under `manifests/`, oldest first.
    pub async fn list_manifests(&self) -> Result<Vec<Path>> {
        let prefix = self.full(&layout::manifests_root());
        let mut paths: Vec<Path> = self
            .store
            .list(Some(&prefix))
            .try_filter_map(|meta| async move { Ok(layout::is_manifest(&meta.location).then_some(meta.location)) })
            .try_collect()
            .await
            .map_err(|e| LakeError::Unreachable {
                lake: self.display.clone(),
                op: "list",
                path: prefix.to_string(),
                source: Box::new(e),
            })?;
        // Paths sort by snapshot date, then by run id, which starts with the UTC start time.
        paths.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
        Ok(paths.into_iter().map(|p| self.relative(&p)).collect())
    }

    /// Reads and validates one manifest.
    pub async fn read_manifest(&self, relative: &Path) -> Result<Manifest> {
        let data = self.get(relative).await?;
        Manifest::from_json(&data).map_err(|reason| LakeError::BadManifest {
            lake: self.display.clone(),
            path: relative.to_string(),
            reason,
        })
    }

    /// Commits a run: the manifest is the last object written for it.
    pub async fn commit(&self, manifest: &Manifest) -> Result<Path> {
        let path = layout::manifest_path(&manifest.run_id, manifest.snapshot_date);
        self.put(&path, Bytes::from(manifest.to_json())).await?;
        Ok(path)
    }
}

/// Multipart part size: Scaleway Object Storage, like S3, needs at least 5 MiB per part but the last.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Part size of a local lake, whose parts are writes into a staged file: no minimum.
pub const LOCAL_PART_SIZE: usize = 256 * 1024;

/// A streamed write to one object. `finish` makes it visible; dropping it without `finish` aborts the upload.
pub struct ObjectWriter {
    lake: Lake,
    path: Path,
    inner: Option<WriteMultipart>,
    bytes: u64,
}

impl ObjectWriter {
    /// Appends bytes, waiting when too many parts are in flight (this is the memory bound).
    pub async fn write(&mut self, data: Bytes) -> Result<()> {
        let inner = self.inner.as_mut().expect("write after finish");
        inner.wait_for_capacity(4).await.map_err(|e| self.lake.err("write", &self.path, e))?;
        self.bytes += data.len() as u64;
        inner.put(data);
        Ok(())
    }

    /// Completes the upload; returns the object's size in bytes.
    pub async fn finish(mut self) -> Result<u64> {
        let inner = self.inner.take().expect("finish twice");
        inner.finish().await.map_err(|e| self.lake.err("complete", &self.path, e))?;
        Ok(self.bytes)
    }

    /// Aborts the upload so no partial object is left behind.
    pub async fn abort(mut self) {
        if let Some(inner) = self.inner.take()
            && let Err(error) = inner.abort().await
        {
            tracing::warn!(path = %self.path, %error, "could not abort a partial upload");
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
