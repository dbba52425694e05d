//! Account API v3: the organisation's projects. Billing keeps referencing deleted projects, so the warehouse
//! keeps every project ever seen.

use async_trait::async_trait;

use super::{Api, CollectError, Context, GLOBAL, Outputs, Probe, ProbeFilter, Product, Scope, walk_list};
use crate::dataset::{DatasetSpec, Kind, LOCALITY, col, key};
use crate::scaleway::{ListShape, Scheme};

pub struct Account;

pub const API: Api = Api { version: "account/v3", scope: Scope::Global, scheme: Scheme::TotalCount };

pub fn projects() -> DatasetSpec {
    DatasetSpec::new(
        "account_projects",
        1,
        &[
            LOCALITY("locality"),
            key("id", "id"),
            col("name", Kind::Str, "name"),
            col("description", Kind::Str, "description"),
            col("status", Kind::Str, "status"),
            col("created_at", Kind::Timestamp, "created_at"),
            col("updated_at", Kind::Timestamp, "updated_at"),
        ],
    )
}

#[async_trait]
impl Product for Account {
    fn name(&self) -> &'static str {
        "account"
    }

    fn summary(&self) -> &'static str {
        "the organisation's projects (names for every report)"
    }

    fn apis(&self) -> &'static [Api] {
        &[API]
    }

    fn datasets(&self) -> Vec<DatasetSpec> {
        vec![projects()]
    }

    fn probe(&self) -> Probe {
        Probe::new(&API, "projects", "projects", ProbeFilter::Organization)
    }

    async fn collect(&self, ctx: &Context, out: &Outputs) -> Result<(), CollectError> {
        let query = vec![("organization_id".to_string(), ctx.organization_id.clone())];
        let pager = ctx.list(&API, GLOBAL, "projects", query, ListShape::Array("projects"));
        let count = walk_list(out, &projects(), pager, &ctx.row_context(GLOBAL)).await?;
        // Every organisation has at least its default project: an empty list means a wrong organisation id
        // or a broken API (a billing exporter silently exported nothing for weeks when account/v2 went away).
        if count == 0 {
            return Err(CollectError::Guard(format!(
                "the Account API returned no project for organization {}: check SCW_DEFAULT_ORGANIZATION_ID (or the profile's default_organization_id); nothing was committed",
                ctx.organization_id
            )));
        }
        Ok(())
    }
}
