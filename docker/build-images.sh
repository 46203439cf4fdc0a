#!/usr/bin/env bash
# Builds the sandbox image named by SANDBOXD_IMAGE with no container registry, in two
# layers:
#   1. sandboxed-base:<version>: a Debian bookworm root filesystem from Debian's
#      packages (debootstrap: bash, tini, git, ca-certificates, Node.js) with the sandbox
#      user (uid 1000), imported with `docker import`. Slow (1-2 minutes); built once.
#   2. SANDBOXD_IMAGE: the base plus our supervisor /usr/local/bin/sandbox-init as the
#      command (docker run --init gives it tini as PID 1). Seconds; rebuilt whenever the
#      supervisor binary changes (its sha256 is a label of the image).
#
# Env: SANDBOXD_IMAGE (default sandboxed-sandbox:0.1.0), SANDBOX_INIT (the built
#      supervisor, default build/sandbox-init), DEBIAN_MIRROR (default
#      http://deb.debian.org/debian), FORCE=1 (rebuild both), WORK_DIR (default: temp).
# Needs: root, a running dockerd, debootstrap (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${SANDBOXD_IMAGE:-sandboxed-sandbox:0.1.0}
BASE=sandboxed-base:0.1.0
INIT=${SANDBOX_INIT:-build/sandbox-init}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=bash,tini,git,ca-certificates,coreutils,procps,nodejs
export DOCKER_BUILDKIT=0  # no buildx on Debian 12; the legacy builder works offline
say() { printf '[build-images] %s\n' "$*"; }

[ -x "$INIT" ] || { say "$INIT not found: build it first (cmake --build build --target sandbox-init)"; exit 1; }
INIT_SHA=$(sha256sum "$INIT" | cut -d' ' -f1)
if [ -z "${FORCE:-}" ] && docker image inspect "$IMAGE" >/dev/null 2>&1 &&
   [ "$(docker image inspect -f '{{index .Config.Labels "sandboxed.init.sha256"}}' "$IMAGE")" = "$INIT_SHA" ]; then
  say "image $IMAGE is up to date; skipping (FORCE=1 rebuilds)"
  exit 0
fi
[ "$(id -u)" = 0 ] || { say "must run as root (debootstrap and chown need it)"; exit 1; }

WORK=${WORK_DIR:-$(mktemp -d /tmp/sandboxed-image.XXXXXX)}
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

if [ -n "${FORCE:-}" ] || ! docker image inspect "$BASE" >/dev/null 2>&1; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
  fi
  ROOTFS=$WORK/rootfs
  start=$(date +%s)
  say "debootstrap bookworm ($PACKAGES) from $MIRROR; takes 1-2 minutes"
  # debootstrap's own progress lines, summarised every 25 steps.
  if ! debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOTFS" "$MIRROR" 2>&1 |
      grep --line-buffered -E '^I: (Retrieving|Validating|Extracting|Installing|Configuring) ?[a-z]*' |
      awk '{ n++; if (n % 25 == 0) { printf "[build-images]   %d steps...\n", n; fflush() } }'; then
    say "debootstrap failed"; exit 1
  fi
  [ -x "$ROOTFS/usr/bin/tini" ] || { say "debootstrap did not produce a usable rootfs"; exit 1; }
  say "adding user sandbox (uid 1000)"
  chroot "$ROOTFS" groupadd -g 1000 sandbox
  chroot "$ROOTFS" useradd -u 1000 -g 1000 -M -d /home/sandbox -s /bin/bash sandbox
  mkdir -p "$ROOTFS/home/sandbox/workspace/app"
  chown -R 1000:1000 "$ROOTFS/home/sandbox"
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/tmp/*
  say "importing into docker as $BASE"
  tar -C "$ROOTFS" --numeric-owner -c . | docker import \
    -c 'ENV LANG=C.UTF-8' -c 'ENV HOME=/home/sandbox' \
    -c 'USER 1000:1000' -c 'WORKDIR /home/sandbox/workspace/app' -c 'CMD ["sleep", "infinity"]' \
    - "$BASE" >/dev/null
  rm -rf "$ROOTFS"
  say "built $BASE in $(( $(date +%s) - start )) s"
fi

say "adding sandbox-init ($INIT) as $IMAGE"
mkdir -p "$WORK/ctx"
cp "$INIT" "$WORK/ctx/sandbox-init"
cat >"$WORK/ctx/Dockerfile" <<DOCKERFILE
FROM $BASE
COPY sandbox-init /usr/local/bin/sandbox-init
LABEL org.opencontainers.image.title=sandboxed-sandbox sandboxed.init.sha256=$INIT_SHA
CMD ["/usr/local/bin/sandbox-init"]
DOCKERFILE
docker build -q -t "$IMAGE" "$WORK/ctx" >/dev/null 2>"$WORK/build.err" || { cat "$WORK/build.err"; exit 1; }
say "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
