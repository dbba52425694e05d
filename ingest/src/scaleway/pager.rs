//! The three pagination schemes of the Scaleway APIs ([`Scheme`]), walked one page at a time so that a
//! collector never holds more than one page of an organisation:
//! - [`Scheme::Legacy`] (Instance v1): `page`/`per_page`; the body has no `total_count`, the count is in the
//!   `X-Total-Count` header and the next page in an RFC 5988 `Link` header (relative to the zone path);
//! - [`Scheme::TotalCount`] (most APIs): `page`/`page_size`, `total_count` in the body (a number, or a numeric
//!   string in older APIs);
//! - [`Scheme::Token`] (FinOps charges, autoscaling v1alpha2): `page_token` → `next_page_token`.
//!
//! Clients that trusted one page (Ansible at 50 servers, lexicon at 20) silently lost resources; this pager
//! always walks to the end and refuses a server that does not advance.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::client::{Lane, Response, ScalewayClient};
use super::error::ApiError;
use crate::decode::kind_of;

/// The maximum page size every Scaleway list accepts.
pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Instance v1: `page` + `per_page`, `X-Total-Count` + `Link`.
    Legacy,
    /// `page` + `page_size`, `total_count` in the body.
    TotalCount,
    /// `page_token` + `page_size`, `next_page_token` in the body.
    Token,
}

/// How the list sits in the body.
#[derive(Debug, Clone, Copy)]
pub enum ListShape {
    /// `{"<key>": [ {...}, ... ]}`
    Array(&'static str),
    /// `{"<key>": {"<name>": {...}, ...}}` (Instance `products/servers`): each entry becomes an item with
    /// the map key stored under the given field name.
    Map { key: &'static str, name_field: &'static str },
}

impl ListShape {
    fn key(&self) -> &'static str {
        match self {
            ListShape::Array(key) | ListShape::Map { key, .. } => key,
        }
    }
}

/// One page of a list.
#[derive(Debug)]
pub struct Page {
    /// Shared, so a page's items go to the thread that decodes them without a copy.
    pub items: std::sync::Arc<Vec<Value>>,
    /// The top-level fields of the body other than the list (e.g. `updated_at`), which "all pages" helpers of
    /// the official SDKs drop.
    pub scalars: Map<String, Value>,
    pub request: String,
    pub number: u32,
    /// The field of the body the items came from (`servers`), for error messages.
    pub list_key: &'static str,
}

pub struct Pager<'a> {
    client: &'a ScalewayClient,
    path: String,
    query: Vec<(String, String)>,
    shape: ListShape,
    scheme: Scheme,
    page: u32,
    collected: u64,
    token: Option<String>,
    seen_tokens: HashSet<String>,
    previous_first: Option<String>,
    /// The item count the API declared (`total_count` or `X-Total-Count`) on its last page.
    declared: Option<u64>,
    done: bool,
    /// Whether the walk keeps a slot among the requests in flight (see [`Pager::in_lane`]).
    wants_lane: bool,
    /// That slot, from the first page to the last, or to the first error.
    lane: Option<Lane>,
}

