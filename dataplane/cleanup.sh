#!/bin/sh
# ferry cleanup: removes the run's dump chunks once verification has passed, unless KEEP_DUMP.
# The small manifest and verification result stay as the run's record until the bucket's expiry
# rule removes them.
#
# Environment: RUN_ID S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY[_FILE] S3_BUCKET [S3_CA_CERT]
# [S3_INSECURE]
# [KEEP_DUMP=false]
set -eu
FERRY_STEP=ferry-cleanup
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

run_dataplane cleanup
