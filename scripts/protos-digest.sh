#!/usr/bin/env bash
# Prints one SHA-256 over everything the generated code depends on and the generated code
# itself: Protos/, protoc's version, the pinned generator packages (Package.swift's lines for
# swift-protobuf, grpc-swift-protobuf and grpc-swift-2), our own generator's source, the
# generation script, and Sources/*/Generated/. `make protos` records it next to the code;
# `make check-protos` trusts the code without rebuilding the generators only while it matches.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  protoc --version
  grep -E 'swift-protobuf\.git|grpc-swift-protobuf\.git|grpc-swift-2\.git' Package.swift
  find Protos Sources/protoc-gen-suite-unary Sources/GuanceContracts/Generated Sources/SuiteRPC/Generated \
    scripts/gen-protos.sh -type f ! -name '.generated-digest' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
} | sha256sum | cut -d' ' -f1
