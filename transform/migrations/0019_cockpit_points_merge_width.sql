-- 0019: merges of raw_cockpit_metric_points take at most 32 parts at once (the engine's default: 100). A merge
-- holds read buffers for every column of every part it merges, and a load inserting points as fast as the engine
-- reads them leaves many parts for each merge to take: at 10,000 servers (176 M points, 3,525 lake files) the
-- insert peaked at 4.7 GiB with merges of up to 100 parts, 2.6 GiB with 32 in the same time (163 s), 1.9 GiB
-- with 16 but 25 % slower; with no merge at all, 0.9 GiB (BENCHMARKS.md, 2026-12-05 (late evening)).

ALTER TABLE raw_cockpit_metric_points MODIFY SETTING max_parts_to_merge_at_once = 32;
