# shellcheck shell=sh
# Background processes of the local dev environment, sourced by the scripts under scripts/dev that
# start them: each NAME has its pid in $dir/NAME.pid and its log in $dir/NAME.log. The sourcing
# script defines say. Also the network namespaces the SSH host and the source cluster's node use.

# alive PID: PID exists and has not exited. A killed process whose parent is gone stays a zombie
# until this machine's init reaps it, which it does late: kill -0 alone calls that running.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d ' ' -f 1)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# shellcheck disable=SC2154 # dir is the sourcing script's
running() { [ -f "$dir/$1.pid" ] && alive "$(cat "$dir/$1.pid")"; }

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
    while alive "$pid"; do
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

# namespace_link NAMESPACE LINK OUTSIDE INSIDE PREFIX: the network namespace NAMESPACE joined to this
# machine by the veth pair LINK (this machine's end, address OUTSIDE) and eth0 (its end, address
# INSIDE, default route through OUTSIDE), both in OUTSIDE/PREFIX: a second machine on a link of its
# own. Does nothing when the link is there.
namespace_link() {
  ip netns list 2>/dev/null | grep -q "^$1\b" || ip netns add "$1"
  ip link show "$2" >/dev/null 2>&1 && return 0
  ip link add "$2" type veth peer name eth0 netns "$1"
  ip addr add "$3/$5" dev "$2"
  ip link set "$2" up
  ip -n "$1" addr add "$4/$5" dev eth0
  ip -n "$1" link set eth0 up
  ip -n "$1" link set lo up
  ip -n "$1" route add default via "$3"
}
