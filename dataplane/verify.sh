#!/bin/sh
# ferry verify: recomputes on the destination the digest of every object the dump recorded inside
# its snapshot (definitions of tables, views, triggers, routines, events and sequences; every row of
# every table, history included; every sequence's state) and compares them. Any difference fails the
# step, and so the pulumi up. The result is stored beside the manifest as
# runs/<RUN_ID>/verification.json. The work is ferry-dataplane's (internal/verify).
#
# Environment: DEST_HOST DEST_PORT DEST_USER DEST_PASSWORD[_FILE] RUN_ID S3_ENDPOINT S3_ACCESS_KEY
# S3_SECRET_KEY[_FILE] S3_BUCKET [S3_CA_CERT] [S3_INSECURE]
set -eu
FERRY_STEP=ferry-verify
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

run_dataplane verify
