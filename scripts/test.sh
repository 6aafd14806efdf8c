#!/usr/bin/env bash
# `make test`: a throwaway PostgreSQL cluster on a free port, every test suite against it,
# then the cluster is removed whatever happened, and a summary.
# TEST_FILTER (a `swift test --filter` pattern) runs some tests only: a target, a suite's type
# (`LifecycleTests`) or one test (`LifecycleTests/suspend`).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .run
started=${SUITE_MAKE_STARTED:-$(date +%s)}

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

# How many tests run at once. Swift Testing starts every test together by default; on 2 cores
# that is a load of 20 and client deadlines missed at random. SUITE_SERVICE_TESTS bounds the
# tests that start service processes (SuiteTesting's ServiceSlots); the width bounds all.
export SUITE_SERVICE_TESTS=${SUITE_SERVICE_TESTS:-2}
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=${TEST_PARALLELISM:-6}
# Each test's service logs are kept under .run/test-logs/ (one folder per test), for failures.
rm -rf .run/test-logs
export SUITE_TEST_LOGS
SUITE_TEST_LOGS=$(pwd)/.run/test-logs
mkdir -p "$SUITE_TEST_LOGS"
results=.run/test-results
rm -f "$results".xml "$results"-swift-testing.xml

echo "test: running the tests ($SUITE_SERVICE_TESTS with services, $SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH in all at once)"
filter=()
[ -n "${TEST_FILTER:-}" ] && filter=(--filter "$TEST_FILTER")
status=0
swift test --skip-build "${filter[@]}" --xunit-output "$results".xml 2>&1 | tee .run/test-output.log || status=$?
python3 scripts/test-summary.py "$results"-swift-testing.xml .run/test-output.log "$SUITE_TEST_LOGS" \
  $(($(date +%s) - started))
exit "$status"
