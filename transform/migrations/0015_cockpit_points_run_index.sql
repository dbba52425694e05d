-- 0015: a skip index on run_id for raw_cockpit_metric_points, the one raw table not sorted by run first (it is
-- sorted by series and time, for the rollups). Each load asks which rows a run brought (its row count against
-- the manifest, the days it touched for the derived tables): without the index that reads the run_id of every
-- point ever kept, a cost that grows with the history; with it, only the granules holding the run. Parts written
-- from now on carry the index, and older parts gain it when merged.

ALTER TABLE raw_cockpit_metric_points ADD INDEX IF NOT EXISTS run_id_set run_id TYPE set(8) GRANULARITY 1;
