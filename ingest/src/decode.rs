//! Permissive, exact decoding of Scaleway JSON values.
//!
//! Every field is optional (absent and `null` are the same), unknown fields are kept in the `raw` column,
//! enums stay plain strings (a value added next year is data, not an error). What is refused is a present
//! value of the wrong form (a timestamp that is not RFC 3339, a size that is not an integer): that is a
//! malformed response, and the error names the field.
//!
//! Numbers are read from their JSON text (`serde_json`'s `arbitrary_precision`), so `"hourly_price": 0.1578`
//! becomes the decimal 0.1578, never the float 0.15779999... Integers and money accept numeric strings too, as
//! protobuf-JSON (and older Scaleway docs) send int64 values as strings.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

/// Looks up a dotted path (`server.id`, `specs.perf_iops`); `None` when any step is absent or null.
pub fn lookup<'v>(item: &'v Value, path: &str) -> Option<&'v Value> {
    let mut current = item;
    for step in path.split('.') {
        current = current.as_object()?.get(step)?;
    }
    (!current.is_null()).then_some(current)
}

/// What a JSON value is, for error messages (`expected a string, got a number`).
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 60 { format!("{}…", &text[..60]) } else { text }
}

pub fn as_str(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        // Identifiers and names are strings on the wire; a number or boolean is kept as text rather than lost.
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected a string, got {}", kind_of(other))),
    }
}

pub fn as_u64(value: &Value) -> Result<u64, String> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        other => {
            return Err(format!("expected a non-negative integer, got {}", kind_of(other)));
        }
    };
    text.parse::<u64>().map_err(|_| format!("expected a non-negative integer, got {}", shown(value)))
}

pub fn as_i64(value: &Value) -> Result<i64, String> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        other => return Err(format!("expected an integer, got {}", kind_of(other))),
    };
    text.parse::<i64>().map_err(|_| format!("expected an integer, got {}", shown(value)))
}

pub fn as_bool(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => Err(format!("expected a boolean, got {}", shown(other))),
    }
}

/// RFC 3339 with any offset (`+00:00` on Instance, `Z` elsewhere), normalised to UTC. An empty string is unset.
pub fn as_timestamp(value: &Value) -> Result<Option<DateTime<Utc>>, String> {
    match value {
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| format!("expected an RFC 3339 timestamp, got {}", shown(value))),
        other => Err(format!("expected an RFC 3339 timestamp, got {}", kind_of(other))),
    }
}

/// A decimal from a JSON number, a numeric string, or a Scaleway `Money` (`units` + `nanos`·10⁻⁹).
pub fn as_decimal(value: &Value) -> Result<Decimal, String> {
    match value {
        Value::Number(n) => parse_decimal(&n.to_string()).ok_or_else(|| format!("expected a decimal, got {n}")),
        Value::String(s) => parse_decimal(s.trim()).ok_or_else(|| format!("expected a decimal, got {}", shown(value))),
        Value::Object(_) => as_money(value).map(|(amount, _)| amount),
        other => Err(format!("expected a decimal, got {}", kind_of(other))),
    }
}

fn parse_decimal(text: &str) -> Option<Decimal> {
    Decimal::from_str_exact(text).ok().or_else(|| Decimal::from_scientific(text).ok())
}

/// A Scaleway `Money`: `{"currency_code": "EUR", "units": 2, "nanos": 420000000}` → (2.42, "EUR").
/// `units` and `nanos` may be numbers or numeric strings; an absent part counts as zero.
pub fn as_money(value: &Value) -> Result<(Decimal, Option<String>), String> {
    let Value::Object(fields) = value else {
        return Err(format!("expected a Money object {{currency_code, units, nanos}}, got {}", kind_of(value)));
    };
    let part = |name: &str| -> Result<i64, String> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(0),
            Some(v) => as_i64(v).map_err(|e| format!("{name}: {e}")),
        }
    };
    let units = part("units")?;
    let nanos = part("nanos")?;
    if nanos.abs() >= 1_000_000_000 {
        return Err(format!("nanos: {nanos} is out of range (|nanos| < 10^9)"));
    }
    // google.type.Money, which Scaleway's follows: "if units is positive, nanos must be positive or zero; if
    // units is negative, nanos must be negative or zero". 5 and -0.5 is not 4.5: it is a broken amount.
    if (units > 0 && nanos < 0) || (units < 0 && nanos > 0) {
        return Err(format!("units {units} and nanos {nanos} have opposite signs, which a Money amount never has"));
    }
    let amount = Decimal::from(units) + Decimal::new(nanos, 9);
    let currency = match fields.get("currency_code") {
        None | Some(Value::Null) => None,
        Some(v) => Some(as_str(v).map_err(|e| format!("currency_code: {e}"))?),
    };
    Ok((amount.normalize(), currency))
}

