#!/bin/sh
# ferry verify: recomputes every table's row count and checksum on the destination and compares
# them with the values the dump recorded inside its snapshot. Any difference fails the step, and
# so the pulumi up. The result is stored beside the manifest as runs/<RUN_ID>/verification.json.
#
# Environment: DEST_HOST DEST_PORT DEST_USER DEST_PASSWORD[_FILE] RUN_ID S3_ENDPOINT S3_ACCESS_KEY
# S3_SECRET_KEY[_FILE] S3_BUCKET [S3_INSECURE] [MC_BIN]
set -eu
FERRY_STEP=ferry-verify
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

require_env DEST_HOST DEST_PORT DEST_USER
open_run
MANIFEST="$FERRY_WORK/manifest.json"

pick_client_tools
CNF="$FERRY_WORK/destination.cnf"
write_client_cnf "$CNF" "$DEST_HOST" "$DEST_PORT" "$DEST_USER" "$(secret DEST_PASSWORD)"
sql "$CNF" -e 'SELECT 1' >/dev/null 2>"$FERRY_WORK/connect.err" ||
  die "$(explain_sql_error "$FERRY_WORK/connect.err" "the destination database" "ferry:destination")"
databases=$(manifest_field "$MANIFEST" databases)
state=$(sql "$CNF" -e "SELECT state FROM ferry.runs WHERE run_id = '$RUN_ID'" 2>/dev/null || true)
[ "$state" = imported ] || die "run $RUN_ID was not imported (state: ${state:-none}); the import step must succeed first"

log "checksumming the tables of $databases on the destination"
manifest_tables "$MANIFEST" | sort >"$FERRY_WORK/expected.tsv"
checksum_queries "$CNF" "$databases" >"$FERRY_WORK/checksums.sql" ||
  die "cannot list the destination's tables"
# As many sessions as the dump had data streams, largest tables dealt out first in turn.
sessions=$(manifest_objects "$MANIFEST" | grep -vc '^definitions	' || true)
[ "$sessions" -ge 1 ] || sessions=1
session=1
pids=
while [ "$session" -le "$sessions" ]; do
  deal_lines "$sessions" "$session" "$FERRY_WORK/checksums.sql" >"$FERRY_WORK/checksums-$session.sql"
  {
    rc=0
    sql "$CNF" <"$FERRY_WORK/checksums-$session.sql" >"$FERRY_WORK/checksums-$session.out" 2>"$FERRY_WORK/checksums-$session.err" || rc=$?
    echo "$rc" >"$FERRY_WORK/checksums-$session.rc"
  } &
  pids="$pids $!"
  session=$((session + 1))
done
for pid in $pids; do wait "$pid" || true; done
session=1
while [ "$session" -le "$sessions" ]; do
  [ "$(cat "$FERRY_WORK/checksums-$session.rc")" = 0 ] ||
    die "checksumming the destination failed: $(tail -n 2 "$FERRY_WORK/checksums-$session.err")"
  cut -f 2- "$FERRY_WORK/checksums-$session.out" >>"$FERRY_WORK/actual.unsorted"
  session=$((session + 1))
done
sort "$FERRY_WORK/actual.unsorted" >"$FERRY_WORK/actual.tsv"

# Lines only in expected are tables missing or different on the destination; lines only in
# actual are their destination values, or tables the dump did not hold.
comm -23 "$FERRY_WORK/expected.tsv" "$FERRY_WORK/actual.tsv" >"$FERRY_WORK/missing.tsv"
comm -13 "$FERRY_WORK/expected.tsv" "$FERRY_WORK/actual.tsv" >"$FERRY_WORK/unexpected.tsv"
tables=$(wc -l <"$FERRY_WORK/expected.tsv" | tr -d ' ')
rows=$(awk -F '\t' '{ n += $3 } END { print n + 0 }' "$FERRY_WORK/expected.tsv")
mismatches=$(cat "$FERRY_WORK/missing.tsv" "$FERRY_WORK/unexpected.tsv" | cut -f 1,2 | sort -u | wc -l | tr -d ' ')
ok=false
[ "$mismatches" -gt 0 ] || ok=true

while IFS="$(printf '\t')" read -r database table count checksum; do
  log "expected $database.$table: $count rows, checksum $checksum"
done <"$FERRY_WORK/missing.tsv"
while IFS="$(printf '\t')" read -r database table count checksum; do
  log "found    $database.$table: $count rows, checksum $checksum"
done <"$FERRY_WORK/unexpected.tsv"

{
  printf '{\n'
  printf '  "runId": "%s",\n' "$RUN_ID"
  printf '  "ok": %s,\n' "$ok"
  printf '  "tables": %s,\n' "$tables"
  printf '  "rows": %s,\n' "$rows"
  printf '  "mismatchedTables": %s,\n' "$mismatches"
  printf '  "verifiedAt": "%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '}\n'
} >"$FERRY_WORK/verification.json"
mc_run pipe "$(run_prefix)/verification.json" <"$FERRY_WORK/verification.json" >/dev/null ||
  die "cannot store the verification result in the object store"

[ "$ok" = true ] || die "verification failed: $mismatches of $tables tables differ from the dump of run $RUN_ID (details above)"
log "verified: all $tables tables ($rows rows) match the dump of run $RUN_ID"
cat "$FERRY_WORK/verification.json"
