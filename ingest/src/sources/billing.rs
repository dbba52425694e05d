//! Billing API v2beta1 (organisation-wide, not localised): month-to-date consumption per project and SKU,
//! invoices, and, where the key may see them, the FinOps per-resource charges, taxes and discounts.
//!
//! Consumption is a month-to-date total recomputed by Scaleway with a lag, not a time series: every run keeps
//! the whole list as a snapshot (with the list's `updated_at`, which the official SDKs' "all pages" helpers
//! drop), for the current period and the previous one (late corrections land there in the first days of a
//! month). The warehouse turns successive snapshots into daily costs.

use async_trait::async_trait;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::Value;

use super::{Api, CollectError, Context, GLOBAL, Outputs, Probe, ProbeFilter, Product, Scope, walk_list};
use crate::dataset::{DatasetSpec, Kind, LOCALITY, col, extra, key};
use crate::scaleway::{ApiError, ListShape, Scheme};

pub struct Billing;

/// Every list pages by `total_count` but the FinOps `charges`, which page by token.
pub const API: Api = Api { version: "billing/v2beta1", scope: Scope::Global, scheme: Scheme::TotalCount };

const PERIOD: &str = "billing_period";
const UPDATED_AT: &str = "updated_at";

pub fn consumptions() -> DatasetSpec {
    DatasetSpec::new(
        "billing_consumptions",
        1,
        &[
            LOCALITY("locality"),
            // The period asked for (`YYYY-MM`): rows do not carry it.
            extra("billing_period", Kind::Str, PERIOD),
            // When Scaleway last recomputed the list: the "as of" of every value in it.
            extra("updated_at", Kind::Timestamp, UPDATED_AT),
            col("project_id", Kind::Str, "project_id"),
            col("project_name", Kind::Str, "project_name"),
            col("consumer_id", Kind::Str, "consumer_id"),
            col("category_name", Kind::Str, "category_name"),
            col("product_name", Kind::Str, "product_name"),
            col("resource_name", Kind::Str, "resource_name"),
            key("sku", "sku"),
            col("unit", Kind::Str, "unit"),
            col("billed_quantity", Kind::Decimal, "billed_quantity"),
            col("value", Kind::Decimal, "value"),
            col("currency", Kind::Currency, "value"),
        ],
    )
}

pub fn invoices() -> DatasetSpec {
    DatasetSpec::new(
        "billing_invoices",
        1,
        &[
            LOCALITY("locality"),
            key("id", "id"),
            col("number", Kind::I64, "number"),
            col("type", Kind::Str, "type"),
            col("state", Kind::Str, "state"),
            col("organization_name", Kind::Str, "organization_name"),
            col("seller_name", Kind::Str, "seller_name"),
            col("billing_period", Kind::Timestamp, "billing_period"),
            col("start_date", Kind::Timestamp, "start_date"),
            col("stop_date", Kind::Timestamp, "stop_date"),
            col("issued_date", Kind::Timestamp, "issued_date"),
            col("due_date", Kind::Timestamp, "due_date"),
            col("total_untaxed", Kind::Decimal, "total_untaxed"),
            col("total_taxed", Kind::Decimal, "total_taxed"),
            col("total_tax", Kind::Decimal, "total_tax"),
            col("total_discount", Kind::Decimal, "total_discount"),
            col("total_undiscount", Kind::Decimal, "total_undiscount"),
            col("currency", Kind::Currency, "total_untaxed"),
        ],
    )
}

/// FinOps per-resource charges (`resource_name` is often null: only products that share it have it).
pub fn charges() -> DatasetSpec {
    DatasetSpec::new(
        "billing_charges",
        1,
        &[
            LOCALITY("locality"),
            col("project_id", Kind::Str, "project_id"),
            col("project_name", Kind::Str, "project_name"),
            col("organization_name", Kind::Str, "organization_name"),
            key("sku", "sku"),
            col("invoice_id", Kind::Str, "invoice_id"),
            col("resource_id", Kind::Str, "resource_id"),
            col("resource_name", Kind::Str, "resource_name"),
            col("price", Kind::Decimal, "price"),
            col("currency", Kind::Currency, "price"),
            col("start_date", Kind::Timestamp, "start_date"),
            col("end_date", Kind::Timestamp, "end_date"),
            col("updated_at", Kind::Timestamp, "updated_at"),
        ],
    )
}

