#!/bin/sh
# ferry's main job on the local default stack (dev): builds what is missing, starts the local
# clusters (an old source cluster and the destination) and the source databases and object store, and runs `pulumi up` of the dev stack, then
# prints the migration report. `scripts/dev/demo.sh down` destroys the stack (the data volume is kept)
# and stops everything.
#
# `scripts/dev/demo.sh many` goes on as a platform team would: on the storage the dev stack
# installed, two more migrations at the same time into the destination cluster, each a stack of its
# own with its own namespace, bucket and run id: dev-k8s (from the old cluster: the source in a pod
# there, dumped by a Job there) and dev-ssh (the source on the SSH host of scripts/dev/sshhost.sh).
#
# Everything runs for real: the dump on this machine, the import, verification and read/write
# test in pods on the destination cluster's node, MySQL on a volume its storage provisioner made.
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
project="$repo/.ferry/project"
secrets="$repo/.ferry/dev-secrets"
ledger_dir="$repo/.ferry/demo-ledger"

say() { printf '\nferry demo: %s\n' "$*" >&2; }
FERRY_CACHE=${FERRY_CACHE:-$HOME/.cache/ferry}
# shellcheck source=scripts/build/progress.sh
. scripts/build/progress.sh

# cluster_builds: the local clusters' programs (both Kubernetes versions) and their images, built
# before the clusters start so that each of their steps shows its own [k/n] line here rather than
# inside the clusters' step (their output goes to .ferry/logs); nothing when they are cached.
cluster_builds() {
  cluster_bin=$(sh scripts/build/cluster-tools.sh)
  sh scripts/build/cluster-tools.sh source >/dev/null
  sh scripts/build/images.sh "$cluster_bin" "$(command -v mc)" "$(command -v ferry-dataplane)" >/dev/null
}

# local_places: the local clusters, then the source database and the object store, each a step
# whose own output (kubectl's, the node's) goes to .ferry/logs; their summary lines follow.
local_places() {
  progress_step demo-clusters "starting the local clusters: the source on Kubernetes $SOURCE_KUBERNETES_VERSION, the destination on $KUBERNETES_VERSION" \
    sh scripts/dev/cluster.sh up
  progress_step demo-devenv "starting the source database and the object store" \
    sh scripts/dev/devenv.sh up
}

# shellcheck source=scripts/build/versions.env
. scripts/build/versions.env
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
# prepare_project [STACK]: STACK (dev) selected there, its stack file the repo's Pulumi.dev.yaml
# with the stack's own salt kept, and the dev secrets set.
prepare_project() {
  stack_name=${1:-dev}
  ferry_link_project "$repo" "$project"
  [ -e "$project/.ferry" ] || ln -s .. "$project/.ferry"
  salt=$(sed -n 's/^encryptionsalt: //p' "$project/Pulumi.$stack_name.yaml" 2>/dev/null || true)
  cp "$repo/Pulumi.dev.yaml" "$project/Pulumi.$stack_name.yaml"
  [ -z "$salt" ] || printf 'encryptionsalt: %s\n' "$salt" >>"$project/Pulumi.$stack_name.yaml"
  cd "$project"
  pulumi stack select "$stack_name" --create --non-interactive >/dev/null
  for key in sourcePassword destinationRootPassword objectStoreSecretKey; do
    pulumi config set --stack "$stack_name" --secret "$key" <"$secrets/$key" >/dev/null
  done
  # The dev servers' CA (scripts/dev/dev-tls.sh): every dump session verifies its source, every
  # client of the object store verifies MinIO.
  for key in source.tls.caCert objectStore.caCert; do
    pulumi config set --stack "$stack_name" --path "ferry:$key" <"$repo/.ferry/dev-tls/ca.crt" >/dev/null
  done
}

# prepare_stack STACK: a later migration's stack, on the storage the dev stack installed.
prepare_stack() {
  prepare_project "$1"
  pulumi config rm --stack "$1" ferry:storage
  pulumi config set --stack "$1" --path ferry:storage.install false
  pulumi config set --stack "$1" --path ferry:storage.storageClass.name neuronsan
  pulumi config set --stack "$1" --path ferry:migration.runId "$1-1"
}

