#!/usr/bin/env bash
# Makes this Debian 12 host ready to build and run sandboxd: installs the build and
# runtime packages (compiler, CMake, the libraries, docker.io, debootstrap) when any is
# missing, then starts dockerd in the background if no Docker engine answers.
# Idempotent; needs root. Used by install.sh and tests/run.sh.
#   DOCKERD_LOG  dockerd's log file when this script starts it (default /var/log/sandboxed-dockerd.log)
set -euo pipefail

say() { printf '[host-deps] %s\n' "$*"; }
PACKAGES=(g++ cmake make pkg-config curl ca-certificates
          libcpp-httplib-dev nlohmann-json3-dev libsqlitecpp-dev libsqlite3-dev libspdlog-dev
          libcli11-dev libgtest-dev docker.io debootstrap python3 python3-yaml)

[ "$(id -u)" = 0 ] || { say "run as root (it installs packages and starts dockerd)"; exit 1; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${#missing[@]} packages: ${missing[*]}"
  apt-get update -q >/dev/null
  # Debian's docker.io postinst may not start the daemon (no systemd here); started below.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    | grep --line-buffered -E '^(Unpacking|Setting up) ' | sed -u 's/^/[host-deps]   /'
else
  say "all ${#PACKAGES[@]} packages present"
fi

if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  say "dockerd answers ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi
LOG=${DOCKERD_LOG:-/var/log/sandboxed-dockerd.log}
# A daemon killed earlier leaves its pidfile; dockerd refuses to start while it names a live pid.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi
say "starting dockerd (log: $LOG)"
# Fully detached: own session, no inherited stdio, so callers' pipes close.
setsid dockerd </dev/null >>"$LOG" 2>&1 &
for _ in $(seq 1 300); do
  if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    say "dockerd ready"
    exit 0
  fi
  sleep 0.1
done
say "dockerd did not answer within 30 s; last lines of $LOG:"
tail -30 "$LOG" >&2
exit 1
