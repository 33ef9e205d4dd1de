# shellcheck shell=sh
# What scripts/build/toolchain.sh and scripts/build/cluster-tools.sh share about tools/kube, the
# module both build from: versions.env names each program's version (for cache keys and image
# tags), tools/kube/go.mod selects what is compiled, and the two must agree. Sourced, never run;
# the sourcing script defines say().

# kube_module_version MODULE VERSION: stops unless tools/kube selects VERSION of MODULE.
kube_module_version() {
  kube_selected=$(cd tools/kube && go list -m -f '{{.Version}}' "$1")
  [ "$kube_selected" = "$2" ] || {
    say "scripts/build/versions.env names $1 $2, tools/kube/go.mod selects $kube_selected: make them agree (go get -tool in tools/kube, or the version in versions.env)"
    exit 1
  }
}
