# shellcheck shell=sh disable=SC2034 # the globals set here are read by the sourcing script
# Helpers shared by ferry's data-plane scripts. Sourced, never run.
# Every secret arrives in the environment or in a file named by <NAME>_FILE; none is ever put on a
# command line, because argv is readable by every user of the host through /proc.

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

require_env() {
  for name in "$@"; do
    eval "value=\${$name:-}"
    [ -n "$value" ] || die "environment variable $name is not set"
  done
}

# sql_string VALUE: VALUE escaped for use between single quotes in SQL.
sql_string() { printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/''/g"; }

# Run ids name Kubernetes objects and object-store keys, and appear in SQL: the one rule of
# ferry:migration.runId (runIdPattern in components/config.ts), as ferry-dataplane checks it too.
check_run_id() {
  case "$RUN_ID" in
    "" | *[!a-z0-9-]* | -* | *-) die "RUN_ID '$RUN_ID' must be lowercase letters, digits and inner dashes, at most 40 characters (ferry:migration.runId)" ;;
  esac
  [ "${#RUN_ID}" -le 40 ] ||
    die "RUN_ID '$RUN_ID' must be lowercase letters, digits and inner dashes, at most 40 characters (ferry:migration.runId)"
}

make_work_dir() {
  umask 077
  FERRY_WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry.XXXXXX")
}

# secrets_to_files NAME...: a secret given in the environment (local and SSH mode, where the
# program and its settings arrive on stdin) moves into a 0600 file of the work dir, NAME_FILE points
# at it and NAME is unset, so no child process inherits it; one given as a file stays where it is.
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

# require_dataplane: ferry-dataplane does the work; its log lines carry this step's name.
require_dataplane() {
  command -v ferry-dataplane >/dev/null 2>&1 ||
    die "ferry-dataplane is not on PATH; the tools image has it, and on a source host it must be installed (see the README)"
  export FERRY_STEP
}

# run_dataplane SUBCOMMAND...: ferry-dataplane does this step's work. In a pod the secrets are
# files already and the program replaces the shell. Secrets that arrived in the environment (local
# and SSH mode, inside the program on stdin) move first into 0600 files of a private directory, so
# that no process, ferry-dataplane included, holds one in its environment; the directory goes
# when the step ends, and a TERM or INT is passed on.
run_dataplane() {
  require_dataplane
  if [ -z "${SOURCE_PASSWORD+set}${DEST_PASSWORD+set}${S3_SECRET_KEY+set}" ]; then
    exec ferry-dataplane "$@"
  fi
  make_work_dir
  trap 'rm -rf "$FERRY_WORK"' EXIT
  secrets_to_files SOURCE_PASSWORD DEST_PASSWORD S3_SECRET_KEY
  ferry-dataplane "$@" &
  dataplane_pid=$!
  trap 'kill -TERM "$dataplane_pid" 2>/dev/null' INT TERM
  dataplane_status=0
  wait "$dataplane_pid" || dataplane_status=$?
  # A trapped signal ends the first wait early; the second waits for the program's own end.
  if kill -0 "$dataplane_pid" 2>/dev/null; then
    dataplane_status=0
    wait "$dataplane_pid" || dataplane_status=$?
  fi
  exit "$dataplane_status"
}

# write_client_cnf FILE PREFIX: the client option file for PREFIX_HOST, _PORT, _USER and the
# password (PREFIX_PASSWORD_FILE), written by ferry-dataplane so a password of any bytes reads back
# whole; the password stays off argv and out of the log.
write_client_cnf() {
  require_dataplane
  ferry-dataplane client-options "$2" "$1" || die "cannot write the client settings for $2"
}

# The MariaDB client tools are preferred when both are installed; both speak to either server.
pick_client_tools() {
  if command -v mariadb >/dev/null 2>&1; then SQL_CLIENT=mariadb; else SQL_CLIENT=mysql; fi
  if command -v mariadb-dump >/dev/null 2>&1; then SQL_DUMP=mariadb-dump; else SQL_DUMP=mysqldump; fi
  command -v "$SQL_CLIENT" >/dev/null 2>&1 || die "no mysql or mariadb client on PATH"
}

