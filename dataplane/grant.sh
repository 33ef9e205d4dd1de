#!/bin/sh
# ferry grant: turns on the run's bucket users that a step about to run needs, with the object
# store's admin credentials (they are off at rest, and a failed step turns them off). Runs on the
# operator's machine.
#
# Environment: USERS (JSON array) S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY[_FILE] [S3_CA_CERT]
# [S3_INSECURE]
set -eu
FERRY_STEP=ferry-grant
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

run_dataplane grant
