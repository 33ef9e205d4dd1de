#!/bin/sh
# Mutation testing of the data plane's trust packages (npm run mutation; npm test runs it too):
# gremlins changes the code one operator at a time and runs the package's Go tests against each
# change; a change no test notices (LIVED) is a bug no test would catch. Fails when a package's
# efficacy (killed over killed and lived) is below the target. Mutants no Go test reaches (NOT
# COVERED) are code that only the data-plane tests on real servers exercise, which gremlins
# cannot run; the table says how many.
#
# Usage: scripts/dev/mutation.sh [package...]   (default: the trust packages below, then Stryker)
set -eu
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/build/versions.env
. scripts/build/versions.env
FERRY_CACHE=${FERRY_CACHE:-$HOME/.cache/ferry}
target="$FERRY_CACHE/tools/gremlins-$GREMLINS_VERSION"
if [ ! -x "$target/gremlins" ]; then
  printf 'ferry mutation: building gremlins %s\n' "$GREMLINS_VERSION" >&2
  mkdir -p "$target.partial"
  GOBIN="$target.partial" GOFLAGS=-buildvcs=false go install "$GREMLINS_MODULE@$GREMLINS_VERSION" >&2
  rm -rf "$target"
  mv "$target.partial" "$target"
fi
threshold=${FERRY_MUTATION_THRESHOLD:-85}
packages=${*:-"digest seal sqlident chunks load follow preflight heldlock certs kubeapi replica restore"}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=""
printf '%-10s %7s %6s %6s %9s %12s %9s\n' package killed lived timeout uncovered efficacy seconds
for package in $packages; do
  started=$(date +%s)
  status=0
  # (A generous timeout: each mutant's run includes compiling the package, which the baseline
  # of a fast package's tests does not; a tighter one times every mutant out on a cold machine.)
  (cd dataplane && "$target/gremlins" unleash --workers 2 --timeout-coefficient 50 \
    --threshold-efficacy "$threshold" "./internal/$package") >"$out/$package.txt" 2>&1 || status=$?
  count() { sed -n "s/.*$1: \([0-9]*\).*/\1/p" "$out/$package.txt" | head -n 1; }
  efficacy=$(sed -n 's/^Test efficacy: \([0-9.]*\)%.*/\1/p' "$out/$package.txt")
  printf '%-10s %7s %6s %6s %9s %11s%% %9s\n' "$package" "$(count Killed)" "$(count Lived)" \
    "$(count 'Timed out')" "$(count 'Not covered')" "${efficacy:-?}" "$(($(date +%s) - started))"
  # gremlins' own threshold does not fail every time it should: the figure is compared here, and
  # a package where no mutant was judged (all timed out) is not taken for a pass.
  judged=$(($(count Killed) + $(count Lived)))
  if [ "$status" != 0 ] || [ "$judged" = 0 ] ||
    ! awk -v e="${efficacy:-0}" -v t="$threshold" 'BEGIN { exit !(e >= t) }'; then
    failed="$failed $package"
    grep -E 'LIVED|ERROR|error' "$out/$package.txt" | sed "s|^|  $package: |" >&2 || true
  fi
done
if [ -n "$failed" ]; then
  printf 'mutation testing: below %s%% efficacy (or failed):%s\n' "$threshold" "$failed" >&2
  exit 1
fi
printf 'mutation testing: every package at %s%% efficacy or more\n' "$threshold"

# With no package named (npm run mutation), the TypeScript config and spec builders too: Stryker
# over components/config/ and components/specs/ against the unit tests (stryker.config.json), one
# file a run, each file's figures kept until the code or the tests change, so a stopped run goes
# on where it stopped (scripts/dev/mutation-ts.mjs, which fails below 85 %). Hours on a 2-core
# machine: not a step of npm test.
if [ "$#" = 0 ]; then
  node scripts/dev/mutation-ts.mjs
fi