/// Taxes per period: plain numbers with a separate currency (not Money) on the wire.
pub fn taxes() -> DatasetSpec {
    DatasetSpec::new(
        "billing_taxes",
        1,
        &[
            LOCALITY("locality"),
            extra("billing_period", Kind::Str, PERIOD),
            extra("updated_at", Kind::Timestamp, UPDATED_AT),
            col("description", Kind::Str, "description"),
            col("currency", Kind::Str, "currency"),
            col("rate", Kind::Decimal, "rate"),
            col("total_tax_value", Kind::Decimal, "total_tax_value"),
        ],
    )
}

pub fn discounts() -> DatasetSpec {
    DatasetSpec::new(
        "billing_discounts",
        1,
        &[
            LOCALITY("locality"),
            key("id", "id"),
            col("creation_date", Kind::Timestamp, "creation_date"),
            col("description", Kind::Str, "description"),
            col("mode", Kind::Str, "mode"),
            col("value", Kind::Decimal, "value"),
            col("value_used", Kind::Decimal, "value_used"),
            col("value_remaining", Kind::Decimal, "value_remaining"),
            col("start_date", Kind::Timestamp, "start_date"),
            col("stop_date", Kind::Timestamp, "stop_date"),
            col("coupon_description", Kind::Str, "coupon.description"),
            col("filters", Kind::Json, "filters"),
        ],
    )
}

/// The billing periods a run collects: the current one and the previous one, as `YYYY-MM`.
pub fn periods(now: DateTime<Utc>) -> [String; 2] {
    let today = now.date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("valid date");
    let previous = first.pred_opt().expect("valid date");
    [first.format("%Y-%m").to_string(), previous.format("%Y-%m").to_string()]
}

/// Where the FinOps charges window starts: the current period, and the previous one too during the first days
/// of a month, while its late corrections settle. Every run re-collects the window (charges are restated), so
/// it is kept as short as that allows: a large organisation has hundreds of charges per day.
pub fn charges_window_start(now: DateTime<Utc>) -> NaiveDate {
    let today = now.date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("valid date");
    if today.day() <= LATE_CORRECTION_DAYS {
        let previous = first.pred_opt().expect("valid date");
        NaiveDate::from_ymd_opt(previous.year(), previous.month(), 1).expect("valid date")
    } else {
        first
    }
}

/// Days into a month during which the previous month's charges are collected again.
pub const LATE_CORRECTION_DAYS: u32 = 5;

/// Whether a failure means "this key may not see this optional endpoint" rather than a broken run.
fn unavailable(error: &CollectError) -> bool {
    matches!(
        error,
        CollectError::Api(ApiError::Forbidden { .. })
            | CollectError::Api(ApiError::Status { status: reqwest::StatusCode::NOT_FOUND, .. })
            | CollectError::Api(ApiError::Status { status: reqwest::StatusCode::NOT_IMPLEMENTED, .. })
    )
}

impl Billing {
    /// Walks a list whose pages share `billing_period` and the body's `updated_at` (from page 1).
    async fn walk_period(
        ctx: &Context,
        out: &Outputs,
        spec: &DatasetSpec,
        key: &'static str,
        period: &str,
    ) -> Result<(), CollectError> {
        let query = vec![
            ("organization_id".to_string(), ctx.organization_id.clone()),
            ("billing_period".to_string(), period.to_string()),
        ];
        let mut pager = ctx.list(&API, GLOBAL, key, query, ListShape::Array(key));
        let mut row = ctx.row_context(GLOBAL);
        row.extras = vec![(PERIOD, Value::from(period))];
        while let Some(page) = pager.next().await? {
            if page.number == 1 {
                row.extras.push((UPDATED_AT, page.scalars.get("updated_at").cloned().unwrap_or(Value::Null)));
            }
            out.emit_page(spec, &page, &row).await?;
        }
        Ok(())
    }

    /// The invoices (required, as the consumptions), the taxes and the discounts.
    async fn rest_of_bill(ctx: &Context, out: &Outputs, periods: &[String]) -> Result<(), CollectError> {
        let owner = vec![("organization_id".to_string(), ctx.organization_id.clone())];
        let global = ctx.row_context(GLOBAL);
        let pager = ctx.list(&API, GLOBAL, "invoices", owner.clone(), ListShape::Array("invoices"));
        walk_list(out, &invoices(), pager, &global).await?;

        // The taxes and discounts depend on the key's permissions and the account's options.
        for period in periods {
            let taxes = Self::walk_period(ctx, out, &taxes(), "taxes", period).await;
            Self::optional(out, "taxes", taxes).await?;
        }
        let pager = ctx.list(&API, GLOBAL, "discounts", owner, ListShape::Array("discounts"));
        Self::optional(out, "discounts", walk_list(out, &discounts(), pager, &global).await.map(|_| ())).await
    }

