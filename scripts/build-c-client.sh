#!/usr/bin/env bash
# Builds the C interop client (Tests/Interop/c) into .build-c/grpc-c-client: messages from
# the suite's Protos/ through protobuf-c, HTTP/2 from libnghttp2, TLS from OpenSSL (Debian's
# libprotobuf-c-dev, protobuf-c-compiler, libnghttp2-dev, libssl-dev; `make setup` installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build-c
source=Tests/Interop/c
mkdir -p "$out"
binary=$out/grpc-c-client
if [ -x "$binary" ] && [ -z "$(find Protos "$source" -newer "$binary" -print -quit)" ]; then
  echo "$binary"
  exit 0
fi
rm -rf "$out/gen"
mkdir -p "$out/gen"
protos=(grpc/health/v1/health.proto guance/console/v1/console.proto guance/billing/v1/billing.proto
  guance/gateway/v1/activation.proto google/rpc/status.proto google/protobuf/any.proto
  google/protobuf/timestamp.proto)
protoc -I Protos -I "$source/proto" -I /usr/include --c_out="$out/gen" "${protos[@]}" >&2
mapfile -t generated < <(find "$out/gen" -name '*.pb-c.c' | sort)
cc -std=gnu11 -O2 -Wall -Wextra -Werror -I "$out/gen" -o "$binary" "$source/grpc_c_client.c" "${generated[@]}" \
  -lprotobuf-c -lnghttp2 -lssl -lcrypto >&2
echo "$binary"
