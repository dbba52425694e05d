//! `costlake doctor`: every check a run depends on, one line each with its fix, before a nightly job finds out.
//! Scaleway (credentials, each product's read access, Cockpit tokens), the lake (a probe object written, read
//! and deleted), the embedded engine's library, and the warehouse (connect, version, schema). Read-only but for
//! the lake's probe object and a temporary Cockpit token, both removed at once.

use bytes::Bytes;
use costlake_ingest::doctor::{Check, Verdict, check_scaleway};
use costlake_ingest::scaleway::ScwConfig;
use costlake_lake::Lake;
use costlake_queries::output::terminal_safe;
use costlake_transform::warehouse::{self, WarehouseError, WarehouseLocation};
use object_store::path::Path;

use crate::commands::EmbeddedState;
use crate::settings::Settings;

/// The checks failed: exit code 1, after every line was printed.
#[derive(Debug, thiserror::Error)]
#[error("{} of {total} checks failed: {}", failed.len(), failed.join(", "))]
pub struct ChecksFailed {
    failed: Vec<String>,
    total: usize,
}

pub async fn doctor(settings: &Settings, organization: Option<String>) -> anyhow::Result<()> {
    let mut checks = Vec::new();
    let scw = ScwConfig::load(&|key| std::env::var(key).ok());
    checks.extend(scaleway(settings, scw.as_ref().ok(), organization, scw.as_ref().err()).await);
    checks.push(lake(settings, scw.as_ref().ok()).await);
    checks.extend(warehouse(settings).await);

    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for check in &checks {
        let (mark, text) = match &check.verdict {
            Verdict::Ok(text) => ("ok  ", text),
            Verdict::Fail(text) => ("FAIL", text),
            Verdict::Skip(text) => ("skip", text),
        };
        println!("{mark}  {:<width$}  {}", check.name, terminal_safe(text));
    }
    let failed: Vec<String> =
        checks.iter().filter(|c| matches!(c.verdict, Verdict::Fail(_))).map(|c| c.name.clone()).collect();
    if failed.is_empty() {
        println!("all {} checks passed", checks.len());
        Ok(())
    } else {
        Err(ChecksFailed { failed, total: checks.len() }.into())
    }
}

async fn scaleway(
    settings: &Settings,
    scw: Option<&ScwConfig>,
    organization: Option<String>,
    config_error: Option<&costlake_ingest::scaleway::config::ConfigError>,
) -> Vec<Check> {
    let products = match settings.sources() {
        Ok(products) => products,
        Err(error) => return vec![Check::new("sources", Verdict::Fail(error.to_string()))],
    };
    let skip_all = |reason: &str| -> Vec<Check> {
        products.iter().map(|p| Check::new(p.name(), Verdict::Skip(reason.to_string()))).collect()
    };
    let fail = |text: String| {
        let mut checks = vec![Check::new("credentials", Verdict::Fail(text))];
        checks.extend(skip_all("the credentials failed"));
        checks
    };
    let Some(scw) = scw else {
        return fail(config_error.map(ToString::to_string).unwrap_or_default());
    };
    if scw.secret_key.is_none() {
        return fail(
            "no Scaleway secret key: set SCW_SECRET_KEY or configure a profile in ~/.config/scw/config.yaml".into(),
        );
    }
    let Some(organization_id) = organization.or_else(|| scw.organization_id.clone()) else {
        return fail(
            "no organisation: set SCW_DEFAULT_ORGANIZATION_ID (or default_organization_id in your scw profile)".into(),
        );
    };
    let client = match crate::commands::client(settings, scw).await {
        Ok(client) => client,
        Err(error) => return fail(error.to_string()),
    };
    if let Err(error) = client.check_reachable().await {
        return fail(error.to_string());
    }
    let cockpit = match settings.cockpit() {
        Ok(cockpit) => cockpit,
        Err(error) => return fail(error.to_string()),
    };
    check_scaleway(&client, &organization_id, &products, settings.localities(), cockpit).await
}

