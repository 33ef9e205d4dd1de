#!/bin/sh
# ferry dump: a consistent online dump of the source databases, in PARALLELISM streams that share
# one snapshot, each compressed and streamed to the object store as runs/<RUN_ID>/<stream>.sql.<ext>,
# then a manifest written LAST. The data streams hold disjoint sets of tables (largest first, to the
# least loaded stream) with their triggers; the "definitions" stream holds views, routines and
# events, which the import creates after the tables. A dump that did not finish leaves no manifest,
# and the import refuses a run without one.
#
# Environment: SOURCE_HOST SOURCE_PORT SOURCE_USER SOURCE_PASSWORD[_FILE] DATABASES (space
# separated) RUN_ID COMPRESSION (gzip|zstd) S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY[_FILE] S3_BUCKET
# [PARALLELISM=2] [S3_INSECURE] [MC_BIN] [SNAPSHOT_WAIT_SECONDS]
set -eu
FERRY_STEP=ferry-dump
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

require_env SOURCE_HOST SOURCE_PORT SOURCE_USER DATABASES RUN_ID
check_run_id
PARALLELISM=${PARALLELISM:-2}
case "$PARALLELISM" in
  [1-9] | 1[0-6]) ;;
  *) die "PARALLELISM must be a whole number from 1 to 16, not '$PARALLELISM' (ferry:migration.parallelism)" ;;
esac
COMPRESSION=${COMPRESSION:-zstd}
# Measured in bench/: one single-threaded zstd -1 a stream keeps up with mariadb-dump at a few MiB
# of memory; the streams themselves spread the work over the cores.
case "$COMPRESSION" in
  gzip)
    if command -v pigz >/dev/null 2>&1; then gzip_tool=pigz; else gzip_tool=gzip; fi
    compress() { "$gzip_tool" -c; }
    compressor_version() { "$gzip_tool" --version 2>&1 | head -n 1; }
    EXT=gz
    ;;
  zstd)
    compress() { zstd -q -c --single-thread -1; }
    compressor_version() { zstd --version | head -n 1; }
    EXT=zst
    ;;
  *) die "COMPRESSION must be gzip or zstd, not '$COMPRESSION' (ferry:migration.compression)" ;;
esac

make_work_dir
STATS_PID=
cleanup() {
  release_lock
  exec 3>&- 2>/dev/null || true
  [ -z "$STATS_PID" ] || kill "$STATS_PID" 2>/dev/null || true
  [ -z "${DIGEST_PID:-}" ] || kill "$DIGEST_PID" 2>/dev/null || true
  [ -z "${PROGRESS_PID:-}" ] || kill "$PROGRESS_PID" 2>/dev/null || true
  rm -rf "$FERRY_WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

secrets_to_files SOURCE_PASSWORD S3_SECRET_KEY
pick_client_tools
CNF="$FERRY_WORK/source.cnf"
write_client_cnf "$CNF" SOURCE
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
# Values the dump tool would change (a FLOAT with more than 6 significant digits) are refused now,
# naming each column, before the lock is taken and before anything is written.
ferry-dataplane preflight || die "the source cannot be dumped exactly as it is (the reasons are above); nothing was written"

# The dump tools of MySQL 8 and MariaDB take different flags; ask the tool, not the version.
dump_help=$("$SQL_DUMP" --help 2>/dev/null || true)
DUMP_FLAGS="--single-transaction --quick --hex-blob --default-character-set=utf8mb4 --max-allowed-packet=1G"
case "$dump_help" in *column-statistics*) DUMP_FLAGS="$DUMP_FLAGS --column-statistics=0" ;; esac
case "$dump_help" in *set-gtid-purged*) DUMP_FLAGS="$DUMP_FLAGS --set-gtid-purged=OFF" ;; esac
case "$dump_help" in *no-tablespaces*) DUMP_FLAGS="$DUMP_FLAGS --no-tablespaces" ;; esac
# System-versioned tables keep their history (MariaDB 10.11+); the verification reads it too.
case "$dump_help" in *dump-history*) DUMP_FLAGS="$DUMP_FLAGS --dump-history" ;; esac

