#!/usr/bin/env bash
# Runs sandboxed on this host: prepares it (packages, dockerd), writes .env from
# .env.example if absent, builds the sandbox image and sandboxd, starts sandboxd in the
# background, waits for /healthz and prints how to use it. Idempotent: a second run
# leaves a healthy daemon alone. Needs root. Undo with ./uninstall.sh.
set -euo pipefail
cd "$(dirname "$0")"
say() { printf '[install] %s\n' "$*"; }
[ "$(id -u)" = 0 ] || { say "run as root: sudo ./install.sh"; exit 1; }

say "1/5 host packages and Docker engine"
scripts/host-deps.sh
if [ ! -f .env ]; then
  cp .env.example .env
  say "wrote .env from .env.example (edit it to change settings)"
fi
set -a
# shellcheck disable=SC1091
. ./.env
set +a
BIND=${SANDBOXED_API_BIND:-127.0.0.1:9090}
DATA=${SANDBOXED_DATA_DIR:-${SANDBOXD_DATA_DIR:-/var/lib/sandboxed}}
URL="http://${BIND}"
PIDFILE=$DATA/state/sandboxd.pid
LOG=$DATA/sandboxd.log

say "2/5 building sandboxd and sandbox-init (cmake, -j2)"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANDBOXD_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j2 | grep --line-buffered -E '^\[ *[0-9]+%\]' | sed -u 's/^/[install]   /'
say "3/5 sandbox image ${SANDBOXD_IMAGE:-sandboxed-sandbox:0.1.0}"
SANDBOX_INIT=build-release/sandbox-init docker/build-images.sh

say "4/5 starting sandboxd"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && curl -fsS "$URL/healthz" >/dev/null 2>&1; then
  say "sandboxd already running (pid $(cat "$PIDFILE")) and healthy; leaving it alone"
else
  mkdir -p "$DATA/state"
  setsid "$PWD/build-release/sandboxd" serve --env-file "$PWD/.env" </dev/null >>"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
fi

say "5/5 waiting for $URL/healthz"
for _ in $(seq 1 100); do
  if curl -fsS "$URL/healthz" >/dev/null 2>&1; then
    cat <<MSG
[install] sandboxed is running.
  API:          $URL   (log: $LOG)
  previews:     http://s-<id>-<port>.preview.${PREVIEW_DOMAIN:-localhost}/ through Traefik, or
                the wake listener http://${SANDBOXD_WAKE_BIND:-127.0.0.1:9091} with that Host header
  try:          curl -s -X POST $URL/sandbox -d '{"id":"demo1","ports":[3000]}'
                curl -s -X POST $URL/sandbox/demo1/exec -d '{"cmd":["bash","-lc","echo hello from \$(hostname)"]}'
  stop/remove:  ./uninstall.sh   (add --data to delete workspaces too)
MSG
    exit 0
  fi
  if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then break; fi
  sleep 0.1
done
say "sandboxd did not become healthy; last lines of $LOG:"
tail -20 "$LOG" >&2
exit 1
