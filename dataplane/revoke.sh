#!/bin/sh
# ferry revoke: turns off the run's bucket users once the run is reported, with the object store's
# admin credentials. Runs on the operator's machine.
#
# Environment: USERS (JSON array) S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY[_FILE] [S3_CA_CERT]
# [S3_INSECURE]
set -eu
FERRY_STEP=ferry-revoke
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

run_dataplane revoke
