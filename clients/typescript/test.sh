#!/bin/sh
# Installs the SDK's pinned dev dependencies, builds it, checks src/types.ts against
# api/openapi.json and runs its tests. The integration tests need a real sandboxd:
# run this under build/sandboxd_with_daemon (ctest does), which exports SANDBOXD_URL,
# SANDBOXD_TOKEN and SANDBOXED_TEST_MODEL_URL.
set -eu
cd "$(dirname "$0")"
if [ -z "${SANDBOXD_URL:-}" ]; then
  echo "test.sh: SANDBOXD_URL is not set; run it as: build/sandboxd_with_daemon $0" >&2
  exit 2
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
node_modules/.bin/tsc -p tsconfig.json
node scripts/check-types.mjs
exec node --test --test-concurrency=1 test/*.test.mjs
