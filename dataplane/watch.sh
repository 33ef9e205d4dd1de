#!/bin/sh
# ferry watch: prints the log lines a step in a cluster (WATCH_STEP: dump or import) posts to the
# bucket, until it ends, so `pulumi up` shows what its Job is doing. Runs on the operator's
# machine beside the Job, with the reading bucket user.
#
# Environment: WATCH_STEP RUN_ID S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY[_FILE] S3_BUCKET
#   [S3_CA_CERT] [S3_INSECURE] RUN_KEY[_FILE] [WATCH_START_SECONDS WATCH_STALL_SECONDS
#   WATCH_POLL_SECONDS]
set -eu
FERRY_STEP=ferry-watch
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

run_dataplane watch
