//! Simulator configuration and the `key=value,...` knob syntax used by `costlake demo --sim ...` and the tests.

use chrono::{Datelike, NaiveDate, Utc};

use crate::ids::IdStream;

/// The demo API secret key. Scaleway secret keys are UUIDs, so the demo key is one too: a client that validates
/// the key's shape before sending it must accept it.
pub const DEFAULT_SECRET_KEY: &str = "11111111-2222-4333-8444-555555555555";

/// Products whose permission can be withdrawn with `deny`: `billing` covers every Billing endpoint, `charges` only
/// the FinOps `charges` list, `cockpit` the Cockpit control plane (data sources and tokens), `lb` the Load Balancer
/// lists, `rdb` the Managed Database list, `autoscaling` every Autoscaling list (v1alpha1 and v1alpha2), `k8s` the
/// Kapsule lists, `ipam` the IPAM list.
pub const DENIABLE_PRODUCTS: [&str; 11] =
    ["block", "instance", "account", "billing", "charges", "cockpit", "lb", "rdb", "autoscaling", "k8s", "ipam"];

/// Products whose whole API `withdrawn` (404, like an alpha API that was removed) or `down` (503 on every request,
/// whatever the retries) can take away. `cockpit` covers its control plane and its data sources' Prometheus API.
pub const API_PRODUCTS: [&str; 11] =
    ["account", "instance", "block", "catalog", "billing", "cockpit", "lb", "rdb", "autoscaling", "k8s", "ipam"];

/// Products of which `vanished` deletes a resource between its list and what is listed under it (see
/// [`crate::Simulator::vanished`]).
pub const VANISHABLE_PRODUCTS: [&str; 3] = ["lb", "k8s", "autoscaling"];

/// Lists that `malformed` can corrupt.
pub const MALFORMED_MODES: [&str; 3] = ["instance-servers", "block-volumes", "projects"];

const KNOBS: &str = "seed, today, billing_today, organization_id, secret_key, projects, servers, rate_429, rate_5xx, \
                     burst_429, latency_ms, malformed, deny, withdrawn, down, vanished, money_as_strings";

#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Drives every generated id and value: same config, byte-identical responses.
    pub seed: u64,
    /// Every timestamp and age is derived from it, so reports are reproducible on any day.
    pub today: NaiveDate,
    /// The date the Billing API believes it is (its "billing clock"): month-to-date consumptions, invoices and
    /// charges cover the complete days before it. `None` = `today`. Movable at run time with
    /// [`crate::Simulator::set_billing_today`]; the inventory always stays as built from `today`.
    pub billing_today: Option<NaiveDate>,
    pub organization_id: String,
    pub secret_key: String,
    /// At least 2: the planted ghosts live in projects 0 and 1.
    pub projects: usize,
    /// Number of healthy running servers.
    pub servers: usize,
    pub rate_429: f64,
    pub rate_5xx: f64,
    /// Every distinct URL (path + query) is first answered this many 429s.
    pub burst_429: u32,
    pub latency_ms: u64,
    /// `None` or one of [`MALFORMED_MODES`].
    pub malformed: Option<String>,
    /// Products (see [`DENIABLE_PRODUCTS`]) the API key has no permission for.
    pub deny: Vec<String>,
    /// Products (see [`API_PRODUCTS`]) whose API answers 404 to everything.
    pub withdrawn: Vec<String>,
    /// Products (see [`API_PRODUCTS`]) whose API answers 503 to everything.
    pub down: Vec<String>,
    /// Products (see [`VANISHABLE_PRODUCTS`]) whose first resource with something under it is deleted once
    /// listed: its own GET and every list under it answer 404 `not_found`.
    pub vanished: Vec<String>,
    /// Money `units`/`nanos` and `total_count` as JSON strings (the protobuf-JSON int64 convention of older docs).
    pub money_as_strings: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        let seed = 42;
        SimConfig {
            seed,
            today: Utc::now().date_naive(),
            billing_today: None,
            organization_id: default_organization_id(seed),
            secret_key: DEFAULT_SECRET_KEY.to_string(),
            projects: 3,
            servers: 60,
            rate_429: 0.0,
            rate_5xx: 0.0,
            burst_429: 0,
            latency_ms: 0,
            malformed: None,
            deny: Vec::new(),
            withdrawn: Vec::new(),
            vanished: Vec::new(),
            down: Vec::new(),
            money_as_strings: false,
        }
    }
}

/// The organisation id used when none is given: a UUID derived from the seed, so two runs with the same seed see the
/// same organisation.
pub fn default_organization_id(seed: u64) -> String {
    IdStream::new(seed, "organization").uuid()
}

