#!/bin/sh
# `pulumi preview` of the dev stack on the real engine, with the CLI and providers ferry builds:
# shows the whole migration graph without touching any cluster. Preview creates nothing, so it runs
# on a throw-away file backend and a linked copy of the project, with generated secrets, and leaves
# neither state nor stack files behind.
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)
tools_path=$(sh scripts/tools.sh)
engine=$(sh scripts/toolchain.sh)
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-preview.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/state" "$work/project"
for entry in Pulumi.yaml index.ts components charts node_modules package.json tsconfig.json; do
  ln -s "$repo/$entry" "$work/project/$entry"
done
cp Pulumi.dev.yaml "$work/project/Pulumi.dev.yaml"

PATH="$engine:$tools_path:$PATH"
PULUMI_HOME="$repo/.ferry/pulumi-home"
PULUMI_BACKEND_URL="file://$work/state"
PULUMI_CONFIG_PASSPHRASE=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
PULUMI_SKIP_UPDATE_CHECK=true
PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PATH PULUMI_HOME PULUMI_BACKEND_URL PULUMI_CONFIG_PASSPHRASE PULUMI_SKIP_UPDATE_CHECK \
  PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION

cd "$work/project"
pulumi stack init dev --non-interactive >/dev/null
for key in sourcePassword destinationRootPassword objectStoreSecretKey; do
  head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' | pulumi config set --secret "$key" >/dev/null
done
pulumi preview --stack dev --non-interactive "$@"
