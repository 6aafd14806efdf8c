#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is created: each service gets its own role and its
# own database, owned by that role, so no service can read another's tables. Used by
# docker/compose.yaml and by this overlay (a ConfigMap of its PostgreSQL).
set -euo pipefail

create_service_database() {
  local name=$1 password=$2
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v name="$name" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
SQL
}

create_service_database workspace_console "$WORKSPACE_CONSOLE_DB_PASSWORD"
create_service_database billing_center "$BILLING_CENTER_DB_PASSWORD"
create_service_database marketplace_gateway "$MARKETPLACE_GATEWAY_DB_PASSWORD"
create_service_database marketplace_emulator "$MARKETPLACE_EMULATOR_DB_PASSWORD"
