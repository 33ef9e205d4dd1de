#!/bin/sh
# ferry dump: a consistent online dump of the source databases, compressed and streamed to the
# object store as runs/<RUN_ID>/dump.sql.<ext>, then a manifest written LAST. A dump that did not
# finish leaves no manifest, and the import refuses a run without one.
#
# Environment: SOURCE_HOST SOURCE_PORT SOURCE_USER SOURCE_PASSWORD[_FILE] DATABASES (space
# separated) RUN_ID COMPRESSION (gzip|zstd) S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY[_FILE] S3_BUCKET
# [S3_INSECURE] [MC_BIN] [SNAPSHOT_WAIT_SECONDS]
set -eu
FERRY_STEP=ferry-dump
# shellcheck source=components/scripts/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

require_env SOURCE_HOST SOURCE_PORT SOURCE_USER DATABASES RUN_ID
check_run_id
COMPRESSION=${COMPRESSION:-zstd}
case "$COMPRESSION" in
  gzip)
    if command -v pigz >/dev/null 2>&1; then gzip_tool=pigz; else gzip_tool=gzip; fi
    compress() { "$gzip_tool" -c; }
    compressor_version() { "$gzip_tool" --version 2>&1 | head -n 1; }
    EXT=gz
    ;;
  zstd)
    compress() { zstd -q -c -T0 -3; }
    compressor_version() { zstd --version | head -n 1; }
    EXT=zst
    ;;
  *) die "COMPRESSION must be gzip or zstd, not '$COMPRESSION' (ferry:migration.compression)" ;;
esac
OBJECT="runs/$RUN_ID/dump.sql.$EXT"

make_work_dir
STATS_PID=
cleanup() {
  release_lock
  exec 3>&- 2>/dev/null || true
  [ -z "$STATS_PID" ] || kill "$STATS_PID" 2>/dev/null || true
  rm -rf "$FERRY_WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pick_client_tools
CNF="$FERRY_WORK/source.cnf"
write_client_cnf "$CNF" "$SOURCE_HOST" "$SOURCE_PORT" "$SOURCE_USER" "$(secret SOURCE_PASSWORD)"
write_mc_config "$FERRY_WORK/mc"

if mc_run stat "$(run_prefix)/manifest.json" >/dev/null 2>&1; then
  log "run $RUN_ID already has a complete dump; keeping it"
  mc_run cat "$(run_prefix)/manifest.json"
  exit 0
fi

started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "connecting to $SOURCE_HOST:$SOURCE_PORT as $SOURCE_USER"
if ! server_version=$(sql "$CNF" -e 'SELECT VERSION()' 2>"$FERRY_WORK/connect.err"); then
  die "$(explain_sql_error "$FERRY_WORK/connect.err" "the source database" "ferry:source")"
fi
# Two dumps of one run would race for the same objects: the second one stops here.
hold_lock "$CNF" "ferry-dump-$RUN_ID" ||
  die "another dump of run $RUN_ID is in progress on this source; wait for it to finish (its manifest then makes this run a no-op)"
for database in $DATABASES; do
  found=$(sql "$CNF" -e "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '$database'")
  [ "$found" = 1 ] || die "database '$database' does not exist on the source; fix ferry:source.databases"
done

# The dump tools of MySQL 8 and MariaDB take different flags; ask the tool, not the version.
dump_help=$("$SQL_DUMP" --help 2>/dev/null || true)
set -- --single-transaction --quick --routines --triggers --events --hex-blob \
  --default-character-set=utf8mb4 --max-allowed-packet=1G
case "$dump_help" in *column-statistics*) set -- "$@" --column-statistics=0 ;; esac
case "$dump_help" in *set-gtid-purged*) set -- "$@" --set-gtid-purged=OFF ;; esac
case "$dump_help" in *no-tablespaces*) set -- "$@" --no-tablespaces ;; esac

checksum_queries "$CNF" "$DATABASES" >"$FERRY_WORK/checksums.sql" 2>"$FERRY_WORK/queries.err" ||
  die "cannot list the source tables: $(tail -n 2 "$FERRY_WORK/queries.err")"

# The snapshot session: under a brief global read lock it opens a consistent snapshot and reads the
# binlog position, then holds the lock until the dump has opened its own snapshot, so the row
# counts and checksums below describe exactly the rows the dump contains.
mkfifo "$FERRY_WORK/snapshot.in"
sql "$CNF" --unbuffered --force <"$FERRY_WORK/snapshot.in" >"$FERRY_WORK/snapshot.out" 2>"$FERRY_WORK/snapshot.err" &
STATS_PID=$!
exec 3>"$FERRY_WORK/snapshot.in"
cat >&3 <<'SQL'
SELECT 'connection', CONNECTION_ID();
FLUSH TABLES WITH READ LOCK;
SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ;
START TRANSACTION WITH CONSISTENT SNAPSHOT;
SELECT 'locked';
SQL

