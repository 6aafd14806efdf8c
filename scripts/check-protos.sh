#!/usr/bin/env bash
# Regenerates the contracts into a temporary folder and compares them with the committed
# code: stale generated code fails `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-plugins.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scripts/gen-protos.sh "$tmp"
if ! diff -r "$tmp" Sources/GuanceContracts/Generated >/dev/null; then
  diff -r "$tmp" Sources/GuanceContracts/Generated | head -n 40 >&2
  echo "check-protos: Sources/GuanceContracts/Generated is stale; run 'make protos' and commit" >&2
  exit 1
fi
echo "check-protos: generated code matches Protos/"
