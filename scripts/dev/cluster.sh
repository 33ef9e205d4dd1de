#!/bin/sh
# The local Kubernetes clusters of the dev stacks, on this machine only: a source cluster on an older
# minor and a destination cluster (scripts/dev/cluster-settings.sh has their versions and
# addresses). Each has its own etcd, kube-apiserver, kube-controller-manager and kube-scheduler
# (built by scripts/build/cluster-tools.sh), its own CA and certificates made here with openssl, and
# one real node (scripts/dev/node.sh: containerd, kubelet, kube-proxy, CoreDNS) whose pods run the
# locally built images. State lives in .ferry/cluster (destination) and .ferry/cluster-source; the
# kubeconfig .ferry/kubeconfig has the contexts `source` and `destination`.
#
# Usage: scripts/dev/cluster.sh up | down | status
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
kubeconfig="$repo/.ferry/kubeconfig"
# shellcheck source=scripts/build/versions.env
. scripts/build/versions.env
# shellcheck source=scripts/dev/cluster-settings.sh
. scripts/dev/cluster-settings.sh
clusters="destination source"

say() { printf 'ferry cluster: %s\n' "$*" >&2; }

# shellcheck source=scripts/dev/processes.sh
. scripts/dev/processes.sh

# use CLUSTER: the settings of CLUSTER, and where its processes' pids and logs go.
use() {
  cluster=$1
  cluster_settings "$cluster"
  dir=$cluster_dir
  pki="$dir/pki"
}

certificates() {
  if [ -f "$pki/admin.crt" ]; then
    openssl x509 -in "$pki/apiserver.crt" -noout -text | grep -q "IP Address:$api_host," && return 0
    rm -rf "$pki" # made for an earlier layout of the cluster's addresses
  fi
  say "making the $cluster cluster's certificates"
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ferry-$cluster-ca" \
      -keyout ca.key -out ca.crt 2>/dev/null
    cat >apiserver.ext <<EXT
subjectAltName=IP:$api_host,IP:127.0.0.1,IP:$service_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
EXT
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=ferry-admin" -keyout admin.key -out admin.csr 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile client.ext -out admin.crt 2>/dev/null
    openssl genrsa -out service-account.key 2048 2>/dev/null
    openssl rsa -in service-account.key -pubout -out service-account.pub 2>/dev/null
  )
}

# kubeconfig_entries: this cluster's cluster, user and context entries, the context named after it.
kubeconfig_entries() {
  cat <<ENTRIES
clusters: [{ name: ferry-$cluster, cluster: { server: "https://$api_host:$api_port", certificate-authority: "$pki/ca.crt" } }]
users: [{ name: ferry-$cluster-admin, user: { client-certificate: "$pki/admin.crt", client-key: "$pki/admin.key" } }]
contexts: [{ name: $cluster, context: { cluster: ferry-$cluster, user: ferry-$cluster-admin } }]
ENTRIES
}

# The kubeconfig of each cluster's own components (its dir/admin.kubeconfig), and the one of the
# dev stacks, .ferry/kubeconfig, with both contexts.
write_kubeconfigs() {
  entries=$(mktemp -d)
  for name in $clusters; do
    use "$name"
    {
      printf 'apiVersion: v1\nkind: Config\ncurrent-context: %s\n' "$cluster"
      kubeconfig_entries
    } >"$dir/admin.kubeconfig"
    chmod 600 "$dir/admin.kubeconfig"
    kubeconfig_entries >"$entries/$cluster"
  done
  {
    printf 'apiVersion: v1\nkind: Config\ncurrent-context: destination\n'
    for part in clusters users contexts; do
      printf '%s:\n' "$part"
      for name in $clusters; do
        sed -n "s/^$part: \[\(.*\)\]$/  - \1/p" "$entries/$name"
      done
    done
  } >"$kubeconfig"
  chmod 600 "$kubeconfig"
  rm -rf "$entries"
}

