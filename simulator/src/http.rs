//! HTTP helpers every product's handlers share: the API error bodies, query parameters and JSON responses.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid argument(s)")]
    InvalidArguments(BTreeMap<String, Vec<String>>),
    #[error("zone {0} is not available for this API")]
    UnknownZone(String),
    #[error("region {0} is not available for this API")]
    UnknownRegion(String),
    #[error("resource is not found")]
    NotFound,
    /// A named resource that does not exist (`{"message", "resource", "resource_id", "type": "not_found"}`, as
    /// recorded in errors/404_not_found_k8s.json).
    #[error("resource is not found")]
    ResourceNotFound { resource: &'static str, resource_id: String },
    #[error("authentication is denied")]
    Unauthenticated,
    #[error("insufficient permissions")]
    PermissionDenied { resource: &'static str },
    #[error("service unavailable")]
    Unavailable,
}

impl ApiError {
    pub fn invalid(field: &str, reason: &str) -> ApiError {
        ApiError::InvalidArguments(BTreeMap::from([(field.to_string(), vec![reason.to_string()])]))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, body) = match self {
            ApiError::InvalidArguments(fields) => {
                (StatusCode::BAD_REQUEST, json!({"message": message, "type": "invalid_arguments", "fields": fields}))
            }
            ApiError::UnknownZone(_) | ApiError::UnknownRegion(_) => {
                (StatusCode::NOT_FOUND, json!({"message": message, "type": "unknown_resource"}))
            }
            ApiError::NotFound => (StatusCode::NOT_FOUND, json!({"message": message, "type": "not_found"})),
            ApiError::ResourceNotFound { resource, resource_id } => (
                StatusCode::NOT_FOUND,
                json!({"message": message, "resource": resource, "resource_id": resource_id, "type": "not_found"}),
            ),
            // Byte for byte the recorded body (errors/401_denied_authentication.json).
            ApiError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                json!({"message": message, "method": "api_key", "reason": "not_found", "type": "denied_authentication"}),
            ),
            ApiError::PermissionDenied { resource } => (
                StatusCode::FORBIDDEN,
                json!({"details": [{"action": "read", "resource": resource}], "message": message, "type": "permissions_denied"}),
            ),
            ApiError::Unavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, json!({"message": message, "type": "internal_error"}))
            }
        };
        json_response(status, &body, HeaderMap::new())
    }
}

pub(crate) fn json_bytes_response(status: StatusCode, bytes: Vec<u8>, mut headers: HeaderMap) -> Response {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().extend(headers);
    response
}

pub(crate) fn json_response(status: StatusCode, body: &Value, headers: HeaderMap) -> Response {
    // Serialising a `Value` cannot fail (string keys only).
    json_bytes_response(status, serde_json::to_vec(body).unwrap_or_default(), headers)
}

/// What a handler returns.
pub(crate) type Handled = Result<Response, ApiError>;

/// 404 `unknown_resource` unless the API serves `zone`.
pub(crate) fn require_zone(zone: &str, zones: &[&str]) -> Result<(), ApiError> {
    if zones.contains(&zone) { Ok(()) } else { Err(ApiError::UnknownZone(zone.to_string())) }
}

/// 404 `unknown_resource` unless the API serves `region`.
pub(crate) fn require_region(region: &str, regions: &[&str]) -> Result<(), ApiError> {
    if regions.contains(&region) { Ok(()) } else { Err(ApiError::UnknownRegion(region.to_string())) }
}

/// Decoded query parameters, plus the raw pairs (the `Link` header echoes them verbatim).
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
    raw: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: Option<&str>) -> Result<Params, ApiError> {
        let mut params = Params::default();
        for segment in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
            let (key, value) = segment.split_once('=').unwrap_or((segment, ""));
            let decoded_key = percent_decode(key).ok_or_else(|| ApiError::invalid(key, "invalid percent-encoding"))?;
            let decoded = percent_decode(value).ok_or_else(|| ApiError::invalid(key, "invalid percent-encoding"))?;
            params.raw.push((decoded_key.clone(), segment.to_string()));
            params.pairs.push((decoded_key, decoded));
        }
        Ok(params)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated key; `a=x,y` style comma lists are split too.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key || k.strip_suffix("[]") == Some(key))
            .flat_map(|(_, v)| v.split(','))
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Every value of a repeated key, as sent (no comma splitting: `match[]` selectors contain commas).
    pub fn values(&self, key: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// Appends the parameters of `other` (a form body after the query string).
    pub fn extend(&mut self, other: Params) {
        self.pairs.extend(other.pairs);
        self.raw.extend(other.raw);
    }

    /// The raw query minus the given keys, in request order.
    pub fn rest_without(&self, keys: &[&str]) -> String {
        let kept: Vec<&str> =
            self.raw.iter().filter(|(k, _)| !keys.contains(&k.as_str())).map(|(_, s)| s.as_str()).collect();
        kept.join("&")
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                // `from_str_radix` alone would accept a sign ("%+f").
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_keep_raw_segments_for_links() {
        let p = Params::parse(Some("order=creation_date_desc&page=2&name=a%20b&tags=x,y")).unwrap();
        assert_eq!(p.get("name"), Some("a b"));
        assert_eq!(p.all("tags"), ["x", "y"]);
        assert_eq!(p.rest_without(&["page", "per_page"]), "order=creation_date_desc&name=a%20b&tags=x,y");
        assert!(Params::parse(Some("name=%zz")).is_err());
        assert!(Params::parse(Some("name=%ff")).is_err());
        assert!(Params::parse(Some("name=%+f")).is_err());
        assert!(Params::parse(Some("name=%4")).is_err());
    }
}
