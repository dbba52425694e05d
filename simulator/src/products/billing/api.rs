//! Handlers of the Billing API v2beta1 (consumptions, invoices, taxes, discounts) and of the FinOps `charges` list,
//! and the billing clock they answer for.
//!
//! Everything is computed per request from the [`Book`] built at start and the billing clock read at that moment,
//! so moving the clock with [`crate::Simulator::set_billing_today`] takes effect immediately.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::book::Book;
use super::{ChargeFilter, Invoice, month_of, next_month, round_half_up, wire};
use crate::http::{ApiError, Handled, Params, json_response};
use crate::paging::{Page, TokenPage, total_count_body};
use crate::wire::{Style, float_number};

/// A charges listing: (day, index into the book's resources), in the order served.
pub(crate) type ChargeListing = Arc<Vec<(NaiveDate, usize)>>;

/// What the Billing handlers serve from: the book, the billing clock and the last charges listing.
pub(crate) struct BillingApi {
    pub(crate) billing: Book,
    style: Style,
    /// The billing clock, as days since 0001-01-01 (shared with [`crate::Simulator::set_billing_today`]).
    billing_day: AtomicI32,
    /// The clock's reading when `billing_day` is out of range: the configuration's `today`.
    today: NaiveDate,
    /// The last charges listing, by its query and billing day: a client pages through one listing, and
    /// rebuilding it for every page made a large organisation's charges quadratic to serve.
    last_charges: Mutex<Option<(String, ChargeListing)>>,
}

impl BillingApi {
    pub(crate) fn new(billing: Book, style: Style, billing_today: NaiveDate, today: NaiveDate) -> BillingApi {
        BillingApi {
            billing,
            style,
            billing_day: AtomicI32::new(billing_today.num_days_from_ce()),
            today,
            last_charges: Mutex::new(None),
        }
    }

    fn style(&self) -> Style {
        self.style
    }

    pub(crate) fn billing_today(&self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.billing_day.load(Ordering::SeqCst)).unwrap_or(self.today)
    }

    pub(crate) fn set_billing_today(&self, date: NaiveDate) {
        self.billing_day.store(date.num_days_from_ce(), Ordering::SeqCst);
    }
}

const CONSUMPTION_ORDERS: [&str; 4] = ["updated_at_desc", "updated_at_asc", "category_name_desc", "category_name_asc"];

const INVOICE_ORDERS: [&str; 14] = [
    "invoice_number_desc",
    "invoice_number_asc",
    "start_date_desc",
    "start_date_asc",
    "issued_date_desc",
    "issued_date_asc",
    "due_date_desc",
    "due_date_asc",
    "total_untaxed_desc",
    "total_untaxed_asc",
    "total_taxed_desc",
    "total_taxed_asc",
    "invoice_type_desc",
    "invoice_type_asc",
];

const INVOICE_TYPES: [&str; 4] = ["unknown_type", "periodic", "purchase", "credit_note"];

const DISCOUNT_ORDERS: [&str; 6] =
    ["creation_date_desc", "creation_date_asc", "start_date_desc", "start_date_asc", "stop_date_desc", "stop_date_asc"];

const CHARGE_ORDERS: [&str; 2] = ["start_date_asc", "start_date_desc"];

/// A query parameter, with an empty value treated as absent (what the SDK sends for an unset string).
fn param<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params.get(key).filter(|v| !v.is_empty())
}

fn organization_matches(st: &BillingApi, params: &Params) -> bool {
    param(params, "organization_id").is_none_or(|o| o == st.billing.organization_id)
}

