#!/bin/sh
# ferry replicate (live mode): after the import's verification, makes the destination a replica
# of the source from the position the dump recorded under its snapshot, over verified TLS, for the
# dumped databases only, read-only to applications; then waits until it replicates. Run again, it
# leaves a running replication where it is. The work is ferry-dataplane's (internal/replica).
#
# Environment: DEST_HOST DEST_PORT DEST_USER DEST_PASSWORD[_FILE] RUN_ID S3_ENDPOINT S3_ACCESS_KEY
# S3_SECRET_KEY[_FILE] S3_BUCKET [S3_CA_CERT] [S3_INSECURE] REPL_HOST [REPL_PORT=3306] REPL_USER
# REPL_PASSWORD[_FILE] REPL_CA_FILE (on the destination server) [REPL_TLS=verify-identity]
# [REPL_CHECK_SECONDS=30]
set -eu
FERRY_STEP=ferry-replicate
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

run_dataplane replicate
