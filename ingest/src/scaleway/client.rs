//! The HTTP client every collector shares: `X-Auth-Token` auth, a global in-flight cap, a client-side rate
//! limit, and retries with jittered exponential backoff on 429 and 5xx.
//!
//! Scaleway's gateway answers a burst with a bare 429 (`X-Envoy-Ratelimited: true`, no `Retry-After`, no body),
//! and the same URL succeeds about a second later; the official Go SDK does not retry at all. So the limits
//! live here, once, rather than in each collector.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use costlake_lake::RunStats;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, USER_AGENT};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use super::error::{ApiError, describe_error_body, permission_set_for};

/// The client's defaults, which `costlake`'s settings and help also show.
pub const DEFAULT_CONCURRENCY: usize = 8;
pub const DEFAULT_MAX_RPS: u32 = 20;
pub const DEFAULT_MAX_ATTEMPTS: usize = 6;
pub const DEFAULT_RETRY_BASE_MS: u64 = 1000;

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub api_url: String,
    pub secret_key: Option<SecretString>,
    /// Where the secret came from (env var or scw profile), named in 401 errors.
    pub secret_origin: String,
    /// Requests in flight at once, over every collector (Scaleway suggests staying well under 100 req/s).
    pub concurrency: usize,
    /// Client-side rate limit, requests per second.
    pub max_rps: u32,
    /// Attempts per request, the first included.
    pub max_attempts: usize,
    /// First backoff delay; it doubles per retry, with jitter, up to 30 s.
    pub retry_base: Duration,
    pub timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            api_url: super::config::DEFAULT_API_URL.to_string(),
            secret_key: None,
            secret_origin: "SCW_SECRET_KEY".into(),
            concurrency: DEFAULT_CONCURRENCY,
            max_rps: DEFAULT_MAX_RPS,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            retry_base: Duration::from_millis(DEFAULT_RETRY_BASE_MS),
            timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    api_calls: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    pages: AtomicU64,
    /// What the pages said that did not add up (a `total_count` the list did not hold), for the manifest.
    warnings: std::sync::Mutex<Vec<String>>,
}

impl Counters {
    fn snapshot(&self) -> RunStats {
        RunStats {
            api_calls: self.api_calls.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            server_errors: self.server_errors.load(Ordering::Relaxed),
            pages: self.pages.load(Ordering::Relaxed),
        }
    }
}

struct Shared {
    http: reqwest::Client,
    base: Url,
    secret: Option<SecretString>,
    secret_origin: String,
    in_flight: Semaphore,
    limiter: DefaultDirectRateLimiter,
    max_attempts: usize,
    retry_base: Duration,
}

/// A cloneable handle. Each collector gets its own [`ScalewayClient::for_source`] view so the manifest can
/// report API calls and retries per source; the limits are shared by all views.
#[derive(Clone)]
pub struct ScalewayClient {
    shared: Arc<Shared>,
    counters: Arc<Counters>,
}

/// A successful response.
#[derive(Debug)]
pub struct Response {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `GET /path?query`, for error messages.
    pub request: String,
}

