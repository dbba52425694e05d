//! The two page-number pagination schemes of the Scaleway APIs.
//!
//! * Scheme A (Instance): `page` + `per_page` (default 50), no count in the body; `X-Total-Count` and a `Link`
//!   header relative to the zone path.
//! * Scheme B (everything else here): `page` + `page_size` (default 20), `total_count` in the body, an empty list
//!   past the last page.

use crate::server::{ApiError, Params};

pub const MAX_PAGE_SIZE: usize = 100;
pub const SCHEME_A_DEFAULT: usize = 50;
pub const SCHEME_B_DEFAULT: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based.
    pub number: usize,
    pub size: usize,
}

impl Page {
    /// Instance API: `page`, `per_page`.
    pub fn scheme_a(params: &Params) -> Result<Page, ApiError> {
        Page::parse(params, "per_page", SCHEME_A_DEFAULT)
    }

    /// Other APIs: `page`, `page_size`.
    pub fn scheme_b(params: &Params) -> Result<Page, ApiError> {
        Page::parse(params, "page_size", SCHEME_B_DEFAULT)
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
        assert_eq!(Page::scheme_a(&params("")).unwrap(), Page { number: 1, size: 50 });
        assert_eq!(Page::scheme_b(&params("page=2")).unwrap(), Page { number: 2, size: 20 });
        assert_eq!(Page::scheme_b(&params("page_size=100")).unwrap(), Page { number: 1, size: 100 });
        for bad in ["page=0", "page=-1", "page=abc", "per_page=101", "per_page=0", "page=99999999999999999999999"] {
            assert!(Page::scheme_a(&params(bad)).is_err(), "{bad}");
        }
        assert!(Page::scheme_b(&params("page_size=500")).is_err());
    }
}
