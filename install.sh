#!/usr/bin/env bash
# Installs and starts sandboxed on this host as a Docker Compose stack: checks Docker and
# Compose, writes .env from .env.example when absent, builds the sandbox image and the
# control-plane image, starts the stack (docker-compose.yml), waits for the API's
# /healthz and prints how to use it. Idempotent: a second run rebuilds nothing that is
# current and leaves running services alone. Undo with ./uninstall.sh.
#
# Images come from a registry when one answers, else they are built offline from
# Debian's packages and npm, and sandboxd's own listener is the preview edge instead of
# Traefik (SANDBOXED_IMAGE_SOURCE, SANDBOXED_EDGE in .env; the environment overrides).
set -euo pipefail
cd "$(dirname "$0")"
say() { printf '[install] %s\n' "$*"; }
die() { printf '[install] %s\n' "$@" >&2; exit 1; }
STEPS=6
step() { printf '[install] [%s/%s] %s\n' "$1" "$STEPS" "$2"; }
PROJECT=sandboxed

[ "$(id -u)" = 0 ] || die "run as root (sudo ./install.sh): it builds images from Debian's" \
  "packages with debootstrap and creates the data dir"

step 1 "checking Docker and Compose"
scripts/docker-engine.sh
server=$(docker version --format '{{.Server.Version}}')
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi
say "Docker engine $server, ${COMPOSE[*]} $("${COMPOSE[@]}" version --short 2>/dev/null || echo)"

step 2 "configuration (.env)"
if [ ! -f .env ]; then
  cp .env.example .env
  chmod 600 .env  # it will hold API tokens
  say "wrote .env from .env.example (edit it to change settings; ./install.sh again applies them)"
else
  say "using the existing .env"
fi
# Sets KEY=value in .env, replacing its line or appending one.
set_env() {
  if grep -q "^$1=" .env; then sed -i "s|^$1=.*|$1=$2|" .env; else printf '%s=%s\n' "$1" "$2" >>.env; fi
}
ENV_SOURCE=${SANDBOXED_IMAGE_SOURCE:-} ENV_EDGE=${SANDBOXED_EDGE:-}
set -a
# shellcheck disable=SC1091
. ./.env
set +a
SOURCE=${ENV_SOURCE:-${SANDBOXED_IMAGE_SOURCE:-auto}}
EDGE=${ENV_EDGE:-${SANDBOXED_EDGE:-auto}}
case "$SOURCE" in auto|registry|offline) ;; *) die "SANDBOXED_IMAGE_SOURCE=$SOURCE: use auto, registry or offline" ;; esac
case "$EDGE" in auto|traefik|sandboxd) ;; *) die "SANDBOXED_EDGE=$EDGE: use auto, traefik or sandboxd" ;; esac
TRAEFIK_IMAGE=${SANDBOXED_TRAEFIK_IMAGE:-traefik:v3.7.6}
if [ "$SOURCE" = auto ]; then
  # One real pull decides (and is needed anyway): the Traefik image.
  say "is a container registry reachable? trying: docker pull $TRAEFIK_IMAGE (up to 60 s)"
  if timeout 60 docker pull -q "$TRAEFIK_IMAGE" >/dev/null 2>&1; then
    SOURCE=registry
  else
    SOURCE=offline
    say "no container registry is reachable: building the images offline from Debian's" \
        "packages and npm, with sandboxd's own listener as the preview edge (no Traefik)"
  fi
fi
if [ "$EDGE" = auto ]; then
  if [ "$SOURCE" = registry ]; then EDGE=traefik; else EDGE=sandboxd; fi
fi
# Remembered, so later runs do not ask the registry again.
set_env SANDBOXED_IMAGE_SOURCE "$SOURCE"
set_env SANDBOXED_EDGE "$EDGE"
HTTP_PORT=${HTTP_PORT:-80}
if [ "$EDGE" = sandboxd ]; then
  [ "${PREVIEW_TLS:-false}" = true ] && die "PREVIEW_TLS=true needs the Traefik edge (SANDBOXED_EDGE=traefik)"
  # sandboxd's wake listener is the whole edge: it serves every preview on HTTP_PORT.
  if [ "${SANDBOXD_WAKE_BIND:-127.0.0.1:9091}" = 127.0.0.1:9091 ]; then
    set_env SANDBOXD_WAKE_BIND "0.0.0.0:$HTTP_PORT"
    SANDBOXD_WAKE_BIND=0.0.0.0:$HTTP_PORT
  fi
elif [ "${SANDBOXD_WAKE_BIND:-}" = "0.0.0.0:$HTTP_PORT" ]; then
  # Back behind Traefik (the edge was sandboxd's listener): Traefik takes HTTP_PORT and
  # forwards stopped sandboxes' previews to the listener on loopback (traefik/dynamic/wake.yml).
  set_env SANDBOXD_WAKE_BIND 127.0.0.1:9091
  SANDBOXD_WAKE_BIND=127.0.0.1:9091
