#!/bin/sh
# ferry preflight: before anything is dumped or installed, checks the source as the dump and the
# import will meet it: the source user's privileges, collations the destination cannot take, the
# data's size against the destination volume, values the dump cannot carry exactly; says which
# definers the objects keep. Every problem at once, each with its fix. The work is
# ferry-dataplane's (internal/preflight).
#
# Environment: SOURCE_HOST SOURCE_PORT SOURCE_USER SOURCE_PASSWORD[_FILE] DATABASES (a JSON list)
# [DEST_FLAVOUR ("mariadb 10.11", "mysql 8.4")] [DEST_STORAGE_BYTES] [STRIP_DEFINERS=false]
set -eu
FERRY_STEP=ferry-preflight
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

run_dataplane preflight
