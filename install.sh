#!/usr/bin/env bash
# Installs and starts sandboxed on this host as a Docker Compose stack: checks Docker and
# Compose, writes .env from .env.example when absent (mode 0600, with a random API token
# unless .env turns auth off), builds the sandbox image and the control-plane image and
# the starter templates (scripts/build-templates.sh, into <data dir>/templates), starts
# the stack (docker-compose.yml), waits for the API's /healthz, puts the `sandboxd`
# command on the host's PATH (/usr/local/bin/sandboxd, a wrapper around the image's
# binary and its libraries in /usr/local/lib/sandboxed) and prints how to use it; the
# token's secret is never printed (`sandboxd token` prints it). Idempotent:
# a second run changes nothing in .env, rebuilds nothing that is current and leaves
# running services alone. Undo with ./uninstall.sh.
#
# Images come from a registry when one answers, else they are built offline from
# Debian's packages and npm, and sandboxd's own listener is the preview edge instead of
# Traefik (SANDBOXED_IMAGE_SOURCE, SANDBOXED_EDGE in .env; the environment overrides).
set -euo pipefail
cd "$(dirname "$0")"
say() { printf '[install] %s\n' "$*"; }
die() { printf '[install] %s\n' "$@" >&2; exit 1; }
STEPS=7
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
  say "wrote .env from .env.example (edit it to change settings; ./install.sh again applies them)"
else
  say "using the existing .env"
fi
chmod 600 .env  # it holds the API tokens: root only, on every run
# Sets KEY=value in .env, replacing its line or appending one.
set_env() {
  if grep -q "^$1=" .env; then sed -i "s|^$1=.*|$1=$2|" .env; else printf '%s=%s\n' "$1" "$2" >>.env; fi
}
ENV_SOURCE=${SANDBOXED_IMAGE_SOURCE:-} ENV_EDGE=${SANDBOXED_EDGE:-}
set -a
# shellcheck disable=SC1091
. ./.env
set +a
# An .env written from an older .env.example holds that template's default, auth off,
# under its own comment: that was no choice of the operator's, so it becomes auth on (a
# value the operator edited, or wrote under another comment, is kept).
OLD_DEFAULT='# "Authorization: Bearer <secret>".'
if grep -A1 -xF "$OLD_DEFAULT" .env | grep -qx 'SANDBOXD_API_AUTH_DISABLED=true'; then
  set_env SANDBOXD_API_AUTH_DISABLED false
  SANDBOXD_API_AUTH_DISABLED=false
  say "upgrade: .env had the old template's default SANDBOXD_API_AUTH_DISABLED=true;" \
      "auth is now on (set it to true again to opt out, loopback only)"
fi
# Removed in favour of auth on any non-loopback bind: refuse rather than ignore it.
case "$(printf '%s' "${SANDBOXD_ALLOW_PUBLIC_UNAUTHENTICATED:-}" | tr '[:upper:]' '[:lower:]')" in
  true|1|yes|on) die "SANDBOXD_ALLOW_PUBLIC_UNAUTHENTICATED is no longer supported: remove it" \
    "from .env; an API off loopback always needs a token (SANDBOXD_API_TOKENS)" ;;
esac
# The API's auth: on unless .env says SANDBOXD_API_AUTH_DISABLED=true (sandboxd's spellings).
case "$(printf '%s' "${SANDBOXD_API_AUTH_DISABLED:-false}" | tr '[:upper:]' '[:lower:]')" in
  true|1|yes|on) AUTH=off ;;
  *) AUTH=on ;;
esac
if [ "$AUTH" = on ] && [ -z "${SANDBOXD_API_TOKENS:-}" ]; then
  # First install: one random token, kept in .env from now on. Never echoed here.
  SANDBOXD_API_TOKENS="operator:$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
  export SANDBOXD_API_TOKENS
  set_env SANDBOXD_API_TOKENS "$SANDBOXD_API_TOKENS"
  say "generated the API token \"operator\" into .env (SANDBOXD_API_TOKENS, mode 0600)"