/// Writes, reads back and deletes a probe object, leaving nothing.
async fn lake(settings: &Settings, scw: Option<&ScwConfig>) -> Check {
    let verdict = async {
        // Without a usable scw config, the lake's own settings (COSTLAKE_S3_*) are still checked.
        let bare;
        let scw = match scw {
            Some(scw) => scw,
            None => {
                bare = ScwConfig::load(&|_| None).map_err(|e| e.to_string())?;
                &bare
            }
        };
        let location = settings.lake_location(scw).map_err(|e| e.to_string())?;
        // A local lake's directories that are not there yet: the probe makes them, and they go with it.
        let made = match &location {
            costlake_lake::LakeLocation::Local(dir) => dir
                .ancestors()
                .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
                .map(|d| d.to_path_buf())
                .collect(),
            costlake_lake::LakeLocation::S3 { .. } => Vec::new(),
        };
        let _made = RemoveIfEmpty(made);
        let lake = Lake::open(&location).map_err(|e| e.to_string())?;
        // At the root, not in a folder: a local lake keeps no empty directory behind.
        let probe = Path::from(format!("_costlake-doctor-probe-{}", uuid::Uuid::new_v4()));
        let content = Bytes::from_static(b"costlake doctor: written, read back and deleted at once\n");
        lake.put(&probe, content.clone()).await.map_err(|e| format!("cannot write to {lake}: {e}"))?;
        let read = lake.get(&probe).await.map_err(|e| format!("cannot read back from {lake}: {e}"));
        let deleted = lake.delete(&probe).await.map_err(|e| format!("cannot delete from {lake}: {e}"));
        if read? != content {
            return Err(format!("{lake} returned other bytes than were written"));
        }
        deleted?;
        if lake.get(&probe).await.is_ok() {
            return Err(format!("{lake} still holds the probe object after deleting it"));
        }
        Ok(format!("writes, reads and deletes in {lake}"))
    }
    .await;
    Check::new("lake", verdict.map_or_else(Verdict::Fail, Verdict::Ok))
}

/// Directories, innermost first, removed on drop if they are empty: never anything someone put there.
struct RemoveIfEmpty(Vec<std::path::PathBuf>);

impl Drop for RemoveIfEmpty {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The engine's library (embedded), then the warehouse: connect, version, schema.
async fn warehouse(settings: &Settings) -> Vec<Check> {
    let mut checks = Vec::new();
    let location = match settings.warehouse_location() {
        Ok(location) => location,
        Err(error) => return vec![Check::new("warehouse", Verdict::Fail(error.to_string()))],
    };
    // An embedded warehouse not made yet is checked without making it: opening creates one, and doctor leaves
    // nothing behind. The library is loaded alone then, to say whether the first run will find it.
    let not_made = match &location {
        WarehouseLocation::Embedded { dir, .. } => Some(EmbeddedState::of(dir))
            .filter(|state| !matches!(state, EmbeddedState::Warehouse))
            .map(|state| (dir.clone(), state)),
        WarehouseLocation::Server { .. } => None,
    };
    let engine = match &not_made {
        None => Some(warehouse::open(&location).await),
        Some(_) => None,
    };
    if let WarehouseLocation::Embedded { library, .. } = &location {
        let path = library.clone().unwrap_or_else(warehouse::chdb::default_library_path);
        let missing = match &engine {
            Some(Err(error @ WarehouseError::LibraryMissing { .. })) => Some(error.to_string()),
            Some(_) => None,
            None => {
                let library = library.clone();
                tokio::task::spawn_blocking(move || warehouse::chdb::load_library(library.as_deref()))
                    .await
                    .map_or_else(|e| Some(e.to_string()), |loaded| loaded.err().map(|e| e.to_string()))
            }
        };
        let library_missing = missing.is_some();
        checks.push(Check::new(
            "libchdb",
            match missing {
                Some(error) => Verdict::Fail(error),
                None => Verdict::Ok(format!("chDB {} loaded from {}", warehouse::chdb::CHDB_VERSION, path.display())),
            },
        ));
        if library_missing {
            checks.push(Check::new("warehouse", Verdict::Skip("the engine's library is missing".into())));
            return checks;
        }
    }
    let Some(engine) = engine else {
        let (dir, state) = not_made.expect("either opened or not made yet");
        checks.push(Check::new(
            "warehouse",
            match state {
                EmbeddedState::Missing => Verdict::Ok(format!(
                    "none at {} yet: the first `{} run` (or `load`) creates it there",
                    std::path::absolute(&dir).unwrap_or_else(|_| dir.clone()).display(),
                    crate::commands::loader_on_given()
                )),
                other => Verdict::Fail(other.refusal(&dir)),
            },
        ));
        return checks;
    };
    let verdict = async {
        let engine = engine.map_err(|e| e.to_string())?;
        let version = engine.query("SELECT version()", &[], "TabSeparated").await.map_err(|e| e.to_string())?;
        let version = String::from_utf8_lossy(&version).trim().to_string();
        let schema = costlake_transform::migrate::status(engine.as_ref()).await.map_err(|e| e.to_string())?;
        let schema = match (schema.applied, schema.pending) {
            (0, _) => {
                format!("empty: the first `{} run` (or `load`) creates its tables", crate::commands::loader_on_given())
            }
            (applied, 0) => format!("schema current ({applied} migrations)"),
            (applied, pending) => {
                format!("{applied} migrations applied, {pending} pending: the next load applies them")
            }
        };
        Ok(format!("{} answers, ClickHouse {version}; {schema}", engine.describe()))
    }
    .await;
    checks.push(Check::new("warehouse", verdict.map_or_else(Verdict::Fail, Verdict::Ok)));
    checks
}
