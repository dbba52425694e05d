#!/usr/bin/env bash
# Installs the headless browser the HTML report's test opens the page in: Debian's `chromium` package, from the
# distribution's own archive (the browser-downloading npm and PyPI tools fetch from CDNs this project does not use).
#
#   scripts/install-chromium.sh        # prints the path of chromium; COSTLAKE_TEST_CHROMIUM overrides it
#
# Idempotent; needs root or password-less sudo the first time.
set -euo pipefail

if [ -n "${COSTLAKE_TEST_CHROMIUM:-}" ]; then
  echo "$COSTLAKE_TEST_CHROMIUM"
  exit 0
fi
if command -v chromium >/dev/null; then
  command -v chromium
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "install-chromium: the HTML report's test needs Debian's chromium: run 'sudo apt-get install chromium', or set COSTLAKE_TEST_CHROMIUM to a Chromium binary" >&2
  exit 1
fi
echo "install-chromium: installing Debian's chromium (apt-get) ..." >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get install -y --no-install-recommends chromium >&2 ||
  { "${as_root[@]}" apt-get update >&2 && "${as_root[@]}" apt-get install -y --no-install-recommends chromium >&2; }
command -v chromium
