#!/usr/bin/env bash
# `make test`: a throwaway PostgreSQL cluster on a free port, every test suite against it,
# then the cluster is removed whatever happened, and a summary.
# TEST_FILTER (a `swift test --filter` pattern) runs some tests only: a target, a suite's type
# (`LifecycleTests`) or one test (`LifecycleTests/suspend`).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .run
started=${SUITE_MAKE_STARTED:-$(date +%s)}

# How long each step took, for the summary.
mark=$(date +%s)
phases=("setup $((mark - started)) s")
phase_done() { local now; now=$(date +%s); phases+=("$1 $((now - mark)) s"); mark=$now; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cluster=.run/test-pg-$$
pg_job=""
# The cluster goes whatever happened, once its start (beside the build) has ended.
remove_cluster() {
  [ -z "$pg_job" ] || wait "$pg_job" 2>/dev/null || true
  scripts/pg.sh destroy "$cluster" || true
}
trap remove_cluster EXIT
# PostgreSQL, the Python test peers (a download) and the C interop client start while the Swift
# build runs: on 2 cores the build is what takes the time, and it waits for none of them.
echo "test: starting a throwaway PostgreSQL on 127.0.0.1:$port, the Python test peers (.run/venv) and the C interop client, beside the build"
PG_FSYNC=off scripts/pg.sh start "$cluster" "$port" >.run/test-pg.log 2>&1 &
pg_job=$!
scripts/python-env.sh >.run/test-python 2>.run/test-python.log &
python_job=$!
scripts/build-c-client.sh >.run/test-c-client 2>.run/test-c-client.log &
c_client_job=$!

echo "test: checking the generated code against Protos/ (builds the protoc plugins)"
scripts/check-protos.sh
phase_done "protos"

echo "test: building (debug) with tests"
scripts/swift-build --build-tests
phase_done "build"

# A step beside the build that failed stops here, with its own output.
beside() {
  local job=$1 what=$2 log=$3
  wait "$job" || { cat "$log" >&2; echo "test: $what failed" >&2; exit 1; }
}
beside "$pg_job" "starting PostgreSQL" .run/test-pg.log
beside "$python_job" "preparing the Python test peers" .run/test-python.log
beside "$c_client_job" "building the C interop client" .run/test-c-client.log
export SUITE_PYTHON SUITE_C_CLIENT
SUITE_PYTHON=$(cat .run/test-python)
SUITE_C_CLIENT=$(pwd)/$(cat .run/test-c-client)
phase_done "waiting for the steps beside the build"

# The Swift sources' format (`make fmt` mends it), the protos' style and compatibility (buf), the
# deployment files (compose, Kubernetes). Seconds each; the tests run whatever they find, so
# one run reports all.
checks_failed=()
echo "test: checking the Swift sources' format (swift format lint, .swift-format)"
swift format lint --strict --recursive --configuration .swift-format Package.swift Sources Tests ||
  checks_failed+=("the Swift sources' format (make fmt)")
echo "test: checking the protos with buf (buf.yaml)"
scripts/buf-check.sh "$SUITE_PYTHON" || checks_failed+=("the protos (buf-check)")
echo "test: checking the README's module graph against the import lines"
"$SUITE_PYTHON" scripts/check_module_graph.py || checks_failed+=("the README's module graph")
echo "test: checking the deployment files (docker/compose.yaml, deploy/)"
"$SUITE_PYTHON" scripts/check_deploy.py || checks_failed+=("the deployment files (check_deploy)")
phase_done "file checks"
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
# Every server the tests run (in their processes and in the services they start) writes each RPC
# it serves here once; with all the tests run, every RPC of Protos/guance must be there.
export SUITE_RPC_RECORD
SUITE_RPC_RECORD=$(pwd)/.run/rpcs-served.txt
rm -f "$SUITE_RPC_RECORD"

echo "test: running the tests ($SUITE_SERVICE_TESTS with services, $SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH in all at once)"
filter=()
[ -n "${TEST_FILTER:-}" ] && filter=(--filter "$TEST_FILTER")
status=0
swift test --skip-build "${filter[@]}" --xunit-output "$results".xml 2>&1 | tee .run/test-output.log || status=$?
phase_done "tests"
if [ -z "${TEST_FILTER:-}" ]; then
  "$SUITE_PYTHON" scripts/rpc_coverage.py "$SUITE_RPC_RECORD" ||
    checks_failed+=("the RPC coverage (every RPC called by a test)")
fi
python3 scripts/test-summary.py "$results"-swift-testing.xml .run/test-output.log "$SUITE_TEST_LOGS" \
  $(($(date +%s) - started)) "$(IFS=,; echo "${phases[*]}")"
for failed in "${checks_failed[@]}"; do echo "test: $failed failed (above)" >&2; done
[ "$status" -ne 0 ] && exit "$status"
[ ${#checks_failed[@]} -eq 0 ]
