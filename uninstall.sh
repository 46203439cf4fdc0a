#!/usr/bin/env bash
# Stops sandboxd and removes what sandboxed created on this host: its sandbox
# containers (label sandboxed.managed=true of this instance) and its network. With
# --images also the sandbox image, with --data also the data dir (workspaces and the
# database; asks first unless --yes). --all means --images --data. Never touches other
# containers. Needs root.
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
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) say "unknown option $arg (use --images, --data, --all, --yes)"; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { say "run as root: sudo ./uninstall.sh"; exit 1; }
# shellcheck disable=SC1091
if [ -f .env ]; then set -a; . ./.env; set +a; fi
DATA=${SANDBOXED_DATA_DIR:-${SANDBOXD_DATA_DIR:-/var/lib/sandboxed}}
INSTANCE=${SANDBOXD_INSTANCE:-default}
NETWORK=${SANDBOXD_NETWORK:-sandboxed}
PIDFILE=$DATA/state/sandboxd.pid

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  say "stopping sandboxd (pid $(cat "$PIDFILE"))"
  kill -TERM "$(cat "$PIDFILE")"
  for _ in $(seq 1 300); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
fi
rm -f "$PIDFILE"
if docker version >/dev/null 2>&1; then
  ids=$(docker ps -aq --filter label=sandboxed.managed=true --filter "label=sandboxed.instance=$INSTANCE")
  if [ -n "$ids" ]; then
    say "removing $(echo "$ids" | wc -l) sandbox container(s)"
    echo "$ids" | xargs docker rm -f >/dev/null
  fi
  if docker network inspect "$NETWORK" >/dev/null 2>&1 &&
     [ "$(docker network inspect -f '{{index .Labels "sandboxed.managed"}}' "$NETWORK")" = true ]; then
    say "removing network $NETWORK"
    docker network rm "$NETWORK" >/dev/null || say "network $NETWORK still in use; left in place"
  fi
  if [ "$IMAGES" = 1 ]; then
    img=${SANDBOXD_IMAGE:-sandboxed-sandbox:0.1.0}
    docker image inspect "$img" >/dev/null 2>&1 && { say "removing image $img"; docker rmi "$img" >/dev/null; }
  fi
fi
if [ "$DATA_TOO" = 1 ] && [ -d "$DATA" ]; then
  if [ "$YES" != 1 ]; then
    read -r -p "[uninstall] delete $DATA (all workspaces and the database)? [y/N] " answer
    case "$answer" in y|Y|yes) ;; *) say "kept $DATA"; DATA_TOO=0 ;; esac
  fi
  if [ "$DATA_TOO" = 1 ]; then say "deleting $DATA"; rm -rf "$DATA"; fi
fi
say "done"
