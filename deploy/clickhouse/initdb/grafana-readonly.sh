#!/bin/bash
# Run once by the official clickhouse-server image on a fresh data volume (/docker-entrypoint-initdb.d): the
# read-only user Grafana's datasource logs in as. readonly = 2, not 1: Grafana's ClickHouse driver sends
# max_execution_time with every query, which readonly = 1 refuses; 2 still refuses every write and DDL.
set -euo pipefail
password=${GRAFANA_CLICKHOUSE_PASSWORD:?set GRAFANA_CLICKHOUSE_PASSWORD}
password=${password//\\/\\\\}
password=${password//\'/\\\'}
clickhouse client --user "${CLICKHOUSE_USER}" --password "${CLICKHOUSE_PASSWORD}" --multiquery <<SQL
CREATE DATABASE IF NOT EXISTS costlake;
CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_password BY '${password}' SETTINGS readonly = 2;
GRANT SELECT ON costlake.* TO grafana;
SQL
