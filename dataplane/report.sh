#!/bin/sh
# ferry report: prints the run's manifest and verification result as one JSON document, for the
# summary `pulumi up` shows at the end. Runs on the operator's machine.
#
# Environment: RUN_ID S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY[_FILE] S3_BUCKET [S3_INSECURE] [MC_BIN]
set -eu
FERRY_STEP=ferry-report
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

open_run
if ! mc_run cat "$(run_prefix)/verification.json" >"$FERRY_WORK/verification.json" 2>/dev/null; then
  echo null >"$FERRY_WORK/verification.json"
fi
# Whether the dump is still stored is read, not inferred: only the cleanup step removes it.
present=0
for object in $(manifest_objects "$FERRY_WORK/manifest.json" | cut -f 2); do
  if mc_run stat "ferry/$S3_BUCKET/$object" >/dev/null 2>&1; then present=$((present + 1)); fi
done
printf '{"manifest": '
cat "$FERRY_WORK/manifest.json"
printf ', "verification": '
cat "$FERRY_WORK/verification.json"
printf ', "dumpObjectsPresent": %s}\n' "$present"
