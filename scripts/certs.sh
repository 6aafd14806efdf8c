#!/usr/bin/env bash
# `make certs`: a development CA and certificates for TLS between the services (openssl).
#   scripts/certs.sh [DIR] [NAME]   (default .run/certs, CA name "Guance suite development CA")
# Writes DIR/ca.pem (+ ca.key), DIR/server.pem + server.key (for localhost, 127.0.0.1 and the
# compose host names) and DIR/client.pem + client.key (for the services' clients).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.run/certs}
name=${2:-Guance suite development CA}
mkdir -p "$dir"
command -v openssl >/dev/null || { echo "certs: openssl is needed (apt install openssl)" >&2; exit 1; }

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

key "$dir/ca.key"
openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 825 -subj "/CN=$name" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -out "$dir/ca.pem" 2>/dev/null

# issue NAME CN EXTENSIONS
issue() {
  local file=$1 cn=$2 extensions=$3
  key "$dir/$file.key"
  openssl req -new -key "$dir/$file.key" -subj "/CN=$cn" -out "$dir/$file.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$file.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -sha256 -days 825 -extfile <(printf '%s\n' "$extensions") -out "$dir/$file.pem" 2>/dev/null
  rm -f "$dir/$file.csr"
}
issue server "guance-suite" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:workspace-console,DNS:billing-center,DNS:marketplace-gateway"
issue client "guance-suite-client" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
rm -f "$dir/ca.srl"
echo "certs: CA, server and client certificates in $dir"
