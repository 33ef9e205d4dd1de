#!/bin/sh
# ferry import: waits for the destination database, streams the run's dump from the object store
# (the data streams side by side, each on its own connection, then the definitions; ferry-dataplane
# fetch checks each chunk against its sha256 before a byte of it reaches the client), and records
# the run in ferry.runs.
# Refuses a run without a manifest, a corrupt object, and a non-empty target unless OVERWRITE.
# If the import fails on a target that was empty, the databases it created are dropped again so
# nothing half-imported is left looking like data.
#
# Environment: DEST_HOST DEST_PORT DEST_USER DEST_PASSWORD[_FILE] RUN_ID S3_ENDPOINT S3_ACCESS_KEY
# S3_SECRET_KEY[_FILE] S3_BUCKET [S3_INSECURE] [OVERWRITE=false] [STRIP_DEFINERS=false]
# [WRITE_BINLOG=false] [WAIT_SECONDS=600] [DOWNLOAD_ATTEMPTS=5] [STALL_SECONDS=120] [PROGRESS_SECONDS=10]
set -eu
FERRY_STEP=ferry-import
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

require_env DEST_HOST DEST_PORT DEST_USER RUN_ID
check_run_id
OVERWRITE=${OVERWRITE:-false}
make_work_dir
PROGRESS_PID=
cleanup() {
  release_lock
  [ -z "$PROGRESS_PID" ] || kill "$PROGRESS_PID" 2>/dev/null || true
  rm -rf "$FERRY_WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

secrets_to_files DEST_PASSWORD S3_SECRET_KEY
pick_client_tools
CNF="$FERRY_WORK/destination.cnf"
write_client_cnf "$CNF" DEST

# A fresh database pod takes a while to accept connections; a refused login will not get better.
wait_seconds=${WAIT_SECONDS:-600}
started=$(date +%s)
until sql "$CNF" -e 'SELECT 1' >/dev/null 2>"$FERRY_WORK/connect.err"; do
  case "$(cat "$FERRY_WORK/connect.err")" in
    *"Access denied"*) die "$(explain_sql_error "$FERRY_WORK/connect.err" "the destination database" "ferry:destination")" ;;
  esac
  elapsed=$(($(date +%s) - started))
  [ "$elapsed" -lt "$wait_seconds" ] ||
    die "the destination database at $DEST_HOST:$DEST_PORT did not accept connections within ${wait_seconds}s: $(tail -n 1 "$FERRY_WORK/connect.err")"
  log "waiting for the destination database at $DEST_HOST:$DEST_PORT (${elapsed}s)"
  sleep 3
done

# One import at a time into a destination: two would judge each other's tables as "not empty".
hold_lock "$CNF" "ferry-import" ||
  die "another ferry import into $DEST_HOST:$DEST_PORT is in progress; wait for it to finish, then run again"

MANIFEST="$FERRY_WORK/manifest.json"
export MANIFEST
# The reasons (no complete dump, another format, a damaged manifest) are in ferry-dataplane's words.
ferry-dataplane manifest get "$MANIFEST" || exit 1
compression=$(ferry-dataplane manifest field "$MANIFEST" compression)
databases=$(ferry-dataplane manifest field "$MANIFEST" databases)
table_count=$(ferry-dataplane manifest field "$MANIFEST" tableCount)
ferry-dataplane manifest field "$MANIFEST" streams >"$FERRY_WORK/streams"
expected_sha=$(ferry-dataplane manifest field "$MANIFEST" digest)

sql "$CNF" -e "CREATE DATABASE IF NOT EXISTS ferry;
  CREATE TABLE IF NOT EXISTS ferry.runs (
    run_id VARCHAR(63) PRIMARY KEY, state VARCHAR(16) NOT NULL, sha256 CHAR(64) NOT NULL,
    target_was_empty BOOLEAN NOT NULL, started_at DATETIME NOT NULL, finished_at DATETIME NULL,
    detail TEXT NULL)" || die "cannot create the ferry.runs bookkeeping table on the destination"
run_state() { sql "$CNF" -e "SELECT CONCAT(state, ' ', target_was_empty, ' ', sha256) FROM ferry.runs WHERE run_id = '$RUN_ID'"; }
# shellcheck disable=SC2046 # split on purpose: state, flag and digest hold no spaces
set -- $(run_state)
previous_state=${1:-}
if [ "$previous_state" = imported ] && [ "${3:-}" = "$expected_sha" ]; then
  log "run $RUN_ID is already imported; nothing to do"
  exit 0
