#!/bin/sh
# Runs the Python SDK's tests: unit tests against local fake servers, and integration
# tests against the real sandboxd named by SANDBOXD_URL / SANDBOXD_TOKEN (with real
# containers). Meant to run under the harness, which starts one and sets those:
#   build/sandboxd_with_daemon clients/python/test.sh [pytest args...]
# Needs pytest for PYTHON (default /usr/bin/python3; Debian: python3-pytest).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${PYTHON:=/usr/bin/python3}"
if [ -z "${SANDBOXD_URL:-}" ] || [ -z "${SANDBOXD_TOKEN:-}" ]; then
  echo "test.sh: SANDBOXD_URL and SANDBOXD_TOKEN must be set (run it under build/sandboxd_with_daemon)" >&2
  exit 2
fi
cd "$here"
export PYTHONDONTWRITEBYTECODE=1
exec "$PYTHON" -m pytest -p no:cacheprovider -ra "$@"