impl<'a> Pager<'a> {
    pub fn new(
        client: &'a ScalewayClient,
        scheme: Scheme,
        path: impl Into<String>,
        query: Vec<(String, String)>,
        shape: ListShape,
    ) -> Pager<'a> {
        Pager {
            client,
            path: path.into(),
            query,
            shape,
            scheme,
            page: 0,
            collected: 0,
            token: None,
            seen_tokens: HashSet::new(),
            previous_first: None,
            declared: None,
            done: false,
            wants_lane: false,
            lane: None,
        }
    }

    /// Walks the list in a slot of its own among the requests in flight ([`ScalewayClient::lane`]): for the
    /// run's longest chain of pages, each naming the next, whose pages would otherwise queue behind every other
    /// request. Its caller must make no other request while it walks, or with every other slot taken it would
    /// wait for itself.
    pub fn in_lane(mut self) -> Pager<'a> {
        self.wants_lane = true;
        self
    }

    /// The next page, or `None` at the end of the list.
    pub async fn next(&mut self) -> Result<Option<Page>, ApiError> {
        if self.wants_lane && self.lane.is_none() && !self.done {
            self.lane = self.client.lane().await;
        }
        let page = self.fetch_next().await;
        if page.is_err() || self.done {
            self.lane = None;
        }
        page
    }

    async fn fetch_next(&mut self) -> Result<Option<Page>, ApiError> {
        if self.done {
            return Ok(None);
        }
        self.page += 1;
        let mut query = self.query.clone();
        match self.scheme {
            Scheme::Legacy => {
                query.push(("page".into(), self.page.to_string()));
                query.push(("per_page".into(), MAX_PAGE_SIZE.to_string()));
            }
            Scheme::TotalCount => {
                query.push(("page".into(), self.page.to_string()));
                query.push(("page_size".into(), MAX_PAGE_SIZE.to_string()));
            }
            Scheme::Token => {
                query.push(("page_size".into(), MAX_PAGE_SIZE.to_string()));
                if let Some(token) = &self.token {
                    query.push(("page_token".into(), token.clone()));
                }
            }
        }
        let response = self.client.get_in(self.lane.as_ref(), &self.path, &query).await?;
        self.client.count_page();
        costlake_lake::failpoint::failpoint("collect.mid_page").await;
        let request = response.request.clone();
        let malformed = |detail: String| ApiError::Malformed { request: request.clone(), detail };

        // Parsing a page of JSON is CPU work: off the async runtime.
        let shape = self.shape;
        let body = response.body.clone();
        let parsed = tokio::task::spawn_blocking(move || {
            let mut body = parse_body(&body)?;
            let items = take_items(&mut body, shape)?;
            Ok::<_, String>((body, items))
        })
        .await
        .map_err(|e| malformed(format!("decoding stopped: {e}")))?;
        let (body, items) = parsed.map_err(&malformed)?;
        self.collected += items.len() as u64;

        // A server that ignores the page parameter would make us loop forever on page 1.
        let first = items.first().map(|item| item.to_string());
        if first.is_some() && first == self.previous_first {
            return Err(malformed(format!(
                "page {} repeats page {}: the list does not advance",
                self.page,
                self.page - 1
            )));
        }
        self.previous_first = first;

        let more = match self.scheme {
            Scheme::Legacy => {
                let total = header_u64(&response, "x-total-count").map_err(&malformed)?;
                self.declared = total.or(self.declared);
                let has_next_link = link_has_next(&response);
                !items.is_empty()
                    && match total {
                        Some(total) => self.collected < total,
                        None => has_next_link || items.len() as u32 >= MAX_PAGE_SIZE,
                    }
            }
            Scheme::TotalCount => {
                let total = match body.get("total_count") {
                    None | Some(Value::Null) => None,
                    Some(value) => {
                        Some(crate::decode::as_u64(value).map_err(|e| malformed(format!("field total_count: {e}")))?)
                    }
                };
                self.declared = total.or(self.declared);
                !items.is_empty()
                    && match total {
                        Some(total) => self.collected < total,
                        None => items.len() as u32 >= MAX_PAGE_SIZE,
                    }
            }
            Scheme::Token => match body.get("next_page_token") {
                None | Some(Value::Null) => false,
                Some(Value::String(token)) if token.is_empty() => false,
                Some(Value::String(token)) => {
                    if !self.seen_tokens.insert(token.clone()) {
                        return Err(malformed(format!(
                            "next_page_token {token:?} was already returned: the list does not advance"
                        )));
                    }
                    self.token = Some(token.clone());
                    true
                }
                Some(other) => {
                    return Err(malformed(format!("field next_page_token: expected a string, got {other}")));
                }
            },
        };
        self.done = !more;
        if self.done
            && let Some(declared) = self.declared
            && declared != self.collected
        {
            self.client.warn(format!(
                "{}: the API declared {declared} items but its pages held {}; the list was collected as served \
                 (if this repeats, the API may be changing under the run or losing items)",
                self.path, self.collected
            ));
        }
        Ok(Some(Page {
            items: std::sync::Arc::new(items),
            scalars: body,
            request: response.request,
            number: self.page,
            list_key: self.shape.key(),
        }))
    }
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!("expected a JSON object, got {}", kind_of(&other))),
        Err(e) => Err(format!("the body is not valid JSON ({e})")),
    }
}

fn take_items(body: &mut Map<String, Value>, shape: ListShape) -> Result<Vec<Value>, String> {
    let key = shape.key();
    let list = match body.remove(key) {
        None => return Err(format!("field {key} is missing")),
        Some(Value::Null) => return Ok(Vec::new()),
        Some(list) => list,
    };
    let items = match (shape, list) {
        (ListShape::Array(_), Value::Array(items)) => items,
        (ListShape::Map { name_field, .. }, Value::Object(entries)) => entries
            .into_iter()
            .map(|(name, mut item)| {
                if let Value::Object(fields) = &mut item {
                    fields.insert(name_field.to_string(), Value::String(name));
                }
                item
            })
            .collect(),
        (ListShape::Array(_), other) => {
            return Err(format!("field {key}: expected an array, got {}", kind_of(&other)));
        }
        (ListShape::Map { .. }, other) => {
            return Err(format!("field {key}: expected an object, got {}", kind_of(&other)));
        }
    };
    if let Some(index) = items.iter().position(|item| !item.is_object()) {
        return Err(format!("{key}[{index}]: expected an object, got {}", kind_of(&items[index])));
    }
    Ok(items)
}

fn header_u64(response: &Response, name: &str) -> Result<Option<u64>, String> {
    match response.headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| format!("header {name}: expected an integer, got {value:?}")),
    }
}

fn link_has_next(response: &Response) -> bool {
    response
        .headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|link| link.split(';').skip(1).any(|param| param.trim().replace(' ', "") == "rel=\"next\""))
}
