#!/bin/sh
# The LOAD DATA floor: the same rows as the floor's, prepared untimed as the schema (no triggers)
# and a tab-separated file a table (mariadb-dump --tab, each value's stored bytes: character set
# binary), then timed here: the schema, then every table's file through LOAD DATA LOCAL INFILE
# (mariadb-import --local, binary again), THREADS tables at a time (the benchmark gives 1, as the
# floor's one stream).
# Beside the floor (one stream of multi-row INSERTs) it says what the destination server's parsing
# of INSERT statements costs: the lever of a LOAD DATA import.
#
# Environment: DEST_CNF (a client option file holding the password) DATABASES WORK_DIR (schema.sql
# and a directory of .txt files a database) THREADS
set -eu
mariadb --defaults-extra-file="$DEST_CNF" <"$WORK_DIR/schema.sql"
for database in $DATABASES; do
  mariadb-import --defaults-extra-file="$DEST_CNF" --local --use-threads="$THREADS" \
    --default-character-set=binary -- "$database" "$WORK_DIR/$database"/*.txt
done