wait_for_line() {
  waited=0
  until grep -q "^$1\$" "$FERRY_WORK/snapshot.out" 2>/dev/null; do
    kill -0 "$STATS_PID" 2>/dev/null || die "the snapshot session ended: $(tail -n 2 "$FERRY_WORK/snapshot.err")"
    sleep 0.1
    waited=$((waited + 1))
    [ "$waited" -lt "$2" ] || die "timed out waiting for the snapshot session ($1)"
  done
}
wait_for_line locked 600
if grep -q "ERROR" "$FERRY_WORK/snapshot.err"; then
  case "$(cat "$FERRY_WORK/snapshot.err")" in
    *RELOAD*) die "the source user lacks the RELOAD privilege, which a consistent snapshot needs: GRANT RELOAD, PROCESS ON *.* TO the user in ferry:source.user" ;;
    *) die "cannot take a consistent snapshot: $(head -n 2 "$FERRY_WORK/snapshot.err")" ;;
  esac
fi
# Each server knows only some of these; the errors of the others are expected and ignored.
cat >&3 <<'SQL'
SELECT 'gtid', COALESCE(@@GLOBAL.gtid_executed, '');
SELECT 'gtid', COALESCE(@@GLOBAL.gtid_binlog_pos, '');
SHOW MASTER STATUS;
SELECT 'ready';
SQL
wait_for_line ready 600
expected_errors=$(wc -c <"$FERRY_WORK/snapshot.err")
snapshot_connection=$(sed -n 's/^connection	//p' "$FERRY_WORK/snapshot.out")
gtid=$(sed -n 's/^gtid	//p' "$FERRY_WORK/snapshot.out" | grep -v '^$' | head -n 1 || true)
binlog_file=$(awk -F '\t' 'NF >= 2 && $2 ~ /^[0-9]+$/ && $1 != "connection" { print $1; exit }' "$FERRY_WORK/snapshot.out")
binlog_position=$(awk -F '\t' 'NF >= 2 && $2 ~ /^[0-9]+$/ && $1 != "connection" { print $2; exit }' "$FERRY_WORK/snapshot.out")
log "snapshot open under a global read lock (binlog ${binlog_file:-off} ${binlog_position:-}; gtid ${gtid:-none})"

mkfifo "$FERRY_WORK/sha.fifo" "$FERRY_WORK/bytes.fifo" "$FERRY_WORK/sqlbytes.fifo"
sha256sum <"$FERRY_WORK/sha.fifo" >"$FERRY_WORK/sha.out" &
sha_pid=$!
wc -c <"$FERRY_WORK/bytes.fifo" >"$FERRY_WORK/bytes.out" &
bytes_pid=$!
wc -c <"$FERRY_WORK/sqlbytes.fifo" >"$FERRY_WORK/sqlbytes.out" &
sqlbytes_pid=$!

# Each stage records its own exit status: POSIX sh has no pipefail, and a dump that died midway
# still ends its stream cleanly, so only these files tell a complete dump from a truncated one.
log "dumping $DATABASES to s3://$S3_BUCKET/$OBJECT ($COMPRESSION)"
(
  # shellcheck disable=SC2086 # DATABASES is a validated, space-separated list of identifiers
  { rc=0; "$SQL_DUMP" --defaults-extra-file="$CNF" "$@" --databases $DATABASES 2>"$FERRY_WORK/dump.err" || rc=$?; echo "$rc" >"$FERRY_WORK/dump.rc"; } |
    { rc=0; tee "$FERRY_WORK/sqlbytes.fifo" || rc=$?; echo "$rc" >"$FERRY_WORK/tee-sql.rc"; } |
    { rc=0; compress || rc=$?; echo "$rc" >"$FERRY_WORK/compress.rc"; } |
    { rc=0; tee "$FERRY_WORK/sha.fifo" "$FERRY_WORK/bytes.fifo" || rc=$?; echo "$rc" >"$FERRY_WORK/tee.rc"; } |
    { rc=0; mc_run pipe "ferry/$S3_BUCKET/$OBJECT" >/dev/null 2>"$FERRY_WORK/upload.err" || rc=$?; echo "$rc" >"$FERRY_WORK/upload.rc"; }
) &
pipeline_pid=$!

