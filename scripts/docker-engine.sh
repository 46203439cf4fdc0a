#!/usr/bin/env bash
# Makes sure this host has a running Docker engine and Docker Compose. On Debian and
# Ubuntu (apt-get present) it installs docker.io and docker-compose when missing and
# starts dockerd (systemctl when systemd runs, else dockerd in the background); elsewhere
# it says what to install. Idempotent; needs root. Used by install.sh and host-deps.sh.
#   SANDBOXED_NO_APT=1  never install packages, only say what is missing
#   DOCKERD_LOG         dockerd's log when this script starts it (default /var/log/sandboxed-dockerd.log)
set -euo pipefail
say() { printf '[docker] %s\n' "$*"; }
die() { printf '[docker] %s\n' "$@" >&2; exit 1; }

have_compose() { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; }
engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
missing=()
# A docker CLI alone is not an engine: without an answering one, dockerd must be here.
if ! command -v docker >/dev/null 2>&1 || { ! engine_up && ! command -v dockerd >/dev/null 2>&1; }; then
  missing+=(docker.io)
fi
have_compose || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
  if [ -n "${SANDBOXED_NO_APT:-}" ] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing: ${missing[*]}. Install Docker Engine and Docker Compose, then run this again:" \
      "  Debian/Ubuntu:  sudo apt-get install docker.io docker-compose" \
      "  elsewhere:      https://docs.docker.com/engine/install/ (with the compose plugin)"
  fi
  say "installing ${missing[*]} from the distribution's packages (SANDBOXED_NO_APT=1 to do it yourself)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" |
    { grep --line-buffered -E '^Setting up ' || true; } | sed -u 's/^/[docker]   /'
fi

if engine_up; then exit 0; fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  say "starting the Docker engine (systemctl start docker)"
  systemctl start docker
else
  LOG=${DOCKERD_LOG:-/var/log/sandboxed-dockerd.log}
  # A daemon killed earlier leaves its pidfile; dockerd refuses to start while it names a live pid.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  command -v dockerd >/dev/null 2>&1 || die "the Docker engine does not answer and dockerd is not installed"
  say "starting dockerd in the background (no systemd here; log: $LOG)"
  # Fully detached: own session, no inherited stdio, so callers' pipes close.
  setsid dockerd </dev/null >>"$LOG" 2>&1 &
fi
for _ in $(seq 1 300); do
  if engine_up; then
    say "Docker engine $(docker version --format '{{.Server.Version}}') is ready"
    exit 0
  fi
  sleep 0.1
done
die "the Docker engine did not answer within 30 s (see its log, or: journalctl -u docker)"
