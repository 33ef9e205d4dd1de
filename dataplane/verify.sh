#!/bin/sh
# ferry verify: recomputes on the destination the digest of every object the dump recorded inside
# its snapshot (definitions of tables, views, triggers, routines, events and sequences; every row of
# every table, history included; every sequence's state) and compares them (ferry-dataplane verify).
# Any difference fails the step, and so the pulumi up. The result is stored beside the manifest as
# runs/<RUN_ID>/verification.json.
#
# Environment: DEST_HOST DEST_PORT DEST_USER DEST_PASSWORD[_FILE] RUN_ID S3_ENDPOINT S3_ACCESS_KEY
# S3_SECRET_KEY[_FILE] S3_BUCKET [S3_INSECURE] [MC_BIN]
set -eu
FERRY_STEP=ferry-verify
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

require_env DEST_HOST DEST_PORT DEST_USER
open_run
command -v ferry-dataplane >/dev/null 2>&1 || die "ferry-dataplane is not on PATH; the tools image has it"

secrets_to_files DEST_PASSWORD
pick_client_tools
CNF="$FERRY_WORK/destination.cnf"
write_client_cnf "$CNF" DEST
sql "$CNF" -e 'SELECT 1' >/dev/null 2>"$FERRY_WORK/connect.err" ||
  die "$(explain_sql_error "$FERRY_WORK/connect.err" "the destination database" "ferry:destination")"
state=$(sql "$CNF" -e "SELECT state FROM ferry.runs WHERE run_id = '$RUN_ID'" 2>/dev/null || true)
[ "$state" = imported ] || die "run $RUN_ID was not imported (state: ${state:-none}); the import step must succeed first"

verify_status=0
(
  MANIFEST="$FERRY_WORK/manifest.json"
  RESULT_FILE="$FERRY_WORK/verification.json"
  export MANIFEST RESULT_FILE
  exec ferry-dataplane verify
) || verify_status=$?
[ -s "$FERRY_WORK/verification.json" ] ||
  die "the verification could not run (exit $verify_status; its error is above)"
mc_run pipe "$(run_prefix)/verification.json" <"$FERRY_WORK/verification.json" >/dev/null ||
  die "cannot store the verification result in the object store"
# A difference has been logged, object by object, and the result stored for the report.
[ "$verify_status" = 0 ] || exit "$verify_status"
cat "$FERRY_WORK/verification.json"
