#!/usr/bin/env bash
# Makes (once) and prints the project's Python: .run/venv with scripts/requirements.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.run/venv
stamp=$venv/.requirements
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$root/scripts/requirements.txt" "$stamp"; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/scripts/requirements.txt" >&2
  cp "$root/scripts/requirements.txt" "$stamp"
fi
echo "$venv/bin/python"
