#!/usr/bin/env bash
# Builds the protoc plugins in the app's build folder: they share SwiftProtobuf and the gRPC code
# generator with the app, so a fresh clone compiles those once (the build flags are the same, so
# building a plugin never invalidates the app's build). The pinned packages' plugins are built
# once, ours (protoc-gen-suite-unary) every time, so a change to it takes effect (a build with
# nothing to do is quick).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/debug
for plugin in protoc-gen-swift protoc-gen-grpc-swift-2; do
  [ -x "$bin/$plugin" ] || scripts/swift-build.sh --product "$plugin" >&2
done
scripts/swift-build.sh --product protoc-gen-suite-unary >&2
