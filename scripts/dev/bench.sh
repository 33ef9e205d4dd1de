#!/bin/sh
# ferry's benchmark (npm run bench [-- --sizes 1G,4G --rounds 3 ...]): installs the data-plane
# tools, the peers (mydumper, mariadb-backup) and gnuplot for the chart, compiles bench/ and runs
# it. See bench/README.md.
set -eu
cd "$(dirname "$0")/../.."
tools_path=$(sh scripts/build/tools.sh)
PATH="$tools_path:$PATH"
export PATH
# The peers ferry is measured against (bench/peers.ts): Debian's mydumper and mariadb-backup.
missing=
for tool in mydumper:mydumper mariadb-backup:mariadb-backup mbstream:mariadb-backup; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
done
if [ -n "$missing" ]; then
  mkdir -p .ferry/logs
  printf 'ferry bench: installing the peers:%s\n' "$missing" >&2
  # shellcheck disable=SC2086 # package names, one word each
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing \
    >.ferry/logs/bench-peers.log 2>&1 || {
    tail -n 20 .ferry/logs/bench-peers.log >&2
    printf 'ferry bench: could not install%s (log: .ferry/logs/bench-peers.log); the benchmark needs them\n' "$missing" >&2
    exit 1
  }
fi
if ! command -v gnuplot >/dev/null 2>&1; then
  printf 'ferry bench: installing gnuplot for the chart\n' >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null 2>&1 ||
    printf 'ferry bench: gnuplot could not be installed; the results will have no chart\n' >&2
fi
npx tsc -p bench/tsconfig.json
exec node .ferry/bench/bench/run.js "$@"
