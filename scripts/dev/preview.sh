#!/bin/sh
# `pulumi preview` of the dev stack on the real engine, with the CLI and providers ferry builds:
# shows the whole migration graph without touching any cluster. Preview creates nothing, so it runs
# on a throw-away file backend and a linked copy of the project, with generated secrets, and leaves
# neither state nor stack files behind.
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
tools_path=$(sh scripts/build/tools.sh)
engine=$(sh scripts/build/toolchain.sh)
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-preview.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=scripts/dev/pulumi-env.sh
. scripts/dev/pulumi-env.sh
mkdir -p "$work/state"
ferry_link_project "$repo" "$work/project"
cp Pulumi.dev.yaml "$work/project/Pulumi.dev.yaml"

ferry_pulumi_env "$repo" "$work/state"
PATH="$engine:$tools_path:$PATH"
PULUMI_CONFIG_PASSPHRASE=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export PATH PULUMI_CONFIG_PASSPHRASE

cd "$work/project"
pulumi stack init dev --non-interactive >/dev/null
for key in sourcePassword destinationRootPassword objectStoreSecretKey; do
  head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' | pulumi config set --secret "$key" >/dev/null
done
pulumi preview --stack dev --non-interactive "$@"