# control_plane_up: this cluster's etcd, API server, controller manager and scheduler.
control_plane_up() {
  start etcd "$tools_bin/etcd" --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls http://127.0.0.1:0 \
    --log-level warn
  wait_for etcd 30 curl -fsS "http://127.0.0.1:$etcd_port/health"
  start kube-apiserver "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address "$api_host" --secure-port "$api_port" --advertise-address "$api_host" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --authorization-mode Node,RBAC \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$pki/service-account.pub" \
    --service-account-signing-key-file "$pki/service-account.key" \
    --service-cluster-ip-range "$service_range" --allow-privileged=true \
    --kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key" \
    --kubelet-preferred-address-types InternalIP
  wait_for kube-apiserver 90 "$tools_bin/kubectl" --kubeconfig "$dir/admin.kubeconfig" get --raw /readyz
  start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$dir/admin.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --service-account-private-key-file "$pki/service-account.key" \
    --root-ca-file "$pki/ca.crt" --cluster-signing-cert-file "$pki/ca.crt" \
    --cluster-signing-key-file "$pki/ca.key" --use-service-account-credentials=false \
    --leader-elect=false --controllers '*'
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$dir/admin.kubeconfig" --bind-address 127.0.0.1 \
    --secure-port 0 --leader-elect=false
}

# binaries: $tools_bin (the destination's Kubernetes, kubectl, etcd, CoreDNS, pause) and $bin (this
# cluster's own Kubernetes version), built when missing.
binaries() {
  tools_bin=$(sh scripts/build/cluster-tools.sh)
  if [ "$cluster" = source ]; then bin=$(sh scripts/build/cluster-tools.sh source); else bin=$tools_bin; fi
}

# tools: $tools_bin only, which is all that stopping or showing a cluster needs.
tools() {
  tools_bin=$(sh scripts/build/cluster-tools.sh)
  bin=$tools_bin
}

up() {
  for name in $clusters; do
    use "$name"
    mkdir -p "$dir"
    certificates
  done
  write_kubeconfigs
  for name in $clusters; do
    use "$name"
    binaries
    node_env sh scripts/dev/node.sh network
    control_plane_up
    node_env sh scripts/dev/node.sh up
    say "up: the $cluster cluster, Kubernetes $kubernetes_version, API server https://$api_host:$api_port, node $node_name"
  done
  say "up: kubeconfig .ferry/kubeconfig (contexts source, destination)"
}

# node_env COMMAND...: runs COMMAND with the settings scripts/dev/node.sh reads.
node_env() {
  tools_path=$(sh scripts/build/tools.sh)
  FERRY_CLUSTER=$cluster FERRY_CLUSTER_BIN=$bin FERRY_TOOLS_BIN=$tools_bin \
    FERRY_KUBECONFIG="$dir/admin.kubeconfig" FERRY_API_SERVER="https://$api_host:$api_port" \
    FERRY_MC_BINARY="$(PATH="$tools_path:$PATH" command -v mc)" \
    FERRY_DATAPLANE_BINARY="$(PATH="$tools_path:$PATH" command -v ferry-dataplane)" "$@"
}

down() {
  for name in $clusters; do
    use "$name"
    tools
    node_env sh scripts/dev/node.sh down
    for process in kube-scheduler kube-controller-manager kube-apiserver etcd; do
      stop "$process"
    done
    rm -rf "$dir/etcd"
  done
  say "down: processes stopped, etcd data removed (certificates, images and the volumes under /var/lib/neuronsan/volumes kept)"
}

status() {
  for name in $clusters; do
    use "$name"
    tools
    for process in etcd kube-apiserver kube-controller-manager kube-scheduler node/containerd node/kubelet node/kube-proxy; do
      if running "$process"; then echo "$cluster $process: running"; else echo "$cluster $process: stopped"; fi
    done
    "$tools_bin/kubectl" --kubeconfig "$kubeconfig" --context "$cluster" get nodes -o wide 2>/dev/null || true
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *)
    echo "usage: scripts/dev/cluster.sh up | down | status" >&2
    exit 2
    ;;
esac