# The snapshot session: under a brief global read lock it opens a consistent snapshot and reads the
# binlog position, then holds the lock until every dump stream and digest session has opened its
# own snapshot, so all of them describe exactly the same rows.
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
snapshot_connection=$(sed -n 's/^connection	//p' "$FERRY_WORK/snapshot.out")
gtid=$(sed -n 's/^gtid	//p' "$FERRY_WORK/snapshot.out" | grep -v '^$' | head -n 1 || true)
binlog_file=$(awk -F '\t' 'NF >= 2 && $2 ~ /^[0-9]+$/ && $1 != "connection" { print $1; exit }' "$FERRY_WORK/snapshot.out")
binlog_position=$(awk -F '\t' 'NF >= 2 && $2 ~ /^[0-9]+$/ && $1 != "connection" { print $2; exit }' "$FERRY_WORK/snapshot.out")
log "snapshot open under a global read lock (binlog ${binlog_file:-off} ${binlog_position:-}; gtid ${gtid:-none})"

# The lock also stops DDL, so the table list read now is the one every stream will see.
if ! {
  # A table's import cost, in rows: each secondary index costs about 0.77 of a row's insert and
  # every 150 bytes about one row (fitted to per-table import times of bench/'s dataset). The
  # server's row and size figures are estimates, which is all the balancing needs.
  sql "$CNF" -e "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, t.TABLE_TYPE,
      COALESCE(t.DATA_LENGTH, 0) + COALESCE(t.INDEX_LENGTH, 0),
      ROUND(COALESCE(t.TABLE_ROWS, 0) * (1 + 0.77 * COALESCE(i.secondary, 0)) + COALESCE(t.DATA_LENGTH, 0) / 150) + 1
    FROM information_schema.TABLES t
    LEFT JOIN (SELECT TABLE_SCHEMA, TABLE_NAME, COUNT(DISTINCT INDEX_NAME) AS secondary
      FROM information_schema.STATISTICS WHERE INDEX_NAME <> 'PRIMARY' AND TABLE_SCHEMA IN ($(sql_name_list "$DATABASES"))
      GROUP BY TABLE_SCHEMA, TABLE_NAME) i ON i.TABLE_SCHEMA = t.TABLE_SCHEMA AND i.TABLE_NAME = t.TABLE_NAME
    WHERE t.TABLE_SCHEMA IN ($(sql_name_list "$DATABASES"))" >"$FERRY_WORK/tables.tsv" 2>"$FERRY_WORK/queries.err" &&
    sql "$CNF" -e "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME
      FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA IN ($(sql_name_list "$DATABASES"))" >"$FERRY_WORK/foreign-keys.tsv" 2>>"$FERRY_WORK/queries.err"
}; then
  die "cannot list the source tables: $(tail -n 2 "$FERRY_WORK/queries.err")"
fi
# The client prints a tab, a newline or a backslash in a name as an escape, which the stream plan
# below cannot carry back to the dump tool: such a name is refused before anything is written.
backslash=$(printf '\134')
if grep -qF "$backslash" "$FERRY_WORK/tables.tsv"; then
  odd=$(grep -F "$backslash" "$FERRY_WORK/tables.tsv" | head -n 1 | cut -f 1,2 | tr '\t' '.')
  die "the table or view $odd has a tab, a newline or a backslash in its name (shown escaped), which ferry cannot dump yet; rename it, or leave its database out of ferry:source.databases"
fi
# Tables joined by foreign keys stay in one stream, in the order the dump tool gives them: loaded
# side by side, the server refuses to lock a parent while a child is being created elsewhere.
# Each such group gets its total cost; views go to the definitions stream.
awk -F '\t' -v OFS='\t' '
  function root(t) { while (t in parent) t = parent[t]; return t }
  FILENAME == ARGV[1] { a = root($1 SUBSEP $2); b = root($3 SUBSEP $4); if (a != b) parent[a] = b; next }
  $3 == "VIEW" { print $1, $2 > "/dev/stderr"; next }
  { group = root($1 SUBSEP $2); cost[group] += $5; n++; table_group[n] = group; row[n] = $1 OFS $2 OFS $4 }
  END { for (i = 1; i <= n; i++) print cost[table_group[i]], table_group[i], row[i] }
' "$FERRY_WORK/foreign-keys.tsv" "$FERRY_WORK/tables.tsv" 2>"$FERRY_WORK/views.tsv" |
  sort -t "$(printf '\t')" -k 1,1nr -k 2,2 >"$FERRY_WORK/groups.tsv"
