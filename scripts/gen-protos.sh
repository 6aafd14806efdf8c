#!/usr/bin/env bash
# Generates the Swift code for every contract under Protos/ into the given folder (default:
# the project's root): messages, gRPC services and their unary registrations (our plugin's)
# into Sources/GuanceContracts/Generated, reflection's descriptors into
# Sources/SuiteRPC/Generated. `make check-protos`
# runs it into a temporary folder and compares, so stale generated code fails the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-.}
out=$root/Sources/GuanceContracts/Generated
descriptors_out=$root/Sources/SuiteRPC/Generated
scripts/build-plugins.sh
plugins=.build-plugins/debug
mkdir -p "$out" "$descriptors_out"
rm -f "$out"/*.swift "$descriptors_out"/*.swift
mapfile -t protos < <(cd Protos && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
protoc -I Protos -I /usr/include \
  --plugin=protoc-gen-swift="$plugins/protoc-gen-swift" \
  --swift_out="$out" \
  --swift_opt=Visibility=Package,FileNaming=PathToUnderscores,UseAccessLevelOnImports=true \
  --plugin=protoc-gen-grpc-swift-2="$plugins/protoc-gen-grpc-swift-2" \
  --grpc-swift-2_out="$out" \
  --grpc-swift-2_opt=Visibility=Package,Server=true,Client=true,FileNaming=PathToUnderscores,UseAccessLevelOnImports=true \
  --plugin=protoc-gen-suite-unary="$plugins/protoc-gen-suite-unary" \
  --suite-unary_out="$root/Sources" \
  "${protos[@]}"
# Generated files are never formatted or edited by hand.
for f in "$out"/*.swift; do
  grep -q 'swift-format-ignore-file' "$f" || sed -i '1i // swift-format-ignore-file' "$f"
done
# Generated into the project itself: record what it was made from (`check-protos.sh`).
if [ "$root" = . ]; then
  scripts/protos-digest.sh >Protos/.generated-digest
fi
