#!/usr/bin/env bash
# `make test`: the protos' style (`buf lint`, rules and exceptions in buf.yaml) and their
# compatibility (`buf breaking`, FILE rules) with the previous version of Protos/: what HEAD
# has when the working tree changed them, otherwise what they were before the last commit that
# changed them. BUF_BREAKING_AGAINST names another git ref to compare with.
# Usage: scripts/buf-check.sh PYTHON (the project's venv, which has buf from PyPI's buf-bin).
set -euo pipefail
cd "$(dirname "$0")/.."
buf=$(dirname "$1")/buf
"$buf" lint
echo "buf-check: lint clean (buf.yaml)"
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "buf-check: not a git checkout: no previous protos to compare with"
  exit 0
fi
against=${BUF_BREAKING_AGAINST:-}
if [ -z "$against" ]; then
  if ! git diff --quiet HEAD -- Protos || [ -n "$(git ls-files --others --exclude-standard Protos)" ]; then
    against=HEAD
  else
    last_change=$(git log -n 1 --format=%H -- Protos)
    if ! git rev-parse -q --verify "$last_change~1" >/dev/null; then
      echo "buf-check: Protos/ has no earlier version in this clone's history"
      exit 0
    fi
    against=$last_change~1
  fi
fi
# buf clones the repository at a depth of 50 commits unless told: deep enough to reach the ref.
depth=$(($(git rev-list --count "$against..HEAD") + 2))
"$buf" breaking --against ".git#ref=$against,subdir=Protos,depth=$depth"
echo "buf-check: no breaking change against Protos/ at $(git rev-parse --short "$against")"
