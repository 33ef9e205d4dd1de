# shellcheck shell=sh
# The Pulumi environment of ferry's dev commands (demo, preview) and engine tests, in one place:
# the engine ferry builds, its own plugin home, a file backend, nothing from the network, and the
# project linked into a work directory so no stack file ever lands in the repo. Sourced, never run;
# the caller sets the passphrase and the engine's PATH.

# ferry_project_entries: what a linked copy of the project needs, one a line.
ferry_project_entries() {
  printf '%s\n' Pulumi.yaml index.ts components dataplane charts node_modules package.json tsconfig.json
}

# ferry_link_project REPO DIR: links the project's entries from REPO into DIR (kept if present).
ferry_link_project() {
  mkdir -p "$2"
  for ferry_entry in $(ferry_project_entries); do
    [ -e "$2/$ferry_entry" ] || ln -s "$1/$ferry_entry" "$2/$ferry_entry"
  done
}

# ferry_pulumi_settings REPO STATE_DIR: the settings, as NAME=VALUE lines.
ferry_pulumi_settings() {
  printf 'PULUMI_HOME=%s\n' "$1/.ferry/pulumi-home"
  printf 'PULUMI_BACKEND_URL=file://%s\n' "$2"
  printf 'PULUMI_SKIP_UPDATE_CHECK=true\n'
  printf 'PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true\n'
}

# ferry_pulumi_env REPO STATE_DIR: exports the settings into the calling shell.
ferry_pulumi_env() {
  ferry_settings=$(ferry_pulumi_settings "$1" "$2")
  while IFS= read -r ferry_setting; do
    # shellcheck disable=SC2163 # NAME=VALUE: export sets and exports it in one word
    export "$ferry_setting"
  done <<SETTINGS
$ferry_settings
SETTINGS
}
