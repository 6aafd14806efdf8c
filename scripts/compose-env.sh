#!/usr/bin/env bash
# Writes docker/.env for `docker compose up` (once: an existing file is kept): the project's
# name and a random password per database role plus the internal credential. The marketplace
# variables default to the emulator's development app (docker/compose.yaml).
set -euo pipefail
env_file="$(cd "$(dirname "$0")/.." && pwd)/docker/.env"
if [ -e "$env_file" ]; then
  echo "compose-env: $env_file exists; kept as it is"
  exit 0
fi
secret() { head -c 32 /dev/urandom | base64 | tr -d '/+=\n'; }
umask 077
{
  echo "COMPOSE_PROJECT_NAME=guance-marketplace-suite"
  for name in POSTGRES_PASSWORD WORKSPACE_CONSOLE_DB_PASSWORD BILLING_CENTER_DB_PASSWORD \
    MARKETPLACE_GATEWAY_DB_PASSWORD MARKETPLACE_EMULATOR_DB_PASSWORD INTERNAL_CREDENTIAL; do
    echo "$name=$(secret)"
  done
} >"$env_file"
echo "compose-env: wrote $env_file"
