#!/usr/bin/env bash
# `make bench`, RPC part: the same unary RPC load (h2load, pre-encoded gRPC frames) against
#   (a) grpc C++ (Debian's libgrpc++, callback API; bench/grpc/greeter_server.cc),
#   (b) a bare grpc-swift-2 server (bench-greeter bare),
#   (c) the suite's runtime server with all its interceptors (bench-greeter runtime),
#   (d) a database-backed read of workspace-console (LookupWorkspace),
#   (d′) the same read through postgres-nio's pool rather than libpq's pipeline,
#   (e) `pgbench -S -M prepared` on the same PostgreSQL, the ceiling for (d) (issue 23's anchor:
#       its statements prepared once per connection, as (d)'s are),
#   (f) (d)'s statement sent from C through libpq, one per round trip and pipelined.
# Runs alternate (a b c d a b c d ...); medians go to bench/results/grpc.md.
# Called by scripts/bench.sh (which installs h2load, g++ and grpc C++) with: BIN (release
# binaries) PGPORT WORKDIR.
#   BENCH_RUNS (3), BENCH_RPCS (200000), BENCH_CONNECTIONS (16), BENCH_STREAMS (32)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$1 port=$2 work=$3
runs=${BENCH_RUNS:-3}
rpcs=${BENCH_RPCS:-200000}
connections=${BENCH_CONNECTIONS:-16}
streams=${BENCH_STREAMS:-32}
db="postgres://postgres@127.0.0.1:$port"

cpp=.build-bench-cpp
if [ ! -x "$cpp/greeter-cpp" ] || [ bench/grpc/greeter_server.cc -nt "$cpp/greeter-cpp" ]; then
  echo "bench: building the grpc C++ reference server"
  mkdir -p "$cpp"
  protoc -I Protos --cpp_out="$cpp" --grpc_out="$cpp" --plugin=protoc-gen-grpc="$(command -v grpc_cpp_plugin)" \
    bench/v1/greeter.proto
  g++ -O2 -std=c++17 -I "$cpp" -o "$cpp/greeter-cpp" bench/grpc/greeter_server.cc "$cpp/bench/v1/greeter.pb.cc" \
    "$cpp/bench/v1/greeter.grpc.pb.cc" $(pkg-config --cflags --libs grpc++ protobuf)
fi

declare -A pid=()
targets=()
stop() { for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop EXIT
# start TARGET ENV=VALUE... COMMAND...: runs a server in the background, logging to TARGET.log;
# it writes where it listens to TARGET.ready (READY_FILE, or the path in its arguments).
start() {
  local target=$1
  shift
  env READY_FILE="$work/$target.ready" "$@" >"$work/$target.log" 2>&1 &
  pid[$target]=$!
  targets+=("$target")
}
# Each connection asks for $streams RPCs in flight, as it does of grpc C++ (no limit): the
# suite's servers allow that many, above their default of 24 (GRPC_MAX_CONCURRENT_STREAMS).
runtime_env=(GRPC_PORT=0 INTERNAL_CREDENTIAL=bench LOG_LEVEL=warning GRPC_MAX_CONCURRENT_STREAMS="$streams")
wait_ready() {
  for _ in $(seq 1 300); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "bench: $1 never appeared" >&2
  exit 1
}

start cpp "$cpp/greeter-cpp" 0 "$work/cpp.ready"
start bare "$bin/bench-greeter" bare 0 "$work/bare.ready"
start runtime "${runtime_env[@]}" "$bin/bench-greeter" runtime
# The suite's transport with swift-nio-http2 doing the HTTP/2 instead of libnghttp2.
start runtime-h2 "${runtime_env[@]}" GRPC_SERVER_TRANSPORT=suite-nio-http2 \
  "$bin/bench-greeter" runtime
# The same runtime on grpc-swift's HTTP/2 server transport instead of the suite's own, with the
# 100 µs flush coalescing that was the default with it.
start runtime-nio "${runtime_env[@]}" GRPC_SERVER_TRANSPORT=grpc-swift \
  GRPC_FLUSH_DELAY_MICROSECONDS=100 "$bin/bench-greeter" runtime
scripts/pg.sh createdb "$port" bench_console
start console "${runtime_env[@]}" DATABASE_URL="$db/bench_console" METRICS_PORT=0 \
  MAILBOX_DIR="$work/mail" "$bin/workspace-console"
# The same console with its read through postgres-nio's pool instead of libpq's pipeline.
start console-nio "${runtime_env[@]}" DATABASE_URL="$db/bench_console" METRICS_PORT=0 DATABASE_PIPELINED_READS=0 \
  MAILBOX_DIR="$work/mail" "$bin/workspace-console"
for target in "${targets[@]}"; do wait_ready "$work/$target.ready"; done

python=$(scripts/python-env.sh)
# Frames: a 12-byte HelloRequest for (a)-(c); LookupWorkspace of a real workspace for (d).
workspace=$(scripts/grpc-call "$(cat "$work/console.ready")" guance.console.v1.WorkspaceConsoleService/RegisterAndCreateWorkspace \
  '{"workspace_name": "Bench", "language": "en", "site": "us1", "username": "bench", "password": "correct horse battery",
    "password_confirmation": "correct horse battery", "email": "bench@example.com", "terms_accepted": true}' |
  "$python" -c 'import json, sys; print(json.load(sys.stdin)["workspace"]["id"])')