groups=$(cut -f 2 "$FERRY_WORK/groups.tsv" | sort -u | wc -l | tr -d ' ')
streams=$PARALLELISM
[ "$streams" -le "$groups" ] || streams=$groups
# Costliest group first, each to the stream with the least cost so far; the largest stream's bytes
# go to stderr for the part size below.
{
  awk -F '\t' -v OFS='\t' -v n="$streams" '
    $2 != current { current = $2; best = 1; for (i = 2; i <= n; i++) if (cost[i] < cost[best]) best = i; cost[best] += $1 }
    { bytes[best] += $5; print "data-" best, $3, $4 }
    END { max = 0; for (i = 1; i <= n; i++) if (bytes[i] > max) max = bytes[i]; print max > "/dev/stderr" }
  ' "$FERRY_WORK/groups.tsv"
  awk -F '\t' -v OFS='\t' '{ print "definitions", $1, $2 }' "$FERRY_WORK/views.tsv"
} >"$FERRY_WORK/assignment.tsv" 2>"$FERRY_WORK/largest-stream.out"
# mc buffers one part in memory; 16 MiB parts keep it small and allow 156 GiB a stream, and a
# stream that may hold more (its tables' size, doubled for hex-encoded BLOBs) gets larger parts.
part_mib=$(awk '{ p = int($1 * 2 / 10000 / 1048576) + 1; print (p > 16 ? p : 16) }' "$FERRY_WORK/largest-stream.out")

# dump_transactions: the connections of this user, newer than the snapshot session, that hold an
# InnoDB transaction. wait_for_snapshot gives a new stream the first one not yet attributed (to
# a digest session or an earlier stream); a stream that ended before it was seen had opened its
# snapshot under the lock all the same.
dump_transactions() {
  sql "$CNF" -e "SELECT t.trx_mysql_thread_id FROM information_schema.INNODB_TRX t
    JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
    WHERE p.ID > $snapshot_connection AND p.ID <> CONNECTION_ID() AND p.USER = '$(sql_string "$SOURCE_USER")'" 2>"$FERRY_WORK/poll.err" ||
    die "cannot watch the dump's transactions (the source user needs PROCESS): $(tail -n 1 "$FERRY_WORK/poll.err")"
}
: >"$FERRY_WORK/attributed.ids"

# The digests of every object (definitions, table rows with their history, sequence states) are
# taken by ferry-dataplane in one session a data stream, each with a snapshot opened under the lock
# like the dump's; it reads every definition before it says "ready", while DDL is still blocked.
# Reads are not blocked by the lock, so it starts at once; its connections are noted so none is
# taken for a stream's.
digest_sessions=$streams
[ "$digest_sessions" -ge 1 ] || digest_sessions=1
(
  SESSIONS=$digest_sessions
  DIGEST_FILE="$FERRY_WORK/digest.fields"
  export SESSIONS DIGEST_FILE
  exec ferry-dataplane digest
) >"$FERRY_WORK/digest.out" &
DIGEST_PID=$!
waited=0
until grep -q '^ready$' "$FERRY_WORK/digest.out" 2>/dev/null; do
  kill -0 "$DIGEST_PID" 2>/dev/null || die "digesting the source's objects failed (its error is above)"
  sleep 0.05
  waited=$((waited + 1))
  [ "$waited" -lt 2400 ] || die "timed out opening the digest sessions"
done
sed -n 's/^connection	//p' "$FERRY_WORK/digest.out" >>"$FERRY_WORK/attributed.ids"
wait_for_snapshot() {
  waited=0
  while :; do
    unattributed=$(dump_transactions | grep -vxF -f "$FERRY_WORK/attributed.ids" || true)
    if [ -n "$unattributed" ]; then
      printf '%s\n' "$unattributed" >>"$FERRY_WORK/attributed.ids"
      return 0
    fi
    if [ -s "$FERRY_WORK/$1/dump.rc" ]; then
      # Ended before it was seen: let its connection close, so the next stream's is not taken for it.
      until [ -z "$(dump_transactions | grep -vxF -f "$FERRY_WORK/attributed.ids" || true)" ]; do sleep 0.05; done
      return 0
    fi
    sleep 0.05
    waited=$((waited + 1))
    [ "$waited" -lt "${SNAPSHOT_WAIT_SECONDS:-120}0" ] || die "the dump stream $1 did not open its snapshot in time"
  done
}