# The dump's snapshot is open once its connection has an InnoDB transaction; connection ids only
# grow, so any transaction of this user newer than the snapshot session's is the dump's.
waited=0
while :; do
  dump_transactions=$(sql "$CNF" -e "SELECT COUNT(*) FROM information_schema.INNODB_TRX t
    JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
    WHERE p.ID > $snapshot_connection AND p.ID <> CONNECTION_ID() AND p.USER = '$(sql_string "$SOURCE_USER")'" 2>"$FERRY_WORK/poll.err") ||
    die "cannot watch the dump's transaction (the source user needs PROCESS): $(tail -n 1 "$FERRY_WORK/poll.err")"
  [ "$dump_transactions" -ge 1 ] && break
  if [ -s "$FERRY_WORK/dump.rc" ] || ! kill -0 "$pipeline_pid" 2>/dev/null; then
    break
  fi
  sleep 0.1
  waited=$((waited + 1))
  [ "$waited" -lt "${SNAPSHOT_WAIT_SECONDS:-120}0" ] || die "the dump did not open its snapshot in time"
done
printf 'UNLOCK TABLES;\n' >&3
log "writes on the source released; computing per-table row counts and checksums in the snapshot"
cat "$FERRY_WORK/checksums.sql" >&3
printf "SELECT 'finished';\nCOMMIT;\n" >&3

wait "$pipeline_pid" || true
wait "$sha_pid" "$bytes_pid" "$sqlbytes_pid" || true
# The root cause is the failing stage nearest the end that did not just die of a broken pipe
# (exit 141): when the upload fails, every stage before it gets SIGPIPE.
failed_stage=
for stage in upload tee compress tee-sql dump; do
  rc=$(cat "$FERRY_WORK/$stage.rc" 2>/dev/null || echo missing)
  [ "$rc" = 0 ] && continue
  if [ -z "$failed_stage" ] || [ "$failed_rc" = 141 ]; then
    [ "$rc" = 141 ] && [ -n "$failed_stage" ] && continue
    failed_stage=$stage
    failed_rc=$rc
  fi
done
if [ -n "$failed_stage" ]; then
  mc_run rm "ferry/$S3_BUCKET/$OBJECT" >/dev/null 2>&1 || true
  case "$failed_stage" in
    dump) die "the dump failed (exit $failed_rc): $(tail -n 3 "$FERRY_WORK/dump.err")" ;;
    upload) die "the upload to s3://$S3_BUCKET/$OBJECT failed (exit $failed_rc): $(tail -n 3 "$FERRY_WORK/upload.err")" ;;
    *) die "the $failed_stage stage of the dump pipeline failed (exit $failed_rc)" ;;
  esac
fi
wait_for_line finished 36000
exec 3>&-
wait "$STATS_PID" || true
STATS_PID=
checksum_errors=$(tail -c +"$((expected_errors + 1))" "$FERRY_WORK/snapshot.err" | grep ERROR || true)
[ -z "$checksum_errors" ] || die "checksumming the source failed: $checksum_errors"

sha256=$(cut -d ' ' -f 1 "$FERRY_WORK/sha.out")
bytes=$(tr -d ' ' <"$FERRY_WORK/bytes.out")
sql_bytes=$(tr -d ' ' <"$FERRY_WORK/sqlbytes.out")
stored_bytes=$(mc_run stat --json "ferry/$S3_BUCKET/$OBJECT" | sed -n 's/.*"size":\([0-9]*\).*/\1/p')
[ "$stored_bytes" = "$bytes" ] || die "the stored object holds $stored_bytes bytes but $bytes were sent"

json() { escape_quoted "$1"; }
table_count=$(grep -c '^table	' "$FERRY_WORK/snapshot.out" || true)
{
  printf '{\n'
  printf '  "format": "ferry-dump/1",\n'
  printf '  "runId": "%s",\n' "$(json "$RUN_ID")"
  printf '  "object": "%s",\n' "$(json "$OBJECT")"
  printf '  "compression": "%s",\n' "$COMPRESSION"
  printf '  "bytes": %s,\n' "$bytes"
  printf '  "sqlBytes": %s,\n' "$sql_bytes"
  printf '  "sha256": "%s",\n' "$sha256"
  printf '  "databases": "%s",\n' "$(json "$DATABASES")"
  printf '  "tableCount": %s,\n' "$table_count"
  printf '  "serverVersion": "%s",\n' "$(json "$server_version")"
  printf '  "binlogFile": "%s",\n' "$(json "${binlog_file:-}")"
  printf '  "binlogPosition": "%s",\n' "${binlog_position:-}"
  printf '  "gtid": "%s",\n' "$(json "${gtid:-}")"
  printf '  "dumpTool": "%s",\n' "$(json "$("$SQL_DUMP" --version 2>/dev/null | head -n 1)")"
  printf '  "compressor": "%s",\n' "$(json "$(compressor_version)")"
  printf '  "mcVersion": "%s",\n' "$(json "$(mc_run --version 2>/dev/null | head -n 1)")"
  printf '  "startedAt": "%s",\n' "$started_at"
  printf '  "finishedAt": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '  "tables": [\n'
  awk -F '\t' '$1 == "table" {
      gsub(/"/, "\\\"", $2); gsub(/"/, "\\\"", $3)
      printf "%s    {\"database\": \"%s\", \"table\": \"%s\", \"rows\": %s, \"checksum\": \"%s\"}", sep, $2, $3, $4, $5
      sep = ",\n"
    } END { if (sep != "") printf "\n" }' "$FERRY_WORK/snapshot.out"
  printf '  ]\n}\n'
} >"$FERRY_WORK/manifest.json"

mc_run pipe "$(run_prefix)/manifest.json" <"$FERRY_WORK/manifest.json" >/dev/null ||
  die "the dump is stored but its manifest could not be written; run the dump again"
log "done: $table_count tables, $sql_bytes bytes of SQL, $bytes bytes stored, sha256 $sha256"
cat "$FERRY_WORK/manifest.json"