impl SimConfig {
    /// Applies comma-separated `key=value` knobs on top of `self`, e.g.
    /// `"projects=4,servers=200,rate_429=0.05,burst_429=2,latency_ms=10,malformed=instance-servers,deny=block,money_as_strings=true,seed=7,today=2026-11-22,billing_today=2026-12-01"`.
    ///
    /// `deny` may be repeated or list several products joined with `+` (`deny=block+account`); `deny=` clears it.
    /// `billing_today=none` clears the billing clock (back to `today`).
    /// `malformed=none` clears it. When `seed` changes and the organisation id is still the one derived from the
    /// previous seed, it follows the new seed.
    pub fn with_knobs(mut self, knobs: &str) -> Result<SimConfig, String> {
        let derived_org = self.organization_id == default_organization_id(self.seed);
        let mut org_given = false;
        let mut deny_reset = false;
        for knob in knobs.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            let (key, value) = knob
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| format!("knob `{knob}` is not of the form key=value; accepted keys: {KNOBS}"))?;
            match key {
                "seed" => self.seed = parse(key, value, "an unsigned integer")?,
                "today" => {
                    self.today = NaiveDate::parse_from_str(value, "%Y-%m-%d")
                        .map_err(|_| invalid(key, value, "a date YYYY-MM-DD"))?
                }
                "billing_today" => {
                    self.billing_today = match value {
                        "" | "none" => None,
                        v => Some(
                            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                                .map_err(|_| invalid(key, value, "a date YYYY-MM-DD (or none)"))?,
                        ),
                    }
                }
                "organization_id" => {
                    self.organization_id = non_empty(key, value)?;
                    org_given = true;
                }
                "secret_key" => self.secret_key = non_empty(key, value)?,
                "projects" => self.projects = parse(key, value, "an integer >= 2")?,
                "servers" => self.servers = parse(key, value, "an unsigned integer")?,
                "rate_429" => self.rate_429 = probability(key, value)?,
                "rate_5xx" => self.rate_5xx = probability(key, value)?,
                "burst_429" => self.burst_429 = parse(key, value, "an unsigned integer")?,
                "latency_ms" => self.latency_ms = parse(key, value, "an unsigned integer (milliseconds)")?,
                "malformed" => {
                    self.malformed = match value {
                        "" | "none" => None,
                        v if MALFORMED_MODES.contains(&v) => Some(v.to_string()),
                        _ => {
                            return Err(invalid(key, value, &format!("none | {}", MALFORMED_MODES.join(" | "))));
                        }
                    }
                }
                "deny" => {
                    // A knob string replaces the inherited deny list rather than adding to it, but repeated `deny`
                    // knobs within one string accumulate.
                    if !deny_reset {
                        self.deny.clear();
                        deny_reset = true;
                    }
                    for product in value.split('+').map(str::trim).filter(|p| !p.is_empty()) {
                        if !DENIABLE_PRODUCTS.contains(&product) {
                            return Err(invalid(key, product, &DENIABLE_PRODUCTS.join(" | ")));
                        }
                        if !self.deny.iter().any(|d| d == product) {
                            self.deny.push(product.to_string());
                        }
                    }
                }
                "withdrawn" => self.withdrawn = products(key, value, &API_PRODUCTS)?,
                "down" => self.down = products(key, value, &API_PRODUCTS)?,
                "vanished" => self.vanished = products(key, value, &VANISHABLE_PRODUCTS)?,
                "money_as_strings" => {
                    self.money_as_strings = match value {
                        "true" | "1" | "yes" => true,
                        "false" | "0" | "no" => false,
                        _ => return Err(invalid(key, value, "true | false")),
                    }
                }
                _ => return Err(format!("unknown knob `{key}`; accepted keys: {KNOBS}")),
            }
        }
        if derived_org && !org_given {
            self.organization_id = default_organization_id(self.seed);
        }
        self.validate()?;
        Ok(self)
    }

    /// Checks the invariants the organisation builder relies on.
    pub fn validate(&self) -> Result<(), String> {
        if self.projects < 2 {
            return Err(invalid(
                "projects",
                &self.projects.to_string(),
                "an integer >= 2 (ghosts live in projects 0 and 1)",
            ));
        }
        for (key, rate) in [("rate_429", self.rate_429), ("rate_5xx", self.rate_5xx)] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(invalid(key, &rate.to_string(), "a probability between 0 and 1"));
            }
        }
        // Timestamps go back at most ~2 years from `today`; keep clear of chrono's date range edges.
        if !(1970..=9000).contains(&self.today.year()) {
            return Err(invalid("today", &self.today.to_string(), "a date between 1970 and 9000"));
        }
        if let Some(day) = self.billing_today
            && !(1970..=9000).contains(&day.year())
        {
            return Err(invalid("billing_today", &day.to_string(), "a date between 1970 and 9000"));
        }
        if let Some(mode) = &self.malformed
            && !MALFORMED_MODES.contains(&mode.as_str())
        {
            return Err(invalid("malformed", mode, &format!("none | {}", MALFORMED_MODES.join(" | "))));
        }
        for product in &self.deny {
            if !DENIABLE_PRODUCTS.contains(&product.as_str()) {
                return Err(invalid("deny", product, &DENIABLE_PRODUCTS.join(" | ")));
            }
        }
        if self.organization_id.is_empty() || self.secret_key.is_empty() {
            return Err("organization_id and secret_key must not be empty".to_string());
        }
        Ok(())
    }

    pub(crate) fn denies(&self, product: &str) -> bool {
        self.deny.iter().any(|d| d == product)
    }

    /// The initial billing clock: `billing_today`, or `today`.
    pub fn billing_date(&self) -> NaiveDate {
        self.billing_today.unwrap_or(self.today)
    }
}