# sql CNF [client args...]: runs the client in batch mode with ferry's option file as the only one
# it reads (--defaults-file, not --defaults-extra-file): an operator's ~/.my.cnf or /etc/my.cnf must
# not redirect, re-authenticate or reshape a session.
sql() {
  sql_cnf=$1
  shift
  "$SQL_CLIENT" --defaults-file="$sql_cnf" --batch --skip-column-names "$@"
}

# hold_lock CNF NAME: takes the server-wide named lock NAME in a session that stays open until the
# script exits (release_lock, or the exit itself); fails when another session holds it.
hold_lock() {
  mkfifo "$FERRY_WORK/lock.in"
  sql "$1" --unbuffered <"$FERRY_WORK/lock.in" >"$FERRY_WORK/lock.out" 2>"$FERRY_WORK/lock.err" &
  LOCK_PID=$!
  exec 4>"$FERRY_WORK/lock.in"
  # A few seconds' grace: a run that just ended may not have closed its session yet.
  printf "SELECT GET_LOCK('%s', 5);\n" "$2" >&4
  lock_waited=0
  until [ -s "$FERRY_WORK/lock.out" ]; do
    kill -0 "$LOCK_PID" 2>/dev/null || return 1
    sleep 0.1
    lock_waited=$((lock_waited + 1))
    [ "$lock_waited" -lt 600 ] || return 1
  done
  [ "$(cat "$FERRY_WORK/lock.out")" = 1 ]
}

release_lock() {
  exec 4>&- 2>/dev/null || true
  [ -z "${LOCK_PID:-}" ] || kill "$LOCK_PID" 2>/dev/null || true
}

# explain_sql_error FILE ROLE KEY: turns a client error into a sentence that names the config to fix.
explain_sql_error() {
  sql_error=$(tail -n 3 "$1" 2>/dev/null)
  case "$sql_error" in
    *"Access denied"*) echo "$2 refused the login ($sql_error); check $3.user and $3.password" ;;
    *"Can't connect"* | *"Unknown MySQL server host"* | *"Unknown server host"* | *"Lost connection"*)
      echo "$2 is unreachable ($sql_error); check $3.host and $3.port and that the server is up" ;;
    *) echo "$2 failed: $sql_error" ;;
  esac
}

# sql_name_list "a b c": 'a','b','c' for an IN (...) list; names are validated identifiers.
sql_name_list() {
  # shellcheck disable=SC2086 # split on purpose: one name a line
  printf '%s\n' $1 | sed "s/'/''/g; s/.*/'&'/" | paste -sd, -
}

# log_progress STEP DONE TOTAL STARTED [DETAIL]: one structured progress line: bytes done of the
# total, the rate since STARTED (epoch seconds), and the time left at that rate.
log_progress() {
  progress_elapsed=$(($(date +%s) - $4))
  progress=$(awk -v done="$2" -v total="$3" -v elapsed="$progress_elapsed" 'BEGIN {
    rate = elapsed > 0 ? done / elapsed : 0
    pct = total > 0 ? 100 * done / total : 0
    if (pct > 100) pct = 100
    left = total - done
    eta = (rate > 0 && left > 0) ? sprintf("%ds", left / rate) : (left > 0 ? "unknown" : "0s")
    printf "bytes=%d/%d (%d%%) rate=%.1fMiB/s eta=%s", done, total, pct, rate / 1048576, eta
  }')
  log "progress step=$1 $progress elapsed=${progress_elapsed}s${5:+ $5}"
}

# sum_counts FILE...: the sum of the byte counts ferry-dataplane fetch keeps in FILEs (0 if none).
sum_counts() {
  cat "$@" 2>/dev/null | awk '{ n += $1 } END { print n + 0 }'
}

