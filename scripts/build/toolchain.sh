#!/bin/sh
# Builds the Pulumi engine pieces ferry runs on, from their Go modules, and installs the provider
# plugins into a project-local PULUMI_HOME. Cached under $FERRY_CACHE keyed by version; rebuilt
# only when missing. Prints the PATH entry of the CLI on stdout; progress goes to stderr.
#
# Usage: scripts/build/toolchain.sh
set -eu
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/build/versions.env
. scripts/build/versions.env
FERRY_CACHE=${FERRY_CACHE:-$HOME/.cache/ferry}
TOOLS="$FERRY_CACHE/tools"
repo=$(pwd)

say() { printf 'ferry toolchain: %s\n' "$*" >&2; }
# shellcheck source=scripts/build/progress.sh
. scripts/build/progress.sh
# shellcheck source=scripts/build/kube-module.sh
. scripts/build/kube-module.sh

# A machine that already has a Pulumi CLI (with its Node.js host) no older than ours uses it:
# FERRY_USE_INSTALLED_PULUMI=false turns that off.
installed_cli=
if [ "${FERRY_USE_INSTALLED_PULUMI:-true}" = true ] && command -v pulumi >/dev/null 2>&1 &&
  command -v pulumi-language-nodejs >/dev/null 2>&1; then
  installed_version=$(pulumi version 2>/dev/null | sed 's/^v//')
  oldest=$(printf '%s\n%s\n' "$installed_version" "${PULUMI_VERSION#v}" | sort -V | head -n 1)
  if [ -n "$installed_version" ] && [ "$oldest" = "${PULUMI_VERSION#v}" ]; then
    installed_cli=$(dirname "$(command -v pulumi)")
    say "using the installed Pulumi CLI $installed_version at $installed_cli"
  fi
fi

# The CLI and the language host, from tools/go.mod; the key includes the host's source digest.
# The command and minio providers are ferry's own too (tools/cmd/pulumi-resource-*), for the same
# reason: their modules are not served.
engine_key="$PULUMI_VERSION-$(cat tools/go.mod tools/go.sum tools/cmd/*/*.go tools/internal/*/*.go | sha256sum | cut -c 1-12)"
engine="$TOOLS/pulumi-$engine_key"
engine_built() {
  [ -x "$engine/pulumi" ] && [ -x "$engine/pulumi-language-nodejs" ] &&
    [ -x "$engine/providers/pulumi-resource-command" ] && [ -x "$engine/providers/pulumi-resource-minio" ]
}
build_engine() {
  rm -rf "$engine.partial"
  mkdir -p "$engine.partial"
  cd tools
  go build -o "$engine.partial/pulumi" \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  go build -o "$engine.partial/pulumi-language-nodejs" \
    -ldflags "-X main.version=${PULUMI_VERSION#v}" ./cmd/pulumi-language-nodejs
  # Providers apart from the CLI's directory, so the engine takes them from the plugin cache
  # (a provider on PATH would shadow the installed plugin, with a warning on every run).
  go build -o "$engine.partial/providers/pulumi-resource-command" \
    -ldflags "-X main.version=$COMMAND_PLUGIN_VERSION" ./cmd/pulumi-resource-command
  go build -o "$engine.partial/providers/pulumi-resource-minio" \
    -ldflags "-X main.version=$MINIO_PLUGIN_VERSION" ./cmd/pulumi-resource-minio
  rm -rf "$engine"
  mv "$engine.partial" "$engine"
}

# The Kubernetes provider: its main package is tools/kube/cmd/pulumi-resource-kubernetes, so it
# compiles with the k8s.io modules (and build configuration, static) of the local clusters'
# programs, which Go then compiles once for both (scripts/build/cluster-tools.sh). The key covers
# that module.
kubernetes_key="$KUBERNETES_PROVIDER_VERSION-as-$KUBERNETES_PLUGIN_VERSION-$(cat tools/kube/go.mod tools/kube/go.sum tools/kube/cmd/pulumi-resource-kubernetes/main.go | sha256sum | cut -c 1-12)"
kubernetes="$TOOLS/pulumi-resource-kubernetes-$kubernetes_key"
provider_main=tools/kube/cmd/pulumi-resource-kubernetes
build_kubernetes_provider() {
  (cd tools/kube && go mod download "$KUBERNETES_PROVIDER_MODULE")
  kube_module_version "$KUBERNETES_PROVIDER_MODULE" "$KUBERNETES_PROVIDER_VERSION"
  module_dir=$(cd tools/kube && go list -m -f '{{.Dir}}' "$KUBERNETES_PROVIDER_MODULE")
  # The embedded schema and Terraform mapping, made by the module's own generate.go (it sets the
  # plugin's version in the schema); removed after the build, never committed.
  trap 'rm -f "$repo/$provider_main"/*.json' EXIT
  cp "$module_dir/cmd/pulumi-resource-kubernetes/schema.json" \
    "$module_dir/cmd/pulumi-resource-kubernetes/terraform-mapping.json" "$provider_main/"
  chmod u+w "$provider_main"/*.json
  (cd "$provider_main" && CGO_ENABLED=0 VERSION=$KUBERNETES_PLUGIN_VERSION \
    go run "$module_dir/cmd/pulumi-resource-kubernetes/generate.go")
  mkdir -p "$kubernetes.partial"
  (cd tools/kube && CGO_ENABLED=0 go build -o "$kubernetes.partial/pulumi-resource-kubernetes" \
    -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_PLUGIN_VERSION" \
    ./cmd/pulumi-resource-kubernetes)
  rm -rf "$kubernetes"
  mv "$kubernetes.partial" "$kubernetes"
}

PULUMI_HOME="$repo/.ferry/pulumi-home"
export PULUMI_HOME
# plugin NAME VERSION FILE: installs FILE as the NAME plugin unless the same file is installed.
plugin() {
  cmp -s "$3" "$PULUMI_HOME/plugins/resource-$1-v$2/pulumi-resource-$1" ||
    progress_step "plugin-$1" "installing the $1 $2 plugin into .ferry/pulumi-home" \
      "$engine/pulumi" plugin install resource "$1" "$2" --reinstall --file "$3"
}

steps() {
  engine_built || progress_step pulumi-engine \
    "building the Pulumi CLI $PULUMI_VERSION, ferry's language host and its command and minio providers" build_engine
  [ -x "$kubernetes/pulumi-resource-kubernetes" ] || progress_step kubernetes-provider \
    "building the Kubernetes provider $KUBERNETES_PROVIDER_VERSION" build_kubernetes_provider
  # (Counted in plan mode before the engine is built: a plugin file not there yet differs.)
  plugin command "$COMMAND_PLUGIN_VERSION" "$engine/providers/pulumi-resource-command"
  plugin minio "$MINIO_PLUGIN_VERSION" "$engine/providers/pulumi-resource-minio"
  plugin kubernetes "$KUBERNETES_PLUGIN_VERSION" "$kubernetes/pulumi-resource-kubernetes"
}
progress_init
progress_plan_mode
steps
progress_run_mode
steps
if [ -n "$installed_cli" ]; then
  printf '%s\n' "$installed_cli"
else
  printf '%s\n' "$engine"
fi
