#!/usr/bin/env bash
# Installs the embedded ClickHouse engine (chDB's libchdb.so) that costlake loads at run time.
#
# Source: the npm registry package @chdb/lib-linux-x64-gnu, pinned to one version and verified against its
# sha256 before anything is unpacked. The library (566 MB) is never committed.
#
#   scripts/install-chdb.sh            # installs to ${XDG_DATA_HOME:-~/.local/share}/costlake/chdb/<version>/
#   scripts/install-chdb.sh DIR        # installs to DIR/libchdb.so
#
# Prints the library's path. Idempotent: an installed library is left alone.
set -euo pipefail

VERSION="26.7.3-stable.1"
SHA256="c0d32b129e988f2b9a9a31c9141aecf5e1e2453f9a079efc4d36ab8e3f92b2ad"
PACKAGE="@chdb/lib-linux-x64-gnu"

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "install-chdb: costlake's embedded warehouse needs Linux x86_64 (this is $(uname -s)-$(uname -m)); use a ClickHouse server with --warehouse http(s)://..." >&2
  exit 1
fi

data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
dest="${1:-$data_home/costlake/chdb/$VERSION}"
if [ -f "$dest/libchdb.so" ]; then
  echo "$dest/libchdb.so"
  exit 0
fi

command -v npm >/dev/null || { echo "install-chdb: npm is needed to fetch $PACKAGE from the npm registry" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "install-chdb: fetching $PACKAGE@$VERSION (178 MB) ..." >&2
(cd "$work" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
tarball="$work/chdb-lib-linux-x64-gnu-$VERSION.tgz"
echo "$SHA256  $tarball" | sha256sum --check --quiet - || {
  echo "install-chdb: checksum mismatch for $PACKAGE@$VERSION; refusing to install it" >&2
  exit 1
}
tar -xzf "$tarball" -C "$work" package/libchdb.so
mkdir -p "$dest"
# Move into place last so an interrupted install never leaves a truncated library behind.
mv "$work/package/libchdb.so" "$dest/libchdb.so.partial"
mv "$dest/libchdb.so.partial" "$dest/libchdb.so"
echo "$dest/libchdb.so"
