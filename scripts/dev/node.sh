#!/bin/sh
# A local cluster's one real node, on this machine: containerd and runc from Debian, a CNI bridge
# whose traffic never leaves the machine, the kubelet (cgroupfs driver, for this host's cgroup v1),
# kube-proxy in iptables mode, the locally built images imported into containerd, CoreDNS for
# Service names, and kube-network-policies to enforce NetworkPolicy. Started by
# scripts/dev/cluster.sh once the cluster's API server is up, for the cluster it names
# (scripts/dev/cluster-settings.sh: the destination's node on this machine's own network, the
# source's in a network namespace of its own); state in the cluster's directory under node/, sockets
# under /run.
#
# Usage: scripts/dev/node.sh network | up | down   (cluster.sh passes the cluster and its directories
# in the environment)
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
# shellcheck source=scripts/build/versions.env
. scripts/build/versions.env
# shellcheck source=scripts/dev/cluster-settings.sh
. scripts/dev/cluster-settings.sh
: "${FERRY_CLUSTER:?set by scripts/dev/cluster.sh}" "${FERRY_CLUSTER_BIN:?set by scripts/dev/cluster.sh}"
: "${FERRY_TOOLS_BIN:?set by scripts/dev/cluster.sh}" "${FERRY_KUBECONFIG:?set by scripts/dev/cluster.sh}"
: "${FERRY_API_SERVER:?set by scripts/dev/cluster.sh}"
cluster_settings "$FERRY_CLUSTER"
dir="$cluster_dir/node"
bin=$FERRY_CLUSTER_BIN
tools_bin=$FERRY_TOOLS_BIN
pki="$cluster_dir/pki"
run=$node_run
socket="$run/containerd/containerd.sock"
# kube-network-policies' metrics (its readiness) on the node's loopback, a port nothing else takes,
# and the netfilter queue it reads.
network_policies_metrics_port=10280
network_policy_queue=100

say() { printf 'ferry node: %s\n' "$*" >&2; }
# shellcheck source=scripts/dev/processes.sh
. scripts/dev/processes.sh
k() { "$tools_bin/kubectl" --kubeconfig "$FERRY_KUBECONFIG" "$@"; }

# in_node COMMAND...: COMMAND on the node's network (its own namespace, or this machine's); only the
# network namespace changes, so the kubelet's mounts are the ones containerd and this machine see.
in_node() {
  [ -z "$node_netns" ] || set -- nsenter --net="/run/netns/$node_netns" "$@"
  "$@"
}

# start_in_node NAME COMMAND...: start (processes.sh) on the node's network; nsenter execs COMMAND,
# so the pid kept is COMMAND's own.
start_in_node() {
  name=$1
  shift
  [ -z "$node_netns" ] || set -- nsenter --net="/run/netns/$node_netns" "$@"
  start "$name" "$@"
}
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
clusters: [{ name: ferry-$FERRY_CLUSTER, cluster: { server: "$FERRY_API_SERVER", certificate-authority: "$pki/ca.crt" } }]
users: [{ name: $1, user: { client-certificate: "$pki/$1.crt", client-key: "$pki/$1.key" } }]
contexts: [{ name: $1, context: { cluster: ferry-$FERRY_CLUSTER, user: $1 } }]
current-context: $1
KUBECONFIG
  chmod 600 "$dir/$1.kubeconfig"
}

