#!/usr/bin/env bash
# Removes what install.sh set up, and only that: the Compose stack (project
# "sandboxed": sandboxd and Traefik), this instance's sandbox containers (labels
# sandboxed.managed=true and sandboxed.instance=<SANDBOXD_INSTANCE>), the sandbox
# networks sandboxd created, their egress rules (iptables chains SANDBOXED-*) and the
# workspaces' mounted disks (unmounted; their images stay with the data dir), and the
# sandboxd command (/usr/local/bin/sandboxd, its libraries in /usr/local/lib/sandboxed,
# its bash completion). Never touches other containers, networks, volumes or firewall rules.
#   --images  also the images install.sh built (sandbox, control plane, offline layers)
#   --data    also the data dir (every workspace and the database) and the stack's
#             volumes; asks first unless --yes
#   --all     both;  --yes  do not ask
# Keeps .env (your settings). Needs root.
set -euo pipefail
cd "$(dirname "$0")"
say() { printf '[uninstall] %s\n' "$*"; }
IMAGES=0 DATA_TOO=0 YES=0
for arg in "$@"; do
  case "$arg" in
    --images) IMAGES=1 ;;
    --data) DATA_TOO=1 ;;
    --all) IMAGES=1 DATA_TOO=1 ;;
    --yes|-y) YES=1 ;;
    -h|--help) sed -n '2,/^# Keeps/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) say "unknown option $arg (use --images, --data, --all, --yes)"; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { say "run as root: sudo ./uninstall.sh"; exit 1; }
# shellcheck disable=SC1091
if [ -f .env ]; then set -a; . ./.env; set +a; fi
PROJECT=sandboxed
DATA=${SANDBOXED_DATA_DIR:-${SANDBOXD_DATA_DIR:-/var/lib/sandboxed}}
INSTANCE=${SANDBOXD_INSTANCE:-default}
NETWORK=${SANDBOXD_NETWORK:-sandboxed}
if [ "$DATA_TOO" = 1 ] && [ "$YES" != 1 ]; then
  read -r -p "[uninstall] delete $DATA (all workspaces and the database)? [y/N] " answer
  case "$answer" in y|Y|yes) ;; *) say "keeping $DATA"; DATA_TOO=0 ;; esac
fi
if ! docker version >/dev/null 2>&1; then
  say "the Docker engine does not answer: start it and run ./uninstall.sh again"
  exit 1
fi

if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
else
  COMPOSE=()
