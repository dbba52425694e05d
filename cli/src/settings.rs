//! costlake's own settings: command-line flags win over `COSTLAKE_*` environment variables, which win over
//! the config file (`--config`, `COSTLAKE_CONFIG`, else `~/.config/costlake/config.toml` when it exists).
//! Scaleway credentials and defaults are not here: they follow the `scw` CLI (see `ingest::scaleway::config`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use costlake_ingest::scaleway::ScwConfig;
use costlake_ingest::scaleway::client::{
    DEFAULT_CONCURRENCY, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_RPS, DEFAULT_RETRY_BASE_MS,
};
use costlake_lake::{LakeLocation, S3Settings};
use costlake_transform::WarehouseLocation;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

fn default_lake() -> String {
    "./costlake-data/lake".into()
}
fn default_warehouse() -> String {
    "./costlake-data/warehouse".into()
}
fn default_concurrency() -> usize {
    DEFAULT_CONCURRENCY
}
fn default_max_rps() -> u32 {
    DEFAULT_MAX_RPS
}
fn default_max_attempts() -> usize {
    DEFAULT_MAX_ATTEMPTS
}
fn default_retry_base_ms() -> u64 {
    DEFAULT_RETRY_BASE_MS
}

fn sources_help() -> String {
    format!(
        "Only these products, comma-separated [env: COSTLAKE_SOURCES] [default: all]:\n{}",
        costlake_ingest::sources::help()
    )
}
fn concurrency_help() -> String {
    format!("Scaleway API requests in flight at once [env: COSTLAKE_CONCURRENCY] [default: {DEFAULT_CONCURRENCY}]")
}
fn max_rps_help() -> String {
    format!("Scaleway API requests per second [env: COSTLAKE_MAX_RPS] [default: {DEFAULT_MAX_RPS}]")
}

/// Every setting, after merging. Secrets are wrapped as soon as they are read, and this type has no `Debug`
/// derive that could print them.
#[derive(Deserialize)]
pub struct Settings {
    #[serde(default = "default_lake")]
    pub lake: String,
    #[serde(default = "default_warehouse")]
    pub warehouse: String,
    pub chdb_lib: Option<PathBuf>,
    pub clickhouse_user: Option<String>,
    pub clickhouse_password: Option<SecretString>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key: Option<String>,
    pub s3_secret_key: Option<SecretString>,
    /// Comma-separated zones or regions to collect (default: every locality of every product).
    pub zones: Option<String>,
    /// Comma-separated products to collect (default: all).
    pub sources: Option<String>,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_max_rps")]
    pub max_rps: u32,
    #[serde(default = "default_max_attempts")]
    pub max_attempts: usize,
    #[serde(default = "default_retry_base_ms")]
    pub retry_base_ms: u64,
    /// Minutes an uncommitted run's files must sit untouched before a collection removes them (default: 360).
    pub orphan_grace_minutes: Option<u64>,
    /// Cockpit tokens with the read_only_metrics scope, `PROJECT_ID/REGION=TOKEN,...` (a token belongs to one
    /// project and one region; `PROJECT_ID=TOKEN` is used in every region); the others get a temporary token
    /// created and deleted by the run.
    pub cockpit_tokens: Option<SecretString>,
    /// Resolution of the collected metric series, in seconds (default: 300).
    pub cockpit_step_seconds: Option<u64>,
    /// Seconds a load's lease on a ClickHouse server lasts without renewal: how long a killed load keeps the
    /// next one waiting (default: 60).
    pub load_lease_seconds: Option<u64>,
    /// Seconds a load waits for another load on the same ClickHouse server before refusing (default: 1800).
    pub load_wait_seconds: Option<u64>,
    /// Seconds a load waits for a file a committed run's manifest names to appear in the lake (default: 60).
    pub lake_wait_seconds: Option<u64>,
}

/// The flags that override settings everywhere; `None` means "not given on the command line".
#[derive(Debug, Default, Clone, Serialize, clap::Args)]
pub struct Overrides {
    /// Lake location: a directory, or s3://bucket/prefix [env: COSTLAKE_LAKE] [default: ./costlake-data/lake]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lake: Option<String>,
    /// Warehouse: a directory for the embedded engine, or http(s)://[user@]host:8123/database for a
    /// ClickHouse server [env: COSTLAKE_WAREHOUSE] [default: ./costlake-data/warehouse]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    /// Path to libchdb.so [env: COSTLAKE_CHDB_LIB] [default: where scripts/install-chdb.sh installs it]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chdb_lib: Option<PathBuf>,
}

/// The flags of the commands that call the Scaleway APIs (collect, run, demo): only their help shows them.
#[derive(Debug, Default, Clone, Serialize, clap::Args)]
pub struct CollectFlags {
    /// Only these zones or regions, comma-separated (e.g. fr-par-1,nl-ams) [env: COSTLAKE_ZONES]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zones: Option<String>,
    #[arg(long, help = sources_help())]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<String>,
    #[arg(long, help = concurrency_help())]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    #[arg(long, help = max_rps_help())]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rps: Option<u32>,
}

