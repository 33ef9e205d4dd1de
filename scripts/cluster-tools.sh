#!/bin/sh
# Builds the local cluster's programs from their Go modules, cached under $FERRY_CACHE keyed by
# version and by the wrapper modules' content. Prints the directory that holds them.
set -eu
cd "$(dirname "$0")/.."
# shellcheck source=scripts/versions.env
. scripts/versions.env
FERRY_CACHE=${FERRY_CACHE:-$HOME/.cache/ferry}
key="$KUBERNETES_VERSION-$ETCD_VERSION-$KWOK_VERSION-$(cat tools/kube/go.mod tools/kube/go.sum tools/etcd/go.mod tools/etcd/go.sum | sha256sum | cut -c 1-12)"
bin="$FERRY_CACHE/tools/cluster-$key"

say() { printf 'ferry cluster tools: %s\n' "$*" >&2; }

if [ ! -x "$bin/kwok" ]; then
  rm -rf "$bin.partial"
  mkdir -p "$bin.partial"
  started=$(date +%s)
  say "building kube-apiserver, kube-controller-manager, kube-scheduler $KUBERNETES_VERSION (about 10 minutes cold)"
  for program in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    (cd tools/kube && go build -o "$bin.partial/$program" \
      -ldflags "-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34" \
      "k8s.io/kubernetes/cmd/$program") >&2
  done
  say "building etcd $ETCD_VERSION"
  (cd tools/etcd && go build -o "$bin.partial/etcd" go.etcd.io/etcd/server/v3) >&2
  say "building kwok $KWOK_VERSION"
  GOBIN="$bin.partial" go install "$KWOK_MODULE/cmd/kwok@$KWOK_VERSION" >&2
  rm -rf "$bin"
  mv "$bin.partial" "$bin"
  say "built the cluster's programs in $(($(date +%s) - started))s"
fi
# kwok's "fast" stages (what its kustomize/stage/fast lists): nodes become Ready at once and keep a
# lease, pods become Ready, and pods owned by Jobs Succeed: simulated, nothing runs.
if [ ! -s "$bin/kwok-stages.yaml" ]; then
  stages="$(go env GOMODCACHE)/$KWOK_MODULE@$KWOK_VERSION/kustomize/stage"
  [ -d "$stages" ] || GOFLAGS=-mod=mod go mod download "$KWOK_MODULE@$KWOK_VERSION"
  for file in "$stages"/node/fast/node-initialize.yaml "$stages"/node/heartbeat-with-lease/*.yaml \
    "$stages"/pod/fast/pod-ready.yaml "$stages"/pod/fast/pod-complete.yaml "$stages"/pod/fast/pod-delete.yaml; do
    printf -- '---\n'
    cat "$file"
  done >"$bin/kwok-stages.yaml.partial"
  mv "$bin/kwok-stages.yaml.partial" "$bin/kwok-stages.yaml"
fi
printf '%s\n' "$bin"