# set_config STACK KEY VALUE...: sets each --path KEY of STACK to its VALUE.
set_config() {
  config_stack=$1
  shift
  while [ $# -ge 2 ]; do
    pulumi config set --stack "$config_stack" --path "$1" "$2"
    shift 2
  done
}

# source_cluster_config STACK NAMESPACE: STACK dumps the source cluster's server (devenv.sh) into
# NAMESPACE of the destination cluster.
source_cluster_config() {
  set_config "$1" ferry:destination.namespace "$2" ferry:source.mode kubernetes \
    ferry:source.host source-db.ferry-source.svc.cluster.local ferry:source.port 3306 \
    ferry:source.kubernetes.kubeconfig .ferry/kubeconfig ferry:source.kubernetes.context source \
    ferry:source.kubernetes.namespace ferry-source ferry:source.kubernetes.toolsImage ferry.local/tools:1
}

# A live migration from the source cluster's server while an application writes to it (ferry-ledger,
# into the database ledger, recording every transaction the server acknowledged): copied, then
# replicated until the cutover, which a second pulumi up makes (ferry:migration.cutover true); then
# the destination is checked against the application's ledger.
live() {
  up
  cd "$project"
  if pulumi stack output report --json --stack dev-live 2>/dev/null | grep -q '"live": "cut over'; then
    say "dev-live is cut over already: its report and the ledger's check are below. To run it again: npm run demo -- down, then npm run demo -- live"
    pulumi stack output report --json --stack dev-live
    cat "$ledger_dir/check.json" >&2 2>/dev/null || true
    return 0
  fi
  cd "$repo"
  prepare_stack dev-live
  source_cluster_config dev-live ferry-live
  # The destination's pods reach that server where its cluster exposes it: its node port.
  set_config dev-live ferry:migration.mode live ferry:migration.live.sourceHost 10.90.0.2 \
    ferry:migration.live.sourcePort 30306 ferry:migration.live.replicationUser ferry_replication \
    'ferry:source.databases[2]' ledger
  pulumi config set --stack dev-live --secret sourceReplicationPassword <"$secrets/sourceReplicationPassword" >/dev/null
  mkdir -p "$ledger_dir"
  rm -f "$ledger_dir"/*
  say "the application starts writing to the source cluster's server: 50 transactions a second (log: .ferry/logs/demo-ledger.log)"
  (
    LEDGER_HOST=10.90.0.2 LEDGER_PORT=30306 LEDGER_USER=writer LEDGER_PASSWORD_FILE="$secrets/ledgerWriterPassword" \
      LEDGER_TLS=verify-identity LEDGER_TLS_CA_FILE="$repo/.ferry/dev-tls/ca.crt" LEDGER_RATE=50
    export LEDGER_HOST LEDGER_PORT LEDGER_USER LEDGER_PASSWORD_FILE LEDGER_TLS LEDGER_TLS_CA_FILE LEDGER_RATE
    exec ferry-ledger write "$ledger_dir/tokens" >"$ledger_dir/written.json" 2>"$repo/.ferry/logs/demo-ledger.log"
  ) &
  writer=$!
  say "pulumi up of dev-live: the copy, then the destination replicates from the source cluster's server"
  pulumi up --yes --non-interactive --stack dev-live
  say "pulumi up of dev-live with ferry:migration.cutover true: the writes move to the destination"
  set_config dev-live ferry:migration.cutover true
  pulumi up --yes --non-interactive --stack dev-live
  # The application is refused by the source from the switch on; it stops here.
  kill -TERM "$writer"
  wait "$writer" || true
  say "the application wrote: $(cat "$ledger_dir/written.json")"
  say "it wrote to the source's address, so the source refused it from the cutover on (refusedAtEndMs); an application that reaches the database through ferry's Service (ferry:migration.live.applicationService) is moved to the destination the moment it takes writes: docs/live-migration.md"
  kubectl_bin="$(sh "$repo/scripts/build/cluster-tools.sh")/kubectl"
  address=$("$kubectl_bin" --kubeconfig "$repo/.ferry/kubeconfig" --context destination -n ferry-live \
    get service mysql -o 'jsonpath={.spec.clusterIP}')
  pulumi stack output databaseCaCertificate --stack dev-live >"$ledger_dir/destination-ca.crt"
  say "the destination against the application's ledger (every acknowledged transaction once):"
  (
    LEDGER_HOST=$address LEDGER_PORT=3306 LEDGER_USER=root LEDGER_PASSWORD_FILE="$secrets/destinationRootPassword" \
      LEDGER_TLS=verify-ca LEDGER_TLS_CA_FILE="$ledger_dir/destination-ca.crt"
    export LEDGER_HOST LEDGER_PORT LEDGER_USER LEDGER_PASSWORD_FILE LEDGER_TLS LEDGER_TLS_CA_FILE
    ferry-ledger check "$ledger_dir/tokens" | tee "$ledger_dir/check.json"
  )
  say "the migration report of dev-live"
  pulumi stack output report --json --stack dev-live
}

many() {
  up
  cd "$repo"
  say "starting the SSH source host"
  sh scripts/dev/sshhost.sh up
  host_key=$(sh scripts/dev/sshhost.sh host-key)
  prepare_stack dev-k8s
  source_cluster_config dev-k8s ferry-k8s
  prepare_stack dev-ssh
  set_config dev-ssh ferry:destination.namespace ferry-ssh ferry:source.mode ssh \
    ferry:source.host 127.0.0.1 ferry:source.port 3306 ferry:source.ssh.host 10.89.0.2 \
    ferry:source.ssh.user ferry-ssh ferry:source.ssh.hostKey "$host_key"
  pulumi config set --stack dev-ssh --secret sourcePassword <"$secrets/sshSourcePassword" >/dev/null
  pulumi config set --stack dev-ssh --secret sshPrivateKey <"$secrets/sshPrivateKey" >/dev/null
  say "pulumi up of dev-k8s (from the source cluster, Kubernetes $SOURCE_KUBERNETES_VERSION) and dev-ssh (from the SSH host) at the same time (their lines prefixed with the stack)"
  for stack in dev-k8s dev-ssh; do
    rm -f "$repo/.ferry/$stack.status"
    (
      status=0
      pulumi up --yes --non-interactive --stack "$stack" 2>&1 || status=$?
      echo "$status" >"$repo/.ferry/$stack.status"
    ) | sed "s/^/$stack | /" &
  done
  wait
  for stack in dev-k8s dev-ssh; do
    status=$(cat "$repo/.ferry/$stack.status")
    [ "$status" = 0 ] || {
      say "pulumi up of $stack failed (exit $status); its lines are above"
      exit 1
    }
    say "the migration report of $stack"
    pulumi stack output report --json --stack "$stack"
  done
  say "three migrations on one storage. Explore with: kubectl --kubeconfig .ferry/kubeconfig get deploy,pvc -A; remove with: npm run demo -- down"
}

# phase K TEXT: the demo's own steps, each with the time since it began, so that the [k/n] lines of
# the scripts below it (whose times start again at 0) sit under a count a newcomer can follow;
# worded apart from those, which are numbered within their script.
phase() { say "step $1 of 4: $2 ($(($(date +%s) - started))s since the demo began)"; }

up() {
  started=$(date +%s)
  phase 1 "ferry's tools and the Pulumi engine: installed or built where missing (cached after the first run)"
  pulumi_env
  phase 2 "the local clusters' programs and images: built where missing (cached too)"
  cluster_builds
  phase 3 "the local clusters, the source database and the object store"
  progress_init
  progress_plan_mode
  local_places
  progress_run_mode
  local_places
  grep -h ': up: ' .ferry/logs/demo-clusters.log .ferry/logs/demo-devenv.log >&2
  prepare_project
  phase 4 "pulumi up of the dev stack"
  pulumi up --yes --non-interactive --stack dev
  say "the migration report"
  pulumi stack output report --json --stack dev
  say "done in $(($(date +%s) - started))s. What to try next:"
  cat >&2 <<'NEXT'
  - the migrated database and its volume:
      kubectl --kubeconfig .ferry/kubeconfig get all,pvc -n ferry
  - the CA your applications trust:
      kubectl --kubeconfig .ferry/kubeconfig -n ferry get configmap mysql-ca -o jsonpath='{.data.ca\.crt}'
  - the import's own lines:
      kubectl --kubeconfig .ferry/kubeconfig -n ferry logs -l app.kubernetes.io/component=import
  - the report again (an up that changes nothing takes seconds): npm run demo
  - two more migrations at the same time, onto the storage dev installed: npm run demo -- many
  - a live migration from the old cluster, then its cutover: npm run demo -- live
  - remove it all: npm run demo -- down
  The build's own output (apt's, Go's, npm's) is under .ferry/logs.
NEXT
}

down() {
  pulumi_env
  if [ -d "$project" ]; then
    prepare_project
    for stack in dev-live dev-k8s dev-ssh; do
      if pulumi stack select "$stack" --non-interactive >/dev/null 2>&1; then
        say "pulumi destroy of $stack (its data volume and namespace are kept)"
        pulumi destroy --yes --non-interactive --stack "$stack"
      fi
    done
    say "pulumi destroy of the dev stack (the data volume, its namespace and the storage it lives on are kept)"
    pulumi destroy --yes --non-interactive --stack dev
  fi
  cd "$repo"
  sh scripts/dev/sshhost.sh down
  sh scripts/dev/devenv.sh down
  sh scripts/dev/cluster.sh down
}

case "${1:-up}" in
  up) up ;;
  many) many ;;
  live) live ;;
  down) down ;;
  *)
    echo "usage: scripts/dev/demo.sh [up | many | live | down]" >&2
    exit 2
    ;;
esac
