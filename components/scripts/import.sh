#!/bin/sh
# ferry import: waits for the destination database, streams the run's dump from the object store,
# checks its sha256 against the manifest while importing, and records the run in ferry.runs.
# Refuses a run without a manifest, a corrupt object, and a non-empty target unless OVERWRITE.
# If the import fails on a target that was empty, the databases it created are dropped again so
# nothing half-imported is left looking like data.
#
# Environment: DEST_HOST DEST_PORT DEST_USER DEST_PASSWORD[_FILE] RUN_ID S3_ENDPOINT S3_ACCESS_KEY
# S3_SECRET_KEY[_FILE] S3_BUCKET [S3_INSECURE] [OVERWRITE=false] [STRIP_DEFINERS=false]
# [WAIT_SECONDS=600] [MC_BIN]
set -eu
FERRY_STEP=ferry-import
# shellcheck source=components/scripts/lib.sh
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

pick_client_tools
CNF="$FERRY_WORK/destination.cnf"
write_client_cnf "$CNF" "$DEST_HOST" "$DEST_PORT" "$DEST_USER" "$(secret DEST_PASSWORD)"
write_mc_config "$FERRY_WORK/mc"

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
fetch_manifest "$MANIFEST"
object=$(manifest_field "$MANIFEST" object)
compression=$(manifest_field "$MANIFEST" compression)
expected_sha=$(manifest_field "$MANIFEST" sha256)
databases=$(manifest_field "$MANIFEST" databases)
table_count=$(manifest_field "$MANIFEST" tableCount)
if [ -z "$object" ] || [ -z "$expected_sha" ] || [ -z "$databases" ]; then
  die "the manifest of run $RUN_ID is unreadable"
fi
case "$compression" in
  gzip) decompress() { gzip -dc; } ;;
  zstd) decompress() { zstd -q -dc; } ;;
  *) die "the manifest names an unknown compression '$compression'" ;;
esac

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
  # shellcheck disable=SC2016 # backticks are SQL quotes here, not command substitution
  definers() { sed 's/DEFINER=`[^`]*`@`[^`]*`//g'; }
else
  definers() { cat; }
fi

report_progress() {
  # The sleep runs in the background so that stopping the reporter stops it too, instead of
  # leaving it holding the log open.
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  while :; do
    sleep "${PROGRESS_SECONDS:-10}" &
    sleeper=$!
    wait "$sleeper"
    present=$(sql "$CNF" -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN ($(sql_name_list "$databases"))" 2>/dev/null || echo '?')
    log "importing: $present of $table_count tables created, $(($(date +%s) - import_started))s"
  done
}

log "importing s3://$S3_BUCKET/$object ($compression) into $databases"
import_started=$(date +%s)
report_progress &
PROGRESS_PID=$!
mkfifo "$FERRY_WORK/sha.fifo"
sha256sum <"$FERRY_WORK/sha.fifo" >"$FERRY_WORK/sha.out" &
sha_pid=$!
# A stage that fails drains the rest of its input, so the object is always read to its end and
# its sha256 always describes the whole object: a damaged dump is then told apart from a
# destination that refused it, whichever failed first.
{ rc=0; mc_run cat "ferry/$S3_BUCKET/$object" 2>"$FERRY_WORK/download.err" || rc=$?; echo "$rc" >"$FERRY_WORK/download.rc"; } |
  { rc=0; tee "$FERRY_WORK/sha.fifo" || rc=$?; echo "$rc" >"$FERRY_WORK/tee.rc"; } |
  { rc=0; decompress 2>"$FERRY_WORK/decompress.err" || rc=$?; echo "$rc" >"$FERRY_WORK/decompress.rc"; cat >/dev/null; } |
  definers |
  { rc=0; sql "$CNF" --max-allowed-packet=1G 2>"$FERRY_WORK/import.err" || rc=$?; echo "$rc" >"$FERRY_WORK/import.rc"; cat >/dev/null; }
wait "$sha_pid" || true
kill "$PROGRESS_PID" 2>/dev/null || true
PROGRESS_PID=

actual_sha=$(cut -d ' ' -f 1 "$FERRY_WORK/sha.out")
if [ "$(cat "$FERRY_WORK/download.rc")" != 0 ]; then
  fail_import "downloading s3://$S3_BUCKET/$object failed: $(tail -n 2 "$FERRY_WORK/download.err")."
fi
if [ "$actual_sha" != "$expected_sha" ]; then
  fail_import "checksum mismatch: s3://$S3_BUCKET/$object has sha256 $actual_sha but the manifest of run $RUN_ID says $expected_sha; the stored dump is damaged. Dump again under a new ferry:migration.runId."
fi
if [ "$(cat "$FERRY_WORK/decompress.rc")" != 0 ]; then
  fail_import "decompressing the dump failed: $(tail -n 2 "$FERRY_WORK/decompress.err")."
fi
if [ "$(cat "$FERRY_WORK/import.rc")" != 0 ]; then
  fail_import "the destination rejected the import: $(grep '^ERROR' "$FERRY_WORK/import.err" | tail -n 1 || tail -n 1 "$FERRY_WORK/import.err")."
fi
sql "$CNF" -e "UPDATE ferry.runs SET state = 'imported', finished_at = UTC_TIMESTAMP() WHERE run_id = '$RUN_ID'"
log "imported run $RUN_ID: $table_count tables of $databases in $(($(date +%s) - import_started))s, sha256 $actual_sha verified"