"$python" - "$work" "$workspace" <<'PY'
import struct, sys
work, workspace = sys.argv[1], sys.argv[2].encode()
def frame(message): return b"\0" + struct.pack(">I", len(message)) + message
hello = b"\x0a\x0a0123456789"
assert len(hello) == 12
open(f"{work}/hello.bin", "wb").write(frame(hello))
open(f"{work}/lookup.bin", "wb").write(frame(b"\x0a" + bytes([len(workspace)]) + workspace))
PY

# Every target but the console answers the greeter's SayHello.
declare -A path=() body=()
for target in "${targets[@]}"; do path[$target]=/bench.v1.Greeter/SayHello body[$target]=hello.bin; done
for target in console console-nio; do
  path[$target]=/guance.console.v1.WorkspaceDirectoryService/LookupWorkspace body[$target]=lookup.bin
done

# Every target must answer grpc-status 0 to exactly these frames before its load counts.
for target in "${targets[@]}"; do
  "$python" - "$(cat "$work/$target.ready")" "${path[$target]}" "$work/${body[$target]}" <<'PY'
import grpc, sys
address, method, frame = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()[5:]
with grpc.insecure_channel(address) as channel:
    call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    for _ in range(50):
        call(frame, metadata=[("authorization", "Bearer bench")], timeout=10)
PY
done
echo "bench: every target answers OK to the benchmark's frames"

# load TARGET N CONNECTIONS STREAMS -> "req/s p50_ms p99_ms" (failures abort)
load() {
  local target=$1 n=$2 c=$3 m=$4 log="$work/h2load-$1.log"
  local out
  rm -f "$log" # h2load appends to its log
  out=$(h2load -n "$n" -c "$c" -m "$m" -d "$work/${body[$target]}" -H 'content-type: application/grpc' \
    -H 'te: trailers' -H 'authorization: Bearer bench' --log-file="$log" \
    "http://$(cat "$work/$target.ready")${path[$target]}" 2>&1)
  grep -q "$n succeeded, 0 failed, 0 errored" <<<"$out" || { echo "$out" >&2; exit 1; }
  "$python" - "$log" "$(grep -oE 'finished in [0-9.]+(ms|s)' <<<"$out")" "$n" <<'PY'
import sys
log, finished, n = sys.argv[1], sys.argv[2].split()[-1], int(sys.argv[3])
seconds = float(finished[:-2]) / 1000 if finished.endswith("ms") else float(finished[:-1])
times = sorted(int(line.split("\t")[2]) / 1000 for line in open(log) if line.strip())
pick = lambda p: times[min(len(times) - 1, int(len(times) * p))]
print(f"{n / seconds:.0f} {pick(0.5):.3f} {pick(0.99):.3f}")
PY
}

declare -A rate p50 p99 single
for run in $(seq 1 "$runs"); do
  for target in "${targets[@]}"; do
    read -r r a b <<<"$(load "$target" "$rpcs" "$connections" "$streams")"
    rate[$target]+="$r " p50[$target]+="$a " p99[$target]+="$b "
    read -r _ s _ <<<"$(load "$target" 5000 1 1)"
    single[$target]+="$s "
    printf 'bench: run %d/%d  %-11s %8s RPC/s  p50 %7s ms  p99 %7s ms  one at a time p50 %s ms\n' \
      "$run" "$runs" "$target" "$r" "$a" "$b" "$s"
  done
done

psql -q "$db/postgres" -c "DROP DATABASE IF EXISTS bench_pgbench" -c "CREATE DATABASE bench_pgbench"
pgbench -q -i -s 10 "$db/bench_pgbench" >/dev/null 2>&1
pg_rates=()
for run in $(seq 1 "$runs"); do
  pg_rates+=("$(pgbench -n -S -M prepared -c "$connections" -j 2 -T 10 "$db/bench_pgbench" 2>/dev/null |
    awk '/^tps/ {printf "%.0f", $3}')")
  echo "bench: run $run/$runs  pgbench -S -M prepared: ${pg_rates[-1]} tps"
done

