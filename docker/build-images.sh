#!/usr/bin/env bash
# Builds the sandbox image named by SANDBOXD_IMAGE with no container registry, in three
# layers:
#   1. sandboxed-base:<version>: a Debian bookworm root filesystem from Debian's
#      packages (debootstrap: bash, tini, git, ca-certificates, Node.js, ripgrep) with
#      the sandbox user (uid 1000), imported with `docker import`. Slow (1-2 minutes);
#      built once.
#   2. sandboxed-agents:<versions>: the base plus the coding-agent CLIs, OpenCode and
#      Claude Code, npm-installed on the host (their packages carry native binaries that
#      need no Node at run time) and copied in: the build needs no network inside a
#      container. Built once per pair of versions (AGENT_CLIS).
#   3. SANDBOXD_IMAGE: the agents image plus our supervisor /usr/local/bin/sandbox-init as
#      the command (docker run --init gives it tini as PID 1). Seconds; rebuilt whenever
#      the supervisor binary or the agents image changes (labels record both).
# docker/Dockerfile builds the same image on a host that can pull from a registry.
#
# Env: SANDBOXD_IMAGE (default sandboxed-sandbox:0.1.0), SANDBOX_INIT (the built
#      supervisor, default build/sandbox-init), DEBIAN_MIRROR (default
#      http://deb.debian.org/debian), AGENT_CLIS (default "opencode-ai@1.18.33
#      @anthropic-ai/claude-code@2.1.197"), FORCE=1 (rebuild all), WORK_DIR (default: temp).
# Needs: root, a running dockerd, debootstrap and npm (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${SANDBOXD_IMAGE:-sandboxed-sandbox:0.1.0}
BASE=sandboxed-base:0.2.0
AGENT_CLIS=${AGENT_CLIS:-"opencode-ai@1.18.33 @anthropic-ai/claude-code@2.1.197"}
AGENTS=sandboxed-agents:$(printf '%s' "$AGENT_CLIS" | sha256sum | cut -c1-12)
INIT=${SANDBOX_INIT:-build/sandbox-init}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=bash,tini,git,ca-certificates,coreutils,procps,nodejs,ripgrep
export DOCKER_BUILDKIT=0  # no buildx on Debian 12; the legacy builder works offline
say() { printf '[build-images] %s\n' "$*"; }

[ -x "$INIT" ] || { say "$INIT not found: build it first (cmake --build build --target sandbox-init)"; exit 1; }
INIT_SHA=$(sha256sum "$INIT" | cut -d' ' -f1)
label() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }
if [ -z "${FORCE:-}" ] && docker image inspect "$IMAGE" >/dev/null 2>&1 &&
   [ "$(label "$IMAGE" sandboxed.init.sha256)" = "$INIT_SHA" ] &&
   [ "$(label "$IMAGE" sandboxed.agents)" = "$AGENTS" ]; then
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

if [ -n "${FORCE:-}" ] || ! docker image inspect "$AGENTS" >/dev/null 2>&1; then
  if ! command -v npm >/dev/null 2>&1; then
    say "installing npm (to fetch the agent CLIs on the host)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm >/dev/null
  fi
  start=$(date +%s)
  say "npm install $AGENT_CLIS (on the host; about 430 MB)"
  # shellcheck disable=SC2086  # AGENT_CLIS: whitespace-separated package specs
  npm install --prefix "$WORK/npm" --no-audit --no-fund --loglevel=error $AGENT_CLIS >/dev/null
  mkdir -p "$WORK/agents"
  cp -L "$WORK/npm/node_modules/.bin/opencode" "$WORK/npm/node_modules/.bin/claude" "$WORK/agents/"
  cat >"$WORK/agents/Dockerfile" <<DOCKERFILE
FROM $BASE
COPY opencode claude /usr/local/bin/
RUN opencode --version && claude --version
LABEL sandboxed.agent_clis="$AGENT_CLIS"
DOCKERFILE
  docker build -q -t "$AGENTS" "$WORK/agents" >/dev/null 2>"$WORK/build.err" || { cat "$WORK/build.err"; exit 1; }
  rm -rf "$WORK/npm" "$WORK/agents"
  say "built $AGENTS ($AGENT_CLIS) in $(( $(date +%s) - start )) s"
fi

say "adding sandbox-init ($INIT) as $IMAGE"
mkdir -p "$WORK/ctx"
cp "$INIT" "$WORK/ctx/sandbox-init"
cat >"$WORK/ctx/Dockerfile" <<DOCKERFILE
FROM $AGENTS
COPY sandbox-init /usr/local/bin/sandbox-init
LABEL org.opencontainers.image.title=sandboxed-sandbox sandboxed.init.sha256=$INIT_SHA sandboxed.agents=$AGENTS
CMD ["/usr/local/bin/sandbox-init"]
DOCKERFILE
docker build -q -t "$IMAGE" "$WORK/ctx" >/dev/null 2>"$WORK/build.err" || { cat "$WORK/build.err"; exit 1; }
say "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
