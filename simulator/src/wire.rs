//! JSON formatting shared by every product's wire shape: the [`Style`] switches and exact decimal numbers. Each
//! product's own shapes live in its module under [`crate::products`], field for field (and in the same order) as
//! the recorded responses in `tests/fixtures/scaleway`.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::prices::money_parts;

/// Formatting switches that apply to every response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// Money parts and `total_count` as JSON strings (protobuf-JSON int64 convention).
    pub money_as_strings: bool,
}

impl Style {
    pub fn count(self, n: usize) -> Value {
        if self.money_as_strings { Value::String(n.to_string()) } else { json!(n) }
    }

    fn int(self, n: i64) -> Value {
        if self.money_as_strings { Value::String(n.to_string()) } else { json!(n) }
    }

    pub fn money(self, value: Decimal) -> Value {
        let (units, nanos) = money_parts(value);
        json!({"currency_code": "EUR", "units": self.int(units), "nanos": self.int(nanos)})
    }

    /// Money with its keys in the order of the recorded Billing responses (`currency_code`, `nanos`, `units`).
    pub fn money_recorded(self, value: Decimal) -> Value {
        let (units, nanos) = money_parts(value);
        json!({"currency_code": "EUR", "nanos": self.int(nanos), "units": self.int(units)})
    }
}

/// A decimal as a JSON number written exactly as the decimal reads (`0.0198`, not `0.019799999`); the workspace's
/// `arbitrary_precision` serde_json keeps the literal.
pub fn decimal_number(d: Decimal) -> Value {
    serde_json::from_str(&d.normalize().to_string()).unwrap_or(Value::Null)
}

/// A decimal as a JSON float (`0.0`, `31.42`): the Billing API sends some amounts as float64.
pub fn float_number(d: Decimal) -> Value {
    let text = d.normalize().to_string();
    let text = if text.contains('.') { text } else { format!("{text}.0") };
    serde_json::from_str(&text).unwrap_or(Value::Null)
}
