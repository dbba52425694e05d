//! The Billing API v2beta1's wire shapes: consumptions and invoices as recorded, keys in the recorded alphabetical
//! order; charges, taxes and discounts as the SDK types, in the synthetic fixtures' order.

use chrono::{Datelike, Days, Months, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::book::Book;
use super::{Billable, Invoice, Row, last_of_month};
use crate::wire::{Style, float_number};

/// The organisation name the Billing API reports.
pub const ORGANIZATION_NAME: &str = "Demo Org";

/// `2026-08-01T00:00:00Z`.
pub fn day_start(day: NaiveDate) -> String {
    format!("{}T00:00:00Z", day.format("%Y-%m-%d"))
}

/// `2026-08-31T23:59:59.999999Z`.
pub fn day_end(day: NaiveDate) -> String {
    format!("{}T23:59:59.999999Z", day.format("%Y-%m-%d"))
}

/// `updated_at` of consumptions and taxes: the billing clock's 03:00 run.
pub fn billing_updated_at(billing_today: NaiveDate) -> String {
    format!("{}T03:00:00.000000Z", billing_today.format("%Y-%m-%d"))
}

pub fn consumption(project_id: &str, sku: &str, resource_name: &str, row: &Row, style: Style) -> Value {
    json!({
        "billed_quantity": row.quantity.normalize().to_string(),
        "category_name": row.category_name,
        "product_name": row.product_name,
        "project_id": project_id,
        "resource_name": resource_name,
        "sku": sku,
        "unit": row.unit,
        "value": style.money_recorded(row.cost),
    })
}

pub fn invoice(organization_id: &str, inv: &Invoice, style: Style) -> Value {
    let issued = inv.period.checked_add_months(Months::new(1)).and_then(|d| d.with_day(2)).unwrap_or(inv.period);
    let due = issued.checked_add_days(Days::new(30)).unwrap_or(issued);
    let at_ten = |d: NaiveDate| format!("{}T10:00:00Z", d.format("%Y-%m-%d"));
    json!({
        "billing_period": day_start(inv.period),
        "due_date": at_ten(due),
        "id": inv.id,
        "issued_date": at_ten(issued),
        "number": inv.number,
        "organization_id": organization_id,
        "organization_name": ORGANIZATION_NAME,
        "seller_name": "Scaleway SAS",
        "start_date": day_start(inv.period),
        "state": inv.state,
        "stop_date": day_end(last_of_month(inv.period)),
        "total_discount": style.money_recorded(Decimal::ZERO),
        "total_tax": style.money_recorded(inv.total_tax),
        "total_taxed": style.money_recorded(inv.total_untaxed + inv.total_tax),
        "total_undiscount": style.money_recorded(inv.total_untaxed),
        "total_untaxed": style.money_recorded(inv.total_untaxed),
        "type": "periodic",
    })
}

/// One FinOps charge: what `resource` cost on `day`.
pub fn charge(book: &Book, resource: &Billable, day: NaiveDate, billing_today: NaiveDate, style: Style) -> Value {
    let (project_id, project_name) = &book.projects[resource.project];
    json!({
        "organization_id": book.organization_id,
        "organization_name": ORGANIZATION_NAME,
        "project_id": project_id,
        "project_name": project_name,
        "sku": resource.sku,
        "invoice_id": book.charge_invoice_id(day, billing_today),
        "resource_id": resource.resource_id,
        "resource_name": resource.resource_name,
        "price": style.money(resource.usage(day).0.normalize()),
        "start_date": day_start(day),
        "end_date": day_end(day),
        "updated_at": format!("{}T03:00:00Z", billing_today.format("%Y-%m-%d")),
    })
}

pub fn tax(total_tax: Decimal) -> Value {
    json!({
        "description": "VAT 20%",
        "currency": "EUR",
        "rate": float_number(Decimal::new(2, 1)),
        "total_tax_value": float_number(total_tax),
    })
}

/// The organisation's one voucher, valid for a year from the history start.
pub fn discount(book: &Book) -> Value {
    let start = book.truth.history_start;
    let stop = start.checked_add_months(Months::new(12)).unwrap_or(start);
    json!({
        "id": crate::ids::IdStream::new(book.seed, "discount").uuid(),
        "creation_date": format!("{}T10:00:00Z", start.format("%Y-%m-%d")),
        "organization_id": book.organization_id,
        "description": "Startup program voucher",
        "value": float_number(Decimal::new(1000, 1)),
        "value_used": float_number(Decimal::new(375, 1)),
        "value_remaining": float_number(Decimal::new(625, 1)),
        "mode": "discount_mode_value",
        "start_date": day_start(start),
        "stop_date": day_start(stop),
        "coupon": {"description": "Welcome offer"},
        "filters": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_numbers_are_written_like_the_sdk_types() {
        assert_eq!(float_number(Decimal::ZERO).to_string(), "0.0");
        assert_eq!(float_number(Decimal::new(3142, 2)).to_string(), "31.42");
        assert_eq!(float_number(Decimal::new(1000, 1)).to_string(), "100.0");
        assert_eq!(float_number(Decimal::new(2, 1)).to_string(), "0.2");
        let money = Style::default().money_recorded(Decimal::new(242, 2));
        assert_eq!(money.to_string(), r#"{"currency_code":"EUR","nanos":420000000,"units":2}"#);
        let day = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
        assert_eq!(day_end(day), "2024-12-31T23:59:59.999999Z");
        assert_eq!(day_start(day), "2024-12-31T00:00:00Z");
        assert_eq!(billing_updated_at(day), "2024-12-31T03:00:00.000000Z");
    }
}
