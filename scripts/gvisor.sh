#!/usr/bin/env bash
# Makes gVisor usable by dockerd as the runtime "runsc" (`docker run --runtime=runsc`).
# Installs Debian's runsc package (and jq) when missing, registers runsc in
# /etc/docker/daemon.json (merged with jq: other keys and runtimes are kept; the file is
# created when absent), makes the running dockerd load it (systemctl reload docker under
# systemd, else SIGHUP to dockerd, which re-reads `runtimes` on SIGHUP), waits until
# `docker info` lists it, and ends by running a container under it. Exits non-zero, saying
# why, when gVisor cannot run here. Idempotent; needs root and a running dockerd
# (scripts/docker-engine.sh). Used by install.sh.
#   SANDBOXED_NO_APT=1  never install packages, only say what is missing
#   SANDBOXD_IMAGE      the image of the final check (default sandboxed-sandbox:0.1.0)
#   GVISOR_RUNSC_ARGS   runsc's runtimeArgs, space-separated, instead of the detected ones
#                       (set but empty: none)
#
# runtimeArgs: none, except --network=host where runsc's netstack cannot start. runsc
# before release-20240801 (Debian 12 ships 0.0~20221219) takes "/proc/sys/net/core/
# rmem_default exists" to mean "this is the host's network namespace"; recent kernels (seen
# on 6.11 and 6.18, not on 6.6) show that file in every namespace (gVisor issue 10704), so
# each start fails with "cannot run with network enabled in root network namespace".
# --network=host keeps docker's per-container namespace (its bridge, address and iptables
# rules), but the sandbox's sockets are served by the host kernel instead of gVisor's own
# network stack.
set -euo pipefail
say() { printf '[gvisor] %s\n' "$*"; }
die() { printf '[gvisor] %s\n' "$@" >&2; exit 1; }

CONF=/etc/docker/daemon.json
IMAGE=${SANDBOXD_IMAGE:-sandboxed-sandbox:0.1.0}
[ "$(id -u)" = 0 ] || die "run as root (it installs runsc and changes $CONF)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "the Docker engine does not answer: start it first (scripts/docker-engine.sh)"

# 1. The packages: runsc, and jq to edit daemon.json.
missing=()
command -v runsc >/dev/null 2>&1 || missing+=(runsc)
command -v jq >/dev/null 2>&1 || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
  if [ -n "${SANDBOXED_NO_APT:-}" ] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing: ${missing[*]}. Install them, then run this again:" \
      "  Debian/Ubuntu:  sudo apt-get install ${missing[*]}" \
      "  elsewhere:      https://gvisor.dev/docs/user_guide/install/ (runsc) and jq"
  fi
  say "installing ${missing[*]} from the distribution's packages (SANDBOXED_NO_APT=1 to do it yourself)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" |
    { grep --line-buffered -E '^Setting up ' || true; } | sed -u 's/^/[gvisor]   /'
fi
RUNSC=$(command -v runsc)
VERSION=$(runsc --version 2>/dev/null | sed -n '1s/^runsc version //p')  # sed: no SIGPIPE

# 2. Its runtimeArgs (see the header).
old_netns_check() {  # true for a runsc older than 20240801 (a dateless dev build is newer)
  [[ $VERSION =~ (20[0-9]{6}) ]] && [ "${BASH_REMATCH[1]}" -lt 20240801 ]
}
rmem_default_namespaced() {  # true when a fresh network namespace shows the file too
  unshare --net sh -c 'test -e /proc/sys/net/core/rmem_default' 2>/dev/null
}
if [ -n "${GVISOR_RUNSC_ARGS+set}" ]; then
  read -r -a ARGS <<<"$GVISOR_RUNSC_ARGS"
elif old_netns_check && rmem_default_namespaced; then
  ARGS=(--network=host)
  say "runsc $VERSION cannot start gVisor's network stack on Linux $(uname -r): using --network=host"
else
  ARGS=()
fi