/// `order_by`, checked against the accepted values; the first one is the default.
fn order<'a>(params: &'a Params, accepted: &[&'a str]) -> Result<&'a str, ApiError> {
    match param(params, "order_by") {
        None => Ok(accepted[0]),
        Some(value) if accepted.contains(&value) => Ok(value),
        Some(_) => Err(ApiError::invalid("order_by", &format!("must be one of {}", accepted.join(", ")))),
    }
}

/// `billing_period` (`YYYY-MM`) as the first day of the month; absent or empty = the billing clock's month.
fn billing_period(params: &Params, billing_today: NaiveDate) -> Result<NaiveDate, ApiError> {
    let Some(value) = param(params, "billing_period") else {
        return Ok(month_of(billing_today));
    };
    let parsed =
        (value.len() == 7).then(|| NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d").ok()).flatten();
    parsed.ok_or_else(|| ApiError::invalid("billing_period", "must be a month formatted YYYY-MM"))
}

/// An RFC 3339 timestamp parameter (a bare `YYYY-MM-DD` is read as its midnight UTC).
fn timestamp(params: &Params, keys: &[&str]) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some((key, value)) = keys.iter().find_map(|k| param(params, k).map(|v| (*k, v))) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|d| Some(midnight(d)))
        .map_err(|_| ApiError::invalid(key, "must be an RFC 3339 timestamp"))
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

fn ok(body: Value) -> Handled {
    Ok(json_response(StatusCode::OK, &body, HeaderMap::new()))
}

/// `GET /billing/v2beta1/consumptions`.
pub(crate) fn consumptions(st: &BillingApi, uri: &Uri) -> Handled {
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let order = order(&params, &CONSUMPTION_ORDERS)?;
    let today = st.billing_today();
    let period = billing_period(&params, today)?;
    let book = &st.billing;
    let rows =
        if organization_matches(st, &params) { book.truth.consumption_rows(period, today) } else { Default::default() };
    let project = param(&params, "project_id");
    let category = param(&params, "category_name");
    let mut selected: Vec<_> = rows
        .iter()
        .filter(|((p, _), row)| project.is_none_or(|id| p == id) && category.is_none_or(|c| row.category_name == c))
        .collect();
    // Every row was updated by the same run, so the `updated_at` orders keep the base order (project, sku).
    match order {
        "category_name_asc" => selected.sort_by(|a, b| a.1.category_name.cmp(&b.1.category_name)),
        "category_name_desc" => selected.sort_by(|a, b| b.1.category_name.cmp(&a.1.category_name)),
        _ => {}
    }
    let style = st.style();
    let items: Vec<Value> = page
        .slice(&selected)
        .iter()
        .map(|((project_id, sku), row)| {
            let resource_name = book.skus.get(sku).map_or("", |info| info.resource_name.as_str());
            wire::consumption(project_id, sku, resource_name, row, style)
        })
        .collect();
    let mut body = Map::new();
    body.insert("consumptions".into(), Value::Array(items));
    body.insert("total_count".into(), style.count(selected.len()));
    body.insert("total_discount_untaxed_value".into(), float_number(Decimal::ZERO));
    body.insert("updated_at".into(), Value::String(wire::billing_updated_at(today)));
    ok(Value::Object(body))
}

/// `GET /billing/v2beta1/taxes`.
pub(crate) fn taxes(st: &BillingApi, uri: &Uri) -> Handled {
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    order(&params, &CONSUMPTION_ORDERS)?;
    let today = st.billing_today();
    let period = billing_period(&params, today)?;
    let rows = if organization_matches(st, &params) {
        st.billing.truth.consumption_rows(period, today)
    } else {
        Default::default()
    };
    let taxes: Vec<Value> = if rows.is_empty() {
        Vec::new()
    } else {
        let total: Decimal = rows.values().map(|r| r.cost).sum();
        vec![wire::tax(round_half_up(total * Decimal::new(2, 1), 2))]
    };
    let mut body = Map::new();
    body.insert("taxes".into(), Value::Array(page.slice(&taxes).to_vec()));
    body.insert("total_count".into(), st.style().count(taxes.len()));
    body.insert("updated_at".into(), Value::String(wire::billing_updated_at(today)));
    ok(Value::Object(body))
}

/// `GET /billing/v2beta1/invoices`.
pub(crate) fn invoices(st: &BillingApi, uri: &Uri) -> Handled {
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    let order = order(&params, &INVOICE_ORDERS)?;
    let after = timestamp(&params, &["billing_period_start_after"])?;
    let before = timestamp(&params, &["billing_period_start_before"])?;
    let invoice_type = param(&params, "invoice_type");
    if let Some(t) = invoice_type
        && !INVOICE_TYPES.contains(&t)
    {
        return Err(ApiError::invalid("invoice_type", &format!("must be one of {}", INVOICE_TYPES.join(", "))));
    }
    let periodic = invoice_type.is_none_or(|t| t == "unknown_type" || t == "periodic");
    let today = st.billing_today();
    let mut list: Vec<Invoice> =
        if organization_matches(st, &params) && periodic { st.billing.invoices(today) } else { Vec::new() };
    list.retain(|inv| {
        let start = midnight(inv.period);
        after.is_none_or(|a| start >= a) && before.is_none_or(|b| start <= b)
    });
    // Numbers, start, issue and due dates all grow with the period.
    let (key, descending) = order.rsplit_once('_').map_or((order, true), |(k, dir)| (k, dir == "desc"));
    match key {
        "total_untaxed" => list.sort_by(|a, b| a.total_untaxed.cmp(&b.total_untaxed).then(a.number.cmp(&b.number))),
        "total_taxed" => list.sort_by(|a, b| {
            (a.total_untaxed + a.total_tax).cmp(&(b.total_untaxed + b.total_tax)).then(a.number.cmp(&b.number))
        }),
        _ => list.sort_by_key(|inv| inv.number),
    }
    if descending {
        list.reverse();
    }
    let style = st.style();
    let organization_id = &st.billing.organization_id;
    let items: Vec<Value> = page.slice(&list).iter().map(|inv| wire::invoice(organization_id, inv, style)).collect();
    ok(total_count_body(style, "invoices", items, list.len(), false))
}

/// `GET /billing/v2beta1/discounts`.
pub(crate) fn discounts(st: &BillingApi, uri: &Uri) -> Handled {
    let params = Params::parse(uri.query())?;
    let page = Page::total_count(&params)?;
    order(&params, &DISCOUNT_ORDERS)?;
    let list = if organization_matches(st, &params) { vec![wire::discount(&st.billing)] } else { Vec::new() };
    ok(total_count_body(st.style(), "discounts", page.slice(&list).to_vec(), list.len(), true))
}

/// `GET /billing/v2beta1/charges`.
pub(crate) fn charges(st: &BillingApi, uri: &Uri) -> Handled {
    let params = Params::parse(uri.query())?;
    let page = TokenPage::parse(&params)?;
    let order = order(&params, &CHARGE_ORDERS)?;
    let today = st.billing_today();
    let period = month_of(today);
    let after = timestamp(&params, &["start_date_after", "startDateAfter"])?.unwrap_or_else(|| midnight(period));
    let before =
        timestamp(&params, &["end_date_before", "endDateBefore"])?.unwrap_or_else(|| midnight(next_month(period)));
    let list_of = |snake: &str, camel: &str| {
        let mut values = params.all(snake);
        values.extend(params.all(camel));
        values
    };
    let filter = ChargeFilter {
        project_ids: list_of("project_ids", "projectIds"),
        resource_ids: list_of("resource_ids", "resourceIds"),
        skus: params.all("skus"),
        invoice_ids: list_of("invoice_ids", "invoiceIds"),
    };
    let book = &st.billing;
    // Everything but the page position identifies the listing.
    let key = format!(
        "{today} {}",
        uri.query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.starts_with("page_token=") && !p.starts_with("pageToken="))
            .collect::<Vec<_>>()
            .join("&")
    );
    let cached =
        st.last_charges.lock().expect("charges cache").as_ref().filter(|(k, _)| *k == key).map(|(_, l)| l.clone());
    let list = match cached {
        Some(list) => list,
        None => {
            let list = if organization_matches(st, &params) {
                book.charges(after, before, today, &filter, order == "start_date_desc")
            } else {
                Vec::new()
            };
            let list = Arc::new(list);
            *st.last_charges.lock().expect("charges cache") = Some((key, list.clone()));
            list
        }
    };
    let style = st.style();
    let items: Vec<Value> =
        page.slice(&list).iter().map(|(day, i)| wire::charge(book, &book.resources[*i], *day, today, style)).collect();
    let mut body = Map::new();
    body.insert("charges".into(), Value::Array(items));
    body.insert("next_page_token".into(), page.next_token(list.len()).map_or(Value::Null, Value::String));
    ok(Value::Object(body))
}