    /// The FinOps charges of the window, where the key's permissions and the account's options allow them, else
    /// the warning saying why not.
    async fn charges(ctx: &Context, out: &Outputs) -> Result<Option<String>, CollectError> {
        let window_start = format!("{}T00:00:00Z", charges_window_start(ctx.snapshot_at));
        let mut query = vec![("organization_id".to_string(), ctx.organization_id.clone())];
        query.push(("start_date_after".into(), window_start));
        query.push(("end_date_before".into(), ctx.snapshot_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
        // The run's longest chain of pages: in a slot of its own.
        let pager = ctx.pager(Scheme::Token, API.path(GLOBAL, "charges"), query, ListShape::Array("charges")).in_lane();
        let walked = walk_list(out, &charges(), pager, &ctx.row_context(GLOBAL)).await.map(|_| ());
        Self::not_collected("FinOps charges", walked)
    }

    async fn optional(out: &Outputs, what: &str, result: Result<(), CollectError>) -> Result<(), CollectError> {
        if let Some(warning) = Self::not_collected(what, result)? {
            out.warn(warning);
        }
        Ok(())
    }

    /// The warning for an optional list this key may not read, or the list's error.
    fn not_collected(what: &str, result: Result<(), CollectError>) -> Result<Option<String>, CollectError> {
        match result {
            Err(error) if unavailable(&error) => Ok(Some(format!("{what} not collected: {error}"))),
            Err(error) => Err(error),
            Ok(()) => Ok(None),
        }
    }
}

#[async_trait]
impl Product for Billing {
    fn name(&self) -> &'static str {
        "billing"
    }

    fn summary(&self) -> &'static str {
        "month-to-date consumption, invoices, and the FinOps charges, taxes and discounts"
    }

    fn apis(&self) -> &'static [Api] {
        &[API]
    }

    fn datasets(&self) -> Vec<DatasetSpec> {
        vec![consumptions(), invoices(), charges(), taxes(), discounts()]
    }

    fn probe(&self) -> Probe {
        Probe::new(&API, "consumptions", "consumptions", ProbeFilter::Organization)
    }

    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError> {
        let periods = periods(ctx.snapshot_at);
        // Consumptions are the bill itself: a key that cannot read them fails the run (grant BillingReadOnly, or
        // leave billing out with --sources) before the invoices, taxes and discounts are asked for. The charges,
        // started beside them, only warn once the bill is in.
        let bill = async {
            for period in &periods {
                Self::walk_period(ctx, out, &consumptions(), "consumptions", period).await?;
            }
            Self::rest_of_bill(ctx, out, &periods).await
        };
        // The charges are one chain of pages, each naming the next: the longest of a big organisation's
        // collection, so they start at once, beside the bill (4 requests in turn at 50 ms each were 0.2 s added
        // to every run). A failure of either side stops the other (a pager dropped halfway holds nothing to
        // clean). A key that may not read the charges only warns, once the bill is collected: a key without
        // billing access fails with the consumptions' error alone.
        let ((), charges_warning) = futures::try_join!(bill, Self::charges(ctx, out))?;
        if let Some(warning) = charges_warning {
            out.warn(warning);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_the_current_and_previous_periods() {
        let now: DateTime<Utc> = "2026-01-03T06:00:00Z".parse().unwrap();
        assert_eq!(periods(now), ["2026-01".to_string(), "2025-12".to_string()]);
        let now: DateTime<Utc> = "2026-11-22T06:00:00Z".parse().unwrap();
        assert_eq!(periods(now), ["2026-11".to_string(), "2026-10".to_string()]);
    }

    #[test]
    fn the_charges_window_reaches_back_only_while_corrections_settle() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(charges_window_start(at("2026-11-22T06:00:00Z")).to_string(), "2026-11-01");
        assert_eq!(charges_window_start(at("2026-11-05T06:00:00Z")).to_string(), "2026-10-01");
        assert_eq!(charges_window_start(at("2026-01-02T06:00:00Z")).to_string(), "2025-12-01");
    }
}