# 3. The entry in daemon.json, written only when it differs.
# (The args travel one a line: jq 1.6 reads a positional "--network=host" as its own option.)
entry=$(jq -cn --arg path "$RUNSC" --arg args "$(printf '%s\n' ${ARGS[@]+"${ARGS[@]}"})" \
  '{path: $path} + ($args | split("\n") | map(select(. != "")) |
    if length > 0 then {runtimeArgs: .} else {} end)')
mkdir -p "$(dirname "$CONF")"
[ -s "$CONF" ] || printf '{}\n' >"$CONF"
merged=$(jq --argjson entry "$entry" '.runtimes.runsc = $entry' "$CONF") ||
  die "$CONF is not valid JSON (or not an object): fix it, then run this again"
if [ "$merged" != "$(cat "$CONF")" ]; then
  say "registering runsc in $CONF: $entry"
  printf '%s\n' "$merged" >"$CONF.tmp"
  chmod 644 "$CONF.tmp"
  mv "$CONF.tmp" "$CONF"
fi

# 4. The running dockerd, told to re-read it when its runsc differs.
loaded() {  # dockerd's runsc has our path and exactly our runtimeArgs
  local now
  now=$(docker info --format '{{json (index .Runtimes "runsc")}}' 2>/dev/null) || return 1
  jq -e --argjson want "$entry" '.path == $want.path
    and (.runtimeArgs // []) == ($want.runtimeArgs // [])' <<<"$now" >/dev/null
}
if ! loaded; then
  if [ -d /run/systemd/system ] && systemctl is-active --quiet docker 2>/dev/null; then
    say "reloading dockerd's configuration (systemctl reload docker)"
    systemctl reload docker
  else
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
      die "no dockerd at the pid in /var/run/docker.pid to reload"
    fi
    say "reloading dockerd's configuration (SIGHUP to pid $pid)"
    kill -HUP "$pid"
  fi
  for _ in $(seq 1 300); do loaded && break; sleep 0.1; done
  loaded || die "dockerd did not take runsc from $CONF within 30 s (see its log, or: journalctl -u docker)"
fi

# 5. A container under it. A start that fails leaves runsc's sandbox and containerd's shim
# running even after `docker rm` (docker 20.10), so those are removed by the container id.
docker image inspect "$IMAGE" >/dev/null 2>&1 ||
  die "runsc is registered, but the check needs the image $IMAGE: build it" \
    "(docker/build-images.sh), then run this again"
forget() {
  local id=$1 root sock
  for root in /var/run/docker/runtime-*/moby /run/docker/runtime-*/moby; do
    if [ -d "$root" ]; then runsc --root "$root" delete --force "$id" >/dev/null 2>&1 || true; fi
  done
  for sock in /var/run/docker/containerd/containerd.sock /run/containerd/containerd.sock; do
    if [ ! -S "$sock" ] || ! command -v ctr >/dev/null 2>&1; then continue; fi
    ctr --address "$sock" -n moby tasks delete --force "$id" >/dev/null 2>&1 || true
    ctr --address "$sock" -n moby containers delete "$id" >/dev/null 2>&1 || true
  done
  docker rm -f "$id" >/dev/null 2>&1 || true
}
id=$(docker create --runtime=runsc --pull never "$IMAGE" true)
if ! out=$(timeout 60 docker start -a "$id" 2>&1); then
  forget "$id"
  die "gVisor cannot run here: a container under runsc $VERSION (runtimeArgs: ${ARGS[*]:-none})" \
    "could not run \`true\` (60 s allowed):" "  ${out:-(no output)}"
fi
docker rm -f "$id" >/dev/null
# Older runsc (Debian 12's among them) rejects statx(AT_NO_AUTOMOUNT), which coreutils 9.1
# uses: `ls DIR`, `ls -l` and `stat` then fail with "Invalid argument" in its sandboxes.
if ! docker run --rm --runtime=runsc --pull never --network none "$IMAGE" ls / >/dev/null 2>&1; then
  say "warning: \`ls /\` fails under runsc $VERSION (its statx rejects AT_NO_AUTOMOUNT):" \
    "ls with arguments, ls -l and stat break in sandboxes; newer gVisor releases fix it"
fi
say "gVisor works: \`true\` ran in $IMAGE under runsc $VERSION (runtimeArgs: ${ARGS[*]:-none})"