elif [ "$AUTH" = off ]; then
  say "WARNING: API auth is off (SANDBOXD_API_AUTH_DISABLED=$SANDBOXD_API_AUTH_DISABLED in .env):" \
      "every local account can drive the API. Set it to false (or remove the line) and run" \
      "./install.sh again to get a token."
fi
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
  # forwards every preview to the listener on loopback (traefik/dynamic/preview.yml).
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

step 3 "building the images and the starter templates (the first time takes several minutes)"
IMAGE_SOURCE=$SOURCE docker/build-images.sh all
# sandboxd imports the templates at startup from <data dir>/templates, its default
# SANDBOXD_TEMPLATES_DIR (the data dir has the same path in its container).
DATA=${SANDBOXED_DATA_DIR:-/var/lib/sandboxed}
templates_before=$(cat "$DATA"/templates/.*.built 2>/dev/null || true)
scripts/build-templates.sh "$DATA/templates"
templates_after=$(cat "$DATA"/templates/.*.built 2>/dev/null || true)

step 4 "starting the stack (${COMPOSE[*]} -p $PROJECT up -d)"
# A sandboxd started by an earlier, host-process install.sh would hold the data dir.
if [ -f "$DATA/state/sandboxd.pid" ] && kill -0 "$(cat "$DATA/state/sandboxd.pid")" 2>/dev/null; then
  say "stopping the host-process sandboxd of an earlier install (pid $(cat "$DATA/state/sandboxd.pid"))"
  kill -TERM "$(cat "$DATA/state/sandboxd.pid")"
  for _ in $(seq 1 300); do kill -0 "$(cat "$DATA/state/sandboxd.pid")" 2>/dev/null || break; sleep 0.1; done
fi
rm -f "$DATA/state/sandboxd.pid"
# Each workspace is a disk image that sandboxd loop-mounts from inside its container; the
# mount must reach the host, where dockerd resolves the sandbox's bind mount, so the data
# dir sits on a shared mount (compose: propagation rshared). systemd hosts mount / shared;
# elsewhere the data dir becomes a shared mount of itself (until the next boot: run
# ./install.sh again after one).
mkdir -p "$DATA"
if [ "$(findmnt -n -o PROPAGATION --target "$DATA")" != shared ]; then
  findmnt -n --mountpoint "$DATA" >/dev/null || mount --bind "$DATA" "$DATA"
  mount --make-rshared "$DATA"
  mkdir -p /run/sandboxed && printf '%s' "$DATA" >/run/sandboxed/data-bind
  say "made $DATA a shared mount (the workspaces' disks are mounted below it)"
fi
# SANDBOXED_RUNTIME=gvisor: gVisor (Debian's runsc) registered with dockerd, and the
# sandboxes' default runtime (SANDBOXD_RUNTIME); a sandbox may still ask for runc.
if [ "${SANDBOXED_RUNTIME:-}" = gvisor ] || [ "${SANDBOXD_RUNTIME:-runc}" = gvisor ]; then
  say "gVisor: installing and registering runsc with dockerd (scripts/gvisor.sh)"
  scripts/gvisor.sh 2>&1 | sed -u 's/^/[install]   /'
  if [ "${SANDBOXED_RUNTIME:-}" = gvisor ]; then set_env SANDBOXD_RUNTIME gvisor; fi
fi
# When the running sandboxd started (empty when none runs).
sandboxd_started() {
  local id
  id=$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" \
    --filter label=com.docker.compose.service=sandboxd)
  if [ -n "$id" ]; then docker inspect -f '{{.State.StartedAt}}' "$id"; fi
}
started_before=$(sandboxd_started)
# Compose reports each service: created, recreated (config or image changed) or up-to-date.
"${COMPOSE[@]}" "${COMPOSE_ARGS[@]}" up -d --no-build 2>&1 | sed -u 's/^/[install]   /'
if [ "$templates_after" != "$templates_before" ] && [ -n "$started_before" ] &&
   [ "$(sandboxd_started)" = "$started_before" ]; then
  say "the starter templates changed: restarting sandboxd, which imports them at startup"
  "${COMPOSE[@]}" "${COMPOSE_ARGS[@]}" restart sandboxd 2>&1 | sed -u 's/^/[install]   /'
