# shellcheck shell=sh disable=SC2034,SC2153,SC2154 # set and read by the sourcing scripts
# The two local clusters, sourced by scripts/dev/cluster.sh and scripts/dev/node.sh (after
# scripts/build/versions.env, with $repo set): `cluster_settings NAME` sets NAME's addresses,
# directories and version.
#
# destination: Kubernetes $KUBERNETES_VERSION, its node on this machine's own network, pods on the
#   bridge ferry0, where the dev object store also listens.
# source: Kubernetes $SOURCE_KUBERNETES_VERSION (an older minor), its own etcd, API server, CA and
#   node; the node (containerd, kubelet, kube-proxy, its pods' bridge ferry1) runs in the network
#   namespace ferry-source-node, joined to this machine by a veth pair as a second machine on a
#   routed network would be: its pods reach this machine's addresses (the object store) through
#   the node's address, and nothing else.
cluster_settings() {
  case "$1" in
    destination)
      cluster_dir="$repo/.ferry/cluster"
      kubernetes_version=$KUBERNETES_VERSION
      api_host=$NODE_ADDRESS
      api_port=16443
      etcd_port=12379
      service_range=10.96.0.0/16
      service_ip=10.96.0.1
      dns_ip=10.96.0.10
      node_name=ferry-node-1
      node_ip=$NODE_ADDRESS
      node_netns=
      bridge=ferry0
      pod_subnet=10.88.0.0/16
      pod_gateway=$NODE_ADDRESS
      pod_range_start=10.88.1.0
      node_run=/run/ferry
      # The kubelet's own cgroup tree and pod logs: the defaults, this node being the machine's.
      cgroup_root=/
      pod_logs=/var/log/pods
      ;;
    source)
      cluster_dir="$repo/.ferry/cluster-source"
      kubernetes_version=$SOURCE_KUBERNETES_VERSION
      api_host=10.90.0.1
      api_port=16444
      etcd_port=12380
      service_range=10.97.0.0/16
      service_ip=10.97.0.1
      dns_ip=10.97.0.10
      node_name=ferry-source-node-1
      node_ip=10.90.0.2
      node_netns=ferry-source-node
      node_link=ferry-src0
      bridge=ferry1
      pod_subnet=10.87.0.0/16
      pod_gateway=10.87.0.1
      pod_range_start=10.87.1.0
      node_run=/run/ferry-source
      # A second kubelet on one machine must not touch the first's pods: its cgroups and pod logs
      # live apart (a kubelet removes log directories of pods it does not know).
      cgroup_root=/ferry-source
      pod_logs="$cluster_dir/node/pod-logs"
      ;;
    *)
      echo "unknown cluster $1 (destination | source)" >&2
      exit 2
      ;;
  esac
}
