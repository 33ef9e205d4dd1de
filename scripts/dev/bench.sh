#!/bin/sh
# ferry's benchmark (npm run bench [-- --sizes 1G,4G --rounds 3 ...]): installs the data-plane
# tools (mariadb-backup among them) and the peer bench/peers.ts runs besides (Debian's mydumper, in
# scripts/build/tools.sh's package step) and gnuplot for the chart, compiles bench/ and runs it.
# See bench/README.md.
set -eu
cd "$(dirname "$0")/../.."
tools_path=$(FERRY_EXTRA_DEBIAN_PACKAGES="mydumper" sh scripts/build/tools.sh)
PATH="$tools_path:$PATH"
export PATH
if ! command -v gnuplot >/dev/null 2>&1; then
  printf 'ferry bench: installing gnuplot for the chart\n' >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null 2>&1 ||
    printf 'ferry bench: gnuplot could not be installed; the results will have no chart\n' >&2
fi
npx tsc -p bench/tsconfig.json
exec node .ferry/bench/bench/run.js "$@"
