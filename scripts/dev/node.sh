#!/bin/sh
# The local cluster's one real node, on this machine: containerd and runc from Debian, a CNI
# bridge (ferry0, 10.88.0.0/16) whose traffic never leaves the machine, the kubelet (cgroupfs
# driver, for this host's cgroup v1), kube-proxy in iptables mode, the locally built images
# imported into containerd, and CoreDNS for Service names. Started by scripts/dev/cluster.sh once the
# API server is up; state in .ferry/cluster/node, sockets in /run/ferry.
#
# Usage: scripts/dev/node.sh network | up | down   (cluster.sh passes its directories in the environment)
set -eu
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/build/versions.env
. scripts/build/versions.env
: "${FERRY_CLUSTER_DIR:?set by scripts/dev/cluster.sh}" "${FERRY_CLUSTER_BIN:?set by scripts/dev/cluster.sh}"
: "${FERRY_KUBECONFIG:?set by scripts/dev/cluster.sh}" "${FERRY_API_SERVER:?set by scripts/dev/cluster.sh}"
dir="$FERRY_CLUSTER_DIR/node"
bin=$FERRY_CLUSTER_BIN
pki="$FERRY_CLUSTER_DIR/pki"
run=/run/ferry
socket="$run/containerd/containerd.sock"
node_name=ferry-node-1
bridge=ferry0
node_ip=$NODE_ADDRESS
pod_subnet=10.88.0.0/16
dns_ip=10.96.0.10

say() { printf 'ferry node: %s\n' "$*" >&2; }
# shellcheck source=scripts/dev/processes.sh
. scripts/dev/processes.sh
k() { "$bin/kubectl" --kubeconfig "$FERRY_KUBECONFIG" "$@"; }
ctr_() { ctr --address "$socket" --namespace k8s.io "$@"; }

# client_certificate NAME SUBJECT: a client certificate signed by the cluster's CA.
client_certificate() {
  [ -f "$pki/$1.crt" ] && return 0
  openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$pki/$1.key" -out "$pki/$1.csr" 2>/dev/null
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/client.ext" -out "$pki/$1.crt" 2>/dev/null
}

# kubeconfig NAME: a kubeconfig for the client certificate NAME.
kubeconfig() {
  cat >"$dir/$1.kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters: [{ name: ferry-local, cluster: { server: "$FERRY_API_SERVER", certificate-authority: "$pki/ca.crt" } }]
users: [{ name: $1, user: { client-certificate: "$pki/$1.crt", client-key: "$pki/$1.key" } }]
contexts: [{ name: $1, context: { cluster: ferry-local, user: $1 } }]
current-context: $1
KUBECONFIG
  chmod 600 "$dir/$1.kubeconfig"
}

