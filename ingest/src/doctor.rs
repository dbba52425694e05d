//! `costlake doctor`'s checks of the Scaleway side: the key, each product's read access (the first page of one
//! of its lists, as its collector asks for it), and Cockpit token access. Nothing is written anywhere; the one
//! thing created, a temporary Cockpit token when no token is given, is deleted at once, as every run does.

use std::sync::Arc;

use chrono::Utc;
use costlake_lake::RunId;
use serde_json::Value;

use crate::scaleway::{ApiError, ListShape, ScalewayClient};
use crate::sources::cockpit::{self, CockpitSettings};
use crate::sources::{CollectError, Context, GLOBAL, ProbeFilter, Product};

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok(String),
    /// Failed: what happened and what to do.
    Fail(String),
    /// Not checked, and why.
    Skip(String),
}

/// A named check and its verdict (`instance`, `cockpit tokens`, ...).
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
}

impl Check {
    pub fn new(name: impl Into<String>, verdict: Verdict) -> Check {
        Check { name: name.into(), verdict }
    }
}

/// The Scaleway checks, in order: credentials (the organisation's projects), then each product of `products`.
pub async fn check_scaleway(
    client: &ScalewayClient,
    organization_id: &str,
    products: &[Box<dyn Product>],
    localities: Option<Vec<String>>,
    cockpit_settings: CockpitSettings,
) -> Vec<Check> {
    let ctx = Context {
        client: client.for_source(),
        organization_id: organization_id.to_string(),
        run_id: RunId::new(Utc::now()),
        snapshot_at: Utc::now(),
        localities,
        cursors: Arc::default(),
        cockpit: Arc::new(cockpit_settings),
    };
    let mut checks = Vec::new();

    // The key and the organisation: the projects it can see.
    let query = vec![("organization_id".to_string(), organization_id.to_string())];
    let mut pager = ctx.list(&crate::sources::account::API, GLOBAL, "projects", query, ListShape::Array("projects"));
    let project = match pager.next().await {
        Ok(page) => {
            let items = page.map(|p| p.items).unwrap_or_default();
            let first = items.iter().find_map(|p| p.get("id").and_then(Value::as_str)).map(str::to_string);
            let verdict = match &first {
                Some(_) => Verdict::Ok(format!("the key reads organisation {organization_id}")),
                None => Verdict::Fail(format!(
                    "the key sees no project of organisation {organization_id}: check SCW_DEFAULT_ORGANIZATION_ID, and that the key has ProjectReadOnly on it"
                )),
            };
            checks.push(Check::new("credentials", verdict));
            first
        }
        Err(error) => {
            checks.push(Check::new("credentials", Verdict::Fail(error.to_string())));
            let reason = "the credentials failed".to_string();
            checks.extend(products.iter().map(|p| Check::new(p.name(), Verdict::Skip(reason.clone()))));
            return checks;
        }
    };

    for product in products {
        let probe = product.probe();
        let Some(locality) = ctx.localities(probe.api).first().copied() else {
            checks
                .push(Check::new(product.name(), Verdict::Skip("not offered in the zones selected (--zones)".into())));
            continue;
        };
        let query = match probe.filter {
            ProbeFilter::None => Vec::new(),
            ProbeFilter::Organization => vec![("organization_id".to_string(), organization_id.to_string())],
            ProbeFilter::Project => match &project {
                Some(id) => vec![("project_id".to_string(), id.clone())],
                None => {
                    checks.push(Check::new(product.name(), Verdict::Skip("no project to read it in".into())));
                    continue;
                }
            },
        };
        let path = probe.api.path(locality, probe.list);
        let mut pager = ctx.list(probe.api, locality, probe.list, query, ListShape::Array(probe.key));
        let verdict = match pager.next().await {
            Ok(_) => Verdict::Ok(format!("reads {path}")),
            Err(error) => Verdict::Fail(fix_for(error.into())),
        };
        let readable = matches!(verdict, Verdict::Ok(_));
        checks.push(Check::new(product.name(), verdict));

        // Cockpit: the metrics themselves need a token, given or temporary.
        if product.name() == "cockpit" {
            let verdict = match (&project, readable) {
                (Some(project), true) => match cockpit::check_token_access(&ctx, locality, project).await {
                    Ok(how) => Verdict::Ok(how),
                    Err(error) => Verdict::Fail(fix_for(error)),
                },
                _ => Verdict::Skip("the data sources could not be read".into()),
            };
            checks.push(Check::new("cockpit-tokens", verdict));
        }
    }
    checks
}

/// The error's message, which names the request and (for a permission) the permission set to grant; a 404 gets
/// what to do about it.
fn fix_for(error: CollectError) -> String {
    match error {
        CollectError::Api(ApiError::Status { status, request, .. }) if status == reqwest::StatusCode::NOT_FOUND => {
            format!(
                "{request} answered 404: this API is not offered there (or was withdrawn); leave the product out with --sources"
            )
        }
        other => other.to_string(),
    }
}
