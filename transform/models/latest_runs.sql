-- latest_runs: the inventory's newest run, the newest run that collected the Instance servers.

CREATE OR REPLACE VIEW latest_runs AS
SELECT organization_id, run_id, snapshot_at
FROM newest_runs
WHERE dataset = 'instance_servers';
