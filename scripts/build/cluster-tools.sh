#!/bin/sh
# Builds the local clusters' programs from their Go modules (and the pause container from the C
# source in k8s.io/kubernetes), cached under $FERRY_CACHE keyed by version and by the wrapper
# modules' content; each is built only when missing. Prints the directory that holds them.
# The destination cluster's Go programs (Kubernetes, CoreDNS, local-path-provisioner,
# kube-network-policies) come from one module, tools/kube, static (CGO off): one set of k8s.io
# versions and one build configuration, so Go compiles client-go and the rest once for all of them
# (each in a module of its own compiled its own k8s.io versions: most of a cold build's time).
#
# Usage: scripts/build/cluster-tools.sh [source]
#   (none)   the destination cluster's programs: Kubernetes $KUBERNETES_VERSION, kubectl, CoreDNS,
#            local-path-provisioner and kube-network-policies from tools/kube, etcd, and pause
#            (both clusters share all but Kubernetes' own)
#   source   the source cluster's control plane, kubelet and kube-proxy: Kubernetes
#            $SOURCE_KUBERNETES_VERSION, an older minor, from tools/kube-source
set -eu
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/build/versions.env
. scripts/build/versions.env
FERRY_CACHE=${FERRY_CACHE:-$HOME/.cache/ferry}

case "${1:-}" in
  source)
    key="$SOURCE_KUBERNETES_VERSION-$(cat tools/kube-source/go.mod tools/kube-source/go.sum | sha256sum | cut -c 1-12)"
    bin="$FERRY_CACHE/tools/cluster-source-$key"
    cluster="the source cluster's, Kubernetes $SOURCE_KUBERNETES_VERSION"
    ;;
  "")
    key="$KUBERNETES_VERSION-$ETCD_VERSION-$(cat tools/kube/go.mod tools/kube/go.sum tools/etcd/go.mod tools/etcd/go.sum | sha256sum | cut -c 1-12)"
    bin="$FERRY_CACHE/tools/cluster-$key"
    cluster="the destination cluster's, Kubernetes $KUBERNETES_VERSION"
    ;;
  *)
    echo "usage: scripts/build/cluster-tools.sh [source]" >&2
    exit 2
    ;;
esac

# Both clusters' builds number their steps: each line says whose programs they are.
say() { printf 'ferry cluster tools (%s): %s\n' "$cluster" "$*" >&2; }
# shellcheck source=scripts/build/progress.sh
. scripts/build/progress.sh
# shellcheck source=scripts/build/kube-module.sh
. scripts/build/kube-module.sh

# build NAME COMMAND...: a step, unless $bin/NAME exists: COMMAND writes $output, which becomes
# $bin/NAME (its output in .ferry/logs, scripts/build/progress.sh).
build() {
  name=$1
  shift
  [ -x "$bin/$name" ] && return 0
  output="$bin/$name.partial"
  progress_step "$(basename "$bin")-$name" "building $name" built "$name" "$@"
}

# built NAME COMMAND...: runs COMMAND, then moves what it wrote into place.
built() {
  name=$1
  shift
  "$@"
  mv "$output" "$bin/$name"
}

# kubernetes_program MODULE_DIR VERSION PROGRAM: a program of k8s.io/kubernetes, reporting VERSION
# (vMAJOR.MINOR.PATCH) the way a release build does. The destination's are static, the build
# configuration of the programs they share tools/kube with (see the top); the source cluster's,
# whose k8s.io versions nothing else shares, keep Go's default.
kubernetes_program() {
  minor=${2#v*.}
  minor=${minor%%.*}
  major=${2#v}
  major=${major%%.*}
  cgo=
  [ "$1" = tools/kube ] && cgo=0
  (cd "$1" && CGO_ENABLED=${cgo:-$(go env CGO_ENABLED)} go build -o "$output" \
    -ldflags "-X k8s.io/component-base/version.gitVersion=$2 -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor" \
    "k8s.io/kubernetes/cmd/$3")
}

# tool_program PACKAGE: a main package tools/kube requires (its go.mod's `tool` lines), static (it
# runs in an image of its own).
tool_program() {
  (cd tools/kube && CGO_ENABLED=0 go build -o "$output" "$1")
}

# The pause container's program, static, from the release's own source.
pause_program() {
  source_dir=$(cd tools/kube && go list -m -f '{{.Dir}}' k8s.io/kubernetes)
  cc -Os -static -Wall -Werror -DVERSION="$KUBERNETES_VERSION" -o "$output" \
    "$source_dir/build/pause/linux/pause.c"
}

mkdir -p "$bin"
if [ -z "${1:-}" ]; then
  kube_module_version "$COREDNS_MODULE" "$COREDNS_VERSION"
  kube_module_version "$PROVISIONER_MODULE" "$PROVISIONER_VERSION"
  kube_module_version "$NETWORK_POLICIES_MODULE" "$NETWORK_POLICIES_VERSION"
fi
steps() {
  if [ "${1:-}" = source ]; then
    for program in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
      build "$program" kubernetes_program tools/kube-source "$SOURCE_KUBERNETES_VERSION" "$program"
    done
    return 0
  fi
  for program in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; do
    build "$program" kubernetes_program tools/kube "$KUBERNETES_VERSION" "$program"
  done
  build etcd sh -c "cd tools/etcd && go build -o '$bin/etcd.partial' go.etcd.io/etcd/server/v3"
  build coredns tool_program "$COREDNS_MODULE"
  build local-path-provisioner tool_program "$PROVISIONER_MODULE"
  build "kube-network-policies-$NETWORK_POLICIES_VERSION" tool_program "$NETWORK_POLICIES_MODULE/cmd"
  build pause pause_program
}
progress_init
progress_plan_mode
steps "${1:-}"
progress_run_mode
steps "${1:-}"
printf '%s\n' "$bin"
