#!/bin/sh
# ferry's test command (npm test): installs and builds what the tests need, then runs lint,
# typecheck, the data-plane program's Go tests (with a fuzz budget) and their mutation testing, the
# unit tests (Pulumi mocks), the data-plane tests (real MariaDB, MinIO and mc), the engine tests (the real Pulumi CLI built by
# scripts/build/toolchain.sh) and the end-to-end test of the dev stacks, every source mode, on two
# local clusters of different Kubernetes versions whose nodes run real pods (scripts/dev/cluster.sh).
# Ends with one line "tests: N passed, N failed, N skipped".
set -eu
cd "$(dirname "$0")/../.."
started=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }

step "installing and building tools"
tools_path=$(sh scripts/build/tools.sh)
PATH="$tools_path:$PATH"
export PATH

step "building the Pulumi engine and providers"
FERRY_PULUMI_BIN=$(sh scripts/build/toolchain.sh)
PULUMI_HOME="$(pwd)/.ferry/pulumi-home"
export FERRY_PULUMI_BIN PULUMI_HOME

step "building the local clusters' programs"
sh scripts/build/cluster-tools.sh >/dev/null
sh scripts/build/cluster-tools.sh source >/dev/null

step "lint: eslint, prettier, shellcheck"
npx eslint .
npx prettier --check . >/dev/null
sh scripts/dev/shellcheck.sh

step "typecheck"
npx tsc --noEmit

step "the Go programs: gofmt, go vet, go test, and 30 s each of fuzzing the identifier quoting and the import's rewrite"
unformatted=$(gofmt -l dataplane tools)
[ -z "$unformatted" ] || { printf 'not gofmt-formatted:\n%s\n' "$unformatted" >&2; exit 1; }
(cd dataplane && go vet ./... && go test ./... && go test -run=NONE -fuzz=FuzzQuote -fuzztime=30s ./internal/sqlident &&
  go test -run=NONE -fuzz=FuzzRewriteNames -fuzztime=30s ./internal/load)
# ferry's own Pulumi plugins (the command and minio providers, the language host).
(cd tools && go vet ./cmd/... ./internal/... && go test ./cmd/... ./internal/...)

step "mutation testing of the data plane's trust packages (gremlins; each at 85% or more)"
# chunks is left to npm run mutation: its stall and patience tests run on timers, and which of
# its mutants time out rather than die moves with the machine's load (docs/mutation-testing.md).
sh scripts/dev/mutation.sh digest seal sqlident load follow preflight heldlock certs kubeapi replica restore

step "unit and data-plane tests"
mkdir -p .ferry
status=0
npx vitest run --reporter=default --reporter=json --outputFile=.ferry/vitest.json || status=$?
# shellcheck disable=SC2016 # JavaScript, not shell, between the quotes
node -e '
  const r = JSON.parse(require("fs").readFileSync(".ferry/vitest.json", "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
'
step "done"
exit "$status"
