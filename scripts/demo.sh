#!/bin/sh
# ferry's main job on the local default stack (dev): builds what is missing, starts the local
# cluster and the source database and object store, and runs `pulumi up` of the dev stack, then
# prints the migration report. `scripts/demo.sh down` destroys the stack (the data volume is kept)
# and stops everything.
#
# Everything runs for real: the dump on this machine, the import, verification and read/write
# test in pods on the local cluster's node, MySQL on a volume its storage provisioner made.
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)
project="$repo/.ferry/project"
secrets="$repo/.ferry/dev-secrets"

say() { printf '\nferry demo: %s\n' "$*" >&2; }

pulumi_env() {
  tools_path=$(sh scripts/tools.sh)
  engine=$(sh scripts/toolchain.sh)
  PATH="$engine:$tools_path:$PATH"
  PULUMI_HOME="$repo/.ferry/pulumi-home"
  PULUMI_BACKEND_URL="file://$repo/.ferry/state"
  PULUMI_CONFIG_PASSPHRASE_FILE="$secrets/passphrase"
  PULUMI_SKIP_UPDATE_CHECK=true
  PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  export PATH PULUMI_HOME PULUMI_BACKEND_URL PULUMI_CONFIG_PASSPHRASE_FILE PULUMI_SKIP_UPDATE_CHECK \
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION
  (umask 077 && mkdir -p "$secrets" "$repo/.ferry/state")
  [ -s "$secrets/passphrase" ] || (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secrets/passphrase")
}

# prepare_project STACK: the stack runs from a linked copy of the project, so its stack file (with
# the encryption salt and encrypted secrets) lives under .ferry and never in the repo. Both stacks
# start from Pulumi.dev.yaml; dev-incluster dumps the cluster's source-db pod (mode kubernetes)
# into its own namespace.
prepare_project() {
  stack=$1
  mkdir -p "$project"
  for entry in Pulumi.yaml index.ts components charts node_modules package.json tsconfig.json; do
    [ -e "$project/$entry" ] || ln -s "$repo/$entry" "$project/$entry"
  done
  [ -e "$project/.ferry" ] || ln -s .. "$project/.ferry"
  stack_file="$project/Pulumi.$stack.yaml"
  salt=$(sed -n 's/^encryptionsalt: //p' "$stack_file" 2>/dev/null || true)
  cp "$repo/Pulumi.dev.yaml" "$stack_file"
  [ -z "$salt" ] || printf 'encryptionsalt: %s\n' "$salt" >>"$stack_file"
  cd "$project"
  pulumi stack select "$stack" --create --non-interactive >/dev/null
  for key in sourcePassword destinationRootPassword objectStoreSecretKey; do
    pulumi config set --secret "$key" <"$secrets/$key" >/dev/null
  done
  if [ "$stack" = dev-incluster ]; then
    for setting in source.mode=kubernetes source.host=source-db.ferry-source.svc.cluster.local \
      source.port=3306 source.kubernetes.kubeconfig=.ferry/kubeconfig \
      source.kubernetes.context=source source.kubernetes.namespace=ferry-source \
      source.kubernetes.toolsImage=ferry.local/tools:1 destination.namespace=ferry-incluster \
      migration.runId=incluster-1; do
      pulumi config set --path "ferry:${setting%%=*}" "${setting#*=}" >/dev/null
    done
  fi
}

up() {
  started=$(date +%s)
  say "installing and building what is missing (cached after the first run)"
  pulumi_env
  say "starting the local cluster"
  sh scripts/cluster.sh up
  say "starting the source database and the object store"
  sh scripts/devenv.sh up
  for stack in dev dev-incluster; do
    prepare_project "$stack"
    say "pulumi up of the $stack stack"
    pulumi up --yes --non-interactive --stack "$stack"
    say "the migration report of $stack"
    pulumi stack output report --json --stack "$stack"
  done
  say "done in $(($(date +%s) - started))s: the dev stack migrated the source on this machine into namespace ferry, dev-incluster the source-db pod into ferry-incluster. Explore with: kubectl --kubeconfig .ferry/kubeconfig get all,pvc -n ferry; remove with: npm run demo -- down"
}

down() {
  pulumi_env
  for stack in dev-incluster dev; do
    [ -f "$project/Pulumi.$stack.yaml" ] || continue
    prepare_project "$stack"
    say "pulumi destroy of the $stack stack (the data volume and its namespace are kept)"
    pulumi destroy --yes --non-interactive --stack "$stack"
  done
  cd "$repo"
  sh scripts/devenv.sh down
  sh scripts/cluster.sh down
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *)
    echo "usage: scripts/demo.sh [up | down]" >&2
    exit 2
    ;;
esac
