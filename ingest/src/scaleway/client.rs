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
use reqwest::header::{CONTENT_TYPE, HeaderMap, USER_AGENT};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use super::error::{ApiError, describe_error_body, permission_set_for};

/// The client's defaults, which `costlake`'s settings and help also show.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Requests in flight below which no chain keeps one for itself ([`ScalewayClient::lane`]).
pub const MIN_CONCURRENCY_FOR_LANE: usize = 4;
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
    in_flight: Arc<Semaphore>,
    concurrency: usize,
    /// One permit: the chain that holds the lane.
    lane: Arc<Semaphore>,
    limiter: DefaultDirectRateLimiter,
    max_attempts: usize,
    retry_base: Duration,
    /// Calls and retries of every view, as they happen, for a progress bar.
    progress: Arc<costlake_lake::Progress>,
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
            // A redirect would carry X-Auth-Token or X-Token to wherever it points (reqwest strips only the
            // standard credential headers): a 3xx is an error, never followed.
            .redirect(reqwest::redirect::Policy::none())
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
                in_flight: Arc::new(Semaphore::new(options.concurrency.max(1))),
                concurrency: options.concurrency.max(1),
                lane: Arc::new(Semaphore::new(1)),
                limiter: RateLimiter::direct(Quota::per_second(rps)),
                max_attempts: options.max_attempts.max(1),
                retry_base: options.retry_base,
                progress: Arc::default(),
            }),
            counters: Arc::new(Counters::default()),
        })
    }

    /// A view sharing the limits but counting its own calls.
    pub fn for_source(&self) -> ScalewayClient {
        ScalewayClient { shared: self.shared.clone(), counters: Arc::new(Counters::default()) }
    }

    /// The live counters of every view of this client: calls and retries here, products and rows from the
    /// collection that uses it.
    pub fn progress(&self) -> Arc<costlake_lake::Progress> {
        self.shared.progress.clone()
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

    /// The URL of an API path on the configured base, with `query`.
    fn api_url_of(&self, path: &str, query: &[(String, String)]) -> Url {
        let mut url = self.shared.base.clone();
        url.set_path(&format!("{}{}", self.shared.base.path().trim_end_matches('/'), path));
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        url
    }

    /// One request, no retry, to the API's root: whether it answers at all (any status will do), so that an
    /// unreachable API fails the run in seconds, before any product has waited out its retries.
    pub async fn check_reachable(&self) -> Result<(), ApiError> {
        let url = self.api_url_of("/", &[]);
        match self.shared.http.get(url).header(USER_AGENT, concat!("costlake/", env!("CARGO_PKG_VERSION"))).send().await
        {
            Ok(_) => Ok(()),
            Err(error) => {
                Err(ApiError::Transport { request: format!("GET / at {}", self.api_url()), reason: root_cause(&error) })
            }
        }
    }

    /// GET `path` with `query`, retrying transient failures.
    pub async fn get(&self, path: &str, query: &[(String, String)]) -> Result<Response, ApiError> {
        self.get_in(None, path, query).await
    }

    /// One of the requests in flight, kept for a chain of requests until the [`Lane`] is dropped: the FinOps
    /// charges are paged by token, each page naming the next, a chain no concurrency shortens and a run's
    /// longest. Its pages then never queue behind other requests for a slot: at 50 ms a request, the charges'
    /// 164 pages waited behind the Cockpit queries and took 11.1-11.3 s, 9.2 s alone. None when fewer than
    /// [`MIN_CONCURRENCY_FOR_LANE`] requests may be in flight (the others would be left too few), or when
    /// another chain holds the lane: one at a time.
    pub async fn lane(&self) -> Option<Lane> {
        if self.shared.concurrency < MIN_CONCURRENCY_FOR_LANE {
            return None;
        }
        let held = self.shared.lane.clone().try_acquire_owned().ok()?;
        let permit = self.shared.in_flight.clone().acquire_owned().await.expect("the semaphore is never closed");
        Some(Lane { _permit: permit, _held: held })
    }

    /// [`ScalewayClient::get`], in `lane` when given (no other slot is waited for).
    pub async fn get_in(
        &self,
        lane: Option<&Lane>,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Response, ApiError> {
        let url = self.api_url_of(path, query);
        let call = Call { method: reqwest::Method::GET, url, path: path.to_string(), auth: Auth::ApiKey, body: None };
        self.send(call, lane.is_some()).await
    }

    /// POST a JSON body to an API `path` (creating something): retried only when rate limited, as a 429 is
    /// the one failure that says the request was not acted upon.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<Response, ApiError> {
        let url = self.api_url_of(path, &[]);
        let body = Some(Bytes::from(body.to_string()));
        self.send(Call { method: reqwest::Method::POST, url, path: path.to_string(), auth: Auth::ApiKey, body }, false)
            .await
    }

    /// DELETE an API `path`.
    pub async fn delete(&self, path: &str) -> Result<Response, ApiError> {
        let url = self.api_url_of(path, &[]);
        let call =
            Call { method: reqwest::Method::DELETE, url, path: path.to_string(), auth: Auth::ApiKey, body: None };
        self.send(call, false).await
    }

    /// GET a URL the API returned (a Cockpit data source's), authenticated by a Cockpit token in `X-Token`, never
    /// by the API key; same limits and retries as the API.
    pub async fn get_with_token(
        &self,
        base: &Url,
        path: &str,
        query: &[(String, String)],
        token: &SecretString,
    ) -> Result<Response, ApiError> {
        let mut url = base.clone();
        url.set_path(&format!("{}{}", base.path().trim_end_matches('/'), path));
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let auth = Auth::Token(token.clone());
        self.send(Call { method: reqwest::Method::GET, url, path: path.to_string(), auth, body: None }, false).await
    }

    /// `in_lane`: the caller holds a [`Lane`], its slot among the requests in flight.
    async fn send(&self, call: Call, in_lane: bool) -> Result<Response, ApiError> {
        let request = match (&call.auth, call.url.query()) {
            (Auth::ApiKey, Some(q)) => format!("{} {}?{q}", call.method, call.path),
            (Auth::ApiKey, None) => format!("{} {}", call.method, call.path),
            // A data-plane URL names its data source: the host is part of what failed.
            (Auth::Token(_), _) => format!("{} {}", call.method, call.url),
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.shared.retry_base)
            .with_max_delay(Duration::from_secs(30))
            .with_max_times(self.shared.max_attempts - 1)
            .with_jitter();
        let idempotent = call.method != reqwest::Method::POST;
        let attempt = || self.attempt(&call, in_lane, &request);
        let result = attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|error: &ApiError| if idempotent { error.is_transient() } else { error.is_rate_limited() })
            .notify(|error, delay| {
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                self.shared.progress.add_retry();
                tracing::debug!(%request, %error, ?delay, "retrying");
            })
            .await;
        result.map_err(|error| match error {
            error if error.is_transient() && (idempotent || error.is_rate_limited()) => ApiError::RetriesExhausted {
                request: request.clone(),
                attempts: self.shared.max_attempts,
                last: error.to_string(),
            },
            error => error,
        })
    }

    async fn attempt(&self, call: &Call, in_lane: bool, request: &str) -> Result<Response, ApiError> {
        let _permit = if in_lane {
            None
        } else {
            Some(self.shared.in_flight.acquire().await.expect("the semaphore is never closed"))
        };
        self.shared.limiter.until_ready().await;
        self.counters.api_calls.fetch_add(1, Ordering::Relaxed);
        self.shared.progress.add_api_call();

        let mut builder = self
            .shared
            .http
            .request(call.method.clone(), call.url.clone())
            .header(USER_AGENT, concat!("costlake/", env!("CARGO_PKG_VERSION")));
        match &call.auth {
            Auth::ApiKey => {
                if let Some(secret) = &self.shared.secret {
                    builder = builder.header("X-Auth-Token", secret.expose_secret());
                }
            }
            Auth::Token(token) => builder = builder.header("X-Token", token.expose_secret()),
        }
        if let Some(body) = &call.body {
            builder = builder.header(CONTENT_TYPE, "application/json").body(body.clone());
        }
        let transport = |e: reqwest::Error| ApiError::Transport {
            request: match call.auth {
                Auth::ApiKey => format!("{request} at {}", self.api_url()),
                Auth::Token(_) => request.to_string(),
            },
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
        Err(match (status, &call.auth) {
            // A refused Cockpit token is that product's failure, not a wrong API key.
            (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, Auth::Token(_)) => ApiError::Status {
                request: request.to_string(),
                status,
                kind,
                message: format!("{message}; the Cockpit token was refused (it needs the read_only_metrics scope)"),
            },
            (StatusCode::UNAUTHORIZED, Auth::ApiKey) => ApiError::Unauthorized {
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
            (StatusCode::FORBIDDEN, Auth::ApiKey) => ApiError::Forbidden {
                request: request.to_string(),
                permissions,
                permission_set: permission_set_for(&call.path),
                message,
            },
            _ => ApiError::Status { request: request.to_string(), status, kind, message },
        })
    }
}

/// How a request authenticates: the IAM API key (`X-Auth-Token`) or a Cockpit token (`X-Token`).
enum Auth {
    ApiKey,
    Token(SecretString),
}

/// A slot among the requests in flight, held for a chain of requests (see [`ScalewayClient::lane`]).
pub struct Lane {
    _permit: tokio::sync::OwnedSemaphorePermit,
    _held: tokio::sync::OwnedSemaphorePermit,
}

struct Call {
    method: reqwest::Method,
    url: Url,
    /// The API path (for the permission set a 403 names).
    path: String,
    auth: Auth,
    body: Option<Bytes>,
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// What the loopback API saw: each request's path as it arrived, and the most in flight at once.
    #[derive(Default)]
    struct Seen {
        arrivals: Mutex<Vec<String>>,
        in_flight: AtomicU64,
        most_in_flight: AtomicU64,
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_chain_in_its_lane_passes_the_queue_and_the_cap_holds() {
        // As the binary does: reqwest is built without a TLS provider of its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let seen = Arc::new(Seen::default());
        let state = seen.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let seen = state.clone();
            async move {
                seen.arrivals.lock().unwrap().push(uri.path().to_string());
                let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                seen.most_in_flight.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
                seen.in_flight.fetch_sub(1, Ordering::SeqCst);
                "{}"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = ScalewayClient::new(ClientOptions {
            api_url: format!("http://{address}"),
            concurrency: MIN_CONCURRENCY_FOR_LANE,
            max_attempts: 1,
            timeout: Duration::from_secs(20),
            ..ClientOptions::default()
        })
        .unwrap();

        // Nine requests queue for the three slots the lane leaves (three waves of 200 ms); the chain's two pages,
        // asked after them, pass them (in turn, they would arrive after the third wave began).
        let lane = client.lane().await.expect("a lane at this concurrency");
        assert!(client.lane().await.is_none(), "one chain at a time holds the lane");
        let queued: Vec<_> = (0..9)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move { client.get(&format!("/queued/{i}"), &[]).await.map(|_| ()) })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        for page in 0..2 {
            client.get_in(Some(&lane), &format!("/chain/{page}"), &[]).await.unwrap();
        }
        drop(lane);
        for request in queued {
            request.await.unwrap().unwrap();
        }
        server.abort();

        let arrivals = seen.arrivals.lock().unwrap().clone();
        let last_chain = arrivals.iter().rposition(|path| path.starts_with("/chain/")).unwrap();
        let third_wave = arrivals.iter().enumerate().filter(|(_, path)| path.starts_with("/queued/")).nth(6).unwrap().0;
        assert!(last_chain < third_wave, "the chain waited for the queue: {arrivals:?}");
        assert_eq!(arrivals.len(), 11);
        assert_eq!(
            seen.most_in_flight.load(Ordering::SeqCst),
            MIN_CONCURRENCY_FOR_LANE as u64,
            "the cap holds: {arrivals:?}"
        );
        assert!(client.lane().await.is_some(), "the lane is free again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_walk_in_the_lane_gives_it_back_at_its_end_and_at_its_first_error() {
        use super::super::pager::{ListShape, Pager, Scheme};
        use axum::http::StatusCode;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let app = axum::Router::new().fallback(|uri: axum::http::Uri| async move {
            match (uri.path(), uri.query().unwrap_or("")) {
                (_, query) if query.contains("page_token=gone") => {
                    (StatusCode::NOT_FOUND, r#"{"message":"resource is not found","type":"not_found"}"#)
                }
                (_, query) if query.contains("page_token=next") => {
                    (StatusCode::OK, r#"{"charges":[{"id":"b"}],"next_page_token":null}"#)
                }
                ("/broken", _) => (StatusCode::OK, r#"{"charges":[{"id":"a"}],"next_page_token":"gone"}"#),
                _ => (StatusCode::OK, r#"{"charges":[{"id":"a"}],"next_page_token":"next"}"#),
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let options = ClientOptions { api_url: format!("http://{address}"), ..ClientOptions::default() };
        let client = ScalewayClient::new(options).unwrap();

        for (path, fails) in [("/charges", false), ("/broken", true)] {
            let mut pager = Pager::new(&client, Scheme::Token, path, vec![], ListShape::Array("charges")).in_lane();
            pager.next().await.unwrap().expect("a first page");
            assert!(client.lane().await.is_none(), "{path}: the walk holds the lane");
            match pager.next().await {
                Err(error) => assert!(fails, "{path}: {error}"),
                Ok(page) => assert!(!fails && page.is_some(), "{path}: the second page"),
            }
            // The pager is still alive: what gave the lane back is the walk's end or its error, not a drop.
            assert!(client.lane().await.is_some(), "{path}: the lane is free again");
            drop(pager);
        }
        server.abort();
    }

    #[tokio::test]
    async fn no_lane_below_its_concurrency() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = ScalewayClient::new(ClientOptions {
            api_url: "http://127.0.0.1:9".into(),
            concurrency: MIN_CONCURRENCY_FOR_LANE - 1,
            ..ClientOptions::default()
        })
        .unwrap();
        assert!(client.lane().await.is_none(), "too few requests in flight to keep one for a chain");
    }
}
