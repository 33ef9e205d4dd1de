#!/bin/sh
# Builds the local cluster's programs from their Go modules (and the pause container from the C
# source in k8s.io/kubernetes), cached under $FERRY_CACHE keyed by version and by the wrapper
# modules' content; each is built only when missing. Prints the directory that holds them.
set -eu
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/build/versions.env
. scripts/build/versions.env
FERRY_CACHE=${FERRY_CACHE:-$HOME/.cache/ferry}
key="$KUBERNETES_VERSION-$ETCD_VERSION-$(cat tools/kube/go.mod tools/kube/go.sum tools/etcd/go.mod tools/etcd/go.sum | sha256sum | cut -c 1-12)"
bin="$FERRY_CACHE/tools/cluster-$key"

say() { printf 'ferry cluster tools: %s\n' "$*" >&2; }

# build NAME COMMAND...: runs COMMAND (which writes $output) unless $bin/NAME exists.
build() {
  name=$1
  shift
  [ -x "$bin/$name" ] && return 0
  say "building $name (minutes on a cold cache)"
  started=$(date +%s)
  output="$bin/$name.partial"
  "$@" >&2
  mv "$output" "$bin/$name"
  say "built $name in $(($(date +%s) - started))s"
}

kubernetes_program() {
  (cd tools/kube && go build -o "$output" \
    -ldflags "-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34" \
    "k8s.io/kubernetes/cmd/$1")
}

# go_program MODULE VERSION: a module whose root is its main package, static (it runs in images).
go_program() {
  gobin=$(mktemp -d)
  CGO_ENABLED=0 GOBIN="$gobin" GOFLAGS=-buildvcs=false go install "$1@$2"
  mv "$gobin/$(basename "$1")" "$output"
  rm -rf "$gobin"
}

# The pause container's program, static, from the release's own source.
pause_program() {
  source_dir=$(cd tools/kube && go list -m -f '{{.Dir}}' k8s.io/kubernetes)
  cc -Os -static -Wall -Werror -DVERSION="$KUBERNETES_VERSION" -o "$output" \
    "$source_dir/build/pause/linux/pause.c"
}

mkdir -p "$bin"
for program in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; do
  build "$program" kubernetes_program "$program"
done
build etcd sh -c "cd tools/etcd && go build -o '$bin/etcd.partial' go.etcd.io/etcd/server/v3"
build coredns go_program "$COREDNS_MODULE" "$COREDNS_VERSION"
build local-path-provisioner go_program "$PROVISIONER_MODULE" "$PROVISIONER_VERSION"
build pause pause_program
printf '%s\n' "$bin"
