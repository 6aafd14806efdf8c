#!/usr/bin/env bash
# Regenerates the contracts into a temporary folder and compares them with the committed
# code: stale generated code fails `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scripts/gen-protos.sh "$tmp"
for generated in Sources/GuanceContracts/Generated Sources/SuiteRuntime/Generated; do
  if ! diff -r "$tmp/$generated" "$generated" >/dev/null; then
    diff -r "$tmp/$generated" "$generated" | head -n 40 >&2
    echo "check-protos: $generated is stale; run 'make protos' and commit" >&2
    exit 1
  fi
done
echo "check-protos: generated code matches Protos/"