fi
COMPOSE_ARGS=(-p "$PROJECT" -f docker-compose.yml)
if [ "$EDGE" = traefik ]; then
  export COMPOSE_PROFILES=traefik
  if [ "${PREVIEW_TLS:-false}" = true ]; then
    if [ -z "${ACME_EMAIL:-}" ] || [ -z "${ACME_DNS_PROVIDER:-}" ]; then
      die "PREVIEW_TLS=true: set ACME_EMAIL and ACME_DNS_PROVIDER in .env (see docker-compose.tls.yml)"
    fi
    [ -f traefik/acme.env ] || die "PREVIEW_TLS=true: put your DNS provider's credentials in traefik/acme.env"
    COMPOSE_ARGS+=(-f docker-compose.tls.yml)
  fi
fi
say "images: $SOURCE; preview edge: $EDGE"

step 3 "building the images (the first time takes several minutes)"
IMAGE_SOURCE=$SOURCE docker/build-images.sh all

step 4 "starting the stack (${COMPOSE[*]} -p $PROJECT up -d)"
# A sandboxd started by an earlier, host-process install.sh would hold the data dir.
DATA=${SANDBOXED_DATA_DIR:-/var/lib/sandboxed}
if [ -f "$DATA/state/sandboxd.pid" ] && kill -0 "$(cat "$DATA/state/sandboxd.pid")" 2>/dev/null; then
  say "stopping the host-process sandboxd of an earlier install (pid $(cat "$DATA/state/sandboxd.pid"))"
  kill -TERM "$(cat "$DATA/state/sandboxd.pid")"
  for _ in $(seq 1 300); do kill -0 "$(cat "$DATA/state/sandboxd.pid")" 2>/dev/null || break; sleep 0.1; done
fi
rm -f "$DATA/state/sandboxd.pid"
# Compose reports each service: created, recreated (config or image changed) or up-to-date.
"${COMPOSE[@]}" "${COMPOSE_ARGS[@]}" up -d --no-build 2>&1 | sed -u 's/^/[install]   /'

BIND=${SANDBOXED_API_BIND:-127.0.0.1:9090}
API="http://${BIND/0.0.0.0/127.0.0.1}"
step 5 "waiting for $API/healthz"
healthy=0
for i in $(seq 1 600); do
  if curl -fsS --max-time 2 "$API/healthz" >/dev/null 2>&1; then healthy=1; break; fi
  [ $((i % 50)) = 0 ] && say "  still waiting ($((i / 10)) s)"
  sleep 0.1
done
if [ "$healthy" != 1 ]; then
  say "sandboxd did not become healthy within 60 s; its last log lines:"
  "${COMPOSE[@]}" "${COMPOSE_ARGS[@]}" logs --tail 30 sandboxd >&2 || true
  exit 1
fi

step 6 "checking the host (sandboxd doctor)"
"${COMPOSE[@]}" "${COMPOSE_ARGS[@]}" exec -T sandboxd sandboxd doctor | sed -u 's/^/[install]   /' ||
  say "sandboxd doctor reports a problem above: fix it, then run ./install.sh again"

DOMAIN=${PREVIEW_DOMAIN:-localhost}
if [ "${PREVIEW_TLS:-false}" = true ]; then
  SCHEME=https PORT_SUFFIX=$([ "${HTTPS_PORT:-443}" = 443 ] || echo ":${HTTPS_PORT}")
else
  SCHEME=http PORT_SUFFIX=$([ "$HTTP_PORT" = 80 ] || echo ":$HTTP_PORT")
fi
EDGE_TEXT="Traefik on port ${HTTP_PORT}"
[ "$EDGE" = sandboxd ] && EDGE_TEXT="sandboxd's own listener on ${SANDBOXD_WAKE_BIND}"
cat <<MSG
[install] sandboxed is running.
  API:       $API   (auth: $([ "${SANDBOXD_API_AUTH_DISABLED:-true}" = true ] && echo "off, loopback only" || echo "bearer tokens"))
  previews:  $SCHEME://s-<id>-<port>.preview.$DOMAIN$PORT_SUFFIX/   (edge: $EDGE_TEXT)
  try:
    curl -s -X POST $API/v1/sandboxes -d '{"id":"demo","ports":[3000]}'
    curl -s -X POST $API/v1/sandboxes/demo/exec -d '{"cmd":["bash","-lc","echo hello from \$(hostname)"]}'
    then have an agent build an app: README.md, "Quick start"
  operate:
    ${COMPOSE[*]} -p $PROJECT exec sandboxd sandboxd ls    (sandboxes)
    ${COMPOSE[*]} -p $PROJECT exec sandboxd sandboxd doctor    (host checks)
    ${COMPOSE[*]} -p $PROJECT logs -f sandboxd    (logs)
    curl -s $API/metrics    (Prometheus)
  remove:    ./uninstall.sh   (--data also deletes workspaces, --images the images, --all both)
MSG
