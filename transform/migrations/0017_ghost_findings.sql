-- 0017: ghost-resources' findings (what keeps billing while doing nothing, the parts each is billed for, since
-- when) become a table computed at load from the newest inventory (`ghost_findings_source`, transform/models),
-- where the report recomputed them from a dozen raw tables at each read. The report prices them as it reads, so
-- that price_overrides apply at once.

CREATE TABLE IF NOT EXISTS ghost_findings
(
    organization_id LowCardinality(String),
    kind            LowCardinality(String),
    resource_id     String,
    name            Nullable(String),
    project_id      Nullable(String),
    zone            String,
    state           Nullable(String),
    since           Nullable(Date),
    as_of           Date,
    size_bytes      Nullable(UInt64),
    what            Nullable(String),
    -- (what, quantity, price_kind, zone, the key of its price in rate_card) per part billed
    parts           Array(Tuple(String, Nullable(Decimal(38, 9)), String, String, String))
)
ENGINE = MergeTree
ORDER BY (organization_id, kind, resource_id);
