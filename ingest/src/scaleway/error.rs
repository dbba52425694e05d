//! Errors from the Scaleway API, worded for the person running costlake: what failed, where, and what to do.
//! None of them can carry a credential: requests are described by method and path, never by headers.

use reqwest::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "Scaleway rejected the API key ({status} {kind}: {message}) on {request}; check {secret_origin}: it must be the secret key of a valid, unexpired IAM API key"
    )]
    Unauthorized { status: StatusCode, kind: String, message: String, request: String, secret_origin: String },

    #[error(
        "the API key lacks permission{permissions} on {request} ({message}); grant the IAM permission set {permission_set} to the key's user or application, or leave this product out with --sources"
    )]
    Forbidden { request: String, permissions: String, permission_set: &'static str, message: String },

    #[error("{request} failed with {status} ({kind}: {message})")]
    Status { request: String, status: StatusCode, kind: String, message: String },

    #[error(
        "{request} still failed after {attempts} attempts (last: {last}); Scaleway is rate limiting or unavailable, try again later or lower --max-rps / --concurrency"
    )]
    RetriesExhausted { request: String, attempts: usize, last: String },

    #[error("cannot reach the Scaleway API for {request}: {reason}; check SCW_API_URL and the network")]
    Transport { request: String, reason: String },

    #[error(
        "malformed response from {request}: {detail}; this product was not collected, retry later and report it if it persists"
    )]
    Malformed { request: String, detail: String },

    #[error(
        "could not delete the temporary Cockpit token {name} of project {project} ({cause}); delete it in the Cockpit console (Tokens) of that project"
    )]
    TokenLeftBehind { name: String, project: String, cause: String },
}

impl ApiError {
    /// A 429: the request was not acted upon, so even a POST may be sent again.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, ApiError::Status { status, .. } if *status == StatusCode::TOO_MANY_REQUESTS)
    }

    /// Whether a retry may succeed: rate limiting, server-side errors and dropped connections.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Status { status, .. } => *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
            ApiError::Transport { .. } => true,
            _ => false,
        }
    }
}

/// The IAM permission set that grants what costlake does with a product's API (read, but for Cockpit tokens), named after Scaleway's reference
/// (https://www.scaleway.com/en/docs/iam/reference-content/permission-sets/).
pub fn permission_set_for(path: &str) -> &'static str {
    let product = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match product {
        "instance" => "InstancesReadOnly",
        "block" => "BlockStorageReadOnly",
        "account" => "ProjectReadOnly",
        "billing" => "BillingReadOnly",
        "k8s" => "KubernetesReadOnly",
        "lb" => "LoadBalancersReadOnly",
        "rdb" => "RelationalDatabasesReadOnly",
        // Temporary tokens are created and deleted: more than read access (or give tokens, see the README).
        "cockpit" if path.contains("/tokens") => "ObservabilityFullAccess (or give tokens in COSTLAKE_COCKPIT_TOKENS)",
        "cockpit" => "ObservabilityReadOnly",
        "autoscaling" => "InstancesReadOnly",
        "ipam" => "IPAMReadOnly",
        _ => "AllProductsReadOnly",
    }
}

/// Summarises a Scaleway error body (`{"message","type","details":[{"action","resource"}]}`); tolerant of
/// non-JSON bodies, which the API gateway sometimes sends.
pub fn describe_error_body(body: &[u8]) -> (String, String, String) {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field =
        |name: &str| parsed.as_ref().and_then(|v| v.get(name)).and_then(serde_json::Value::as_str).map(str::to_string);
    // Scaleway's APIs say `type`/`message`; a Prometheus data plane says `errorType`/`error`.
    let kind = field("type").or_else(|| field("errorType")).unwrap_or_else(|| "unknown".into());
    let message = field("message").or_else(|| field("error")).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() { "empty body".into() } else { text.chars().take(200).collect() }
    });
    let permissions = parsed
        .as_ref()
        .and_then(|v| v.get("details"))
        .and_then(serde_json::Value::as_array)
        .map(|details| {
            details
                .iter()
                .filter_map(|d| {
                    let action = d.get("action")?.as_str()?;
                    let resource = d.get("resource")?.as_str()?;
                    Some(format!("`{action}` on `{resource}`"))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|s| !s.is_empty())
        .map(|s| format!(" {s}"))
        .unwrap_or_default();
    (kind, message, permissions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_recorded_error_bodies() {
        let body = br#"{"details":[{"action":"read","resource":"snapshot"}],"message":"insufficient permissions","type":"permissions_denied"}"#;
        let (kind, message, permissions) = describe_error_body(body);
        assert_eq!(kind, "permissions_denied");
        assert_eq!(message, "insufficient permissions");
        assert_eq!(permissions, " `read` on `snapshot`");
        let (kind, message, permissions) = describe_error_body(b"");
        assert_eq!((kind.as_str(), message.as_str(), permissions.as_str()), ("unknown", "empty body", ""));
        assert_eq!(permission_set_for("/block/v1/zones/fr-par-1/snapshots"), "BlockStorageReadOnly");
    }
}