# The statement itself straight from C through libpq (bench/lookup/pq_lookup.c), $connections
# connections: one statement per round trip, and pipelined 32 at a time per connection.
pq=.build-bench-cpp/pq_lookup
if [ ! -x "$pq" ] || [ bench/lookup/pq_lookup.c -nt "$pq" ]; then
  cc -O2 -o "$pq" bench/lookup/pq_lookup.c $(pkg-config --cflags --libs libpq) -lpthread
fi
pq_single=() pq_pipelined=()
for run in $(seq 1 "$runs"); do
  pq_single+=("$("$pq" "host=127.0.0.1 port=$port user=postgres dbname=bench_console" "$workspace" "$connections" 10 1)")
  pq_pipelined+=("$("$pq" "host=127.0.0.1 port=$port user=postgres dbname=bench_console" "$workspace" "$connections" 10 32)")
  echo "bench: run $run/$runs  libpq from C: ${pq_single[-1]} statements/s one per round trip, ${pq_pipelined[-1]} pipelined"
done

median() { printf '%s\n' $@ | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# ratio A B: A / B to two decimals.
ratio() { "$python" -c "print(f'{$1 / $2:.2f}')"; }
rss() { awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$1/status"; }
declare -A label=(
  [cpp]="(a) grpc C++ $(pkg-config --modversion grpc++), callback API"
  [bare]="(b) grpc-swift-2, bare server, defaults"
  [runtime]="(c) suite runtime (limits, interceptors, health) on its own transport (HTTP/2 by libnghttp2), no database"
  [runtime-h2]="(c″) the same with swift-nio-http2's HTTP/2 (the suite before libnghttp2)"
  [runtime-nio]="(c′) the same on grpc-swift's server transport, 100 µs flush coalescing (the suite before)"
  [console]="(d) workspace-console LookupWorkspace (PostgreSQL read, libpq pipeline: the default)"
  [console-nio]="(d′) the same console with the read through postgres-nio's pool (DATABASE_PIPELINED_READS=0)")
cpp_rate=$(median ${rate[cpp]}) cpp_single=$(median ${single[cpp]})
{
  echo "# Unary RPCs: grpc C++ against the suite's Swift stack"
  echo
  echo "Measured $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD) by \`make bench\` on $(nproc) cores"
  echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB, loopback; Swift release builds."
  echo "Load: \`h2load -n $rpcs -c $connections -m $streams\` with pre-encoded gRPC frames (a 12-byte"
  echo "HelloRequest; for (d) a LookupWorkspace of a real workspace), every target first checked to"
  echo "answer grpc-status 0 to those frames; one at a time: \`h2load -n 5000 -c 1 -m 1\`. Runs"
  echo "alternate between targets; medians of $runs. Latencies from h2load's per-request log."
  echo
  echo "| server | RPC/s | × C++ | p50 ms | p99 ms | one at a time p50 ms | × C++ | RSS MiB |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
  for target in "${targets[@]}"; do
    r=$(median ${rate[$target]}) s=$(median ${single[$target]})
    echo "| ${label[$target]} | $r | $(ratio "$r" "$cpp_rate") | $(median ${p50[$target]}) | $(median ${p99[$target]}) | $s | $(ratio "$s" "$cpp_single") | $(rss "${pid[$target]}") |"
  done
  pg=$(median "${pg_rates[@]}")
  echo "| (e) \`pgbench -S -M prepared -c $connections -j 2\`, same PostgreSQL | $pg tps | $(ratio "$pg" "$cpp_rate") | | | | | |"
  echo "| (f) (d)'s statement from C through libpq, $connections connections, one per round trip | $(median "${pq_single[@]}")/s | | | | | | |"
  echo "| (f′) the same, pipelined 32 at a time per connection | $(median "${pq_pipelined[@]}")/s | | | | | | |"
  echo
  echo "(c) / (c″) = $(ratio "$(median ${rate[runtime]})" "$(median ${rate[runtime-h2]})"): libnghttp2 against swift-nio-http2 under the suite's transport, same runs."
  echo "(c) / (c′) = $(ratio "$(median ${rate[runtime]})" "$(median ${rate[runtime-nio]})"): the suite's server transport against grpc-swift's, same runtime and runs."
  echo "(d) / (e) = $(ratio "$(median ${rate[console]})" "$pg"): the console's read against the database's own ceiling."
  echo "(d′) / (e) = $(ratio "$(median ${rate[console-nio]})" "$pg"): the same through postgres-nio's pool; (d) / (d′) = $(ratio "$(median ${rate[console]})" "$(median ${rate[console-nio]})")."
  echo
  echo "Runs (RPC/s):"
  for target in "${targets[@]}"; do echo "- ${target}: ${rate[$target]}"; done
  echo "- pgbench: ${pg_rates[*]}"
  echo "- libpq from C: one per round trip ${pq_single[*]}; pipelined ${pq_pipelined[*]}"
} >bench/results/grpc.md
echo
cat bench/results/grpc.md