impl ScalewayClient {
    pub fn new(options: ClientOptions) -> Result<ScalewayClient, String> {
        let base = Url::parse(options.api_url.trim_end_matches('/'))
            .map_err(|e| format!("invalid Scaleway API URL {:?}: {e}", options.api_url))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!("invalid Scaleway API URL {:?}: use http(s)://", options.api_url));
        }
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let rps = NonZeroU32::new(options.max_rps.max(1)).expect("max(1) is non-zero");
        Ok(ScalewayClient {
            shared: Arc::new(Shared {
                http,
                base,
                secret: options.secret_key,
                secret_origin: options.secret_origin,
                in_flight: Semaphore::new(options.concurrency.max(1)),
                limiter: RateLimiter::direct(Quota::per_second(rps)),
                max_attempts: options.max_attempts.max(1),
                retry_base: options.retry_base,
            }),
            counters: Arc::new(Counters::default()),
        })
    }

    /// A view sharing the limits but counting its own calls.
    pub fn for_source(&self) -> ScalewayClient {
        ScalewayClient { shared: self.shared.clone(), counters: Arc::new(Counters::default()) }
    }

    pub fn stats(&self) -> RunStats {
        self.counters.snapshot()
    }

    /// Warnings of this source's lists so far (see [`ScalewayClient::warn`]).
    pub fn warnings(&self) -> Vec<String> {
        self.counters.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// Records something a list said that does not add up but loses nothing costlake can know of.
    pub(crate) fn warn(&self, warning: String) {
        if let Ok(mut warnings) = self.counters.warnings.lock() {
            warnings.push(warning);
        }
    }

    pub fn api_url(&self) -> &str {
        self.shared.base.as_str().trim_end_matches('/')
    }

    pub(crate) fn count_page(&self) {
        self.counters.pages.fetch_add(1, Ordering::Relaxed);
    }

    /// GET `path` with `query`, retrying transient failures.
    pub async fn get(&self, path: &str, query: &[(String, String)]) -> Result<Response, ApiError> {
        let mut url = self.shared.base.clone();
        url.set_path(&format!("{}{}", self.shared.base.path().trim_end_matches('/'), path));
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let request = match url.query() {
            Some(q) => format!("GET {path}?{q}"),
            None => format!("GET {path}"),
        };

        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.shared.retry_base)
            .with_max_delay(Duration::from_secs(30))
            .with_max_times(self.shared.max_attempts - 1)
            .with_jitter();
        let attempt = || self.attempt(url.clone(), &request, path);
        let result = attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(ApiError::is_transient)
            .notify(|error, delay| {
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%request, %error, ?delay, "retrying");
            })
            .await;
        result.map_err(|error| match error {
            error if error.is_transient() => ApiError::RetriesExhausted {
                request: request.clone(),
                attempts: self.shared.max_attempts,
                last: error.to_string(),
            },
            error => error,
        })
    }

    async fn attempt(&self, url: Url, request: &str, path: &str) -> Result<Response, ApiError> {
        let _permit = self.shared.in_flight.acquire().await.expect("the semaphore is never closed");
        self.shared.limiter.until_ready().await;
        self.counters.api_calls.fetch_add(1, Ordering::Relaxed);

        let mut builder = self.shared.http.get(url).header(USER_AGENT, concat!("costlake/", env!("CARGO_PKG_VERSION")));
        if let Some(secret) = &self.shared.secret {
            builder = builder.header("X-Auth-Token", secret.expose_secret());
        }
        let transport = |e: reqwest::Error| ApiError::Transport {
            request: format!("{request} at {}", self.api_url()),
            reason: root_cause(&e),
        };
        let response = builder.send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;
        if status.is_success() {
            return Ok(Response { headers, body, request: request.to_string() });
        }

        let (kind, message, permissions) = describe_error_body(&body);
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
        } else if status.is_server_error() {
            self.counters.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        Err(match status {
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized {
                status,
                kind,
                message,
                request: request.to_string(),
                secret_origin: if self.shared.secret.is_some() {
                    self.shared.secret_origin.clone()
                } else {
                    "SCW_SECRET_KEY (it is not set, nor in any scw profile)".to_string()
                },
            },
            StatusCode::FORBIDDEN => ApiError::Forbidden {
                request: request.to_string(),
                permissions,
                permission_set: permission_set_for(path),
                message,
            },
            _ => ApiError::Status { request: request.to_string(), status, kind, message },
        })
    }
}

/// The innermost error of a reqwest failure ("connection refused", "operation timed out"), which is what a
/// person can act on.
fn root_cause(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    let cause = source.to_string();
    if error.is_timeout() { format!("timed out ({cause})") } else { cause }
}
