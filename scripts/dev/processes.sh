# shellcheck shell=sh
# Background processes of the local cluster, sourced by scripts/dev/cluster.sh and scripts/dev/node.sh:
# each NAME has its pid in $dir/NAME.pid and its log in $dir/NAME.log. The sourcing script
# defines say.

# shellcheck disable=SC2154 # dir is the sourcing script's
running() { [ -f "$dir/$1.pid" ] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }

# start NAME COMMAND...: runs COMMAND in the background unless NAME is running.
start() {
  name=$1
  shift
  if running "$name"; then return 0; fi
  "$@" >"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}

# stop NAME: stops NAME and waits until it has exited, so its ports and files are free again.
stop() {
  if running "$1"; then
    pid=$(cat "$dir/$1.pid")
    kill "$pid" 2>/dev/null || true
    waited=0
    while kill -0 "$pid" 2>/dev/null; do
      waited=$((waited + 1))
      [ "$waited" -lt 30 ] || kill -9 "$pid" 2>/dev/null || true
      sleep 1
    done
  fi
  rm -f "$dir/$1.pid"
}

# wait_for NAME SECONDS COMMAND...: retries COMMAND until it succeeds; shows NAME's log if not.
wait_for() {
  what=$1
  seconds=$2
  shift 2
  waited=0
  until "$@" >/dev/null 2>&1; do
    waited=$((waited + 1))
    if [ "$waited" -ge "$seconds" ]; then
      say "$what did not come up in ${seconds}s; its log:"
      tail -n 30 "$dir/$what.log" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 1
  done
}
