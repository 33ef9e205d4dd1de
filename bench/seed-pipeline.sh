#!/bin/sh
# The seed's pipeline, as the design note describes it: every step waits for the one before.
# mysqldump to a file, gzip, upload with mc, download, gunzip, import.
#
# Environment: SOURCE_CNF DEST_CNF (client option files holding the passwords) DATABASES WORK_DIR
# MC_CONFIG_DIR (an mc config with the alias "ferry") TARGET (ferry/<bucket>/<key>)
set -eu
dump="$WORK_DIR/dump.sql"
# shellcheck disable=SC2086 # DATABASES is a space-separated list of plain names
mariadb-dump --defaults-extra-file="$SOURCE_CNF" --single-transaction --quick --routines --triggers \
  --events --hex-blob --default-character-set=utf8mb4 --databases $DATABASES >"$dump"
gzip -f "$dump"
mc --config-dir "$MC_CONFIG_DIR" --quiet cp "$dump.gz" "$TARGET.gz" >/dev/null
rm -f "$dump.gz"
mc --config-dir "$MC_CONFIG_DIR" --quiet cp "$TARGET.gz" "$dump.gz" >/dev/null
gunzip -f "$dump.gz"
mariadb --defaults-extra-file="$DEST_CNF" <"$dump"
wc -c <"$dump"
rm -f "$dump"
