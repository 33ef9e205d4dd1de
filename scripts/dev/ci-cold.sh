#!/bin/sh
# Measures what CI costs on a machine that has never built ferry: clones this repository's HEAD
# into a fresh directory and runs .ci/run with every cache ferry, Go and npm use pointed at empty
# directories beside it (ferry's FERRY_CACHE, GOCACHE, GOMODCACHE, npm's cache). Debian packages
# already installed on this machine stay installed; everything else is fetched and built again.
# Usage: scripts/dev/ci-cold.sh DIR — DIR must not exist; the log is DIR/ci.log, and the last
# lines say the wall time. Needs about 30 GiB free in DIR.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR (a directory that does not exist yet)" >&2; exit 2; }
dir=$1
[ ! -e "$dir" ] || { echo "$dir exists: give a new directory" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dir/cache/ferry" "$dir/cache/go-build" "$dir/cache/go-mod" "$dir/cache/npm"
git clone -q "$repo" "$dir/ferry"
FERRY_CACHE="$dir/cache/ferry" GOCACHE="$dir/cache/go-build" GOMODCACHE="$dir/cache/go-mod" \
  npm_config_cache="$dir/cache/npm" CI=true
export FERRY_CACHE GOCACHE GOMODCACHE npm_config_cache CI
started=$(date +%s)
status=0
(cd "$dir/ferry" && sh .ci/run) >"$dir/ci.log" 2>&1 || status=$?
ended=$(date +%s)
printf '\ncold CI: exit %s, wall time %s s\n' "$status" "$((ended - started))" | tee -a "$dir/ci.log"
# Go marks its module cache read-only; make it removable.
chmod -R u+w "$dir/cache/go-mod" 2>/dev/null || true
exit "$status"
