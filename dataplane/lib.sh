# shellcheck shell=sh
# What ferry's data-plane steps share: the steps are thin glue around ferry-dataplane, which does
# the work. Sourced, never run. Every secret arrives in the environment or in a file named by
# <NAME>_FILE; none is ever put on a command line, because argv is readable by every user of the
# host through /proc.

# shellcheck disable=SC2034 # read by the step that sources this file
FERRY_LIB_LOADED=1

log() { printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${FERRY_STEP:-ferry}" "$*" >&2; }

die() {
  log "ERROR: $*"
  # Kubernetes shows the last lines of the log as the pod's termination message.
  exit 1
}

# secret NAME: prints the value of $NAME, or the content of the file named by $NAME_FILE.
secret() {
  eval "secret_file=\${${1}_FILE:-}"
  if [ -n "$secret_file" ]; then
    [ -r "$secret_file" ] || die "secret file for $1 is not readable: $secret_file"
    cat "$secret_file"
  else
    eval "printf '%s' \"\${$1:-}\""
  fi
}

# secrets_to_files NAME...: a secret set in this shell (local and SSH mode, where the program and
# its settings arrive on stdin) is written by the shell itself (printf, a redirection) into a 0600
# file of the work dir, NAME_FILE points at it and NAME is unset; one given as a file stays where
# it is.
secrets_to_files() {
  for secret_name in "$@"; do
    secret_set=
    eval "secret_set=\${$secret_name+set}"
    [ "$secret_set" = set ] || continue
    eval "secret_file=\${${secret_name}_FILE:-}"
    if [ -z "$secret_file" ]; then
      secret "$secret_name" >"$FERRY_WORK/$secret_name"
      eval "${secret_name}_FILE=\$FERRY_WORK/\$secret_name"
      export "${secret_name}_FILE"
    fi
    unset "$secret_name"
  done
}

# run_dataplane SUBCOMMAND: ferry-dataplane does this step's work, its log lines carrying the
# step's name. In a pod the secrets are files already and the program replaces the shell. A program
# fed on stdin (local and SSH mode) sets its secrets in this shell without exporting them and names
# them in FERRY_STDIN_FILE_VALUES: they move into 0600 files of a private directory before
# ferry-dataplane starts, so that no process, ferry-dataplane included, holds one in its
# environment; the directory goes when the step ends, also on HUP, INT or TERM, which are passed on
# to the program once it runs.
run_dataplane() {
  command -v ferry-dataplane >/dev/null 2>&1 ||
    die "ferry-dataplane is not on PATH; the tools image has it, and on a source host it must be installed (see docs/real-clusters.md)"
  export FERRY_STEP
  values_given=
  for value_name in ${FERRY_STDIN_FILE_VALUES:-}; do
    eval "[ -z \"\${$value_name+set}\" ] || values_given=yes"
  done
  if [ -z "$values_given" ]; then
    exec ferry-dataplane "$@"
  fi
  umask 077
  FERRY_WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry.XXXXXX")
  trap 'rm -rf "$FERRY_WORK"' EXIT
  # A signal before the program runs ends the step; the EXIT trap removes the directory.
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # shellcheck disable=SC2086 # a list of names
  secrets_to_files $FERRY_STDIN_FILE_VALUES
  ferry-dataplane "$@" &
  dataplane_pid=$!
  trap 'kill -TERM "$dataplane_pid" 2>/dev/null' HUP INT TERM
  dataplane_status=0
  wait "$dataplane_pid" || dataplane_status=$?
  # A trapped signal ends the first wait early; the second waits for the program's own end.
  if kill -0 "$dataplane_pid" 2>/dev/null; then
    dataplane_status=0
    wait "$dataplane_pid" || dataplane_status=$?
  fi
  exit "$dataplane_status"
}
