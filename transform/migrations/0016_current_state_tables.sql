-- 0016: the models every report reads become tables maintained per loaded run, where they were views
-- recomputing the history of all runs at each read (and again for each place a report names it): the newest run
-- of each dataset, the collected prices, the resources, the projects' names, the per-resource charges of each
-- day and when each ghost resource became one. `newest_runs_source`, `collected_prices_source`,
-- `resources_source`, `projects_source`, `resource_charges_source` and `ghost_streaks_source`
-- (transform/models) say how a load computes them; the views `latest_dataset_runs`, `rate_card`,
-- `inventory_latest`, `project_names` and `charges_latest` now read them. New names, so that no statement here
-- drops or replaces a view another process may be reading: every statement is safe to run twice, and from two
-- processes at once.

CREATE TABLE IF NOT EXISTS resources
(
    organization_id LowCardinality(String),
    resource_type   String,
    resource_id     String,
    dataset         String,
    name            Nullable(String),
    project_id      Nullable(String),
    zone            String,
    state           Nullable(String),
    resource_class  Nullable(String),
    size_bytes      Nullable(UInt64),
    created_at      Nullable(DateTime64(6, 'UTC')),
    attached_to     Nullable(String),
    tags            Array(String),
    first_seen_at   DateTime64(6, 'UTC'),
    last_seen_at    DateTime64(6, 'UTC'),
    present         Bool
)
ENGINE = MergeTree
ORDER BY (organization_id, resource_type, resource_id);

CREATE TABLE IF NOT EXISTS projects
(
    id      String,
    name    Nullable(String),
    seen_at DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY id;

CREATE TABLE IF NOT EXISTS newest_runs
(
    organization_id String,
    dataset         String,
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY (organization_id, dataset);

CREATE TABLE IF NOT EXISTS collected_prices
(
    price_kind    String,
    zone          String,
    match_key     String,
    monthly_price Nullable(Decimal(38, 9)),
    currency      String,
    source        String,
    priority      UInt8
)
ENGINE = MergeTree
ORDER BY (price_kind, zone, match_key);

CREATE TABLE IF NOT EXISTS resource_charges
(
    organization_id   LowCardinality(String),
    project_id        String,
    sku               String,
    resource_id       String,
    start_date        DateTime64(6, 'UTC'),
    end_date          DateTime64(6, 'UTC'),
    price             Decimal(38, 9),
    currency          LowCardinality(Nullable(String)),
    project_name      Nullable(String),
    organization_name Nullable(String),
    resource_name     Nullable(String),
    invoice_id        Nullable(String),
    collected_at      DateTime64(6, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(start_date)
ORDER BY (organization_id, start_date, project_id, sku, resource_id);

CREATE TABLE IF NOT EXISTS ghost_streaks
(
    kind         String,
    resource_id  String,
    last_healthy DateTime64(6, 'UTC'),
    streak_start DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY (kind, resource_id);