fi

existing_tables=$(sql "$CNF" -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ($(sql_name_list "$databases"))")
if [ "$previous_state" = importing ]; then
  # A retry of this run's own interrupted import: the dump drops and recreates each table.
  target_was_empty=${2:-0}
  log "resuming the interrupted import of run $RUN_ID"
elif [ "$existing_tables" -gt 0 ] && [ "$OVERWRITE" != true ]; then
  die "the destination is not empty: databases ($databases) already hold $existing_tables tables or views. Set ferry:migration.overwrite to true to replace them, or migrate into an empty destination."
else
  target_was_empty=0
  [ "$existing_tables" -gt 0 ] || target_was_empty=1
fi
sql "$CNF" -e "REPLACE INTO ferry.runs (run_id, state, sha256, target_was_empty, started_at)
  VALUES ('$RUN_ID', 'importing', '$expected_sha', $target_was_empty, UTC_TIMESTAMP())"

fail_import() {
  detail=$1
  if [ "$target_was_empty" = 1 ]; then
    for database in $databases; do
      sql "$CNF" -e "DROP DATABASE IF EXISTS \`$database\`" || true
    done
    detail="$detail The partial import was removed; the destination is empty again."
  fi
  sql "$CNF" -e "UPDATE ferry.runs SET state = 'failed', finished_at = UTC_TIMESTAMP(),
    detail = '$(sql_string "$detail")' WHERE run_id = '$RUN_ID'" || true
  die "$detail"
}

# DEFINER accounts of views, triggers and routines may not exist on the destination; with
# STRIP_DEFINERS the objects are created for the importing account instead.
if [ "${STRIP_DEFINERS:-false}" = true ]; then
  # Only outside INSERT statements: a row's text is data, whatever it says. The dump writes one
  # row a line (newlines inside values escaped), the statement's last row ending in ");".
  # shellcheck disable=SC2016 # backticks are SQL quotes here, not command substitution
  definers() {
    awk '/^INSERT INTO / { in_insert = 1 }
      in_insert { print; if (/\);$/) in_insert = 0; next }
      { sub(/DEFINER=`[^`]*`@`[^`]*`/, ""); print }'
  }
else
  definers() { cat; }
fi

# The import's sessions leave the destination's binary log out unless WRITE_BINLOG, as myloader
# does by default: the destination is the new server ferry deploys, with no replica to replay a
# bulk load, and the setting ends with each session. A sixth less import time on bench/'s dataset.
# --comments: the client would otherwise strip comments, also those inside stored programs' bodies.
if [ "${WRITE_BINLOG:-false}" = true ]; then
  import_client() { sql "$CNF" --max-allowed-packet=1G --comments; }
else
  import_client() { sql "$CNF" --max-allowed-packet=1G --comments --init-command='SET SESSION sql_log_bin = 0'; }
fi

# Secondary indexes of a table with a primary key are taken out of its CREATE TABLE and added back
# by one ALTER TABLE once its rows are in, so InnoDB builds each by sorting instead of inserting
# into it row by row (a quarter less import time on bench/'s dataset). Tables with foreign keys,
# FULLTEXT or SPATIAL indexes, no primary key (InnoDB would cluster on a unique key), system
# versioning, an AUTO_INCREMENT column that does not lead the primary key, or a name that holds a
# newline are left as dumped.
defer_indexes() {
  # shellcheck disable=SC2016 # backticks are SQL quotes here, not command substitution
  awk '
    function flush_alter() {
      if (pending != "") { print pending ";"; pending = "" }
    }
    # A name with a newline in it spans lines: such a table is left as dumped.
    /^CREATE TABLE `/ && / \($/ {
      flush_alter()
      in_create = 1; n = 0; table = $0; sub(/^CREATE TABLE /, "", table); sub(/ \($/, "", table)
      print; next
    }
    in_create && /^\) / {
      in_create = 0
      # A system-versioned table refuses ALTER TABLE, and so the deferred index.
      deferrable = has_primary && !unsafe && (auto_column == "" || primary_first == auto_column) && $0 !~ /WITH SYSTEM VERSIONING/
      kept = 0
      for (i = 1; i <= n; i++) {
        if (deferrable && is_key[i]) {
          key = lines[i]; sub(/^ +/, "", key); sub(/,$/, "", key)
          pending = pending (pending == "" ? "ALTER TABLE " table " " : ", ") "ADD " key
        } else keep[++kept] = lines[i]
      }
      for (i = 1; i <= kept; i++) { line = keep[i]; if (i == kept) sub(/,$/, "", line); print line }
      has_primary = 0; unsafe = 0; auto_column = ""; primary_first = ""
      print; next
    }
    in_create {
      lines[++n] = $0; is_key[n] = /^  (UNIQUE )?KEY `/
      if (!/^  /) unsafe = 1
      if (/^  PRIMARY KEY \(/) { has_primary = 1; primary_first = $0; sub(/^  PRIMARY KEY \(/, "", primary_first); sub(/[,(].*$/, "", primary_first); sub(/\)$/, "", primary_first) }
      if (/^  (CONSTRAINT|FULLTEXT|SPATIAL|FOREIGN)/) unsafe = 1
      if (/^  `/ && / AUTO_INCREMENT/) { auto_column = $0; sub(/^  /, "", auto_column); sub(/` .*$/, "`", auto_column) }
      next
    }
    /^UNLOCK TABLES;$/ { print; flush_alter(); next }
    /^-- Table structure for table / || /^DROP TABLE IF EXISTS / || /^\/\*!50003 CREATE\*\/ / { flush_alter() }
    { print }
    END { flush_alter() }
  '
}