/// The value of the environment variable `name` (any case, as figment reads them), if it is set and not blank:
/// `export COSTLAKE_WAREHOUSE=` unsets it, as a blank SCW_* variable is unset for the scw CLI (an empty warehouse
/// path would otherwise be the current directory, an empty number an invalid configuration).
pub fn env_value(name: &str) -> Option<String> {
    Env::var(name).filter(|value| !value.is_empty())
}

/// An access key id as `costlake config` shows it: not a secret, but half of a credential, so only its first
/// characters, which identify it.
pub fn masked_key(key: &str) -> String {
    format!("{}… (hidden)", key.chars().take(4).collect::<String>())
}

/// One setting as `costlake config` shows it.
pub struct Shown {
    pub key: &'static str,
    pub value: String,
    pub origin: String,
}

impl Settings {
    /// The merged sources, lowest priority first: defaults, the config file, `COSTLAKE_*`, flags.
    fn figment(
        config: Option<PathBuf>,
        overrides: &Overrides,
        flags: Option<&CollectFlags>,
    ) -> anyhow::Result<Figment> {
        let mut figment = Figment::new();
        let explicit = config.or_else(|| env_value("COSTLAKE_CONFIG").map(PathBuf::from));
        match explicit {
            Some(path) => {
                if !path.exists() {
                    bail!("config file {} does not exist", path.display());
                }
                figment = figment.merge(Toml::file_exact(&path));
            }
            None => {
                if let Some(path) = default_config_path().filter(|p| p.exists()) {
                    figment = figment.merge(Toml::file_exact(path));
                }
            }
        }
        figment = figment
            .merge(
                Env::prefixed("COSTLAKE_")
                    .ignore(&["config", "failpoint", "log", "log_format"])
                    // Set but empty is unset: see `env_value`.
                    .filter(|key| env_value(&format!("COSTLAKE_{key}")).is_some()),
            )
            .merge(Serialized::globals(overrides));
        if let Some(flags) = flags {
            figment = figment.merge(Serialized::globals(flags));
        }
        Ok(figment)
    }

    pub fn load(
        config: Option<PathBuf>,
        overrides: &Overrides,
        flags: Option<&CollectFlags>,
    ) -> anyhow::Result<Settings> {
        Self::figment(config, overrides, flags)?.extract().context("invalid costlake configuration")
    }

    /// Every setting with its effective value and where it came from (flag, environment, file, default);
    /// secrets show only whether they are set.
    pub fn explain(config: Option<PathBuf>, overrides: &Overrides) -> anyhow::Result<Vec<Shown>> {
        let figment = Self::figment(config, overrides, None)?;
        let settings: Settings = figment.extract().context("invalid costlake configuration")?;
        let secret = |value: &Option<SecretString>| {
            if value.is_some() { "(set, hidden)".to_string() } else { "(not set)".to_string() }
        };
        let text = |value: Option<String>| value.unwrap_or_else(|| "(not set)".into());
        let load = settings.load_options()?;
        let values: Vec<(&'static str, String)> = vec![
            ("lake", settings.lake.clone()),
            ("warehouse", settings.warehouse.clone()),
            (
                "chdb_lib",
                settings.chdb_lib.as_ref().map_or_else(|| "(the installed one)".into(), |p| p.display().to_string()),
            ),
            ("clickhouse_user", text(settings.clickhouse_user.clone())),
            ("clickhouse_password", secret(&settings.clickhouse_password)),
            ("s3_endpoint", text(settings.s3_endpoint.clone())),
            ("s3_region", text(settings.s3_region.clone())),
            ("s3_access_key", settings.s3_access_key.as_deref().map_or_else(|| "(not set)".into(), masked_key)),
            ("s3_secret_key", secret(&settings.s3_secret_key)),
            ("zones", text(settings.zones.clone())),
            ("sources", text(settings.sources.clone())),
            ("concurrency", settings.concurrency.to_string()),
            ("max_rps", settings.max_rps.to_string()),
            ("max_attempts", settings.max_attempts.to_string()),
            ("retry_base_ms", settings.retry_base_ms.to_string()),
            ("orphan_grace_minutes", settings.orphan_grace_minutes.map_or_else(|| "360".into(), |m| m.to_string())),
            ("cockpit_tokens", secret(&settings.cockpit_tokens)),
            ("cockpit_step_seconds", settings.cockpit_step_seconds.map_or_else(|| "300".into(), |s| s.to_string())),
            ("load_lease_seconds", load.lease.ttl.as_secs().to_string()),
            ("load_wait_seconds", load.lease.wait.as_secs().to_string()),
            ("lake_wait_seconds", load.file_wait.as_secs().to_string()),
        ];
        Ok(values
            .into_iter()
            .map(|(key, value)| {
                let origin = match figment.find_metadata(key) {
                    None => "default".to_string(),
                    Some(meta) => match meta.source.as_ref() {
                        Some(figment::Source::File(path)) => format!("file {}", path.display()),
                        _ if meta.name.contains("environment") => {
                            format!("environment COSTLAKE_{}", key.to_uppercase())
                        }
                        _ => format!("flag --{}", key.replace('_', "-")),
                    },
                };
                Shown { key, value, origin }
            })
            .collect())
    }