# The bridge exists before any pod so the node, and services on this machine that pods use (the
# dev object store), have an address on it from the start.
network() {
  if [ -n "$node_netns" ]; then
    node_network
  elif ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add "$node_ip/16" dev "$bridge"
  fi
  in_node ip link set "$bridge" up
  in_node sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward && echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables'
  # Pod traffic stays on this machine: nothing from the bridge is forwarded anywhere else.
  in_node iptables -C FORWARD -i "$bridge" ! -o "$bridge" -j DROP 2>/dev/null ||
    in_node iptables -I FORWARD 1 -i "$bridge" ! -o "$bridge" -j DROP
  [ -z "$node_netns" ] || node_network_rules
  network_policy_queue
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
        "ranges": [[{ "subnet": "$pod_subnet", "rangeStart": "$pod_range_start", "gateway": "$pod_gateway" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
CNI
}

# The first packet of every pod connection goes to the NetworkPolicy enforcer's netfilter queue for
# its verdict (network_policies_up). kube-network-policies diverts them itself with nftables' queue
# expression, which this machine's kernel lacks (its own rules fail with "no such file or
# directory"); the x_tables NFQUEUE target is there, so the node diverts them: what leaves through an
# interface (postrouting, after the Services' DNAT, as the enforcer's own rule does) and, further
# than the enforcer goes, what pods send to the node's own addresses (input), so a Job's egress
# policy also holds for the object store and the API server on this machine. Root's own traffic on
# the node (the kubelet's probes, the enforcer's API connection) is left alone, as the enforcer
# leaves it; a pod that no policy selects is accepted by the enforcer. While the enforcer is not
# listening the queue is bypassed: a node without it is a node without NetworkPolicy, as before.
network_policy_queue() {
  in_node iptables -t mangle -N FERRY-NETWORK-POLICY 2>/dev/null || in_node iptables -t mangle -F FERRY-NETWORK-POLICY
  for rule in "-m conntrack ! --ctstate NEW -j RETURN" \
    "-s $pod_subnet -j NFQUEUE --queue-num $network_policy_queue --queue-bypass" \
    "-d $pod_subnet -j NFQUEUE --queue-num $network_policy_queue --queue-bypass"; do
    # shellcheck disable=SC2086 # each rule is words of this script's own
    in_node iptables -t mangle -A FERRY-NETWORK-POLICY $rule
  done
  for hook in "POSTROUTING -m owner ! --uid-owner 0" "INPUT -i $bridge"; do
    # shellcheck disable=SC2086 # as above
    in_node iptables -t mangle -C $hook -j FERRY-NETWORK-POLICY 2>/dev/null ||
      in_node iptables -t mangle -A $hook -j FERRY-NETWORK-POLICY
  done
}

# A node in a namespace of its own: a veth pair to this machine (the node's address inside, the API
# server's outside) and its pods' bridge inside.
node_network() {
  namespace_link "$node_netns" "$node_link" "$api_host" "$node_ip" 30
  if ! ip -n "$node_netns" link show "$bridge" >/dev/null 2>&1; then
    ip -n "$node_netns" link add "$bridge" type bridge
    ip -n "$node_netns" addr add "$pod_gateway/16" dev "$bridge"
  fi
}

# ...whose pods reach this machine as the node does, and only this machine: the node hides their
# addresses behind its own, and this machine forwards nothing that comes from the node.
node_network_rules() {
  in_node iptables -C FORWARD -i "$bridge" -o eth0 -j ACCEPT 2>/dev/null ||
    in_node iptables -I FORWARD 1 -i "$bridge" -o eth0 -j ACCEPT
  in_node iptables -t nat -C POSTROUTING -s "$pod_subnet" -o eth0 -j MASQUERADE 2>/dev/null ||
    in_node iptables -t nat -A POSTROUTING -s "$pod_subnet" -o eth0 -j MASQUERADE
  iptables -C FORWARD -i "$node_link" -j DROP 2>/dev/null || iptables -I FORWARD 1 -i "$node_link" -j DROP
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
  start_in_node containerd containerd --config "$dir/containerd.toml"
  wait_for containerd 30 ctr_ version
}

# Images are imported whenever containerd lacks them at the digest just built; nothing is pulled.
images_up() {
  images=$(sh scripts/build/images.sh "$tools_bin" "$FERRY_MC_BINARY" "$FERRY_DATAPLANE_BINARY")
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
  mkdir -p "$dir/kubelet" "$pod_logs"
  # The cgroup the kubelet puts its pods under must exist in every hierarchy; cpuset's needs this
  # machine's CPUs and memory nodes before anything can join it.
  if [ "$cgroup_root" != / ]; then
    for hierarchy in /sys/fs/cgroup/*/; do
      [ -f "$hierarchy/cgroup.procs" ] && mkdir -p "$hierarchy${cgroup_root#/}"
    done
    for setting in cpus mems; do
      cat "/sys/fs/cgroup/cpuset/cpuset.$setting" >"/sys/fs/cgroup/cpuset${cgroup_root}/cpuset.$setting"
    done
  fi
  cat >"$dir/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$socket
address: $node_ip
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
cgroupRoot: $cgroup_root
podLogsDir: $pod_logs
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
  start_in_node kubelet "$bin/kubelet" --config "$dir/kubelet.yaml" --kubeconfig "$dir/kubelet.kubeconfig" \
    --hostname-override "$node_name" --node-ip "$node_ip" --root-dir "$dir/kubelet" \
    --cert-dir "$dir/kubelet/pki"
  wait_for kubelet 90 sh -c "'$tools_bin/kubectl' --kubeconfig '$FERRY_KUBECONFIG' get node $node_name -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
}

kube_proxy_up() {
  client_certificate kube-proxy "/CN=system:kube-proxy"
  kubeconfig kube-proxy
  start_in_node kube-proxy "$bin/kube-proxy" --kubeconfig "$dir/kube-proxy.kubeconfig" \
    --hostname-override "$node_name" --proxy-mode iptables --cluster-cidr "$pod_subnet" \
    --conntrack-max-per-core 0 --healthz-bind-address 127.0.0.1:10256 \
    --metrics-bind-address 127.0.0.1:10249
  wait_for kube-proxy 30 in_node curl -fsS http://127.0.0.1:10256/healthz
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
  # Its progress lines are noise; a timeout says so on stderr.
  k -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null
}

# NetworkPolicy, enforced: kube-network-policies as its project deploys it (a DaemonSet on the node's
# network, privileged, since it reads the node's netfilter queue), its own manifest but for the local
# image and its metrics on loopback. It judges each connection's first packet that the node queues
# (network_policy_queue) against the policies of the pods at both ends, from the API server's pod
# addresses (its NRI plugin finds no NRI socket in this containerd and says so once). Its own
# nftables rules fail on this kernel and it logs that at each sync; the node's queue rules stand in.
network_policies_up() {
  k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ServiceAccount
metadata: { name: kube-network-policies, namespace: kube-system }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: kube-network-policies }
rules:
  - { apiGroups: [""], resources: [pods, namespaces], verbs: [list, watch] }
  - { apiGroups: [networking.k8s.io], resources: [networkpolicies], verbs: [list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: kube-network-policies }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kube-network-policies }
subjects: [{ kind: ServiceAccount, name: kube-network-policies, namespace: kube-system }]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: kube-network-policies, namespace: kube-system, labels: { app: kube-network-policies } }
spec:
  selector: { matchLabels: { app: kube-network-policies } }
  template:
    metadata: { labels: { app: kube-network-policies } }
    spec:
      hostNetwork: true
      serviceAccountName: kube-network-policies
      tolerations: [{ operator: Exists, effect: NoSchedule }]
      containers:
        - name: kube-network-policies
          image: $IMAGE_NETWORK_POLICIES
          imagePullPolicy: Never
          args:
            - --hostname-override=\$(NODE_NAME)
            - --nfqueue-id=$network_policy_queue
            - --metrics-bind-address=127.0.0.1:$network_policies_metrics_port
            # The DNS race it works around is fixed in this machine's kernel (6.12 and later).
            - --netfilter-bug-1766-fix=false
          env: [{ name: NODE_NAME, valueFrom: { fieldRef: { fieldPath: spec.nodeName } } }]
          securityContext: { privileged: true, capabilities: { add: [NET_ADMIN] } }
          readinessProbe:
            httpGet: { host: 127.0.0.1, port: $network_policies_metrics_port, path: /metrics }
            periodSeconds: 2
YAML
  k -n kube-system rollout status daemonset/kube-network-policies --timeout=120s >/dev/null
}

up() {
  mkdir -p "$dir"
  containerd_up
  images_up
  kubelet_up
  kube_proxy_up
  coredns_up
  network_policies_up
  say "up: node $node_name (containerd, kubelet, kube-proxy, CoreDNS, kube-network-policies), pods on $bridge $pod_subnet"
}

# Stops the node's processes, its pods' containers and their mounts; images and volumes stay.
down() {
  stop kube-proxy
  stop kubelet
  pod_networks=
  if running containerd; then
    # The pods' network namespaces (the CNI's /run/netns/cni-*, which the kubelet would have
    # removed with each pod): those of this node's containers, known by their inode.
    for pid in $(ctr_ tasks ls 2>/dev/null | awk 'NR > 1 { print $2 }'); do
      pod_networks="$pod_networks $(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null || true)"
    done
    for container in $(ctr_ tasks ls -q 2>/dev/null); do
      ctr_ tasks kill --signal SIGKILL "$container" >/dev/null 2>&1 || true
      ctr_ tasks delete --force "$container" >/dev/null 2>&1 || true
    done
  fi
  for namespace in /run/netns/cni-*; do
    [ -e "$namespace" ] || continue
    case " $pod_networks " in
      *" $(stat -L -c %i "$namespace" 2>/dev/null) "*) ip netns del "${namespace#/run/netns/}" 2>/dev/null || true ;;
    esac
  done
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
