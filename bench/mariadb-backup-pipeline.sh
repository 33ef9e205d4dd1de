#!/bin/sh
# mariadb-backup streamed through the object store, the physical peer (bench/peers.ts runs the
# prepare, the move-back and the server start after these two steps):
#   backup:  mariadb-backup --backup --stream=mbstream | zstd | mc pipe
#   restore: mc cat | zstd -d | mbstream -x into RESTORE_DIR
# POSIX sh has no pipefail, so each step records a failure of its pipeline's first command in a
# file and fails on it.
#
# Environment: SOURCE_SOCKET SOURCE_DATADIR (the source server's, read by root on this host)
# THREADS WORK_DIR RESTORE_DIR MC_CONFIG_DIR (an mc config with the alias "ferry") TARGET
# (ferry/<bucket>/<key>)
set -eu
failed="$WORK_DIR/mariadb-backup.failed"
rm -f "$failed"
case "$1" in
backup)
  mkdir -p "$WORK_DIR/mariadb-backup-target"
  {
    mariadb-backup --no-defaults --backup --stream=mbstream --user=root \
      --socket="$SOURCE_SOCKET" --datadir="$SOURCE_DATADIR" --parallel="$THREADS" \
      --target-dir="$WORK_DIR/mariadb-backup-target" 2>"$WORK_DIR/mariadb-backup.log" || echo backup >"$failed"
  } | zstd -q -1 -T"$THREADS" | mc --config-dir "$MC_CONFIG_DIR" --quiet pipe "$TARGET" >/dev/null
  if [ -e "$failed" ]; then
    tail -n 20 "$WORK_DIR/mariadb-backup.log" >&2
    exit 1
  fi
  ;;
restore)
  mkdir -p "$RESTORE_DIR"
  {
    mc --config-dir "$MC_CONFIG_DIR" --quiet cat "$TARGET" || echo download >"$failed"
  } | zstd -q -d | mbstream -x -C "$RESTORE_DIR"
  [ ! -e "$failed" ]
  ;;
*)
  echo "usage: $0 backup|restore" >&2
  exit 2
  ;;
esac
