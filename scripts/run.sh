#!/usr/bin/env bash
# `make run`: the suite on a private PostgreSQL under .run/pg (or on $DATABASE_URL's server,
# one database per service), until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .run/logs
run_dir=$(pwd)/.run

if [ -z "${DATABASE_URL:-}" ]; then
  pg_port=${PGPORT:-55432}
  scripts/pg.sh start .run/pg "$pg_port"
  server_url="postgres://postgres@127.0.0.1:$pg_port"
  stop_pg() { scripts/pg.sh stop .run/pg; }
  echo "run: private PostgreSQL on 127.0.0.1:$pg_port (data in .run/pg)"
else
  # The server of DATABASE_URL, without its database and options.
  server_url=$(sed -E 's#^(postgres(ql)?://[^/]+).*#\1#' <<<"$DATABASE_URL")
  stop_pg() { :; }
  echo "run: using the PostgreSQL server of DATABASE_URL"
fi
createdb() {
  local name=$1
  local exists
  exists=$(psql "$server_url/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")
  [ "$exists" = 1 ] || psql "$server_url/postgres" -qc "CREATE DATABASE \"$name\"" >/dev/null
}

scripts/swift-build
bin=$(swift build --show-bin-path)

# One internal credential per checkout, shared by the services of this run.
[ -s .run/internal-credential ] || head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >.run/internal-credential
export INTERNAL_CREDENTIAL=${INTERNAL_CREDENTIAL:-$(cat .run/internal-credential)}
export MAILBOX_DIR=${MAILBOX_DIR:-$run_dir/mailbox}
# The four services and PostgreSQL share this machine: one event-loop thread each, so unary
# handlers run on the concurrency pool, which spans the cores (README).
export EVENT_LOOP_THREADS=${EVENT_LOOP_THREADS:-1}
export GRPC_UNARY_ON_EVENT_LOOP=${GRPC_UNARY_ON_EVENT_LOOP:-false}

# The activation page is served by the gateway's HTTP port; its scripts call the public
# services across origins (Connect), which CORS allows for these pages only.
landing_port=${LANDING_PORT:-7180}
export BROWSER_ORIGINS=${BROWSER_ORIGINS:-http://127.0.0.1:$landing_port,http://localhost:$landing_port}

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "run: stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  stop_pg
  exit 0
}
trap stop_all INT TERM EXIT

# start NAME DATABASE PORT [SCHEME]: runs one service (with any variables set before the
# call) and waits until it serves.
start() {
  local name=$1 database=$2 port=$3 scheme=${4:-grpc}
  createdb "$database"
  rm -f ".run/$name.ready" ".run/$name.ready.metrics"
  DATABASE_URL="$server_url/$database" GRPC_PORT=$port READY_FILE="$run_dir/$name.ready" \
    "$bin/$name" >".run/logs/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do
    [ -s ".run/$name.ready" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || { tail -n 20 ".run/logs/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  [ -s ".run/$name.ready" ] || { echo "run: $name did not start" >&2; exit 1; }
  # The operator port ("Operating the suite" in the README), once it listens.
  local metrics=""
  for _ in $(seq 1 20); do [ -s ".run/$name.ready.metrics" ] && break; sleep 0.1; done
  [ -s ".run/$name.ready.metrics" ] && metrics="  metrics: http://$(cat ".run/$name.ready.metrics")/metrics"
  printf '  %-20s %s://%s   (log: .run/logs/%s.log)%s\n' "$name" "$scheme" "$(cat ".run/$name.ready")" "$name" "$metrics"
}

echo "run: services"
start workspace-console workspace_console "${CONSOLE_PORT:-7101}"
CONSOLE_ADDRESS=127.0.0.1:${CONSOLE_PORT:-7101} start billing-center billing_center "${BILLING_PORT:-7102}"
# The emulated marketplace, with a development publisher app.
export MARKETPLACE_TENANT_ID=${MARKETPLACE_TENANT_ID:-guance-dev-tenant}
export MARKETPLACE_CLIENT_ID=${MARKETPLACE_CLIENT_ID:-guance-dev-app}
export MARKETPLACE_CLIENT_SECRET=${MARKETPLACE_CLIENT_SECRET:-guance-dev-secret}
gateway_port=${GATEWAY_PORT:-7100}
landing_port=${LANDING_PORT:-7180}
emulator=http://127.0.0.1:${EMULATOR_PORT:-7300}
# Its "Connection webhook" is the gateway's; deliveries retry until the gateway is up.
EMULATOR_PORT=${EMULATOR_PORT:-7300} EMULATOR_LANDING_URL=http://127.0.0.1:$landing_port/landing \
  EMULATOR_WEBHOOK_URL=${EMULATOR_WEBHOOK_URL:-http://127.0.0.1:$landing_port/webhook} \
  start marketplace-emulator marketplace_emulator "${EMULATOR_PORT:-7300}" http
BILLING_ADDRESS=127.0.0.1:${BILLING_PORT:-7102} CONSOLE_ADDRESS=127.0.0.1:${CONSOLE_PORT:-7101} \
  MARKETPLACE_API_URL=$emulator/api MARKETPLACE_LOGIN_URL=$emulator LANDING_PORT=$landing_port \
  start marketplace-gateway marketplace_gateway "$gateway_port"
printf '  %-20s http://127.0.0.1:%s/landing?token=...\n' "landing page" "$landing_port"

# A fresh emulated purchase, as if someone had just bought the plan on the marketplace.
landing_url=$(curl -sf -X POST "$emulator/admin/purchases" -d '{}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["landingUrl"])')
password='correct horse battery'

cat <<MSG

A new purchase is waiting. Open its landing URL in a browser: the activation page walks every
branch of the flow, then the console's sign-in (codes arrive in $MAILBOX_DIR):
  $landing_url
Or ask it for JSON to get the session id, and walk the flow with RPCs:
  curl -s -H 'accept: application/json' '$landing_url'

Walk the register branch with that session_id (all activation RPCs: README.md):
  scripts/grpc-call 127.0.0.1:$gateway_port guance.gateway.v1.ActivationService/GetActivation '{"session_id": "<session_id>"}'
  scripts/grpc-call 127.0.0.1:$gateway_port guance.gateway.v1.ActivationService/RegisterAndActivate '{
    "session_id": "<session_id>", "terms_accepted": true,
    "basic": {"username": "demo", "password": "$password", "password_confirmation": "$password", "email": "demo@example.com"},
    "company": {"company_name": "Demo Ltd", "industry": "Software", "region": "EU", "contact_name": "Dee"},
    "workspace": {"name": "Demo", "language": "en", "site": "us1"}}'
Then sign in to the console with the same username and password:
  scripts/grpc-call 127.0.0.1:${CONSOLE_PORT:-7101} guance.console.v1.WorkspaceConsoleService/Login '{"login": "demo", "password": "$password"}'
Another purchase: curl -s -X POST $emulator/admin/purchases -d '{}'
Mail (verification codes) goes to the development mailbox: $MAILBOX_DIR

After activation, a marketplace event and what the suite made of it (README: "Lifecycle and metering by hand"):
  curl -s -X POST $emulator/admin/subscriptions/<subscription_id>/events -d '{"action": "Suspend"}'
  INTERNAL_CREDENTIAL=\$(cat .run/internal-credential) $bin/guancectl subscriptions show <subscription_id>

Ctrl-C stops everything.
MSG
wait -n "${pids[@]}" || true
echo "run: a service exited; see .run/logs" >&2
