#!/bin/sh
# Installs or builds everything ferry's tests and demo need that is not in the repo: Debian
# packages, MinIO and mc from their Go modules, ferry-dataplane from dataplane/, and the npm
# dependencies. Builds are cached outside the repo under $FERRY_CACHE (default ~/.cache/ferry),
# keyed by version (ferry-dataplane by its sources' digest), and rebuilt only when missing. Prints progress to stderr and, on stdout, the PATH entries to use.
#
# Usage: scripts/build/tools.sh [--print-path]
set -eu
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/build/versions.env
. scripts/build/versions.env
FERRY_CACHE=${FERRY_CACHE:-$HOME/.cache/ferry}
TOOLS="$FERRY_CACHE/tools"

say() { printf 'ferry tools: %s\n' "$*" >&2; }

install_debian_packages() {
  missing=""
  for package in $DEBIAN_PACKAGES $NODE_DEBIAN_PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
  done
  [ -n "$missing" ] || return 0
  [ "$(id -u)" = 0 ] || { say "need root to install:$missing"; exit 1; }
  say "installing Debian packages:$missing"
  apt-get update -qq >&2
  # shellcheck disable=SC2086 # a list of package names
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
}

# go_tool NAME MODULE VERSION: builds MODULE@VERSION into $TOOLS/NAME-VERSION unless it is there.
go_tool() {
  target="$TOOLS/$1-$3"
  if [ -x "$target/$1" ]; then
    return 0
  fi
  say "building $1 from $2@$3 (a few minutes on a cold cache)"
  started=$(date +%s)
  mkdir -p "$target.partial"
  GOBIN="$target.partial" GOFLAGS=-buildvcs=false go install "$2@$3" >&2
  rm -rf "$target"
  mv "$target.partial" "$target"
  say "built $1 in $(($(date +%s) - started))s"
}

# build_dataplane: ferry-dataplane from this repo's dataplane/ module, static (so the tools image
# and a source host need no libc of ours), keyed by the digest of its sources.
build_dataplane() {
  key=$(find dataplane -name '*.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort | xargs cat | sha256sum | cut -c 1-12)
  DATAPLANE_DIR="$TOOLS/ferry-dataplane-$key"
  if [ -x "$DATAPLANE_DIR/ferry-dataplane" ]; then
    return 0
  fi
  say "building ferry-dataplane"
  rm -rf "$DATAPLANE_DIR.partial"
  mkdir -p "$DATAPLANE_DIR.partial"
  (cd dataplane && CGO_ENABLED=0 go build -trimpath -o "$DATAPLANE_DIR.partial/ferry-dataplane" ./cmd/ferry-dataplane) >&2
  rm -rf "$DATAPLANE_DIR"
  mv "$DATAPLANE_DIR.partial" "$DATAPLANE_DIR"
}

install_npm_packages() {
  stamp=node_modules/.ferry-lock-stamp
  if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
    return 0
  fi
  say "installing npm packages (npm ci)"
  # Scripts off: Pulumi packages' install scripts would try to download plugins.
  npm ci --ignore-scripts --no-audit --no-fund >&2
  cp package-lock.json "$stamp"
}

install_debian_packages
go_tool minio "$MINIO_MODULE" "$MINIO_VERSION"
go_tool mc "$MC_MODULE" "$MC_VERSION"
build_dataplane
install_npm_packages
printf '%s:%s:%s\n' "$TOOLS/minio-$MINIO_VERSION" "$TOOLS/mc-$MC_VERSION" "$DATAPLANE_DIR"
