//! Collectors, one module per Scaleway product. A product module declares, once, the API it calls ([`Api`]:
//! version, localities, pagination scheme), its datasets (declared as data, see [`crate::dataset`]) and how to
//! walk its lists ([`Product::collect`]). [`all`] is the registry: `--sources` and its help, the manifest's API
//! versions and the loader's list of datasets ([`known_datasets`]) all read it, so adding a product is adding
//! its module here and one line to [`all`].

pub mod account;
pub mod autoscaling;
pub mod billing;
pub mod block;
pub mod catalog;
pub mod cockpit;
pub mod instance;
pub mod ipam;
pub mod k8s;
pub mod lb;
pub mod rdb;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::RecordBatch;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use costlake_lake::{KnownDataset, RunId};
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

impl CollectError {
    /// Whether the error fails the whole run rather than one product: the lake, a rejected key, an organisation
    /// that does not exist. A product's own failure (permission, a withdrawn or failing API, a malformed page, a
    /// request that timed out) leaves the other products to commit; an API that cannot be reached at all fails
    /// every product, and so the run.
    pub fn fails_the_run(&self) -> bool {
        match self {
            CollectError::Sink(_) | CollectError::Lake(_) | CollectError::Guard(_) => true,
            CollectError::Api(error) => matches!(error, ApiError::Unauthorized { .. }),
        }
    }
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
    /// Where the organisation's last committed runs stopped, for incremental collectors (see
    /// [`Outputs::set_cursor`]).
    pub cursors: Arc<BTreeMap<String, String>>,
    /// The Cockpit collector's settings (tokens given by the user, the step of the series).
    pub cockpit: Arc<cockpit::CockpitSettings>,
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

    /// A pager over `list` of `api` in `locality`, in the API's pagination scheme.
    pub fn list(
        &self,
        api: &Api,
        locality: &str,
        list: &str,
        query: Vec<(String, String)>,
        shape: ListShape,
    ) -> Pager<'_> {
        self.pager(api.scheme, api.path(locality, list), query, shape)
    }

    /// The localities of `api` this run covers. A zone filter also selects the regions its zones belong to;
    /// a global API has the one locality [`GLOBAL`].
    pub fn localities(&self, api: &Api) -> Vec<&'static str> {
        let all = match api.scope {
            Scope::Global => return vec![GLOBAL],
            Scope::Zones(all) | Scope::Regions(all) => all,
        };
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

/// The locality recorded for APIs that are not localised (Account, Billing, Product Catalog).
pub const GLOBAL: &str = "global";

/// Where an API exists. There is no "all zones" endpoint: a collector fans out over these itself, as the
/// official SDKs do client-side (`scw.WithZones`); the lists follow scaleway-sdk-go's generated `Zones()`.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Not localised: `/<product>/<version>/...`.
    Global,
    /// Zonal: `/<product>/<version>/zones/<zone>/...`.
    Zones(&'static [&'static str]),
    /// Regional: `/<product>/<version>/regions/<region>/...`.
    Regions(&'static [&'static str]),
}

/// One Scaleway API a product calls, declared once in its module.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// `instance/v1`: the path prefix, and what the manifest records.
    pub version: &'static str,
    pub scope: Scope,
    /// How its lists paginate (a list that differs says so where it is walked).
    pub scheme: Scheme,
}

/// What `costlake doctor` reads to check a product's access: the first page of one of its lists, in the first
/// locality it is collected in, filtered as the list requires.
pub struct Probe {
    pub api: &'static Api,
    pub list: &'static str,
    /// The key of the list's items in the response body.
    pub key: &'static str,
    pub filter: ProbeFilter,
}

/// The filter a probed list requires.
pub enum ProbeFilter {
    None,
    /// `organization_id` of the organisation collected.
    Organization,
    /// `project_id` of one of its projects.
    Project,
}

impl Probe {
    pub const fn new(api: &'static Api, list: &'static str, key: &'static str, filter: ProbeFilter) -> Probe {
        Probe { api, list, key, filter }
    }
}

impl Api {
    /// The path of `list` (`servers`, `products/servers`) in `locality` (ignored for a global API).
    pub fn path(&self, locality: &str, list: &str) -> String {
        match self.scope {
            Scope::Global => format!("/{}/{list}", self.version),
            Scope::Zones(_) => format!("/{}/zones/{locality}/{list}", self.version),
            Scope::Regions(_) => format!("/{}/regions/{locality}/{list}", self.version),
        }
    }
}

/// Where a collector sends its record batches (one sender per dataset), and the warnings of the run.
pub struct Outputs {
    /// Each open dataset's sender; a product's are removed once it is done (see [`Outputs::close`]).
    senders: std::sync::Mutex<HashMap<&'static str, BatchSender>>,
    warnings: std::sync::Mutex<Vec<String>>,
    cursors: std::sync::Mutex<BTreeMap<String, String>>,
    progress: Arc<costlake_lake::Progress>,
}