# start_stream NAME [dump arguments...]: one dump stream, in the background. Each stage records its
# own exit status: POSIX sh has no pipefail, and a dump that died midway still ends its stream
# cleanly, so only these files tell a complete stream from a truncated one.
start_stream() {
  stream=$1
  shift
  dir="$FERRY_WORK/$stream"
  mkdir "$dir"
  mkfifo "$dir/sha.fifo" "$dir/bytes.fifo"
  printf '%s\n' "runs/$RUN_ID/$stream.sql.$EXT" >"$dir/object"
  (
    sha256sum <"$dir/sha.fifo" >"$dir/sha.out" &
    wc -c <"$dir/bytes.fifo" >"$dir/bytes.out" &
    # shellcheck disable=SC2086 # DUMP_FLAGS and DATABASES are lists of words without spaces
    { rc=0; "$SQL_DUMP" --defaults-file="$CNF" $DUMP_FLAGS "$@" --databases $DATABASES 2>"$dir/dump.err" || rc=$?; echo "$rc" >"$dir/dump.rc"; } |
      { rc=0; ferry-dataplane count "$dir/sqlbytes.out" || rc=$?; echo "$rc" >"$dir/count.rc"; } |
      { rc=0; compress || rc=$?; echo "$rc" >"$dir/compress.rc"; } |
      { rc=0; tee "$dir/sha.fifo" "$dir/bytes.fifo" || rc=$?; echo "$rc" >"$dir/tee.rc"; } |
      { rc=0; GOMEMLIMIT=40MiB mc_run pipe --part-size "${part_mib}MiB" "ferry/$S3_BUCKET/$(cat "$dir/object")" >/dev/null 2>"$dir/upload.err" || rc=$?; echo "$rc" >"$dir/upload.rc"; }
    wait
  ) &
  echo "$!" >"$dir/pid"
}

# ignored_tables STREAM: an --ignore-table for every table and view the stream does not hold.
ignored_tables() {
  awk -F '\t' -v stream="$1" '$1 != stream { print "--ignore-table=" $2 "." $3 }' "$FERRY_WORK/assignment.tsv"
}

# report_progress: every PROGRESS_SECONDS, the SQL the streams have written against the tables' size
# on the source, which is only an estimate of the SQL to come (so is the time left).
report_progress() {
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  estimate=$(awk -F '\t' '{ n += $4 } END { print n + 0 }' "$FERRY_WORK/tables.tsv")
  while :; do
    sleep "${PROGRESS_SECONDS:-10}" &
    sleeper=$!
    wait "$sleeper"
    log_progress dump "$(sum_counts "$FERRY_WORK"/*/sqlbytes.out)" "$estimate" "$dump_started" \
      "total=estimated-from-table-sizes"
  done
}

log "dumping $DATABASES in $streams data stream(s) and one of definitions to s3://$S3_BUCKET/runs/$RUN_ID/ ($COMPRESSION)"
dump_started=$(date +%s)
report_progress &
PROGRESS_PID=$!
stream_names=
stream_number=1
while [ "$stream_number" -le "$streams" ]; do
  stream_names="$stream_names data-$stream_number"
  stream_number=$((stream_number + 1))
done
stream_names="${stream_names# } definitions"
for stream in $stream_names; do
  ignored_tables "$stream" >"$FERRY_WORK/$stream.ignore"
  set --
  while IFS= read -r ignore; do set -- "$@" "$ignore"; done <"$FERRY_WORK/$stream.ignore"
  if [ "$stream" = definitions ]; then
    start_stream "$stream" --routines --events --skip-triggers "$@"
  else
    start_stream "$stream" --triggers "$@"
  fi
  wait_for_snapshot "$stream"
  log "stream $stream has opened its snapshot"
done
printf "UNLOCK TABLES;\nSELECT 'finished';\nCOMMIT;\n" >&3
log "writes on the source released; the streams and the digests go on in the snapshot"

for stream in $stream_names; do wait "$(cat "$FERRY_WORK/$stream/pid")" || true; done
kill "$PROGRESS_PID" 2>/dev/null || true
PROGRESS_PID=
# The root cause is the failing stage nearest the end that did not just die of a broken pipe
# (exit 141): when the upload fails, every stage before it gets SIGPIPE.
for stream in $stream_names; do
  failed_stage=
  for stage in upload tee compress count dump; do
    rc=$(cat "$FERRY_WORK/$stream/$stage.rc" 2>/dev/null || echo missing)
    [ "$rc" = 0 ] && continue
    if [ -z "$failed_stage" ] || [ "$failed_rc" = 141 ]; then
      [ "$rc" = 141 ] && [ -n "$failed_stage" ] && continue
      failed_stage=$stage
      failed_rc=$rc
    fi
  done
  [ -z "$failed_stage" ] || break
