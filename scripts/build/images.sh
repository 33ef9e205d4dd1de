#!/bin/sh
# Builds the local cluster's container images without a registry, as OCI archives that
# `ctr images import` takes: a Debian rootfs made with debootstrap from this machine's own Debian
# source, holding MariaDB and its client tools (the database image), plus mc and ferry-dataplane
# (the tools image), and
# one-binary images of the pause container, CoreDNS, the volume provisioner and the NetworkPolicy
# enforcer. Cached under
# $FERRY_CACHE/images keyed by what goes into them; rebuilt only when missing.
#
# Usage: scripts/build/images.sh CLUSTER_TOOLS_DIR MC_BINARY DATAPLANE_BINARY
# (prints the folder of the archives)
set -eu
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/build/versions.env
. scripts/build/versions.env
FERRY_CACHE=${FERRY_CACHE:-$HOME/.cache/ferry}
cluster_tools=$1
mc_binary=$2
dataplane_binary=$3
key=$(cat scripts/build/images.sh scripts/build/images/mariadb-entrypoint.sh scripts/build/versions.env "$dataplane_binary" | sha256sum | cut -c 1-12)
out="$FERRY_CACHE/images/$key"

say() { printf 'ferry images: %s\n' "$*" >&2; }
# shellcheck source=scripts/build/progress.sh
. scripts/build/progress.sh

# blob FILE: moves FILE into the layout's blobs by its sha256 and prints the digest.
blob() {
  digest=$(sha256sum "$1" | cut -d ' ' -f 1)
  mv "$1" "$layout/blobs/sha256/$digest"
  printf 'sha256:%s' "$digest"
}

# descriptor MEDIA_TYPE DIGEST: a JSON descriptor of a blob in the layout.
descriptor() {
  size=$(wc -c <"$layout/blobs/sha256/${2#sha256:}")
  printf '{"mediaType":"%s","digest":"%s","size":%s}' "$1" "$2" "$size"
}

# oci_archive NAME REFERENCE CONFIG_JSON LAYER_TAR...: one image as an OCI archive in $out/NAME.tar.
# Layers stay uncompressed: they never leave this machine.
oci_archive() {
  name=$1
  reference=$2
  container_config=$3
  shift 3
  layout=$(mktemp -d "$work/layout.XXXXXX")
  mkdir -p "$layout/blobs/sha256"
  layers="" diff_ids=""
  for layer in "$@"; do
    # A hard link: the Debian layer is some hundreds of MiB and two images share it.
    ln "$layer" "$layout/layer.tar"
    digest=$(blob "$layout/layer.tar")
    layers="$layers${layers:+,}$(descriptor application/vnd.oci.image.layer.v1.tar "$digest")"
    diff_ids="$diff_ids${diff_ids:+,}\"$digest\""
  done
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$container_config" "$diff_ids" >"$layout/config.json"
  config=$(blob "$layout/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
    "$(descriptor application/vnd.oci.image.config.v1+json "$config")" "$layers" >"$layout/manifest.json"
  manifest=$(blob "$layout/manifest.json")
  # io.containerd.image.name is the name `ctr images import` gives the image.
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$(wc -c <"$layout/blobs/sha256/${manifest#sha256:}")" "$reference" "${reference##*:}" >"$layout/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  tar -C "$layout" -cf "$out.partial/$name.tar" oci-layout index.json blobs
  printf '%s %s %s\n' "$name" "$reference" "$manifest" >>"$out.partial/images.txt"
  rm -rf "$layout"
}

# binary_layer BINARY PATH: a layer holding one static binary at PATH.
binary_layer() {
  root=$(mktemp -d "$work/root.XXXXXX")
  mkdir -p "$root$(dirname "$2")"
  cp "$1" "$root$2"
  tar -C "$root" -cf "$root.tar" .
  rm -rf "$root"
  printf '%s.tar' "$root"
}

debian_rootfs() {
  # The Debian source this machine's apt uses, so the image comes from the same place.
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null ||
    true)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)
  debootstrap --variant=minbase --include="$IMAGE_DEBIAN_PACKAGES" "$DEBIAN_SUITE" "$work/rootfs" \
    "$mirror"
  # Trimmed: the package caches and lists, the docs, and the Debian default that binds to loopback.
  rm -rf "$work/rootfs/var/cache/apt/archives"/*.deb "$work/rootfs/var/lib/apt/lists"/* \
    "$work/rootfs/usr/share/doc" "$work/rootfs/usr/share/man" "$work/rootfs/var/lib/mysql"/*
  sed -i 's/^bind-address/#bind-address/' "$work/rootfs/etc/mysql/mariadb.conf.d/50-server.cnf"
  install -m 0755 scripts/build/images/mariadb-entrypoint.sh "$work/rootfs/usr/local/bin/ferry-mariadb-entrypoint"
  mkdir -p "$work/rootfs/docker-entrypoint-initdb.d"
  tar -C "$work/rootfs" -cf "$work/debian.tar" .
  rm -rf "$work/rootfs"
}

build_images() {
  rm -rf "$out.partial"
  mkdir -p "$out.partial"
  work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-images.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  debian_rootfs
  path_env='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
  oci_archive mariadb "$IMAGE_MARIADB" \
    "{$path_env,\"Entrypoint\":[\"/usr/local/bin/ferry-mariadb-entrypoint\"],\"ExposedPorts\":{\"3306/tcp\":{}}}" \
    "$work/debian.tar"
  oci_archive tools "$IMAGE_TOOLS" "{$path_env,\"Cmd\":[\"/bin/sh\"]}" \
    "$work/debian.tar" "$(binary_layer "$mc_binary" /usr/local/bin/mc)" \
    "$(binary_layer "$dataplane_binary" /usr/local/bin/ferry-dataplane)"
  oci_archive pause "$IMAGE_PAUSE" '{"Entrypoint":["/pause"]}' \
    "$(binary_layer "$cluster_tools/pause" /pause)"
  oci_archive coredns "$IMAGE_COREDNS" '{"Entrypoint":["/coredns"]}' \
    "$(binary_layer "$cluster_tools/coredns" /coredns)"
  oci_archive local-path-provisioner "$IMAGE_PROVISIONER" \
    '{"Entrypoint":["/usr/bin/local-path-provisioner"]}' \
    "$(binary_layer "$cluster_tools/local-path-provisioner" /usr/bin/local-path-provisioner)"
  oci_archive network-policies "$IMAGE_NETWORK_POLICIES" '{"Entrypoint":["/bin/netpol"]}' \
    "$(binary_layer "$cluster_tools/kube-network-policies-$NETWORK_POLICIES_VERSION" /bin/netpol)"
  rm -rf "$out"
  mv "$out.partial" "$out"
}

steps() {
  [ -s "$out/images.txt" ] || progress_step images \
    "building the images: a Debian $DEBIAN_SUITE root with MariaDB (debootstrap), tools, pause, CoreDNS, local-path-provisioner, kube-network-policies" \
    build_images
}
progress_init
progress_plan_mode
steps
progress_run_mode
steps
printf '%s\n' "$out"
