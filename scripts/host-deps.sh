#!/usr/bin/env bash
# Makes this Debian 12 host ready to build and test sandboxd: installs the build and test
# packages (compiler, CMake, the libraries, docker.io, docker-compose, debootstrap, jq)
# when any is missing, then has scripts/docker-engine.sh start the Docker engine if none
# answers. (npm, for the offline image build, is installed by docker/build-images.sh when
# no npm is on PATH.) Idempotent; needs root. Used by tests/run.sh.
set -euo pipefail

say() { printf '[host-deps] %s\n' "$*"; }
PACKAGES=(g++ cmake make pkg-config curl ca-certificates
          libcpp-httplib-dev nlohmann-json3-dev libsqlitecpp-dev libsqlite3-dev libspdlog-dev
          libcli11-dev libssl-dev libgtest-dev docker.io docker-compose debootstrap jq python3 python3-yaml python3-pytest
          e2fsprogs mount iptables util-linux)

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

# The engine itself: started when it does not answer.
exec "$(dirname "$0")/docker-engine.sh"
