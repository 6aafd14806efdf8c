#!/usr/bin/env bash
# Builds the protoc plugins from the pinned packages, once, in their own build folder (so the
# app's build folder is never rebuilt for them).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build-plugins/debug
for plugin in protoc-gen-swift protoc-gen-grpc-swift-2; do
  [ -x "$bin/$plugin" ] || swift build --scratch-path .build-plugins --product "$plugin" >&2
done