# The bridge exists before any pod so the node, and services on this machine that pods use (the
# dev object store), have an address on it from the start.
network() {
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add "$node_ip/16" dev "$bridge"
  fi
  ip link set "$bridge" up
  echo 1 >/proc/sys/net/ipv4/ip_forward
  echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
  # Pod traffic stays on this machine: nothing from the bridge is forwarded anywhere else.
  iptables -C FORWARD -i "$bridge" ! -o "$bridge" -j DROP 2>/dev/null ||
    iptables -I FORWARD 1 -i "$bridge" ! -o "$bridge" -j DROP
  mkdir -p "$dir/cni/net.d"
  cat >"$dir/cni/net.d/10-ferry.conflist" <<CNI
{
  "cniVersion": "1.0.0",
  "name": "ferry",
  "plugins": [
    {
      "type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$dir/cni/ipam",
        "ranges": [[{ "subnet": "$pod_subnet", "rangeStart": "10.88.1.0", "gateway": "$node_ip" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
CNI
}

containerd_up() {
  mkdir -p "$run/containerd" "$dir/containerd"
  cat >"$dir/containerd.toml" <<TOML
version = 2
root = "$dir/containerd/root"
state = "$run/containerd/state"
[grpc]
  address = "$socket"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$IMAGE_PAUSE"
  # This machine does not let even root lower an OOM score below its own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
TOML
  start containerd containerd --config "$dir/containerd.toml"
  wait_for containerd 30 ctr_ version
}

# Images are imported whenever containerd lacks them at the digest just built; nothing is pulled.
images_up() {
  images=$(sh scripts/build/images.sh "$bin" "$FERRY_MC_BINARY" "$FERRY_DATAPLANE_BINARY")
  present=$(ctr_ images ls | awk 'NR > 1 { print $1, $3 }')
  while read -r name reference digest; do
    printf '%s\n' "$present" | grep -qx "$reference $digest" && continue
    say "importing $reference"
    ctr_ images import "$images/$name.tar" </dev/null >/dev/null
  done <"$images/images.txt"
}

kubelet_up() {
  client_certificate kubelet "/O=system:nodes/CN=system:node:$node_name"
  kubeconfig kubelet
  mkdir -p "$dir/kubelet"
  cat >"$dir/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$socket
address: $node_ip
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: false }
  x509: { clientCAFile: "$pki/ca.crt" }
authorization: { mode: AlwaysAllow }
clusterDNS: [$dns_ip]
clusterDomain: cluster.local
# Pods get only the cluster's DNS, never this machine's resolver.
resolvConf: ""
# The images cannot be pulled again, so they are never collected, and a full disk is the
# migration's to report, not a reason to evict its pods.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: 100Mi, nodefs.available: "1%", imagefs.available: "1%" }
YAML
  start kubelet "$bin/kubelet" --config "$dir/kubelet.yaml" --kubeconfig "$dir/kubelet.kubeconfig" \
    --hostname-override "$node_name" --node-ip "$node_ip" --root-dir "$dir/kubelet" \
    --cert-dir "$dir/kubelet/pki"
  wait_for kubelet 90 sh -c "'$bin/kubectl' --kubeconfig '$FERRY_KUBECONFIG' get node $node_name -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
}

kube_proxy_up() {
  client_certificate kube-proxy "/CN=system:kube-proxy"
  kubeconfig kube-proxy
  start kube-proxy "$bin/kube-proxy" --kubeconfig "$dir/kube-proxy.kubeconfig" \
    --hostname-override "$node_name" --proxy-mode iptables --cluster-cidr "$pod_subnet" \
    --conntrack-max-per-core 0 --healthz-bind-address 127.0.0.1:10256 \
    --metrics-bind-address 127.0.0.1:10249
  wait_for kube-proxy 30 curl -fsS http://127.0.0.1:10256/healthz
}

coredns_up() {
  k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ServiceAccount
metadata: { name: coredns, namespace: kube-system }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: "system:coredns" }
rules:
  - { apiGroups: [""], resources: [endpoints, services, pods, namespaces], verbs: [list, watch] }
  - { apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "system:coredns" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns" }
subjects: [{ kind: ServiceAccount, name: coredns, namespace: kube-system }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: coredns, namespace: kube-system }
data:
  # Cluster names only: with no upstream, no query leaves this machine.
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
        }
        cache 30
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: coredns, namespace: kube-system, labels: { k8s-app: kube-dns } }
spec:
  replicas: 1
  selector: { matchLabels: { k8s-app: kube-dns } }
  template:
    metadata: { labels: { k8s-app: kube-dns } }
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      containers:
        - name: coredns
          image: $IMAGE_COREDNS
          imagePullPolicy: Never
          args: [-conf, /etc/coredns/Corefile]
          ports:
            - { name: dns, containerPort: 53, protocol: UDP }
            - { name: dns-tcp, containerPort: 53, protocol: TCP }
          readinessProbe: { httpGet: { path: /ready, port: 8181 }, periodSeconds: 2 }
          volumeMounts: [{ name: config, mountPath: /etc/coredns, readOnly: true }]
      volumes: [{ name: config, configMap: { name: coredns } }]
---
apiVersion: v1
kind: Service
metadata: { name: kube-dns, namespace: kube-system, labels: { k8s-app: kube-dns } }
spec:
  clusterIP: $dns_ip
  selector: { k8s-app: kube-dns }
  ports:
    - { name: dns, port: 53, protocol: UDP }
    - { name: dns-tcp, port: 53, protocol: TCP }
YAML
  k -n kube-system rollout status deployment/coredns --timeout=120s >&2
}

up() {
  mkdir -p "$dir"
  containerd_up
  images_up
  kubelet_up
  kube_proxy_up
  coredns_up
  say "up: node $node_name (containerd, kubelet, kube-proxy, CoreDNS), pods on $bridge $pod_subnet"
}

# Stops the node's processes, its pods' containers and their mounts; images and volumes stay.
down() {
  stop kube-proxy
  stop kubelet
  if running containerd; then
    for container in $(ctr_ tasks ls -q 2>/dev/null); do
      ctr_ tasks kill --signal SIGKILL "$container" >/dev/null 2>&1 || true
      ctr_ tasks delete --force "$container" >/dev/null 2>&1 || true
    done
  fi
  stop containerd
  pkill -f "containerd-shim-runc-v2 .*-address $socket" 2>/dev/null || true
  # Volumes the kubelet mounted for pods (Secrets are tmpfs) and the sandboxes' shm, deepest first.
  awk -v node="$dir/" -v run="$run/" 'index($2, node) == 1 || index($2, run) == 1 { print $2 }' \
    /proc/mounts | sort -r |
    while read -r mount; do umount -l "$mount" 2>/dev/null || true; done
}

case "${1:-}" in
  network) mkdir -p "$dir" && network ;;
  up) up ;;
  down) down ;;
  *)
    echo "usage: scripts/dev/node.sh network | up | down" >&2
    exit 2
    ;;
esac