fi
stack=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")
if [ -n "$stack" ]; then
  say "stopping the stack (sandboxd stops its event streams and finishes in-flight requests)"
  if [ ${#COMPOSE[@]} -gt 0 ]; then
    COMPOSE_PROFILES=traefik "${COMPOSE[@]}" -p "$PROJECT" -f docker-compose.yml down --remove-orphans 2>&1 |
      sed -u 's/^/[uninstall]   /'
  else
    echo "$stack" | xargs docker rm -f >/dev/null
  fi
fi
# A sandboxd run as a host process by an earlier install.sh.
PIDFILE=$DATA/state/sandboxd.pid
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  say "stopping sandboxd (pid $(cat "$PIDFILE"))"
  kill -TERM "$(cat "$PIDFILE")"
  for _ in $(seq 1 300); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
fi
rm -f "$PIDFILE"

ids=$(docker ps -aq --filter label=sandboxed.managed=true --filter "label=sandboxed.instance=$INSTANCE")
if [ -n "$ids" ]; then
  say "removing $(echo "$ids" | wc -l) sandbox container(s) of instance $INSTANCE"
  echo "$ids" | xargs docker rm -f >/dev/null
fi
for net in "$NETWORK" "$NETWORK-none"; do
  if docker network inspect "$net" >/dev/null 2>&1 &&
     [ "$(docker network inspect -f '{{index .Labels "sandboxed.managed"}}' "$net")" = true ]; then
    say "removing network $net"
    docker network rm "$net" >/dev/null || say "network $net is still in use; left in place"
  fi
done
# The egress rules of this instance (net/egress.h): the jumps to its two chains, then the
# chains. The chains' suffix is the FNV-1a hash of the instance name.
fnv=2166136261
for ((i = 0; i < ${#INSTANCE}; i++)); do
  fnv=$(( ((fnv ^ $(printf '%d' "'${INSTANCE:i:1}")) * 16777619) & 0xffffffff ))
done
fnv=$(printf '%08x' "$fnv")
if command -v iptables >/dev/null 2>&1; then
  for chain in "SANDBOXED-F-$fnv" "SANDBOXED-I-$fnv"; do
    iptables -w -S "$chain" >/dev/null 2>&1 || continue
    say "removing the egress rules ($chain)"
    for parent in DOCKER-USER INPUT; do
      { iptables -w -S "$parent" 2>/dev/null || true; } | { grep -- "-j $chain\$" || true; } |
        sed 's/^-A/-D/' | while read -r rule; do eval "iptables -w $rule"; done
    done
    iptables -w -F "$chain" && iptables -w -X "$chain"
  done
fi
# The workspaces' disks (loop-mounted images, workspace_disks.h).
if [ -d "$DATA/workspaces" ]; then
  while read -r target; do
    [ -n "$target" ] && umount "$target" && say "unmounted $target"
  done < <(findmnt -rn -o TARGET | grep "^$DATA/workspaces/" || true)
fi

# The sandboxd command install.sh put on the PATH: its wrapper (only when it is ours),
# the binary with its libraries, and its bash completion.
if [ -f /usr/local/bin/sandboxd ] && grep -q '^# sandboxd, installed by ' /usr/local/bin/sandboxd; then
  rm -f /usr/local/bin/sandboxd && say "removed /usr/local/bin/sandboxd"
fi
if [ -d /usr/local/lib/sandboxed ]; then
  rm -rf /usr/local/lib/sandboxed && say "removed /usr/local/lib/sandboxed"
fi
if head -n 1 /etc/bash_completion.d/sandboxd 2>/dev/null | grep -q '^# bash completion for sandboxd'; then
  rm -f /etc/bash_completion.d/sandboxd
fi

if [ "$IMAGES" = 1 ]; then
  images=("${SANDBOXD_IMAGE:-sandboxed-sandbox:0.1.0}" "${SANDBOXED_CONTROL_IMAGE:-sandboxed-sandboxd:0.1.0}")
  # The offline builder's layers (docker/build-images.sh).
  while read -r ref; do images+=("$ref"); done < <(docker images --format '{{.Repository}}:{{.Tag}}' \
    --filter 'reference=sandboxed-debian' --filter 'reference=sandboxed-base' \
    --filter 'reference=sandboxed-agents')
  for img in "${images[@]}"; do
    if docker image inspect "$img" >/dev/null 2>&1; then
      say "removing image $img"
      docker rmi "$img" >/dev/null || say "image $img is in use; left in place"
    fi
  done
  # The control-plane image's build stage, left untagged by the legacy builder.
  docker image prune -f --filter label=sandboxed.build-stage=true >/dev/null
  say "kept the Traefik image (${SANDBOXED_TRAEFIK_IMAGE:-traefik:v3.7.6}) if present: it is Docker Hub's, not ours"
fi
if [ "$DATA_TOO" = 1 ]; then
  vols=$(docker volume ls -q --filter label=sandboxed.managed=true --filter "label=com.docker.compose.project=$PROJECT")
  if [ -n "$vols" ]; then
    say "removing the stack's volumes: $(echo "$vols" | tr '\n' ' ')"
    echo "$vols" | xargs docker volume rm >/dev/null
  fi
  if [ -d "$DATA" ]; then
    # install.sh may have made the data dir a shared mount of itself (until the next boot).
    if [ "$(cat /run/sandboxed/data-bind 2>/dev/null)" = "$DATA" ]; then
      umount "$DATA" && rm -f /run/sandboxed/data-bind
    fi
    say "deleting $DATA"; rm -rf --one-file-system "$DATA"
  fi
fi
say "done (kept .env)"
