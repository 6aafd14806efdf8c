#!/usr/bin/env bash
# Installs what the suite needs from Debian's packages, only when it is missing:
# PostgreSQL (server and client, and libpq for pipelined reads), protoc, libargon2, libnghttp2 (the gRPC server's HTTP/2),
# pkg-config, Python, curl, openssl, Chromium and its driver (the activation page's tests), the C interop client's libraries (protobuf-c, OpenSSL
# headers), docker-compose (to check the compose file) and promtool (it checks /metrics).
# Run as root or with sudo.
set -euo pipefail

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/timestamp.proto ] || missing+=(libprotobuf-dev)
[ -f /usr/include/argon2.h ] || missing+=(libargon2-dev)
[ -f /usr/include/postgresql/libpq-fe.h ] || missing+=(libpq-dev)
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
[ -f /usr/include/nghttp2/nghttp2.h ] || missing+=(libnghttp2-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v curl >/dev/null || missing+=(curl ca-certificates)
command -v openssl >/dev/null || missing+=(openssl)
# The C interop client: protobuf-c, nghttp2 and OpenSSL, compiled with the system cc.
command -v cc >/dev/null || missing+=(gcc libc6-dev)
command -v protoc-gen-c >/dev/null || missing+=(protobuf-c-compiler)
[ -f /usr/include/protobuf-c/protobuf-c.h ] || missing+=(libprotobuf-c-dev)
[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
# The activation page's browser tests: headless Chromium and its WebDriver (selenium drives it).
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
# `make test` checks docker/compose.yaml with `docker-compose config` (no engine needed).
command -v docker-compose >/dev/null || missing+=(docker-compose)

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# `make test` checks each service's /metrics with Prometheus's promtool. Only that program is
# taken from Debian's prometheus package (a static binary): installing the package would add a
# user and try to start the Prometheus server itself.
if ! command -v promtool >/dev/null; then
  echo "setup: installing promtool (from Debian's prometheus package)"
  unpacked=$(mktemp -d)
  (cd "$unpacked" && apt-get download prometheus >/dev/null 2>&1) || {
    $sudo apt-get update -qq
    (cd "$unpacked" && apt-get download prometheus >/dev/null)
  }
  dpkg-deb -x "$unpacked"/prometheus_*.deb "$unpacked/root"
  $sudo install -m 755 "$unpacked/root/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$unpacked"
fi
