#!/usr/bin/env bash
# Builds the protoc plugins in the app's build folder, with the app's flags: the pinned
# packages' (protoc-gen-swift, protoc-gen-grpc-swift-2) and ours (protoc-gen-suite-unary).
# They share SwiftProtobuf, its plugin library and GRPCCodeGen with the app's build, so
# after `make build` or `make test` this compiles only the plugins' own few files; a build
# with nothing to do is quick, and a change to protoc-gen-suite-unary takes effect.
set -euo pipefail
cd "$(dirname "$0")/.."
for plugin in protoc-gen-swift protoc-gen-grpc-swift-2 protoc-gen-suite-unary; do
  scripts/swift-build --product "$plugin" >&2
done