fi

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
TOKEN_CMD="${COMPOSE[*]} -p $PROJECT exec -T sandboxd sandboxd token"
if [ "$AUTH" = on ]; then
  # The operator's way to the token (README), checked against the API. The secret goes to
  # curl on stdin, never on a command line that `ps` shows.
  token=$("${COMPOSE[@]}" "${COMPOSE_ARGS[@]}" exec -T sandboxd sandboxd token) ||
    die "\`$TOKEN_CMD\` failed: is SANDBOXD_API_TOKENS in .env a list of name:secret?"
  code=$(printf 'Authorization: Bearer %s\n' "$token" |
    curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H @- "$API/v1/sandboxes?limit=1") || true
  unset token
  [ "$code" = 200 ] || die "the API answered $code to the token from .env (expected 200): see" \
    "${COMPOSE[*]} -p $PROJECT logs sandboxd"
  say "the API accepts the token in .env"
fi

CLI_BIN=/usr/local/bin/sandboxd
CLI_LIB=/usr/local/lib/sandboxed
step 6 "installing the sandboxd command ($CLI_BIN)"
# The client commands (`sandboxd ls`, `sandboxd create`, ...; `sandboxd --help`) on the
# host's PATH, no `docker-compose exec` needed: the control-plane image's binary with
# every shared library it links (Debian 12's, its dynamic loader included) in $CLI_LIB,
# run by a small sh wrapper through that loader, so it works on any glibc host. It reads
# the API's address and token from this directory's .env (SANDBOXED_ENV_FILE, root only).
# Replaced only when something changed.
CONTROL_IMAGE=${SANDBOXED_CONTROL_IMAGE:-sandboxed-sandboxd:0.1.0}
cli_stage=$CLI_LIB.new.$$
rm -rf "$CLI_LIB".new.* && mkdir -p "$cli_stage"
# The binary, its libraries (ldd, symlinks resolved) and the loader's name, as a tar stream.
if ! docker run --rm -i --network none --entrypoint /bin/sh "$CONTROL_IMAGE" -s <<'SH' |
set -e
ldd /usr/local/bin/sandboxd >/tmp/ldd
if grep -q 'not found' /tmp/ldd; then cat /tmp/ldd >&2; exit 1; fi
mkdir -p /tmp/out/lib
cp /usr/local/bin/sandboxd /tmp/out/sandboxd
for lib in $(sed -n 's|.*=> \(/[^ ]*\) .*|\1|p' /tmp/ldd); do cp -L "$lib" /tmp/out/lib/; done
loader=$(sed -n 's|^[[:space:]]*\(/[^ ]*\) (.*|\1|p' /tmp/ldd)
[ -n "$loader" ] || { echo "no dynamic loader in: $(cat /tmp/ldd)" >&2; exit 1; }
cp -L "$loader" /tmp/out/lib/
basename "$loader" >/tmp/out/loader
tar -C /tmp/out -cf - .
SH
  tar -x -C "$cli_stage"; then
  rm -rf "$cli_stage"
  die "could not copy sandboxd and its libraries out of $CONTROL_IMAGE"
