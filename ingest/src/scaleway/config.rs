//! Scaleway credentials and defaults, resolved exactly like the `scw` CLI and the official SDKs do:
//! environment variables (`SCW_ACCESS_KEY`, `SCW_SECRET_KEY`, `SCW_DEFAULT_ORGANIZATION_ID`,
//! `SCW_DEFAULT_PROJECT_ID`, `SCW_DEFAULT_REGION`, `SCW_DEFAULT_ZONE`, `SCW_API_URL`) override the selected
//! profile of `~/.config/scw/config.yaml` (`SCW_PROFILE`, else the file's `active_profile`), whose values
//! override the file's top-level (default) profile. `SCW_CONFIG_PATH` points at another file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

pub const DEFAULT_API_URL: &str = "https://api.scaleway.com";

#[derive(Debug, Clone)]
pub struct ScwConfig {
    pub access_key: Option<String>,
    pub secret_key: Option<SecretString>,
    pub organization_id: Option<String>,
    pub project_id: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
    pub api_url: String,
    /// Where the secret key came from, for error messages ("SCW_SECRET_KEY", "profile 'prod' of <file>").
    pub secret_key_origin: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the scw config file {path}: {reason}; fix the file or point SCW_CONFIG_PATH elsewhere")]
    File { path: String, reason: String },
    #[error("scw profile {profile:?} (from {origin}) is not defined in {path}; defined profiles: {known}")]
    UnknownProfile { profile: String, origin: &'static str, path: String, known: String },
}

/// One profile of config.yaml. Every key optional, unknown keys ignored (the CLI adds new ones over time).
#[derive(Debug, Default, Clone, Deserialize)]
struct Profile {
    access_key: Option<String>,
    secret_key: Option<String>,
    default_organization_id: Option<String>,
    default_project_id: Option<String>,
    default_region: Option<String>,
    default_zone: Option<String>,
    api_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(flatten)]
    default: Profile,
    active_profile: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

impl ScwConfig {
    /// Resolves the configuration from `env` (a lookup, so tests need not touch the process environment).
    pub fn load(env: &dyn Fn(&str) -> Option<String>) -> Result<ScwConfig, ConfigError> {
        let env = |key: &str| env(key).filter(|v| !v.trim().is_empty());
        let path = env("SCW_CONFIG_PATH").map(PathBuf::from).or_else(|| {
            let base = env("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config")))?;
            Some(base.join("scw").join("config.yaml"))
        });

        let (file, path_shown) = match &path {
            Some(path) if path.exists() => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError::File { path: shown.clone(), reason: e.to_string() })?;
                let file: ConfigFile = if text.trim().is_empty() {
                    ConfigFile::default()
                } else {
                    serde_norway::from_str(&text)
                        .map_err(|e| ConfigError::File { path: shown.clone(), reason: e.to_string() })?
                };
                (file, shown)
            }
            Some(path) => (ConfigFile::default(), path.display().to_string()),
            None => (ConfigFile::default(), "~/.config/scw/config.yaml".to_string()),
        };

        let (profile_name, origin) = match env("SCW_PROFILE") {
            Some(name) => (Some(name), "SCW_PROFILE"),
            None => (file.active_profile.clone(), "active_profile"),
        };
        let selected = match &profile_name {
            Some(name) if name != "default" => {
                Some(file.profiles.get(name).cloned().ok_or_else(|| ConfigError::UnknownProfile {
                    profile: name.clone(),
                    origin,
                    path: path_shown.clone(),
                    known: if file.profiles.is_empty() {
                        "none".into()
                    } else {
                        file.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                    },
                })?)
            }
            _ => None,
        };

        // Env > selected profile > default profile.
        let pick = |env_key: &str, get: fn(&Profile) -> &Option<String>| -> Option<String> {
            env(env_key)
                .or_else(|| selected.as_ref().and_then(|p| get(p).clone()))
                .or_else(|| get(&file.default).clone())
                .filter(|v| !v.trim().is_empty())
        };
        let secret_key_origin = if env("SCW_SECRET_KEY").is_some() {
            "SCW_SECRET_KEY".to_string()
        } else if let (Some(name), Some(profile)) = (&profile_name, &selected) {
            if profile.secret_key.is_some() {
                format!("the secret_key of scw profile '{name}' in {path_shown}")
            } else {
                format!("the default secret_key in {path_shown}")
            }
        } else {
            format!("the secret_key in {path_shown}")
        };

        Ok(ScwConfig {
            access_key: pick("SCW_ACCESS_KEY", |p| &p.access_key),
            secret_key: pick("SCW_SECRET_KEY", |p| &p.secret_key).map(SecretString::from),
            organization_id: pick("SCW_DEFAULT_ORGANIZATION_ID", |p| &p.default_organization_id),
            project_id: pick("SCW_DEFAULT_PROJECT_ID", |p| &p.default_project_id),
            region: pick("SCW_DEFAULT_REGION", |p| &p.default_region),
            zone: pick("SCW_DEFAULT_ZONE", |p| &p.default_zone),
            api_url: pick("SCW_API_URL", |p| &p.api_url).unwrap_or_else(|| DEFAULT_API_URL.to_string()),
            secret_key_origin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn with_file(yaml: &str, vars: &[(&str, &str)]) -> Result<ScwConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, yaml).unwrap();
        let mut env: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        env.insert("SCW_CONFIG_PATH".into(), path.display().to_string());
        ScwConfig::load(&|k| env.get(k).cloned())
    }

    const FILE: &str = "
