#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests.
#   pg.sh start DIR PORT   initialise DIR if needed, start the server on 127.0.0.1:PORT; with
#                          PG_TLS_DIR (server.pem and server.key, as scripts/certs.sh writes)
#                          it also accepts TLS with that certificate; PG_OPTIONS adds
#                          server options ("-c track_commit_timestamp=on")
#   pg.sh stop DIR         stop it (fast shutdown)
#   pg.sh datadir DIR      the folder holding its data (and server.log)
#   pg.sh createdb PORT NAME   create database NAME unless it exists
# PostgreSQL refuses to run as root; as root the cluster runs as the 'postgres' user, in a
# folder that user can reach (a link under DIR points at it when DIR's parents are closed).
set -euo pipefail

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pg_bin/initdb" ] || { echo "pg.sh: PostgreSQL is not installed (run scripts/setup.sh)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The folder holding the data: DIR/data, or a root-only fallback outside DIR.
data_dir() {
  local dir=$1
  if [ -L "$dir/data" ]; then readlink "$dir/data"; return; fi
  if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$dir"
    if ! runuser -u postgres -- test -x "$dir"; then
      local outside
      outside=/var/tmp/guance-pg-$(echo "$(cd "$dir" && pwd)" | sha1sum | cut -c1-12)
      mkdir -p "$outside"
      chown postgres: "$outside"
      ln -sfn "$outside" "$dir/data"
      echo "$outside"
      return
    fi
  fi
  echo "$dir/data"
}

cmd=${1:-}
case "$cmd" in
  start)
    dir=$(realpath -m "$2") port=$3
    mkdir -p "$dir"
    data=$(data_dir "$dir")
    mkdir -p "$data"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$data" && chmod 700 "$data"
    if [ ! -f "$data/PG_VERSION" ]; then
      as_owner "$pg_bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    fi
    tls_options=""
    if [ -n "${PG_TLS_DIR:-}" ]; then
      # PostgreSQL reads the key only when it belongs to its own user and no one else may read it.
      install -m 600 "$PG_TLS_DIR/server.pem" "$data/tls-server.pem"
      install -m 600 "$PG_TLS_DIR/server.key" "$data/tls-server.key"
      [ "$(id -u)" -eq 0 ] && chown postgres: "$data/tls-server.pem" "$data/tls-server.key"
      tls_options="-c ssl=on -c ssl_cert_file=$data/tls-server.pem -c ssl_key_file=$data/tls-server.key"
    fi
    # The server must not inherit this script's descriptors beyond 0-2: a caller that waits for
    # them to close (Foundation's Process, a pipe's reader) would wait for the server's exit.
    for fd in /proc/$$/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
    done
    if as_owner "$pg_bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      echo "pg.sh: already running in $data"
    else
      as_owner "$pg_bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
        -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=${PG_FSYNC:-on} $tls_options ${PG_OPTIONS:-}" \
        start >/dev/null || { tail -n 20 "$data/server.log" >&2; exit 1; }
    fi
    ;;
  stop)
    dir=$(realpath -m "$2")
    data=$(data_dir "$dir")
    if [ -f "$data/PG_VERSION" ] && as_owner "$pg_bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      as_owner "$pg_bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    fi
    ;;
  destroy)
    dir=$(realpath -m "$2")
    data=$(data_dir "$dir")
    "$0" stop "$dir"
    rm -rf "$data" "$dir"
    ;;
  datadir)
    data_dir "$(realpath -m "$2")"
    ;;
  createdb)
    port=$2 name=$3
    exists=$(psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$name'")
    [ "$exists" = 1 ] || psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE \"$name\"" >/dev/null
    ;;
  *)
    echo "usage: pg.sh start DIR PORT | stop DIR | destroy DIR | datadir DIR | createdb PORT NAME" >&2
    exit 2
    ;;
esac
