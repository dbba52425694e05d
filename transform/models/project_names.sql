-- project_names: the newest name of every project a loaded run has seen; the table `projects`, kept up to date
-- at each load (transform/sources/projects.sql says how), under the name queries have used.

CREATE OR REPLACE VIEW project_names AS
SELECT id, name FROM projects;
