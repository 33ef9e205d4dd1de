#!/bin/sh
# secret-watch.sh PATTERN_DIR OUT_FILE: every half second, appends a line of tab-separated
# "key where pid comm arguments" for each process whose command line or environment holds one of
# the secrets in PATTERN_DIR (one file a secret, named by its key). The values stay in those files: neither this loop nor grep has one
# on its command line or in its environment.
set -u
dir=$1
out=$2
while :; do
  for key_file in "$dir"/*; do
    key=${key_file##*/}
    grep -l -a -F -f "$key_file" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null |
      while IFS= read -r file; do
        pid=${file#/proc/}
        pid=${pid%%/*}
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
        arguments=$(tr '\0\t\n' '   ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c 1-300)
        # Still there after its name was read: a child between fork and exec shows its parent's
        # environment under the parent's name, and a moment later its own under the child's;
        # matched before the exec and named after it, it would be taken for a child that holds
        # the parent's secrets. A process that holds one keeps it for its life and matches again.
        grep -q -a -F -f "$key_file" "$file" 2>/dev/null || continue
        printf '%s\t%s\t%s\t%s\t%s\n' "$key" "${file##*/}" "$pid" "$comm" "$arguments"
      done
  done >>"$out"
  sleep 0.5
done
