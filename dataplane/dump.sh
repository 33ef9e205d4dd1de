#!/bin/sh
# ferry dump: a consistent online dump of the source databases, in PARALLELISM streams that share
# one snapshot, each compressed and stored in chunks under runs/<RUN_ID>/<stream>/, with the digest
# of every object and a manifest written LAST. A dump that did not finish leaves no manifest, and
# the import refuses a run without one. The work is ferry-dataplane's (internal/dump).
#
# Environment: SOURCE_HOST SOURCE_PORT SOURCE_USER SOURCE_PASSWORD[_FILE] DATABASES (space
# separated) RUN_ID COMPRESSION (gzip|zstd) S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY[_FILE] S3_BUCKET
# [PARALLELISM=2] [S3_CA_CERT] [S3_INSECURE] [CHUNK_MIB=32] [PROGRESS_SECONDS=10]
# [SNAPSHOT_WAIT_SECONDS=120] [SOURCE_WAIT_SECONDS=30] [STALL_SECONDS=120] [METHOD=logical]
# (METHOD=physical copies the server's data files with mariadb-backup instead, on the source host)
set -eu
FERRY_STEP=ferry-dump
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

run_dataplane dump
