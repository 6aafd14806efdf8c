#!/usr/bin/env bash
# Builds the protoc plugins in their own build folder (so the app's build folder is never
# rebuilt for them): the pinned packages' once, ours (protoc-gen-suite-unary) every time, so
# a change to it takes effect (a build with nothing to do is quick).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build-plugins/debug
for plugin in protoc-gen-swift protoc-gen-grpc-swift-2; do
  [ -x "$bin/$plugin" ] || swift build --scratch-path .build-plugins --product "$plugin" >&2
done
swift build --scratch-path .build-plugins --product protoc-gen-suite-unary >&2
