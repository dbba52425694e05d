"""Queries `costlake serve` with clickhouse-connect (Python's ClickHouse client) as a user would, and prints
what it got as one JSON object for the Rust test to check. Usage: python clickhouse_connect_check.py PORT USER PASSWORD
"""
import json
import sys

import clickhouse_connect

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = {}
client = clickhouse_connect.get_client(host="127.0.0.1", port=port, username=user, password=password,
                                       database="costlake")
# 54405 only when the probe found ClickHouse's block framing (else the client quietly falls back to 0).
out["protocol_version"] = client.protocol_version
out["timezone"] = client.server_tz if isinstance(client.server_tz, str) else str(client.server_tz)
result = client.query(
    "SELECT resource_type, count() AS n FROM inventory_latest GROUP BY ALL ORDER BY resource_type")
out["counts"] = {row[0]: row[1] for row in result.result_rows}
# Decimals arrive exact, NULLs as None, parameters bound server-side.
result = client.query("SELECT toDecimal128({amount:String}, 9) AS amount, CAST(NULL AS Nullable(String)) AS nothing",
                      parameters={"amount": "123.456789012"})
amount, nothing = result.result_rows[0]
out["amount"] = str(amount)
out["nothing"] = nothing
# LowCardinality, arrays, maps and tuples walk through the framing.
result = client.query("SELECT toLowCardinality(resource_type) AS kind, [kind] AS kinds, map(kind, 1) AS m, "
                      "tuple(kind, 2) AS t FROM inventory_latest ORDER BY kind LIMIT 1")
out["low_cardinality"] = [str(value) for value in result.result_rows[0]]
try:
    client.command("INSERT INTO price_overrides SELECT * FROM price_overrides")
    out["insert"] = "accepted"
except Exception as error:  # clickhouse_connect.driver.exceptions.DatabaseError
    out["insert"] = str(error)
try:
    clickhouse_connect.get_client(host="127.0.0.1", port=port, username=user, password="wrong").query("SELECT 1")
    out["wrong_password"] = "accepted"
except Exception as error:
    out["wrong_password"] = str(error)
print(json.dumps(out))
