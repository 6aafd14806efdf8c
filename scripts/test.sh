#!/usr/bin/env bash
# `make test`: a throwaway PostgreSQL cluster on a free port, every test suite against it,
# then the cluster is removed whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .run

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cluster=.run/test-pg-$$
trap 'scripts/pg.sh destroy "$cluster" || true' EXIT
echo "test: starting a throwaway PostgreSQL on 127.0.0.1:$port"
PG_FSYNC=off scripts/pg.sh start "$cluster" "$port"

echo "test: preparing the Python test peers (.run/venv)"
export SUITE_PYTHON
SUITE_PYTHON=$(scripts/python-env.sh)

echo "test: building the C interop client (protobuf-c, nghttp2, OpenSSL)"
export SUITE_C_CLIENT
SUITE_C_CLIENT=$(pwd)/$(scripts/build-c-client.sh)

echo "test: building (debug) with tests"
swift build --build-tests
export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
export SUITE_BIN_DIR
SUITE_BIN_DIR=$(swift build --show-bin-path)

echo "test: running the tests"
swift test --skip-build
