#!/bin/sh
# Installs or builds everything ferry's tests and demo need that is not in the repo: Debian
# packages, MinIO and mc from their Go modules, ferry-dataplane from dataplane/, and the npm
# dependencies. Builds are cached outside the repo under $FERRY_CACHE (default ~/.cache/ferry),
# keyed by version (ferry-dataplane by its sources' digest), and rebuilt only when missing. Prints
# one line a step to stderr ([k/n], scripts/build/progress.sh; each step's own output in
# .ferry/logs) and, on stdout, the PATH entries to use.
#
# Usage: scripts/build/tools.sh [--print-path]. FERRY_EXTRA_DEBIAN_PACKAGES: more packages a caller
# needs (scripts/dev/bench.sh: the benchmark's peers), installed in the same step.
set -eu
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/build/versions.env
. scripts/build/versions.env
FERRY_CACHE=${FERRY_CACHE:-$HOME/.cache/ferry}
TOOLS="$FERRY_CACHE/tools"

say() { printf 'ferry tools: %s\n' "$*" >&2; }
# shellcheck source=scripts/build/progress.sh
. scripts/build/progress.sh

missing=""
for package in $DEBIAN_PACKAGES $NODE_DEBIAN_PACKAGES ${FERRY_EXTRA_DEBIAN_PACKAGES:-}; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ] && [ "$(id -u)" != 0 ]; then
  say "need root to install:$missing"
  exit 1
fi

install_debian_packages() {
  apt-get update -qq
  # shellcheck disable=SC2086 # a list of package names
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
}

# go_tool NAME MODULE VERSION: builds MODULE@VERSION into $TOOLS/NAME-VERSION.
go_tool() {
  target="$TOOLS/$1-$3"
  mkdir -p "$target.partial"
  GOBIN="$target.partial" GOFLAGS=-buildvcs=false go install "$2@$3"
  rm -rf "$target"
  mv "$target.partial" "$target"
}

# ferry-dataplane from this repo's dataplane/ module, static (so the tools image and a source host
# need no libc of ours), keyed by the digest of its sources; beside it ferry-ledger, the
# application the live demo, tests and benchmark write with (not part of ferry).
key=$(find dataplane -name '*.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort | xargs cat | sha256sum | cut -c 1-12)
DATAPLANE_DIR="$TOOLS/ferry-dataplane-$key"
build_dataplane() {
  rm -rf "$DATAPLANE_DIR.partial"
  mkdir -p "$DATAPLANE_DIR.partial"
  (cd dataplane && CGO_ENABLED=0 go build -trimpath -o "$DATAPLANE_DIR.partial/" ./cmd/ferry-dataplane ./cmd/ferry-ledger)
  rm -rf "$DATAPLANE_DIR"
  mv "$DATAPLANE_DIR.partial" "$DATAPLANE_DIR"
}

npm_stamp=node_modules/.ferry-lock-stamp
install_npm_packages() {
  # Scripts off: Pulumi packages' install scripts would try to download plugins.
  npm ci --ignore-scripts --no-audit --no-fund
  cp package-lock.json "$npm_stamp"
}

# The steps that have work to do, each once to count and once to run.
steps() {
  [ -z "$missing" ] || progress_step debian-packages "installing Debian packages:$missing" install_debian_packages
  [ -x "$TOOLS/minio-$MINIO_VERSION/minio" ] ||
    progress_step minio "building minio from $MINIO_MODULE@$MINIO_VERSION" go_tool minio "$MINIO_MODULE" "$MINIO_VERSION"
  [ -x "$TOOLS/mc-$MC_VERSION/mc" ] ||
    progress_step mc "building mc from $MC_MODULE@$MC_VERSION" go_tool mc "$MC_MODULE" "$MC_VERSION"
  { [ -x "$DATAPLANE_DIR/ferry-dataplane" ] && [ -x "$DATAPLANE_DIR/ferry-ledger" ]; } || progress_step ferry-dataplane "building ferry-dataplane" build_dataplane
  { [ -f "$npm_stamp" ] && cmp -s package-lock.json "$npm_stamp"; } ||
    progress_step npm-ci "installing npm packages (npm ci)" install_npm_packages
}
progress_init
progress_plan_mode
steps
progress_run_mode
steps
printf '%s:%s:%s\n' "$TOOLS/minio-$MINIO_VERSION" "$TOOLS/mc-$MC_VERSION" "$DATAPLANE_DIR"