pub fn as_str_list(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Array(items) => {
            items.iter().enumerate().map(|(i, item)| as_str(item).map_err(|e| format!("[{i}]: {e}"))).collect()
        }
        other => Err(format!("expected an array of strings, got {}", kind_of(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimals_are_exact() {
        let body: Value = serde_json::from_str(r#"{"hourly_price": 0.1578, "tiny": 1e-7}"#).unwrap();
        assert_eq!(as_decimal(&body["hourly_price"]).unwrap().to_string(), "0.1578");
        assert_eq!(as_decimal(&body["tiny"]).unwrap().to_string(), "0.0000001");
        assert_eq!(as_decimal(&json!("9.360")).unwrap().to_string(), "9.360");
    }

    #[test]
    fn money_accepts_numbers_and_strings_and_keeps_the_sign() {
        let (amount, currency) = as_money(&json!({"currency_code": "EUR", "units": 2, "nanos": 420000000})).unwrap();
        assert_eq!((amount.to_string(), currency.as_deref()), ("2.42".to_string(), Some("EUR")));
        let (amount, _) = as_money(&json!({"currency_code": "EUR", "units": "9", "nanos": "360000000"})).unwrap();
        assert_eq!(amount.to_string(), "9.36");
        let (amount, _) = as_money(&json!({"currency_code": "EUR", "units": -4661, "nanos": -380000000})).unwrap();
        assert_eq!(amount.to_string(), "-4661.38");
        let (amount, _) = as_money(&json!({"currency_code": "EUR", "nanos": 39449000})).unwrap();
        assert_eq!(amount.to_string(), "0.039449");
        assert!(as_money(&json!({"units": "lots"})).unwrap_err().contains("units"));
        assert!(as_money(&json!({"nanos": 2_000_000_000i64})).is_err());
        // Opposite signs are refused like an out-of-range nanos, never summed (5 and -0.5 is not 4.5).
        let error = as_money(&json!({"currency_code": "EUR", "units": 5, "nanos": -500000000})).unwrap_err();
        assert!(error.contains("opposite signs"), "{error}");
        assert!(as_money(&json!({"units": "-5", "nanos": 500000000})).is_err());
        assert_eq!(as_money(&json!({"units": 0, "nanos": -500000000})).unwrap().0.to_string(), "-0.5");
    }

    #[test]
    fn timestamps_accept_both_offsets() {
        let a = as_timestamp(&json!("2025-11-03T17:15:36.733100+00:00")).unwrap().unwrap();
        let b = as_timestamp(&json!("2025-11-03T17:15:36.733100Z")).unwrap().unwrap();
        assert_eq!(a, b);
        assert_eq!(as_timestamp(&json!("")).unwrap(), None);
        assert!(as_timestamp(&json!("yesterday")).unwrap_err().contains("\"yesterday\""));
    }

    #[test]
    fn lookup_walks_paths_and_treats_null_as_absent() {
        let item = json!({"server": null, "specs": {"perf_iops": 5000}});
        assert!(lookup(&item, "server.id").is_none());
        assert!(lookup(&item, "server").is_none());
        assert_eq!(as_u64(lookup(&item, "specs.perf_iops").unwrap()).unwrap(), 5000);
        assert!(as_u64(&json!("12")).is_ok());
        assert!(as_u64(&json!(-1)).is_err());
    }
}
