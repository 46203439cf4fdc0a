#!/usr/bin/env bash
# Builds the sandbox image named by SANDBOXD_IMAGE with no container registry:
# a Debian bookworm root filesystem from Debian's packages (debootstrap) with bash,
# tini, git and ca-certificates, and the sandbox user (uid 1000), imported with
# `docker import`. PID 1 comes from `docker run --init`; the default command idles.
# Skips the build when the image already exists (FORCE=1 rebuilds).
#
# Env: SANDBOXD_IMAGE (default sandboxed-sandbox:0.1.0), DEBIAN_MIRROR (default
#      http://deb.debian.org/debian), FORCE=1, WORK_DIR (default: a temp dir).
# Needs: root, a running dockerd, debootstrap (installed when missing).
set -euo pipefail

IMAGE=${SANDBOXD_IMAGE:-sandboxed-sandbox:0.1.0}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=bash,tini,git,ca-certificates,coreutils,procps
say() { printf '[build-images] %s\n' "$*"; }

if [ -z "${FORCE:-}" ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  say "image $IMAGE already exists; skipping (FORCE=1 rebuilds)"
  exit 0
fi
[ "$(id -u)" = 0 ] || { say "must run as root (debootstrap and chown need it)"; exit 1; }
if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
fi

WORK=${WORK_DIR:-$(mktemp -d /tmp/sandboxed-image.XXXXXX)}
ROOTFS=$WORK/rootfs
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

start=$(date +%s)
say "debootstrap bookworm ($PACKAGES) from $MIRROR; takes about 1-2 minutes"
# debootstrap's own progress lines (I: Retrieving / Installing) are shown, one a line.
if ! debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOTFS" "$MIRROR" \
    2>&1 | grep --line-buffered -E '^I: (Retrieving|Validating|Extracting|Installing|Configuring) ?[a-z]*' \
    | awk '{ n++; if (n % 25 == 0) { printf "[build-images]   %d steps...\n", n; fflush() } }'; then
  say "debootstrap failed"; exit 1
fi
[ -x "$ROOTFS/usr/bin/tini" ] || { say "debootstrap did not produce a usable rootfs"; exit 1; }

say "adding user sandbox (uid 1000)"
chroot "$ROOTFS" groupadd -g 1000 sandbox
chroot "$ROOTFS" useradd -u 1000 -g 1000 -M -d /home/sandbox -s /bin/bash sandbox
mkdir -p "$ROOTFS/home/sandbox/workspace/app"
chown -R 1000:1000 "$ROOTFS/home/sandbox"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/tmp/*

say "importing into docker as $IMAGE"
tar -C "$ROOTFS" --numeric-owner -c . | docker import \
  -c 'ENV LANG=C.UTF-8' -c 'ENV HOME=/home/sandbox' \
  -c 'USER 1000:1000' -c 'WORKDIR /home/sandbox/workspace/app' \
  -c 'CMD ["sleep", "infinity"]' \
  -c 'LABEL org.opencontainers.image.title=sandboxed-sandbox' \
  - "$IMAGE" >/dev/null
say "built $IMAGE in $(( $(date +%s) - start )) s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
