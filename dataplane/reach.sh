#!/bin/sh
# ferry reach (live mode, beside the dump): logs in to the source as the replication account from
# the destination's side, over the replica's TLS, and checks it may replicate, so that a source the
# replica could not follow fails the run before anything is imported. The work is
# ferry-dataplane's.
#
# Environment: REPL_HOST [REPL_PORT=3306] REPL_USER REPL_PASSWORD[_FILE] REPL_CA_FILE
# [SOURCE_TLS_CA_FILE] [REPL_TLS=verify-identity]
set -eu
FERRY_STEP=ferry-reach
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

run_dataplane reach
