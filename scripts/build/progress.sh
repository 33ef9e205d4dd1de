# shellcheck shell=sh
# What the build scripts share: their steps numbered ([k/n], n the steps this run will do), each
# with the time since the script started and, when this machine recorded the step before, how long
# it took then. A step's own output (apt's, Go's, npm's) goes to a log under .ferry/logs and is
# shown only when the step fails: its last lines and the log's path. Sourced, never run; the
# sourcing script defines say() and FERRY_CACHE.
#
# A script lists its steps in one function, which it calls twice: once after progress_plan_mode
# (each step only counts itself, if it has work to do), once after progress_run_mode (each step
# runs).

# progress_init: before the first plan.
progress_init() {
  progress_total=0
  progress_count=0
  progress_started=$(date +%s)
  progress_times="$FERRY_CACHE/step-times"
  mkdir -p "$progress_times" .ferry/logs
}

progress_plan_mode() { progress_mode=plan; }
progress_run_mode() { progress_mode=run; }

# progress_step KEY DESCRIPTION COMMAND...: in plan mode counts the step; in run mode runs
# COMMAND with its output in .ferry/logs/KEY.log. COMMAND runs in a child shell of its own, where
# `set -e` holds (in the caller's `||` it would not), so a failing command stops the step there.
progress_step() {
  progress_key=$1
  progress_what=$2
  shift 2
  if [ "$progress_mode" = plan ]; then
    progress_total=$((progress_total + 1))
    return 0
  fi
  progress_count=$((progress_count + 1))
  progress_log=".ferry/logs/$progress_key.log"
  progress_estimate=
  if [ -s "$progress_times/$progress_key" ]; then
    progress_estimate=", about $(cat "$progress_times/$progress_key")s last time"
  fi
  say "[$progress_count/$progress_total] $progress_what ($(($(date +%s) - progress_started))s in$progress_estimate)"
  progress_step_started=$(date +%s)
  "$@" >"$progress_log" 2>&1 </dev/null &
  progress_status=0
  wait $! || progress_status=$?
  progress_seconds=$(($(date +%s) - progress_step_started))
  if [ "$progress_status" -ne 0 ]; then
    say "[$progress_count/$progress_total] FAILED after ${progress_seconds}s: $progress_what; the last lines of $progress_log:"
    tail -n 40 "$progress_log" >&2
    return "$progress_status"
  fi
  printf '%s\n' "$progress_seconds" >"$progress_times/$progress_key"
  say "[$progress_count/$progress_total] done in ${progress_seconds}s"
}
