#!/bin/sh
# ferry's main job on the local default stack (dev): builds what is missing, starts the local
# cluster and the source database and object store, and runs `pulumi up` of the dev stack, then
# prints the migration report. `scripts/dev/demo.sh down` destroys the stack (the data volume is kept)
# and stops everything.
#
# Everything runs for real: the dump on this machine, the import, verification and read/write
# test in pods on the local cluster's node, MySQL on a volume its storage provisioner made.
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
project="$repo/.ferry/project"
secrets="$repo/.ferry/dev-secrets"

say() { printf '\nferry demo: %s\n' "$*" >&2; }

# shellcheck source=scripts/dev/pulumi-env.sh
. scripts/dev/pulumi-env.sh

pulumi_env() {
  tools_path=$(sh scripts/build/tools.sh)
  engine=$(sh scripts/build/toolchain.sh)
  ferry_pulumi_env "$repo" "$repo/.ferry/state"
  PATH="$engine:$tools_path:$PATH"
  PULUMI_CONFIG_PASSPHRASE_FILE="$secrets/passphrase"
  export PATH PULUMI_CONFIG_PASSPHRASE_FILE
  (umask 077 && mkdir -p "$secrets" "$repo/.ferry/state")
  [ -s "$secrets/passphrase" ] || (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secrets/passphrase")
}

# The stack runs from a linked copy of the project, so its stack file (with the encryption salt
# and encrypted secrets) lives under .ferry and never in the repo's Pulumi.dev.yaml.
prepare_project() {
  ferry_link_project "$repo" "$project"
  [ -e "$project/.ferry" ] || ln -s .. "$project/.ferry"
  salt=$(sed -n 's/^encryptionsalt: //p' "$project/Pulumi.dev.yaml" 2>/dev/null || true)
  cp Pulumi.dev.yaml "$project/Pulumi.dev.yaml"
  [ -z "$salt" ] || printf 'encryptionsalt: %s\n' "$salt" >>"$project/Pulumi.dev.yaml"
  cd "$project"
  pulumi stack select dev --create --non-interactive >/dev/null
  for key in sourcePassword destinationRootPassword objectStoreSecretKey; do
    pulumi config set --secret "$key" <"$secrets/$key" >/dev/null
  done
}

up() {
  started=$(date +%s)
  say "installing and building what is missing (cached after the first run)"
  pulumi_env
  say "starting the local cluster"
  sh scripts/dev/cluster.sh up
  say "starting the source database and the object store"
  sh scripts/dev/devenv.sh up
  prepare_project
  say "pulumi up of the dev stack"
  pulumi up --yes --non-interactive --stack dev
  say "the migration report"
  pulumi stack output report --json --stack dev
  say "done in $(($(date +%s) - started))s. Explore with: kubectl --kubeconfig .ferry/kubeconfig get all,pvc -n ferry; remove with: npm run demo -- down"
}

down() {
  pulumi_env
  if [ -d "$project" ]; then
    prepare_project
    say "pulumi destroy of the dev stack (the data volume, its namespace and the storage it lives on are kept)"
    pulumi destroy --yes --non-interactive --stack dev
  fi
  cd "$repo"
  sh scripts/dev/devenv.sh down
  sh scripts/dev/cluster.sh down
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *)
    echo "usage: scripts/dev/demo.sh [up | down]" >&2
    exit 2
    ;;
esac
