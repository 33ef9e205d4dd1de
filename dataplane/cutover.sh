#!/bin/sh
# ferry cutover (live mode, migration.cutover): moves the writes from the source to the
# destination that replicates it: the source made read-only, the destination caught up with its
# last change, replication stopped, the destination made writable; rolled back on any failure
# before that. Then every object of the migrated databases is compared on both sides as they were
# at the switch. The work is ferry-dataplane's (internal/replica).
#
# Environment: SOURCE_HOST SOURCE_PORT SOURCE_USER SOURCE_PASSWORD[_FILE] [SOURCE_TLS
# SOURCE_TLS_CA_FILE] DEST_HOST DEST_PORT DEST_USER DEST_PASSWORD[_FILE] RUN_ID S3_ENDPOINT
# S3_ACCESS_KEY S3_SECRET_KEY[_FILE] S3_BUCKET RUN_KEY[_FILE] [CUTOVER_DRAIN_SECONDS=10]
# [CUTOVER_CATCHUP_SECONDS=60]
set -eu
FERRY_STEP=ferry-cutover
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

run_dataplane cutover
