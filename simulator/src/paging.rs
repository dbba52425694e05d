//! The three pagination schemes of the Scaleway APIs, named as the collectors in `ingest/` name them:
//!
//! * `Legacy` (Instance; [`Page::legacy`], [`legacy_headers`]): `page` + `per_page` (default 50), no count in the
//!   body; `X-Total-Count` and a `Link` header relative to the zone path.
//! * `TotalCount` (most others; [`Page::total_count`], [`total_count_body`]): `page` + `page_size` (default 20),
//!   `total_count` in the body, an empty list past the last page.
//! * `Token` (Billing FinOps `charges`; [`TokenPage`]): `page_size` (default 20) + an opaque `page_token`; the
//!   body's `next_page_token` is `null` on the last page.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use serde_json::{Map, Value};

use crate::http::{ApiError, Params};
use crate::wire::Style;

pub const MAX_PAGE_SIZE: usize = 100;
pub const LEGACY_DEFAULT: usize = 50;
pub const TOTAL_COUNT_DEFAULT: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based.
    pub number: usize,
    pub size: usize,
}

impl Page {
    /// Legacy (Instance API): `page`, `per_page`.
    pub fn legacy(params: &Params) -> Result<Page, ApiError> {
        Page::parse(params, "per_page", LEGACY_DEFAULT)
    }

    /// TotalCount (other APIs): `page`, `page_size`.
    pub fn total_count(params: &Params) -> Result<Page, ApiError> {
        Page::parse(params, "page_size", TOTAL_COUNT_DEFAULT)
    }

    fn parse(params: &Params, size_key: &str, default_size: usize) -> Result<Page, ApiError> {
        let number = positive(params, "page", 1, usize::MAX)?;
        let size = positive(params, size_key, default_size, MAX_PAGE_SIZE)?;
        Ok(Page { number, size })
    }

    /// The items of this page (empty past the end).
    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = (self.number - 1).saturating_mul(self.size);
        if start >= items.len() {
            return &[];
        }
        let end = start.saturating_add(self.size).min(items.len());
        &items[start..end]
    }

    pub fn last(&self, total: usize) -> usize {
        total.div_ceil(self.size).max(1)
    }

    /// The Instance API `Link` header, e.g.
    /// `</servers?page=2&per_page=50&>; rel="next",</servers?page=3&per_page=50&>; rel="last"`.
    /// `resource` is the path below the zone (`/servers`, `/products/servers`); `rest` is the request's other query
    /// parameters, verbatim, which the real API appends after `per_page=N&`.
    pub fn link_header(&self, resource: &str, total: usize, rest: &str) -> String {
        let last = self.last(total);
        let link =
            |page: usize, rel: &str| format!("<{resource}?page={page}&per_page={}&{rest}>; rel=\"{rel}\"", self.size);
        let mut links = Vec::with_capacity(4);
        if self.number > 1 {
            links.push(link(1, "first"));
            links.push(link((self.number - 1).min(last), "previous"));
        }
        if self.number < last {
            links.push(link(self.number + 1, "next"));
        }
        links.push(link(last, "last"));
        links.join(",")
    }
}

/// A Token page: where it starts and how long it is. The token is the unpadded base64url of `offset:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPage {
    pub offset: usize,
    pub size: usize,
}

impl TokenPage {
    /// `page_size` and `page_token` (their camelCase spellings from the FinOps docs are accepted too).
    pub fn parse(params: &Params) -> Result<TokenPage, ApiError> {
        let size_key = if params.get("page_size").is_none() && params.get("pageSize").is_some() {
            "pageSize"
        } else {
            "page_size"
        };
        let size = positive(params, size_key, TOTAL_COUNT_DEFAULT, MAX_PAGE_SIZE)?;
        let token = params.get("page_token").or_else(|| params.get("pageToken")).unwrap_or("");
        let offset = if token.is_empty() {
            0
        } else {
            decode_token(token).ok_or_else(|| ApiError::invalid("page_token", "invalid page token"))?
        };
        Ok(TokenPage { offset, size })
    }

    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = self.offset.min(items.len());
        let end = self.offset.saturating_add(self.size).min(items.len());
        &items[start..end]
    }

    /// The token of the following page, `None` when this one reaches the end.
    pub fn next_token(&self, total: usize) -> Option<String> {
        let next = self.offset.saturating_add(self.size);
        (next < total).then(|| encode_token(next))
    }
}

/// The Legacy headers: `X-Total-Count` and the `Link` header.
pub(crate) fn legacy_headers(page: &Page, resource: &str, total: usize, params: &Params) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(HeaderName::from_static("x-total-count"), HeaderValue::from(total));
    let rest = params.rest_without(&["page", "per_page"]);
    // The raw query is URI-safe ASCII, so this only fails on input hyper would already have refused.
    if let Ok(link) = HeaderValue::from_str(&page.link_header(resource, total, &rest)) {
        headers.insert(header::LINK, link);
    }
    headers
}

