#!/usr/bin/env bash
# Builds the protoc plugins in a build folder of their own, with the app's flags: the pinned
# packages' (protoc-gen-swift, protoc-gen-grpc-swift-2) once, ours (protoc-gen-suite-unary)
# every time, so a change to it takes effect (a build with nothing to do is quick). Not in the
# app's folder: a product built alone there compiles its modules without the tests' testability,
# so it and `--build-tests` would rebuild the modules they share, each after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build-plugins/debug
for plugin in protoc-gen-swift protoc-gen-grpc-swift-2; do
  [ -x "$bin/$plugin" ] || scripts/swift-build --scratch-path .build-plugins --product "$plugin" >&2
done
scripts/swift-build --scratch-path .build-plugins --product protoc-gen-suite-unary >&2
