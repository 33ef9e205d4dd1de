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
        printf '%s\t%s\t%s\t%s\t%s\n' "$key" "${file##*/}" "$pid" "$comm" "$arguments"
      done
  done >>"$out"
  sleep 0.5
done