impl Outputs {
    pub fn new(senders: impl IntoIterator<Item = BatchSender>) -> Outputs {
        Outputs {
            senders: std::sync::Mutex::new(senders.into_iter().map(|s| (s.dataset(), s)).collect()),
            warnings: Default::default(),
            cursors: Default::default(),
            progress: Arc::default(),
        }
    }

    /// Drops the senders of `datasets`, so that their writers see their end and can be finished.
    pub fn close(&self, datasets: &[&'static str]) {
        let mut senders = self.senders.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for name in datasets {
            senders.remove(name);
        }
    }

    /// Counts the rows sent into `progress` as well.
    pub fn with_progress(mut self, progress: Arc<costlake_lake::Progress>) -> Outputs {
        self.progress = progress;
        self
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

    /// Records where an incremental collector stopped. The key starts with the product's name
    /// (`cockpit/...`): a product that fails has its cursors dropped with its datasets, so the next run starts
    /// again from the last committed position.
    pub fn set_cursor(&self, key: String, value: String) {
        self.cursors.lock().expect("cursors poisoned").insert(key, value);
    }

    pub fn cursors(&self) -> BTreeMap<String, String> {
        self.cursors.lock().expect("cursors poisoned").clone()
    }

    /// Sends a batch built by the collector itself (for datasets too large for JSON items: metric points).
    pub async fn send_batch(&self, spec: &DatasetSpec, batch: RecordBatch) -> Result<(), CollectError> {
        // A poisoned lock only means another sender panicked; the map is still whole.
        let sender = self
            .senders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(spec.name)
            .cloned()
            .unwrap_or_else(|| panic!("dataset {} was not declared by its source, or sent to once closed", spec.name));
        // The rows the warehouse gets, as the manifest counts them: a series' samples, not its row.
        let rows = spec.warehouse_rows(&batch);
        sender.send(batch).await?;
        self.progress.add_rows(rows);
        Ok(())
    }

    /// Sends a whole page; errors name items as `servers[3] (page 2)`.
    pub async fn emit_page(&self, spec: &DatasetSpec, page: &Page, row: &RowContext) -> Result<(), CollectError> {
        let (key, number) = (page.list_key, page.number);
        self.emit(spec, page.items.clone(), row, &page.request, &|i| format!("{key}[{i}] (page {number})")).await
    }

    /// Builds a batch of `spec` from `items` and sends it to the dataset's writer. Building it is CPU work (every
    /// field of every item decoded into Arrow): it runs on a blocking thread, off the async runtime.
    pub async fn emit(
        &self,
        spec: &DatasetSpec,
        items: impl Into<Arc<Vec<Value>>>,
        row: &RowContext,
        request: &str,
        label: &(dyn Fn(usize) -> String + Sync),
    ) -> Result<(), CollectError> {
        let items = items.into();
        if items.is_empty() {
            return Ok(());
        }
        let (owned_spec, owned_row) = (spec.clone(), row.clone());
        let built =
            tokio::task::spawn_blocking(move || owned_spec.build_rows(&items, &owned_row)).await.map_err(|e| {
                ApiError::Malformed { request: request.to_string(), detail: format!("decoding stopped: {e}") }
            })?;
        let batch = built
            .map_err(|error| ApiError::Malformed { request: request.to_string(), detail: error.describe(label) })?;
        self.send_batch(spec, batch).await
    }
}

/// The collector of one Scaleway product.
#[async_trait]
pub trait Product: Send + Sync {
    /// Short name, used in the manifest and in `--sources`.
    fn name(&self) -> &'static str;
    /// What it collects, one line for `--sources`' help.
    fn summary(&self) -> &'static str;
    /// The APIs it calls.
    fn apis(&self) -> &'static [Api];
    /// The datasets it writes.
    fn datasets(&self) -> Vec<DatasetSpec>;
    /// Walks the product's lists and sends every page to `out`.
    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError>;
    /// The list `costlake doctor` reads to tell whether the key may read this product.
    fn probe(&self) -> Probe;

    /// The API versions it calls, recorded in the manifest (`instance/v1`).
    fn api_versions(&self) -> Vec<String> {
        self.apis().iter().map(|api| api.version.to_string()).collect()
    }
}

/// Every product costlake collects, in collection order: the registry.
pub fn all() -> Vec<Box<dyn Product>> {
    vec![
        Box::new(account::Account),
        Box::new(instance::Instance),
        Box::new(block::Block),
        Box::new(catalog::Catalog),
        Box::new(billing::Billing),
        Box::new(lb::LoadBalancer),
        Box::new(rdb::Rdb),
        Box::new(autoscaling::Autoscaling),
        Box::new(k8s::Kapsule),
        Box::new(ipam::Ipam),
        Box::new(cockpit::Cockpit),
    ]
}

/// The collectors named in `names` (`--sources instance,block`), in collection order; an unknown name is an
/// error listing the known ones.
pub fn select(names: &[String]) -> Result<Vec<Box<dyn Product>>, String> {
    let known: Vec<&'static str> = all().iter().map(|s| s.name()).collect();
    if let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(format!("unknown source {unknown:?}: use some of {}", known.join(", ")));
    }
    Ok(all().into_iter().filter(|s| names.iter().any(|n| n == s.name())).collect())
}

/// Every dataset of every product with the schema version this costlake writes: what the loader may load.
pub fn known_datasets() -> Vec<KnownDataset> {
    all()
        .iter()
        .flat_map(|product| product.datasets())
        .map(|spec| KnownDataset {
            name: spec.name,
            schema_version: spec.schema_version,
            through_inlet: spec.samples.is_some(),
        })
        .collect()
}

/// `--sources`' help: one line per product.
pub fn help() -> String {
    let lines: Vec<String> = all().iter().map(|p| format!("  {:<9} {}", p.name(), p.summary())).collect();
    lines.join("\n")
}

/// An id from an API response, checked before it goes into a request path: Scaleway ids are UUIDs, and a value
/// with `/`, `..`, `?` or `%` would make the request go somewhere else.
pub fn path_segment(field: &str, value: &str, request: &str) -> Result<String, CollectError> {
    let safe = !value.is_empty()
        && value.len() <= 128
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if safe {
        Ok(value.to_string())
    } else {
        Err(ApiError::Malformed {
            request: request.to_string(),
            detail: format!("{field} {value:?} is not an id (letters, digits, '-' and '_' only)"),
        }
        .into())
    }
}

/// Whether the resource at `path` (`clusters/{id}`) of `api` is gone: its own GET answers 404. A per-resource list
/// that answers 404 means the resource was deleted during the collection only when this says so; a list route
/// that disappeared (an API change) must fail the product instead of silently emptying it.
pub async fn gone(ctx: &Context, api: &Api, locality: &str, path: &str) -> Result<bool, CollectError> {
    match ctx.client.get(&api.path(locality, path), &[]).await {
        Ok(_) => Ok(false),
        Err(ApiError::Status { status, .. }) if status == reqwest::StatusCode::NOT_FOUND => Ok(true),
        Err(error) => Err(error.into()),
    }
}

/// Every item of `list` of `api` in `locality`, every page walked: for the small per-resource lists (a load
/// balancer's backends, a cluster's pools) whose items are needed before their parent is emitted.
pub async fn list_all(
    ctx: &Context,
    api: &Api,
    locality: &str,
    list: &str,
    key: &'static str,
) -> Result<Vec<Value>, CollectError> {
    let mut pager = ctx.list(api, locality, list, Vec::new(), ListShape::Array(key));
    let mut all = Vec::new();
    while let Some(page) = pager.next().await? {
        all.extend(page.items.iter().cloned());
    }
    Ok(all)
}

/// Walks one list to its end, sending every page to `spec`. Returns the number of items.
pub async fn walk_list(
    out: &Outputs,
    spec: &DatasetSpec,
    mut pager: Pager<'_>,
    row: &RowContext,
) -> Result<u64, CollectError> {
    // A page's rows are built and sent while the next page is asked for: on a chain of pages each naming the
    // next (the FinOps charges), building them in turn added its time to every page's wait. Pages are still
    // emitted one at a time, in order. The first error ends both: a failed emit drops the request ahead (a pager
    // dropped halfway holds nothing to clean), a failed request the emit.
    let mut total = 0u64;
    // The page asked for last, its rows not yet sent.
    let mut fetched: Option<Page> = None;
    loop {
        let emit = async {
            match fetched.take() {
                Some(page) => out.emit_page(spec, &page, row).await.map(|()| page.items.len() as u64),
                None => Ok(0),
            }
        };
        let next = async { pager.next().await.map_err(CollectError::from) };
        let (next, emitted) = futures::try_join!(next, emit)?;
        total += emitted;
        match next {
            Some(page) => fetched = Some(page),
            None => return Ok(total),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_responses_go_into_paths_only_when_they_are_ids() {
        let id = "5e9a9d5b-12e5-4b2e-a1f4-0c9a3b6f1e2d";
        assert_eq!(path_segment("lbs[].id", id, "GET /lb").unwrap(), id);
        for hostile in ["", "../../iam/v1alpha1/api-keys", "a/b", "a?b=c", "%2e%2e", "a b", &"x".repeat(129)] {
            let error = path_segment("lbs[].id", hostile, "GET /lb/v1/zones/fr-par-1/lbs").unwrap_err().to_string();
            assert!(error.contains("lbs[].id") && error.contains("GET /lb/v1/zones/fr-par-1/lbs"), "{error}");
        }
    }
}
