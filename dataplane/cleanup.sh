#!/bin/sh
# ferry cleanup: removes the run's dump objects once verification has passed, unless KEEP_DUMP.
# The small manifest and verification result stay as the run's record until the bucket's expiry
# rule removes them.
#
# Environment: RUN_ID S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY[_FILE] S3_BUCKET [S3_INSECURE]
# [KEEP_DUMP=false] [MC_BIN]
set -eu
FERRY_STEP=ferry-cleanup
# shellcheck source=dataplane/lib.sh
[ -n "${FERRY_LIB_LOADED:-}" ] || . "$(dirname "$0")/lib.sh"

open_run
manifest_objects "$FERRY_WORK/manifest.json" | cut -f 2 >"$FERRY_WORK/objects"
mc_run cat "$(run_prefix)/verification.json" >"$FERRY_WORK/verification.json" 2>/dev/null ||
  die "run $RUN_ID has no verification result; the dump is kept"
grep -q '^  "ok": true,$' "$FERRY_WORK/verification.json" ||
  die "run $RUN_ID did not pass verification; the dump is kept for inspection"

if [ "${KEEP_DUMP:-false}" = true ]; then
  log "keeping the $(wc -l <"$FERRY_WORK/objects" | tr -d ' ') dump objects under s3://$S3_BUCKET/runs/$RUN_ID/ (ferry:migration.keepDump is true)"
  exit 0
fi
removed=0
while IFS= read -r object; do
  if mc_run stat "ferry/$S3_BUCKET/$object" >/dev/null 2>&1; then
    mc_run rm "ferry/$S3_BUCKET/$object" >/dev/null || die "cannot remove s3://$S3_BUCKET/$object"
    removed=$((removed + 1))
  fi
done <"$FERRY_WORK/objects"
log "removed $removed dump objects under s3://$S3_BUCKET/runs/$RUN_ID/ (the others were already gone); the manifest and verification result remain"
