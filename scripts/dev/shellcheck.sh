#!/bin/sh
# Every shell script in the repo, as POSIX sh, through shellcheck.
set -eu
cd "$(dirname "$0")/../.."
git ls-files '*.sh' '.ci/run' 'scripts/*.env' | xargs shellcheck -x --shell=sh