/// The TotalCount body; the count's position follows the recordings of each API.
pub(crate) fn total_count_body(style: Style, key: &str, items: Vec<Value>, total: usize, count_first: bool) -> Value {
    let mut body = Map::new();
    if count_first {
        body.insert("total_count".into(), style.count(total));
        body.insert(key.into(), Value::Array(items));
    } else {
        body.insert(key.into(), Value::Array(items));
        body.insert("total_count".into(), style.count(total));
    }
    Value::Object(body)
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode_token(offset: usize) -> String {
    let bytes = format!("offset:{offset}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(BASE64URL[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn decode_token(token: &str) -> Option<usize> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in token.trim_end_matches('=').bytes() {
        let value = BASE64URL.iter().position(|b| *b == c)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    let text = String::from_utf8(bytes).ok()?;
    let digits = text.strip_prefix("offset:")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn positive(params: &Params, key: &str, default: usize, max: usize) -> Result<usize, ApiError> {
    let Some(raw) = params.get(key) else {
        return Ok(default);
    };
    match raw.parse::<usize>() {
        Ok(n) if n >= 1 && n <= max => Ok(n),
        _ if max == usize::MAX => Err(ApiError::invalid(key, "must be a positive integer")),
        _ => Err(ApiError::invalid(key, &format!("must be a positive integer lower or equal to {max}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        Params::parse(Some(q)).unwrap()
    }

    #[test]
    fn link_headers_match_the_recorded_ones() {
        let p1 = Page { number: 1, size: 50 };
        assert_eq!(
            p1.link_header("/products/servers", 136, ""),
            r#"</products/servers?page=2&per_page=50&>; rel="next",</products/servers?page=3&per_page=50&>; rel="last""#
        );
        let p2 = Page { number: 2, size: 50 };
        assert_eq!(
            p2.link_header("/products/servers", 136, ""),
            concat!(
                r#"</products/servers?page=1&per_page=50&>; rel="first","#,
                r#"</products/servers?page=1&per_page=50&>; rel="previous","#,
                r#"</products/servers?page=3&per_page=50&>; rel="next","#,
                r#"</products/servers?page=3&per_page=50&>; rel="last""#
            )
        );
        let p3 = Page { number: 3, size: 50 };
        assert_eq!(
            p3.link_header("/products/servers", 136, ""),
            concat!(
                r#"</products/servers?page=1&per_page=50&>; rel="first","#,
                r#"</products/servers?page=2&per_page=50&>; rel="previous","#,
                r#"</products/servers?page=3&per_page=50&>; rel="last""#
            )
        );
        assert_eq!(
            p1.link_header("/servers", 3, "order=creation_date_desc"),
            r#"</servers?page=1&per_page=50&order=creation_date_desc>; rel="last""#
        );
        assert_eq!(p1.link_header("/ips", 0, ""), r#"</ips?page=1&per_page=50&>; rel="last""#);
    }

    #[test]
    fn slices_and_bounds() {
        let items: Vec<u32> = (0..45).collect();
        assert_eq!(Page { number: 3, size: 20 }.slice(&items), &[40, 41, 42, 43, 44]);
        assert!(Page { number: 4, size: 20 }.slice(&items).is_empty());
        assert!(Page { number: usize::MAX, size: 100 }.slice(&items).is_empty());
    }

    #[test]
    fn parses_defaults_and_rejects_bad_values() {
        assert_eq!(Page::legacy(&params("")).unwrap(), Page { number: 1, size: 50 });
        assert_eq!(Page::total_count(&params("page=2")).unwrap(), Page { number: 2, size: 20 });
        assert_eq!(Page::total_count(&params("page_size=100")).unwrap(), Page { number: 1, size: 100 });
        for bad in ["page=0", "page=-1", "page=abc", "per_page=101", "per_page=0", "page=99999999999999999999999"] {
            assert!(Page::legacy(&params(bad)).is_err(), "{bad}");
        }
        assert!(Page::total_count(&params("page_size=500")).is_err());
    }

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        for offset in [0, 1, 20, 99, 100, 12345, usize::MAX] {
            assert_eq!(decode_token(&encode_token(offset)), Some(offset), "{offset}");
        }
        assert_eq!(encode_token(20), "b2Zmc2V0OjIw");
        let first = TokenPage::parse(&params("page_size=20")).unwrap();
        assert_eq!(first, TokenPage { offset: 0, size: 20 });
        let token = first.next_token(45).unwrap();
        let second = TokenPage::parse(&params(&format!("page_token={token}&page_size=20"))).unwrap();
        assert_eq!(second.offset, 20);
        let third =
            TokenPage::parse(&params(&format!("pageToken={}&pageSize=20", second.next_token(45).unwrap()))).unwrap();
        assert_eq!(third.offset, 40);
        assert_eq!(third.next_token(45), None);
        let items: Vec<u32> = (0..45).collect();
        assert_eq!(third.slice(&items), &[40, 41, 42, 43, 44]);
        assert!(TokenPage { offset: 100, size: 20 }.slice(&items).is_empty());
        assert_eq!(TokenPage::parse(&params("")).unwrap().size, 20);
        for bad in ["page_token=%25%25", "page_token=b2Zmc2V0Og", "page_token=aGVsbG8", "page_size=101", "page_size=0"]
        {
            assert!(TokenPage::parse(&params(bad)).is_err(), "{bad}");
        }
    }
}
