#!/bin/sh
# ferry restore: in the destination database's pod, before its server starts, for a run of method
# physical: the copy's chunks, each checked whole before a byte of it is used, unpacked into the
# empty DATA_DIR and prepared; then the destination's account is set and the run recorded on a
# server started there without networking. A data directory holding anything but an unfinished
# restore of its own is refused. The work is ferry-dataplane's (internal/restore).
#
# Environment: DATA_DIR DEST_USER DEST_PASSWORD[_FILE] RUN_ID S3_ENDPOINT S3_ACCESS_KEY
# S3_SECRET_KEY[_FILE] S3_BUCKET [DEST_ACCOUNT_HOST=%] [RESTORE_SERVER_USER] [S3_CA_CERT]
# [S3_INSECURE] [PROGRESS_SECONDS=10] [PREPARE_MEMORY_MIB] (the prepare's --use-memory)
# [FOLLOW_DUMP=false] (true: started beside the dump, restores the copy once its index is stored,
# records the run once the manifest names the same chunks) [FOLLOW_WAIT_SECONDS=600]
# [MANIFEST_WAIT_SECONDS=3600]
set -eu
FERRY_STEP=ferry-restore
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

run_dataplane restore
