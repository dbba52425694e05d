#!/usr/bin/env bash
# Installs the ClickHouse client nobody at costlake wrote, that the `costlake serve` tests query it with:
# Python's clickhouse-connect, pinned, in a virtual environment of its own (nothing goes into the system Python).
#
#   scripts/install-pyclients.sh       # ${XDG_DATA_HOME:-~/.local/share}/costlake/pyclients/<version>/
#
# Prints the path of the environment's python. Idempotent.
set -euo pipefail

VERSION="1.12.0"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
dest="$data_home/costlake/pyclients/clickhouse-connect-$VERSION"
if [ -x "$dest/bin/python" ] && "$dest/bin/python" -c "import clickhouse_connect" 2>/dev/null; then
  echo "$dest/bin/python"
  exit 0
fi
command -v python3 >/dev/null || { echo "install-pyclients: python3 is needed for the clickhouse-connect tests" >&2; exit 1; }
echo "install-pyclients: installing clickhouse-connect $VERSION into $dest ..." >&2
rm -rf "$dest"
python3 -m venv "$dest"
"$dest/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: "clickhouse-connect==$VERSION" >&2
echo "$dest/bin/python"
