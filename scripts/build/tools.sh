#!/bin/sh
# Installs or builds everything ferry's tests and demo need that is not in the repo: Debian
# packages, MinIO and mc from their Go modules, and the npm dependencies. Builds are cached outside
# the repo under $FERRY_CACHE (default ~/.cache/ferry), keyed by version, and rebuilt only when
# missing. Prints progress to stderr and, on stdout, the PATH entries to use.
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
install_npm_packages
printf '%s:%s\n' "$TOOLS/minio-$MINIO_VERSION" "$TOOLS/mc-$MC_VERSION"
