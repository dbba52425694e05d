//! What `--lake` means. A local directory by default; `s3://bucket[/prefix]` for Scaleway Object Storage or
//! any S3-compatible endpoint.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use secrecy::{ExposeSecret, SecretString};

use crate::{LakeError, Result};

/// Where the lake lives.
#[derive(Debug, Clone)]
pub enum LakeLocation {
    Local(PathBuf),
    S3 { bucket: String, prefix: String, settings: S3Settings },
}

/// Connection settings of an S3 lake. The keys of a Scaleway IAM API key work for Scaleway Object Storage,
/// so they default to `SCW_ACCESS_KEY`/`SCW_SECRET_KEY` upstream (see the CLI's configuration).
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// Full endpoint URL; `None` means Scaleway's `https://s3.<region>.scw.cloud`.
    pub endpoint: Option<String>,
    /// Scaleway region (`fr-par`, `nl-ams`, `pl-waw`) or any S3 region name.
    pub region: String,
    pub access_key: Option<String>,
    pub secret_key: Option<SecretString>,
}

impl S3Settings {
    pub fn endpoint_url(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => endpoint.trim_end_matches('/').to_string(),
            None => format!("https://s3.{}.scw.cloud", self.region),
        }
    }
}

impl LakeLocation {
    /// Parses `--lake`: `s3://bucket/prefix` or a filesystem path (relative paths are relative to the
    /// current directory; `file://` URLs are accepted too).
    pub fn parse(value: &str, s3: S3Settings) -> Result<LakeLocation> {
        let invalid =
            |reason: &str| LakeError::InvalidLocation { location: value.to_string(), reason: reason.to_string() };
        if let Some(rest) = value.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("the bucket name is missing: use s3://bucket[/prefix]"));
            }
            if s3.region.is_empty() && s3.endpoint.is_none() {
                return Err(invalid(
                    "an S3 lake needs a region (COSTLAKE_S3_REGION or SCW_DEFAULT_REGION) or an endpoint",
                ));
            }
            return Ok(LakeLocation::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
                settings: s3,
            });
        }
        if value.contains("://") && !value.starts_with("file://") {
            return Err(invalid("unsupported scheme: use a directory path or s3://bucket/prefix"));
        }
        let path = value.strip_prefix("file://").unwrap_or(value);
        if path.is_empty() {
            return Err(invalid("empty path"));
        }
        Ok(LakeLocation::Local(PathBuf::from(path)))
    }

    pub(crate) fn open_store(&self) -> Result<(Arc<dyn ObjectStore>, Path)> {
        match self {
            LakeLocation::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| LakeError::InvalidLocation {
                    location: dir.display().to_string(),
                    reason: format!("cannot create the lake directory: {e}"),
                })?;
                // Deleting a file also removes the folders it leaves empty (a write probe, a failed run's files).
                let store = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| LakeError::InvalidLocation {
                        location: dir.display().to_string(),
                        reason: e.to_string(),
                    })?
                    .with_automatic_cleanup(true);
                Ok((Arc::new(store), Path::from("")))
            }
            LakeLocation::S3 { bucket, prefix, settings } => {
                let endpoint = settings.endpoint_url();
                let region = if settings.region.is_empty() { "fr-par" } else { &settings.region };
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_endpoint(&endpoint)
                    // Path-style requests work on Scaleway and on every S3-compatible server.
                    .with_virtual_hosted_style_request(false)
                    .with_allow_http(endpoint.starts_with("http://"))
                    // Fewer, shorter retries than object_store's default (10 over 3 minutes): an unreachable
                    // lake should fail the run in seconds, with the reason, not after minutes of silence.
                    .with_retry(object_store::RetryConfig {
                        max_retries: 4,
                        retry_timeout: std::time::Duration::from_secs(30),
                        ..Default::default()
                    });
                // Both keys, always: without them object_store would ask a cloud metadata service
                // (169.254.169.254) for credentials, which costlake never contacts.
                let (Some(key), Some(secret)) = (&settings.access_key, &settings.secret_key) else {
                    return Err(LakeError::InvalidLocation {
                        location: self.to_string(),
                        reason: "no S3 credentials: set COSTLAKE_S3_ACCESS_KEY and COSTLAKE_S3_SECRET_KEY, or \
                                 SCW_ACCESS_KEY and SCW_SECRET_KEY (a Scaleway API key works for Object Storage), \
                                 or a profile in ~/.config/scw/config.yaml"
                            .into(),
                    });
                };
                builder = builder
                    .with_access_key_id(key)
                    .with_secret_access_key(secret.expose_secret())
                    // Defence in depth: should a future object_store look for credentials anyway, it asks a
                    // closed loopback port, never the cloud metadata address.
                    .with_metadata_endpoint(NO_METADATA_SERVICE);
                let store = builder
                    .build()
                    .map_err(|e| LakeError::InvalidLocation { location: self.to_string(), reason: e.to_string() })?;
                Ok((Arc::new(store), Path::from(prefix.as_str())))
            }
        }
    }
}

/// Where object_store would ask for instance credentials: port 1 of loopback, where nothing listens.
pub const NO_METADATA_SERVICE: &str = "http://127.0.0.1:1";

/// Safe to log: the bucket, prefix and endpoint, never a key.
impl std::fmt::Display for LakeLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LakeLocation::Local(dir) => write!(f, "{}", dir.display()),
            LakeLocation::S3 { bucket, prefix, settings } => {
                write!(f, "s3://{bucket}")?;
                if !prefix.is_empty() {
                    write!(f, "/{prefix}")?;
                }
                write!(f, " (endpoint {})", settings.endpoint_url())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_lake_without_keys_is_refused_before_any_request() {
        let region = S3Settings { region: "fr-par".into(), ..Default::default() };
        let only_key = S3Settings { access_key: Some("SCWXXXXXXXXXXXXXXXXX".into()), ..region.clone() };
        for settings in [region, only_key] {
            let location = LakeLocation::parse("s3://bills/costlake", settings).unwrap();
            let Err(error) = location.open_store() else { panic!("opened an S3 lake without credentials") };
            let message = error.to_string();
            assert!(message.contains("s3://bills/costlake"), "{message}");
            assert!(message.contains("COSTLAKE_S3_ACCESS_KEY") && message.contains("SCW_ACCESS_KEY"), "{message}");
        }
    }

    #[test]
    fn parses_local_and_s3_locations() {
        let s3 = S3Settings { region: "nl-ams".into(), ..Default::default() };
        match LakeLocation::parse("s3://bills/costlake/prod/", s3.clone()).unwrap() {
            LakeLocation::S3 { bucket, prefix, settings } => {
                assert_eq!(bucket, "bills");
                assert_eq!(prefix, "costlake/prod");
                assert_eq!(settings.endpoint_url(), "https://s3.nl-ams.scw.cloud");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(LakeLocation::parse("./data/lake", s3.clone()).unwrap(), LakeLocation::Local(_)));
        assert!(LakeLocation::parse("s3://", s3.clone()).is_err());
        assert!(LakeLocation::parse("gs://x", s3).is_err());
    }

    #[test]
    fn display_never_shows_the_secret() {
        let settings = S3Settings {
            endpoint: Some("http://127.0.0.1:9000".into()),
            region: "fr-par".into(),
            access_key: Some("SCWACCESS".into()),
            secret_key: Some("very-secret".into()),
        };
        let location = LakeLocation::parse("s3://b/p", settings).unwrap();
        let shown = format!("{location} {location:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
    }
}