    pub fn sources(&self) -> anyhow::Result<Vec<Box<dyn costlake_ingest::sources::Product>>> {
        match &self.sources {
            None => Ok(costlake_ingest::sources::all()),
            Some(list) => {
                let names: Vec<String> =
                    list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
                costlake_ingest::sources::select(&names).map_err(anyhow::Error::msg)
            }
        }
    }

    /// The Cockpit collector's settings. A malformed token list is an error that names the setting, never a
    /// token.
    pub fn cockpit(&self) -> anyhow::Result<costlake_ingest::sources::cockpit::CockpitSettings> {
        use secrecy::ExposeSecret;
        let mut tokens = std::collections::BTreeMap::new();
        if let Some(list) = &self.cockpit_tokens {
            for (index, entry) in list.expose_secret().split(',').map(str::trim).filter(|e| !e.is_empty()).enumerate() {
                let Some((project, token)) =
                    entry.split_once('=').filter(|(p, t)| !p.trim().is_empty() && !t.trim().is_empty())
                else {
                    bail!(
                        "cockpit_tokens (COSTLAKE_COCKPIT_TOKENS): entry {} is not PROJECT_ID/REGION=TOKEN",
                        index + 1
                    );
                };
                tokens.insert(project.trim().to_string(), SecretString::from(token.trim().to_string()));
            }
        }
        let step_seconds = self.cockpit_step_seconds.unwrap_or(costlake_ingest::sources::cockpit::DEFAULT_STEP_SECONDS);
        if step_seconds == 0 || step_seconds > 3600 {
            bail!(
                "cockpit_step_seconds (COSTLAKE_COCKPIT_STEP_SECONDS) must be between 1 and 3600, got {step_seconds}"
            );
        }
        Ok(costlake_ingest::sources::cockpit::CockpitSettings { tokens, step_seconds, ..Default::default() })
    }

    /// The load lease's settings (used with a ClickHouse server only).
    pub fn load_lease(&self) -> anyhow::Result<costlake_transform::LeaseOptions> {
        use std::time::Duration;
        let defaults = costlake_transform::LeaseOptions::default();
        let ttl = self.load_lease_seconds.map_or(defaults.ttl, Duration::from_secs);
        if ttl < Duration::from_secs(1) {
            bail!("load_lease_seconds (COSTLAKE_LOAD_LEASE_SECONDS) must be 1 or more, got 0");
        }
        Ok(costlake_transform::LeaseOptions {
            ttl,
            wait: self.load_wait_seconds.map_or(defaults.wait, Duration::from_secs),
        })
    }

    /// How a load waits: for another load, and for the lake's files.
    pub fn load_options(&self) -> anyhow::Result<costlake_transform::LoadOptions> {
        Ok(costlake_transform::LoadOptions {
            lease: self.load_lease()?,
            file_wait: self
                .lake_wait_seconds
                .map_or(costlake_transform::LoadOptions::DEFAULT_FILE_WAIT, std::time::Duration::from_secs),
        })
    }

    pub fn orphan_grace(&self) -> Option<std::time::Duration> {
        self.orphan_grace_minutes.map(|minutes| std::time::Duration::from_secs(minutes * 60))
    }

    pub fn localities(&self) -> Option<Vec<String>> {
        self.zones
            .as_ref()
            .map(|zones| zones.split(',').map(|z| z.trim().to_string()).filter(|z| !z.is_empty()).collect())
    }

    /// The lake, with S3 settings defaulting to the Scaleway credentials and region.
    pub fn lake_location(&self, scw: &ScwConfig) -> anyhow::Result<LakeLocation> {
        let s3 = S3Settings {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone().or_else(|| scw.region.clone()).unwrap_or_else(|| "fr-par".into()),
            access_key: self.s3_access_key.clone().or_else(|| scw.access_key.clone()),
            secret_key: self.s3_secret_key.clone().or_else(|| scw.secret_key.clone()),
        };
        Ok(LakeLocation::parse(&self.lake, s3)?)
    }

    pub fn warehouse_location(&self) -> anyhow::Result<WarehouseLocation> {
        Ok(WarehouseLocation::parse(
            &self.warehouse,
            self.chdb_lib.clone(),
            self.clickhouse_user.clone(),
            self.clickhouse_password.clone(),
        )?)
    }
}

fn default_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("costlake").join("config.toml"))
}
