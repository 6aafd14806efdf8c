#!/usr/bin/env bash
# `make bench`: release builds, a private PostgreSQL, and the suite's benchmarks, run in
# alternation (A B A B ...) on this machine; medians go to bench/results/*.md.
#   BENCH_RUNS (default 3) runs of each side; BENCH_BATCHES (default 200) batches of 1,000.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-3}
batches=${BENCH_BATCHES:-200}
concurrency=${BENCH_CONCURRENCY:-8}
mkdir -p .run bench/results
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cluster=.run/bench-pg-$$
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/pg.sh destroy "$cluster" || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "bench: building release binaries"
swift build -c release
bin=$(swift build -c release --show-bin-path)

echo "bench: PostgreSQL on 127.0.0.1:$port (fsync on: durable, as in production)"
scripts/pg.sh start "$cluster" "$port"
scripts/pg.sh createdb "$port" billing_center
db="postgres://postgres@127.0.0.1:$port"

DATABASE_URL="$db/billing_center" INTERNAL_CREDENTIAL=bench GRPC_PORT=0 READY_FILE="$work/ready" \
  CONSOLE_ADDRESS=127.0.0.1:1 MAILBOX_DIR="$work/mail" LOG_LEVEL=warning "$bin/billing-center" >"$work/billing.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do [ -s "$work/ready" ] && break; sleep 0.1; done
[ -s "$work/ready" ] || { cat "$work/billing.log"; exit 1; }
address=$(cat "$work/ready")
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# The COPY baseline: the same rows, into a table with the same keys and indexes.
psql -q "$db/billing_center" -c "CREATE TABLE usage_events_copy (LIKE usage_events INCLUDING ALL)"
python3 - "$work/rows.csv" $((batches * 1000)) <<'PY'
import sys, uuid, datetime
path, n = sys.argv[1], int(sys.argv[2])
workspaces = [str(uuid.uuid4()) for _ in range(16)]
items = ["log_events", "time_series", "trace_spans", "rum_page_views"]
now = datetime.datetime.now(datetime.timezone.utc).isoformat()
with open(path, "w") as f:
    for i in range(n):
        f.write(f"copy-{i},{workspaces[i % 16]},{items[i % 4]},{i % 97}.25,{now},{now}\n")
PY

echo "bench: warm-up"
"$bin/usage-load" "$address" bench 20 "$concurrency" >/dev/null

grpc=() copy=() p50=() p99=()
for run in $(seq 1 "$runs"); do
  line=$("$bin/usage-load" "$address" bench "$batches" "$concurrency")
  rate=$(python3 -c 'import json,sys; print(int(json.loads(sys.argv[1])["events_per_second"]))' "$line")
  grpc+=("$rate")
  p50+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["batch_p50_ms"])' "$line")")
  p99+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["batch_p99_ms"])' "$line")")
  echo "bench: run $run/$runs  RecordUsage over gRPC: $rate events/s (batch p99 ${p99[-1]} ms)"

  psql -q "$db/billing_center" -c "TRUNCATE usage_events_copy"
  start=$(date +%s.%N)
  psql -q "$db/billing_center" -c "\\copy usage_events_copy FROM '$work/rows.csv' CSV"
  end=$(date +%s.%N)
  rate=$(python3 -c "print(int($((batches * 1000)) / ($end - $start)))")
  copy+=("$rate")
  echo "bench: run $run/$runs  COPY baseline:          $rate rows/s"
done
billing_rss=$(rss "${pids[0]}")

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
g=$(median "${grpc[@]}") c=$(median "${copy[@]}") l50=$(median "${p50[@]}") l99=$(median "${p99[@]}")
ratio=$(python3 -c "print(f'{$g / $c:.2f}')")
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
result=bench/results/usage-ingestion.md
cat >"$result" <<MD
# Usage ingestion: billing-center RecordUsage vs. PostgreSQL COPY

Measured $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD) by \`make bench\` on $(nproc) cores
($cpu), $(free -g | awk '/Mem:/ {print $2}') GiB, PostgreSQL $(psql --version | awk '{print $3}') with fsync on,
release build. Each run: $batches batches of 1,000 fresh events, $concurrency batches in flight, every
event checked ACCEPTED; COPY loads the same number of rows into a table with the same
primary key and indexes. Runs alternate; medians of $runs.

| measure | value |
| --- | --- |
| RecordUsage over gRPC (durable, deduplicated) | $g events/s |
| batch latency p50 / p99 | $l50 ms / $l99 ms |
| plain COPY of the same rows | $c rows/s |
| gRPC / COPY | $ratio |
| billing-center RSS after the runs | $((billing_rss / 1024)) MiB |

Runs: gRPC ${grpc[*]} events/s; COPY ${copy[*]} rows/s.
MD
echo
cat "$result"
