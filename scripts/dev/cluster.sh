#!/bin/sh
# A local Kubernetes cluster for the dev stack, on this machine only: etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler built by scripts/build/cluster-tools.sh, certificates made
# here with openssl, and one real node (scripts/dev/node.sh: containerd, kubelet, kube-proxy, CoreDNS)
# whose pods run the locally built images. Everything lives in .ferry/cluster; the kubeconfig
# .ferry/kubeconfig has the contexts `source` and `destination`, both this cluster.
#
# Usage: scripts/dev/cluster.sh up | down | status
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
dir="$repo/.ferry/cluster"
kubeconfig="$repo/.ferry/kubeconfig"
api_port=${FERRY_API_PORT:-16443}
etcd_port=${FERRY_ETCD_PORT:-12379}
# shellcheck source=scripts/build/versions.env
. scripts/build/versions.env
api_host=$NODE_ADDRESS

say() { printf 'ferry cluster: %s\n' "$*" >&2; }

# shellcheck source=scripts/dev/processes.sh
. scripts/dev/processes.sh

certificates() {
  if [ -f "$dir/pki/admin.crt" ]; then
    openssl x509 -in "$dir/pki/apiserver.crt" -noout -text | grep -q "IP Address:$api_host," && return 0
    rm -rf "$dir/pki" # made for an earlier layout of the cluster's addresses
  fi
  say "making certificates"
  mkdir -p "$dir/pki"
  cd "$dir/pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ferry-local-ca" \
    -keyout ca.key -out ca.crt 2>/dev/null
  cat >apiserver.ext <<EXT
subjectAltName=IP:$api_host,IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
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
  cd "$repo"
}

write_kubeconfig() {
  pki="$dir/pki"
  cat >"$kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: ferry-local
    cluster:
      server: https://$api_host:$api_port
      certificate-authority: $pki/ca.crt
users:
  - name: ferry-admin
    user:
      client-certificate: $pki/admin.crt
      client-key: $pki/admin.key
contexts:
  - name: source
    context: { cluster: ferry-local, user: ferry-admin }
  - name: destination
    context: { cluster: ferry-local, user: ferry-admin }
current-context: destination
KUBECONFIG
  chmod 600 "$kubeconfig"
}

up() {
  bin=$(sh scripts/build/cluster-tools.sh)
  mkdir -p "$dir"
  certificates
  write_kubeconfig
  node_env sh scripts/dev/node.sh network
  pki="$dir/pki"
  start etcd "$bin/etcd" --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
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
    --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true \
    --kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key" \
    --kubelet-preferred-address-types InternalIP
  wait_for kube-apiserver 90 "$bin/kubectl" --kubeconfig "$kubeconfig" get --raw /readyz
  start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --service-account-private-key-file "$pki/service-account.key" \
    --root-ca-file "$pki/ca.crt" --cluster-signing-cert-file "$pki/ca.crt" \
    --cluster-signing-key-file "$pki/ca.key" --use-service-account-credentials=false \
    --leader-elect=false --controllers '*'
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$kubeconfig" --bind-address 127.0.0.1 \
    --secure-port 0 --leader-elect=false
  node_env sh scripts/dev/node.sh up
  say "up: kubeconfig .ferry/kubeconfig (contexts source, destination); node ferry-node-1 runs real pods"
}

# node_env COMMAND...: runs COMMAND with the settings scripts/dev/node.sh reads.
node_env() {
  tools_path=$(sh scripts/build/tools.sh)
  FERRY_CLUSTER_DIR=$dir FERRY_CLUSTER_BIN=$bin FERRY_KUBECONFIG=$kubeconfig \
    FERRY_API_SERVER="https://$api_host:$api_port" \
    FERRY_MC_BINARY="$(PATH="$tools_path:$PATH" command -v mc)" \
    FERRY_DATAPLANE_BINARY="$(PATH="$tools_path:$PATH" command -v ferry-dataplane)" "$@"
}

down() {
  bin=$(sh scripts/build/cluster-tools.sh)
  node_env sh scripts/dev/node.sh down
  for name in kube-scheduler kube-controller-manager kube-apiserver etcd; do
    stop "$name"
  done
  rm -rf "$dir/etcd"
  say "down: processes stopped, etcd data removed (certificates, images and the volumes under /var/lib/neuronsan/volumes kept)"
}

status() {
  bin=$(sh scripts/build/cluster-tools.sh)
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler node/containerd node/kubelet node/kube-proxy; do
    if running "$name"; then echo "$name: running"; else echo "$name: stopped"; fi
  done
  "$bin/kubectl" --kubeconfig "$kubeconfig" get nodes 2>/dev/null || true
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