access_key: SCWDEFAULTDEFAULTDEF
secret_key: 00000000-0000-4000-8000-000000000000
default_organization_id: org-default
default_region: fr-par
active_profile: prod
profiles:
  prod:
    secret_key: 11111111-1111-4111-8111-111111111111
    default_organization_id: org-prod
  dev:
    default_region: nl-ams
future_key: ignored
";

    #[test]
    fn env_overrides_profile_which_overrides_default() {
        let config = with_file(FILE, &[]).unwrap();
        assert_eq!(config.organization_id.as_deref(), Some("org-prod"));
        assert_eq!(config.access_key.as_deref(), Some("SCWDEFAULTDEFAULTDEF"));
        assert_eq!(config.secret_key.unwrap().expose_secret(), "11111111-1111-4111-8111-111111111111");
        assert_eq!(config.region.as_deref(), Some("fr-par"));
        assert_eq!(config.api_url, DEFAULT_API_URL);

        let config = with_file(FILE, &[("SCW_PROFILE", "dev"), ("SCW_DEFAULT_ORGANIZATION_ID", "org-env")]).unwrap();
        assert_eq!(config.organization_id.as_deref(), Some("org-env"));
        assert_eq!(config.region.as_deref(), Some("nl-ams"));
        assert_eq!(config.secret_key.unwrap().expose_secret(), "00000000-0000-4000-8000-000000000000");
        assert!(config.secret_key_origin.contains("default secret_key"), "{}", config.secret_key_origin);
    }

    #[test]
    fn unknown_profile_and_broken_file_are_clear_errors() {
        let err = with_file(FILE, &[("SCW_PROFILE", "staging")]).unwrap_err().to_string();
        assert!(err.contains("\"staging\"") && err.contains("dev, prod"), "{err}");
        let err = with_file("profiles: [unclosed", &[]).unwrap_err().to_string();
        assert!(err.contains("cannot read the scw config file"), "{err}");
    }

    #[test]
    fn no_file_means_environment_only() {
        let env: HashMap<&str, &str> =
            [("HOME", "/nonexistent"), ("SCW_SECRET_KEY", "s"), ("SCW_API_URL", "http://127.0.0.1:1")]
                .into_iter()
                .collect();
        let config = ScwConfig::load(&|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(config.api_url, "http://127.0.0.1:1");
        assert_eq!(config.secret_key_origin, "SCW_SECRET_KEY");
        assert!(config.organization_id.is_none());
    }
}
