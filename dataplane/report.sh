#!/bin/sh
# ferry report: prints the run's manifest and verification result as one JSON document, for the
# summary `pulumi up` shows at the end. Runs on the operator's machine.
#
# Environment: RUN_ID S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY[_FILE] S3_BUCKET [S3_CA_CERT]
# [S3_INSECURE]
set -eu
FERRY_STEP=ferry-report
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

run_dataplane report