/// A `+`-separated list of products, each one of `allowed`.
fn products(key: &str, value: &str, allowed: &[&str]) -> Result<Vec<String>, String> {
    value
        .split('+')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|product| {
            allowed
                .contains(&product)
                .then(|| product.to_string())
                .ok_or_else(|| invalid(key, product, &allowed.join(" | ")))
        })
        .collect()
}

fn invalid(key: &str, value: &str, expected: &str) -> String {
    format!("invalid value `{value}` for knob `{key}`: expected {expected}")
}

fn parse<T: std::str::FromStr>(key: &str, value: &str, expected: &str) -> Result<T, String> {
    value.parse().map_err(|_| invalid(key, value, expected))
}

fn probability(key: &str, value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(invalid(key, value, "a probability between 0 and 1")),
    }
}

fn non_empty(key: &str, value: &str) -> Result<String, String> {
    if value.is_empty() { Err(invalid(key, value, "a non-empty string")) } else { Ok(value.to_string()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let cfg = SimConfig::default()
            .with_knobs(
                "projects=4,servers=200,rate_429=0.05,burst_429=2,latency_ms=10,malformed=instance-servers,\
                 deny=block,money_as_strings=true,seed=7,today=2026-11-22",
            )
            .unwrap();
        assert_eq!(cfg.projects, 4);
        assert_eq!(cfg.servers, 200);
        assert_eq!(cfg.rate_429, 0.05);
        assert_eq!(cfg.burst_429, 2);
        assert_eq!(cfg.latency_ms, 10);
        assert_eq!(cfg.malformed.as_deref(), Some("instance-servers"));
        assert_eq!(cfg.deny, vec!["block".to_string()]);
        assert!(cfg.money_as_strings);
        assert_eq!(cfg.seed, 7);
        assert_eq!(cfg.today, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
        assert_eq!(cfg.organization_id, default_organization_id(7));
        assert_ne!(cfg.organization_id, default_organization_id(42));
    }

    #[test]
    fn empty_knobs_keep_the_defaults() {
        let base = SimConfig::default();
        assert_eq!(base.clone().with_knobs("").unwrap(), base);
        assert_eq!(base.organization_id, default_organization_id(42));
        assert_eq!(base.secret_key, DEFAULT_SECRET_KEY);
    }

    #[test]
    fn deny_accepts_several_products() {
        let cfg = SimConfig::default().with_knobs("deny=block+account,deny=instance").unwrap();
        assert_eq!(cfg.deny, vec!["block", "account", "instance"]);
        let cleared = cfg.with_knobs("deny=").unwrap();
        assert!(cleared.deny.is_empty());
    }

    #[test]
    fn billing_knobs() {
        let cfg = SimConfig::default().with_knobs("deny=billing,deny=charges,billing_today=2026-12-01").unwrap();
        assert_eq!(cfg.deny, vec!["billing", "charges"]);
        assert_eq!(cfg.billing_today, NaiveDate::from_ymd_opt(2026, 12, 1));
        assert_eq!(cfg.billing_date(), NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        let cleared = cfg.with_knobs("billing_today=none,today=2026-11-22").unwrap();
        assert_eq!(cleared.billing_today, None);
        assert_eq!(cleared.billing_date(), NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
    }

    #[test]
    fn explicit_organization_survives_a_seed_change() {
        let cfg = SimConfig::default().with_knobs("organization_id=abc,seed=9").unwrap();
        assert_eq!(cfg.organization_id, "abc");
    }

    #[test]
    fn errors_name_the_key_and_accepted_values() {
        let err = SimConfig::default().with_knobs("colour=blue").unwrap_err();
        assert!(err.contains("colour") && err.contains("rate_429"), "{err}");
        let err = SimConfig::default().with_knobs("malformed=everything").unwrap_err();
        assert!(err.contains("malformed") && err.contains("block-volumes"), "{err}");
        let err = SimConfig::default().with_knobs("rate_429=2").unwrap_err();
        assert!(err.contains("rate_429") && err.contains("probability"), "{err}");
        let err = SimConfig::default().with_knobs("projects=1").unwrap_err();
        assert!(err.contains("projects"), "{err}");
        let err = SimConfig::default().with_knobs("deny=storage").unwrap_err();
        assert!(err.contains("deny") && err.contains("instance") && err.contains("charges"), "{err}");
        let err = SimConfig::default().with_knobs("billing_today=tomorrow").unwrap_err();
        assert!(err.contains("billing_today") && err.contains("YYYY-MM-DD"), "{err}");
        let err = SimConfig::default().with_knobs("servers").unwrap_err();
        assert!(err.contains("key=value"), "{err}");
        let err = SimConfig::default().with_knobs("today=22/11/2026").unwrap_err();
        assert!(err.contains("YYYY-MM-DD"), "{err}");
    }
}