done
if [ -n "$failed_stage" ]; then
  for name in $stream_names; do
    mc_run rm "ferry/$S3_BUCKET/$(cat "$FERRY_WORK/$name/object")" >/dev/null 2>&1 || true
  done
  object=$(cat "$FERRY_WORK/$stream/object")
  case "$failed_stage" in
    dump) die "the dump ($stream stream) failed (exit $failed_rc): $(tail -n 3 "$FERRY_WORK/$stream/dump.err")" ;;
    upload) die "the upload to s3://$S3_BUCKET/$object failed (exit $failed_rc): $(tail -n 3 "$FERRY_WORK/$stream/upload.err")" ;;
    *) die "the $failed_stage stage of the $stream stream failed (exit $failed_rc)" ;;
  esac
fi
log "all streams stored; waiting for the digests"
wait_for_line finished 600
exec 3>&-
wait "$STATS_PID" || true
STATS_PID=
digest_status=0
wait "$DIGEST_PID" || digest_status=$?
if [ "$digest_status" != 0 ] || ! grep -q '^finished$' "$FERRY_WORK/digest.out"; then
  die "digesting the source's objects failed (exit $digest_status; its error is above)"
fi
DIGEST_PID=
log "digests done"

bytes=0
sql_bytes=0
for stream in $stream_names; do
  dir="$FERRY_WORK/$stream"
  stream_bytes=$(tr -d ' ' <"$dir/bytes.out")
  stored_bytes=$(mc_run stat --json "ferry/$S3_BUCKET/$(cat "$dir/object")" | sed -n 's/.*"size":\([0-9]*\).*/\1/p')
  [ "$stored_bytes" = "$stream_bytes" ] ||
    die "s3://$S3_BUCKET/$(cat "$dir/object") holds $stored_bytes bytes but $stream_bytes were sent"
  bytes=$((bytes + stream_bytes))
  sql_bytes=$((sql_bytes + $(tr -d ' ' <"$dir/sqlbytes.out")))
done

json() { escape_quoted "$1"; }
table_count=$(sed -n 's/^  "tableCount": \([0-9]*\),$/\1/p' "$FERRY_WORK/digest.fields")
{
  printf '{\n'
  printf '  "format": "ferry-dump/3",\n'
  printf '  "runId": "%s",\n' "$(json "$RUN_ID")"
  printf '  "compression": "%s",\n' "$COMPRESSION"
  printf '  "bytes": %s,\n' "$bytes"
  printf '  "sqlBytes": %s,\n' "$sql_bytes"
  printf '  "databases": "%s",\n' "$(json "$DATABASES")"
  # tableCount, tables and digests, as ferry-dataplane wrote them.
  cat "$FERRY_WORK/digest.fields"
  printf '  "serverVersion": "%s",\n' "$(json "$server_version")"
  printf '  "binlogFile": "%s",\n' "$(json "${binlog_file:-}")"
  printf '  "binlogPosition": "%s",\n' "${binlog_position:-}"
  printf '  "gtid": "%s",\n' "$(json "${gtid:-}")"
  printf '  "dumpTool": "%s",\n' "$(json "$("$SQL_DUMP" --version 2>/dev/null | head -n 1)")"
  printf '  "compressor": "%s",\n' "$(json "$(compressor_version)")"
  printf '  "mcVersion": "%s",\n' "$(json "$(mc_run --version 2>/dev/null | head -n 1)")"
  printf '  "startedAt": "%s",\n' "$started_at"
  printf '  "finishedAt": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '  "objects": [\n'
  first=true
  for stream in $stream_names; do
    dir="$FERRY_WORK/$stream"
    [ "$first" = true ] || printf ',\n'
    first=false
    printf '    {"stream": "%s", "object": "%s", "bytes": %s, "sqlBytes": %s, "sha256": "%s"}' \
      "$stream" "$(cat "$dir/object")" "$(tr -d ' ' <"$dir/bytes.out")" "$(tr -d ' ' <"$dir/sqlbytes.out")" "$(cut -d ' ' -f 1 "$dir/sha.out")"
  done
  printf '\n  ]\n}\n'
} >"$FERRY_WORK/manifest.json"

mc_run pipe "$(run_prefix)/manifest.json" <"$FERRY_WORK/manifest.json" >/dev/null ||
  die "the dump is stored but its manifest could not be written; run the dump again"
log "done: $table_count tables in $streams data stream(s), $sql_bytes bytes of SQL, $bytes bytes stored"
cat "$FERRY_WORK/manifest.json"
