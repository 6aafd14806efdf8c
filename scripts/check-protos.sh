#!/usr/bin/env bash
# Fails when the committed generated code is not what Protos/ and the pinned generators give.
# While the digest `make protos` recorded (Protos/.generated-digest, scripts/protos-digest.sh)
# still matches the protos, the generators and the generated code, nothing of them changed since
# it was made, and the generators are not built (about two minutes of a fresh clone's
# `make test`). Otherwise, or with CHECK_PROTOS_FULL=1, the contracts are regenerated into a
# temporary folder and compared with the committed code.
set -euo pipefail
cd "$(dirname "$0")/.."
recorded=Protos/.generated-digest
if [ "${CHECK_PROTOS_FULL:-}" != 1 ] && [ -f "$recorded" ] && [ "$(cat "$recorded")" = "$(scripts/protos-digest.sh)" ]; then
  echo "check-protos: generated code is as 'make protos' made it from these protos and generators (digest matches)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scripts/gen-protos.sh "$tmp"
for generated in Sources/GuanceContracts/Generated Sources/SuiteRPC/Generated; do
  if ! diff -r "$tmp/$generated" "$generated" >/dev/null; then
    diff -r "$tmp/$generated" "$generated" | head -n 40 >&2
    echo "check-protos: $generated is stale; run 'make protos' and commit" >&2
    exit 1
  fi
done
echo "check-protos: generated code matches Protos/ (regenerated and compared)"
if [ "$(cat "$recorded" 2>/dev/null)" != "$(scripts/protos-digest.sh)" ]; then
  echo "check-protos: the recorded digest is out of date; 'make protos' records it, and later checks skip the generators"
fi
