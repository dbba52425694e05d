//! Collectors, one module per Scaleway product API. A new product is one module here implementing
//! [`Source`]: its datasets (declared as data, see [`crate::dataset`]) and how to walk its lists.

pub mod account;
pub mod billing;
pub mod block;
pub mod catalog;
pub mod instance;

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use costlake_lake::RunId;
use futures::StreamExt;
use serde_json::Value;

use crate::dataset::{DatasetSpec, RowContext};
use crate::scaleway::{ApiError, ListShape, Page, Pager, ScalewayClient, Scheme};
use crate::sink::{BatchSender, SinkError};

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Lake(#[from] costlake_lake::LakeError),
    #[error("{0}")]
    Guard(String),
}

/// What a collector knows about the run it is part of.
#[derive(Clone)]
pub struct Context {
    pub client: ScalewayClient,
    pub organization_id: String,
    pub run_id: RunId,
    pub snapshot_at: DateTime<Utc>,
    /// When set, only these zones/regions are collected (`--zones`); otherwise every locality the product
    /// exists in.
    pub localities: Option<Vec<String>>,
}

impl Context {
    pub fn row_context(&self, locality: &str) -> RowContext {
        RowContext {
            run_id: self.run_id.to_string(),
            snapshot_at: self.snapshot_at,
            organization_id: self.organization_id.clone(),
            locality: locality.to_string(),
            extras: Vec::new(),
        }
    }

    /// A pager over one list of the API, with this run's client.
    pub fn pager(
        &self,
        scheme: Scheme,
        path: impl Into<String>,
        query: Vec<(String, String)>,
        shape: ListShape,
    ) -> Pager<'_> {
        Pager::new(&self.client, scheme, path, query, shape)
    }

    /// The localities of `all` this run covers. A zone filter also selects the regions its zones belong to.
    pub fn localities(&self, all: &'static [&'static str]) -> Vec<&'static str> {
        match &self.localities {
            None => all.to_vec(),
            Some(wanted) => all
                .iter()
                .copied()
                .filter(|l| wanted.iter().any(|w| w == l || w.starts_with(&format!("{l}-"))))
                .collect(),
        }
    }
}

/// Where a collector sends its record batches (one sender per dataset), and the warnings of the run.
pub struct Outputs {
    senders: HashMap<&'static str, BatchSender>,
    warnings: std::sync::Mutex<Vec<String>>,
}

impl Outputs {
    pub fn new(senders: impl IntoIterator<Item = BatchSender>) -> Outputs {
        Outputs { senders: senders.into_iter().map(|s| (s.dataset(), s)).collect(), warnings: Default::default() }
    }

    /// Records something the run could not collect but that does not make it fail (an optional endpoint the
    /// key may not see). It goes into the manifest and to the log.
    pub fn warn(&self, warning: String) {
        tracing::warn!("{warning}");
        self.warnings.lock().expect("warnings poisoned").push(warning);
    }

    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().expect("warnings poisoned").clone()
    }

    /// Sends a whole page; errors name items as `servers[3] (page 2)`.
    pub async fn emit_page(&self, spec: &DatasetSpec, page: &Page, row: &RowContext) -> Result<(), CollectError> {
        let (key, number) = (page.list_key, page.number);
        self.emit(spec, &page.items, row, &page.request, &|i| format!("{key}[{i}] (page {number})")).await
    }

    /// Builds a batch of `spec` from `items` and sends it to the dataset's writer.
    pub async fn emit(
        &self,
        spec: &DatasetSpec,
        items: &[Value],
        row: &RowContext,
        request: &str,
        label: &(dyn Fn(usize) -> String + Sync),
    ) -> Result<(), CollectError> {
        if items.is_empty() {
            return Ok(());
        }
        let batch = spec
            .build(items, row, label)
            .map_err(|detail| ApiError::Malformed { request: request.to_string(), detail })?;
        let sender = self
            .senders
            .get(spec.name)
            .unwrap_or_else(|| panic!("dataset {} was not declared by its source", spec.name));
        sender.send(batch).await?;
        Ok(())
    }
}

/// A collector for one Scaleway product.
#[async_trait]
pub trait Source: Send + Sync {
    /// Short name, used in the manifest and in `--sources`.
    fn name(&self) -> &'static str;
    /// API paths and versions this collector calls, recorded in the manifest (`instance/v1`).
    fn api_versions(&self) -> Vec<String>;
    /// The datasets this collector writes.
    fn datasets(&self) -> Vec<DatasetSpec>;
    /// Walks the product's lists and sends every page to `out`.
    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError>;
}

/// Every collector costlake has, in collection order.
pub fn all() -> Vec<Box<dyn Source>> {
    vec![
        Box::new(account::Account),
        Box::new(instance::Instance),
        Box::new(block::Block),
        Box::new(catalog::Catalog),
        Box::new(billing::Billing),
    ]
}

/// The collectors named in `names` (`--sources instance,block`), in collection order; an unknown name is an
/// error listing the known ones.
pub fn select(names: &[String]) -> Result<Vec<Box<dyn Source>>, String> {
    let known: Vec<&'static str> = all().iter().map(|s| s.name()).collect();
    if let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(format!("unknown source {unknown:?}: use some of {}", known.join(", ")));
    }
    Ok(all().into_iter().filter(|s| names.iter().any(|n| n == s.name())).collect())
}

/// Walks one list to its end, sending every page to `spec`. Returns the number of items.
pub async fn walk_list(
    out: &Outputs,
    spec: &DatasetSpec,
    mut pager: Pager<'_>,
    row: &RowContext,
) -> Result<u64, CollectError> {
    let mut total = 0u64;
    while let Some(page) = pager.next().await? {
        out.emit_page(spec, &page, row).await?;
        total += page.items.len() as u64;
    }
    Ok(total)
}

/// Runs one future per locality, at most four at once (the client's own limits still apply).
pub async fn for_each_locality(
    tasks: impl IntoIterator<Item = impl Future<Output = Result<(), CollectError>>>,
) -> Result<(), CollectError> {
    let mut running = futures::stream::iter(tasks).buffer_unordered(4);
    while let Some(result) = running.next().await {
        result?;
    }
    Ok(())
}
