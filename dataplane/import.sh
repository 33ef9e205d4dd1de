#!/bin/sh
# ferry import: waits for the destination database, takes its import lock, streams the run's dump
# from the object store (the data streams side by side, each into its own client session, then the
# definitions; each chunk checked against its sha256 before a byte of it is used), builds secondary
# indexes after the rows, and records the run in ferry.runs. Refuses a run without a manifest, a
# damaged chunk, and a non-empty target unless OVERWRITE. If the import fails on a target that was
# empty, the databases it created are dropped again so nothing half-imported is left looking like
# data. The work is ferry-dataplane's (internal/load).
#
# Environment: DEST_HOST DEST_PORT DEST_USER DEST_PASSWORD[_FILE] RUN_ID S3_ENDPOINT S3_ACCESS_KEY
# S3_SECRET_KEY[_FILE] S3_BUCKET [S3_CA_CERT] [S3_INSECURE] [OVERWRITE=false] [STRIP_DEFINERS=false]
# [WRITE_BINLOG=false] [WAIT_SECONDS=600] [DOWNLOAD_PATIENCE_SECONDS=300] [STALL_SECONDS=30]
# [PROGRESS_SECONDS=10]
set -eu
FERRY_STEP=ferry-import
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

run_dataplane import
