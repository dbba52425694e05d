-- 0020: the inlet of the lake's cockpit_metric_points version 2, whose rows are a series with its samples as
-- lists (`ts`, `value`, element for element): the labels a series repeats are encoded once per row in the lake,
-- not once per sample. The loader inserts version 2 files here (the engine reading them, or streamed to it), and
-- the materialised view unnests each row into raw_cockpit_metric_points, a row per sample, as version 1 files
-- still load. The Null engine keeps nothing: the view is its only reader.

CREATE TABLE IF NOT EXISTS raw_cockpit_metric_points_v2
(
    run_id          String,
    snapshot_at     DateTime64(6, 'UTC'),
    organization_id LowCardinality(String),
    region          LowCardinality(String),
    project_id      String,
    data_source_id  LowCardinality(String),
    metric          LowCardinality(String),
    resource_id     Nullable(String),
    resource_name   Nullable(String),
    zone            LowCardinality(Nullable(String)),
    labels          String,
    ts              Array(DateTime64(6, 'UTC')),
    value           Array(Float64)
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS raw_cockpit_metric_points_v2_unnest TO raw_cockpit_metric_points AS
SELECT run_id, snapshot_at, organization_id, region, project_id, data_source_id, metric, resource_id,
       resource_name, zone, labels, ts, value
FROM raw_cockpit_metric_points_v2
ARRAY JOIN ts, value;