fi
loader=$(cat "$cli_stage/loader")
# A path in single quotes for sh.
shq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
cat >"$cli_stage/wrapper" <<WRAPPER
#!/bin/sh
# sandboxd, installed by $(shq "$PWD/install.sh") (removed by uninstall.sh): the control-plane
# image's binary, run with its own libraries. The API's address and token come from the
# environment (SANDBOXD_URL, SANDBOXD_TOKEN), else from SANDBOXED_ENV_FILE.
[ -n "\${SANDBOXED_ENV_FILE:-}" ] || SANDBOXED_ENV_FILE=$(shq "$PWD/.env")
export SANDBOXED_ENV_FILE
exec $(shq "$CLI_LIB/lib/$loader") --library-path $(shq "$CLI_LIB/lib") --argv0 sandboxd $(shq "$CLI_LIB/sandboxd") "\$@"
WRAPPER
chmod 0755 "$cli_stage" "$cli_stage/lib" "$cli_stage/sandboxd" "$cli_stage/wrapper"
if [ -d "$CLI_LIB" ] && diff -rq "$cli_stage" "$CLI_LIB" >/dev/null 2>&1 &&
   cmp -s "$cli_stage/wrapper" "$CLI_BIN"; then
  rm -rf "$cli_stage"
  say "$CLI_BIN is up to date"
else
  rm -rf "$CLI_LIB.old"
  if [ -d "$CLI_LIB" ]; then mv "$CLI_LIB" "$CLI_LIB.old"; fi
  mv "$cli_stage" "$CLI_LIB"
  rm -rf "$CLI_LIB.old"
  install -m 0755 "$CLI_LIB/wrapper" "$CLI_BIN.new.$$" && mv "$CLI_BIN.new.$$" "$CLI_BIN"
  say "installed $CLI_BIN ($(find "$CLI_LIB/lib" -type f | wc -l) libraries in $CLI_LIB/lib)"
fi
"$CLI_BIN" version >/dev/null || die "$CLI_BIN does not run on this host: $("$CLI_BIN" version 2>&1 | head -3)"
if [ -d /etc/bash_completion.d ]; then
  completion=$("$CLI_BIN" completion bash)
  if [ "$(cat /etc/bash_completion.d/sandboxd 2>/dev/null)" != "$completion" ]; then
    printf '%s\n' "$completion" >/etc/bash_completion.d/sandboxd
    say "installed its bash completion (/etc/bash_completion.d/sandboxd)"
  fi
fi
if "$CLI_BIN" ls --limit 1 >/dev/null 2>&1; then
  say "\`sandboxd ls\` reaches the API with the token in .env"
else
  say "WARNING: \`sandboxd ls\` fails: $("$CLI_BIN" ls --limit 1 2>&1 | head -2)"
fi

step 7 "checking the host (sandboxd doctor)"
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
JSON="-H 'Content-Type: application/json'"
if [ "$AUTH" = on ]; then
  AUTH_TEXT='bearer token, kept in .env'
  # shellcheck disable=SC2016  # printed for the operator's shell to expand
  BEARER=' -H "Authorization: Bearer $SANDBOXED_TOKEN"'
  TOKEN_TEXT="  token:     export SANDBOXED_TOKEN=\$($TOKEN_CMD)"
else
  AUTH_TEXT='OFF (SANDBOXD_API_AUTH_DISABLED=true): any local account can drive it'
  BEARER='' TOKEN_TEXT=''
fi
cat <<MSG
[install] sandboxed is running.
  API:       $API   (auth: $AUTH_TEXT)
  previews:  $SCHEME://s-<id>-<port>.preview.$DOMAIN$PORT_SUFFIX/   (edge: $EDGE_TEXT)
${TOKEN_TEXT:+$TOKEN_TEXT
}  try:
    curl -s -X POST $API/v1/sandboxes$BEARER $JSON -d '{"id":"demo","ports":[3000]}'
    curl -s -X POST $API/v1/sandboxes/demo/exec$BEARER $JSON -d '{"cmd":["bash","-lc","echo hello from \$(hostname)"]}'
    then have an agent build an app: README.md, "Quick start"
  operate:
    sandboxd ls    (sandboxes; \`sandboxd --help\` lists every command)
    ${COMPOSE[*]} -p $PROJECT exec sandboxd sandboxd doctor    (host checks)
    ${COMPOSE[*]} -p $PROJECT logs -f sandboxd    (logs)
    curl -s $API/metrics$BEARER    (Prometheus)
  remove:    ./uninstall.sh   (--data also deletes workspaces, --images the images, --all both)
MSG