report_progress() {
  # The sleep runs in the background so that stopping the reporter stops it too, instead of
  # leaving it holding the log open.
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  stored_total=$(ferry-dataplane manifest field "$MANIFEST" bytes)
  while :; do
    sleep "${PROGRESS_SECONDS:-10}" &
    sleeper=$!
    wait "$sleeper"
    present=$(sql "$CNF" -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND TABLE_SCHEMA IN ($(sql_name_list "$databases"))" 2>/dev/null || echo '?')
    log_progress import "$(sum_counts "$FERRY_WORK"/*/downloaded)" "$stored_total" "$import_started" \
      "tables=$present/$table_count"
  done
}

# import_stream STREAM: one stream into one connection. A stage that fails drains the rest of its
# input, so ferry-dataplane fetch always ends on its own terms: a damaged dump is then told apart
# from a destination that refused it.
import_stream() {
  dir="$FERRY_WORK/$1"
  mkdir "$dir"
  { rc=0; DOWNLOADED_FILE="$dir/downloaded" FAILURE_FILE="$dir/fetch.failure" ferry-dataplane fetch "$1" || rc=$?; echo "$rc" >"$dir/fetch.rc"; } |
    definers |
    defer_indexes |
    { rc=0; import_client 2>"$dir/import.err" || rc=$?; echo "$rc" >"$dir/import.rc"; cat >/dev/null; }
}

# check_stream STREAM: the first problem of the stream, as a sentence, or nothing.
check_stream() {
  dir="$FERRY_WORK/$1"
  if [ "$(cat "$dir/fetch.rc" 2>/dev/null)" != 0 ]; then
    cat "$dir/fetch.failure" 2>/dev/null || echo "reading the $1 stream failed (its error is above)."
  elif [ "$(cat "$dir/import.rc")" != 0 ]; then
    echo "the destination rejected the import: $(grep '^ERROR' "$dir/import.err" | tail -n 1 || tail -n 1 "$dir/import.err")."
  fi
}

data_streams=$(grep -vcx definitions "$FERRY_WORK/streams" || true)
log "importing run $RUN_ID ($compression, $data_streams data stream(s) side by side, then definitions) into $databases"
import_started=$(date +%s)
report_progress &
PROGRESS_PID=$!
stream_pids=
while IFS= read -r stream; do
  [ "$stream" != definitions ] || continue
  import_stream "$stream" &
  stream_pids="$stream_pids $!"
done <"$FERRY_WORK/streams"
for pid in $stream_pids; do wait "$pid" || true; done
problem=
while IFS= read -r stream; do
  [ "$stream" != definitions ] || continue
  problem=$(check_stream "$stream")
  [ -z "$problem" ] || break
done <"$FERRY_WORK/streams"
if [ -z "$problem" ]; then
  # Views, routines and events last: a view can only be created once its tables exist.
  import_stream definitions
  problem=$(check_stream definitions)
fi
kill "$PROGRESS_PID" 2>/dev/null || true
PROGRESS_PID=
[ -z "$problem" ] || fail_import "$problem"
sql "$CNF" -e "UPDATE ferry.runs SET state = 'imported', finished_at = UTC_TIMESTAMP() WHERE run_id = '$RUN_ID'"
log "imported run $RUN_ID: $table_count tables of $databases in $(($(date +%s) - import_started))s, every chunk's sha256 verified"
