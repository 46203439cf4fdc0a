#!/usr/bin/env bash
# The newcomer test: follows README.md's quick start on this host, from a fresh clone of
# this repository's HEAD, and asserts each step:
#   ./install.sh (auth on: a generated token in .env at mode 0600, fetched with
#   `sandboxd token`, never printed by the install; 401 without it, 415 for a body that
#   is not JSON); create a sandbox; an agent task (OpenCode, against the local mock
#   model server) builds an app; its preview answers through the edge; stop; the
#   preview wakes it; the host's sandboxd command (ls), the service's health check and
#   /metrics see it all; a second ./install.sh
#   changes nothing (.env included);
#   ./uninstall.sh --all --yes leaves no labelled container, network, volume, image or
#   data dir behind.
# Every command it takes from the README is checked to be in the README, so the two stay
# in step. The one departure: the task's body names the mock model instead of a real
# provider (no network model calls in tests), and SANDBOXED_IMAGE_SOURCE=offline says
# what the README tells airgapped hosts to say (these machines reach no registry).
# Uses the default install (API 127.0.0.1:9090, edge :80, /var/lib/sandboxed): it
# refuses to run where sandboxed is already installed. Needs root and a running dockerd.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
say() { printf '[newcomer] %s\n' "$*"; }
fail() { printf '[newcomer] FAIL: %s\n' "$*" >&2; exit 1; }
pass() { printf '[newcomer] ok: %s\n' "$*"; }
API=http://127.0.0.1:9090
PREVIEW=http://s-demo-3000.preview.localhost/
APP_TEXT="hello from the agent's app"

# Fails unless README.md contains the command (as the quick start shows it).
from_readme() { grep -qF -- "$1" "$ROOT/README.md" || fail "README.md no longer shows: $1"; }
# Retries a command until it succeeds or `secs` pass.
until_ok() {
  local secs=$1
  shift
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.5
  done
}
sandboxd_container() {
  docker ps -q --filter label=com.docker.compose.project=sandboxed \
    --filter label=com.docker.compose.service=sandboxd
}

[ "$(id -u)" = 0 ] || fail "run as root"
if [ -e /var/lib/sandboxed ] || [ -n "$(docker ps -aq --filter label=com.docker.compose.project=sandboxed)" ] ||
   curl -fs --max-time 2 "$API/healthz" >/dev/null 2>&1; then
  fail "sandboxed is already installed on this host (/var/lib/sandboxed, the stack or the API" \
       "exists); the newcomer test installs and removes the default stack, so it will not run here"
fi

WORK=$(mktemp -d /tmp/sandboxed-newcomer.XXXXXX)
CLONE=$WORK/sandboxed
MOCK_PID=
cleanup() {
  local rc=$?
  if [ -n "$MOCK_PID" ]; then kill "$MOCK_PID" 2>/dev/null || true; fi
  if [ $rc != 0 ] && [ -x "$CLONE/uninstall.sh" ]; then
    # Images stay (a build cache, not state); the stack, sandboxes and data go.
    say "cleaning up after the failure: ./uninstall.sh --data --yes"
    (cd "$CLONE" && ./uninstall.sh --data --yes >/dev/null 2>&1) || true
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

say "cloning $ROOT (HEAD) into $CLONE"
git clone -q "$ROOT" "$CLONE"
cd "$CLONE"

# Quick start: install.
from_readme "./install.sh"
export SANDBOXED_IMAGE_SOURCE=offline
say "running ./install.sh (log: $WORK/install1.log)"
if ! ./install.sh >"$WORK/install1.log" 2>&1; then
  tail -40 "$WORK/install1.log" >&2
  fail "./install.sh exited non-zero"
fi
grep -q 'sandboxed is running' "$WORK/install1.log" || fail "install.sh did not say the stack is running"
grep -q "API:       $API" "$WORK/install1.log" || fail "install.sh did not print the API URL"
grep -q 'previews:  http://s-<id>-<port>.preview.localhost/' "$WORK/install1.log" ||
  fail "install.sh did not print the preview URL shape"
grep -q '\[install\] \[3/7\]' "$WORK/install1.log" || fail "install.sh showed no progress steps"
curl -fsS "$API/healthz" >/dev/null || fail "the API does not answer after install"
# What a newcomer sees (without the compiler's lines).
grep -v '^\[build-images\]   \[' "$WORK/install1.log" | sed 's/^/    /'
pass "./install.sh: the API answers at $API"

# Quick start: the API token, the README's way (Debian's docker-compose when present, as
# the README writes it; else the Compose plugin, which takes the same arguments).
# shellcheck disable=SC2016  # the README's text, unexpanded
from_readme 'export SANDBOXED_TOKEN=$(docker-compose -p sandboxed exec -T sandboxd sandboxd token)'
if command -v docker-compose >/dev/null; then COMPOSE=(docker-compose); else COMPOSE=(docker compose); fi
SANDBOXED_TOKEN=$("${COMPOSE[@]}" -p sandboxed exec -T sandboxd sandboxd token) || fail "sandboxd token failed"
export SANDBOXED_TOKEN
[[ $SANDBOXED_TOKEN =~ ^[0-9a-f]{64}$ ]] || fail "sandboxd token printed no 64-hex secret"
grep -qx "SANDBOXD_API_TOKENS=operator:$SANDBOXED_TOKEN" .env || fail ".env does not hold the operator token"
[ "$(stat -c %a .env)" = 600 ] || fail ".env has mode $(stat -c %a .env), not 600"
! grep -qF "$SANDBOXED_TOKEN" "$WORK/install1.log" || fail "install.sh printed the token's secret"
grep -qF "sandboxd token" "$WORK/install1.log" || fail "install.sh did not say how to get the token"
AUTH=(-H "Authorization: Bearer $SANDBOXED_TOKEN")
JSON=(-H 'Content-Type: application/json')
# Auth is on, and a body that is not JSON is refused: neither creates anything.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/v1/sandboxes" "${JSON[@]}" -d '{"id":"demo"}')
[ "$code" = 401 ] || fail "a create without the token answered $code, not 401"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/v1/sandboxes" "${AUTH[@]}" -d '{"id":"demo"}')
[ "$code" = 415 ] || fail "a create without Content-Type: application/json answered $code, not 415"
code=$(curl -s -o /dev/null -w '%{http_code}' "$API/v1/sandboxes/demo" "${AUTH[@]}")
[ "$code" = 404 ] || fail "a refused create left sandbox demo behind (GET answered $code)"
pass "the token from sandboxd token works; without it 401, without the JSON type 415, nothing created"

# Quick start: create a sandbox.
CREATE=(curl -s -X POST "$API/v1/sandboxes" "${AUTH[@]}" "${JSON[@]}" -d '{"id":"demo","ports":[3000]}')
from_readme "curl -s -X POST $API/v1/sandboxes -H \"Authorization: Bearer \$SANDBOXED_TOKEN\" -H 'Content-Type: application/json' -d '{\"id\":\"demo\",\"ports\":[3000]}'"
created=$("${CREATE[@]}")
[ "$(jq -r .status <<<"$created")" = running ] || fail "create answered: $created"
[ "$(jq -r '.previews[0].url' <<<"$created")" = "$PREVIEW" ] || fail "create gave no preview URL $PREVIEW: $created"
pass "created sandbox demo; its preview URL is $PREVIEW"

# The disk quota holds under the compose stack (sandboxd loop-mounts from its container).
q=$(curl -s -X POST "$API/v1/sandboxes" "${AUTH[@]}" "${JSON[@]}" -d '{"id":"quota","disk":"32m"}')
[ "$(jq -r .limits.disk_bytes <<<"$q")" = 33554432 ] || fail "create with a 32m disk answered: $q"
dd_out=$(curl -s -X POST "$API/v1/sandboxes/quota/exec" "${AUTH[@]}" "${JSON[@]}" \
  -d '{"cmd":["sh","-c","dd if=/dev/zero of=$HOME/big bs=1M count=64 2>&1; true"]}')
grep -q "No space left on device" <<<"$(jq -r .stdout <<<"$dd_out")" ||
  fail "writing past the quota did not fail with ENOSPC: $dd_out"
used=$(curl -s "$API/v1/sandboxes/quota" "${AUTH[@]}" | jq -r .usage.disk_used_bytes)
[ "$used" -gt 20000000 ] 2>/dev/null || fail "GET shows no disk usage near the quota: $used"
curl -fs -X POST "$API/v1/sandboxes/quota/purge" "${AUTH[@]}" >/dev/null || fail "purge failed"
pass "a 32m disk quota holds under the compose stack (dd past it: No space left on device)"

# Quick start: an agent builds the app (the mock model plays the provider).
GATEWAY=$(docker network inspect -f '{{(index .IPAM.Config 0).Gateway}}' sandboxed)
MOCK_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MANIFEST=$(jq -cn --arg t "$APP_TEXT" \
  '{command: ["node", "-e", ("require(\"http\").createServer((q, s) => s.end(" + ($t | tojson) + ")).listen(3000, \"0.0.0.0\")")]}')
MOCK_FILE=sandbox.json MOCK_CONTENT=$MANIFEST python3 "$ROOT/tests/mock_llm/mock_llm.py" "$MOCK_PORT" "$GATEWAY" \
  >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
until_ok 10 curl -fs "http://$GATEWAY:$MOCK_PORT/v1/models" || fail "the mock model server did not start"
# Sandboxes reach no address of the host by default: allow exactly the mock model's, as
# an operator allows a model proxy (.env, then ./install.sh again).
echo "SANDBOXD_EGRESS_ALLOW=$GATEWAY:$MOCK_PORT" >>.env
./install.sh >"$WORK/install-allow.log" 2>&1 ||
  { tail -40 "$WORK/install-allow.log" >&2; fail "./install.sh with SANDBOXD_EGRESS_ALLOW failed"; }
from_readme "curl -s -X POST $API/v1/sandboxes/demo/tasks -H \"Authorization: Bearer \$SANDBOXED_TOKEN\" -H 'Content-Type: application/json' -d '{"
OPENCODE_CONFIG=$(jq -cn --arg url "http://$GATEWAY:$MOCK_PORT/v1" '{
  provider: {mock: {npm: "@ai-sdk/openai-compatible", name: "Mock",
    options: {baseURL: $url, apiKey: "mock-key"},
    models: {"mock-model": {name: "Mock", tool_call: true}}}},
  model: "mock/mock-model", small_model: "mock/mock-model", autoupdate: false, share: "disabled"}')
TASK_BODY=$(jq -cn --arg cfg "$OPENCODE_CONFIG" '{agent: "opencode", model: "mock/mock-model",
  prompt: "Create a Node.js web server on port 3000 and a sandbox.json that runs it",
  env: {OPENCODE_CONFIG_CONTENT: $cfg, OPENCODE_DISABLE_DEFAULT_PLUGINS: "1"}}')
task=$(curl -s -X POST "$API/v1/sandboxes/demo/tasks" "${AUTH[@]}" "${JSON[@]}" -d "$TASK_BODY")
TASK_ID=$(jq -r '.id // empty' <<<"$task")
[ -n "$TASK_ID" ] || fail "the task was not accepted: $task"
from_readme "curl -sN $API/v1/sandboxes/demo/tasks/\$TASK/events -H \"Authorization: Bearer \$SANDBOXED_TOKEN\""
# The event stream ends with `done`.
curl -sN --max-time 300 "$API/v1/sandboxes/demo/tasks/$TASK_ID/events" "${AUTH[@]}" >"$WORK/events.txt" || true
grep -q '^event: done' "$WORK/events.txt" || { tail -20 "$WORK/events.txt" >&2; fail "the task's event stream never said done"; }
status=$(curl -s "$API/v1/sandboxes/demo/tasks/$TASK_ID" "${AUTH[@]}" | jq -r .status)
[ "$status" = succeeded ] || fail "the task ended $status: $(curl -s "$API/v1/sandboxes/demo/tasks/$TASK_ID" "${AUTH[@]}")"
pass "an OpenCode task wrote the app (task $TASK_ID succeeded, $(grep -c '^event: ' "$WORK/events.txt") events)"

# Quick start: open the preview, through the edge.
from_readme "curl $PREVIEW"
until_ok 90 sh -c "curl -fs --max-time 5 '$PREVIEW' | grep -qF \"$APP_TEXT\"" ||
  fail "the preview never served the app: $(curl -s --max-time 5 "$PREVIEW" | head -c 300)"
pass "the preview $PREVIEW serves the agent's app"

# Quick start: stop, then the preview wakes it.
from_readme "curl -s -X POST $API/v1/sandboxes/demo/stop -H \"Authorization: Bearer \$SANDBOXED_TOKEN\""
stopped=$(curl -s -X POST "$API/v1/sandboxes/demo/stop" "${AUTH[@]}")
[ "$(jq -r .status <<<"$stopped")" = stopped ] || fail "stop answered: $stopped"
[ -z "$(docker ps -q --filter label=sandboxed.id=demo --filter label=sandboxed.instance=default)" ] ||
  fail "the sandbox's container still runs after stop"
body=$(curl -s --max-time 90 "$PREVIEW")
[ "$body" = "$APP_TEXT" ] || fail "the preview of the stopped sandbox answered: ${body:0:300}"
[ "$(curl -s "$API/v1/sandboxes/demo" "${AUTH[@]}" | jq -r .status)" = running ] || fail "the preview did not wake the sandbox"
pass "stopped; the next preview request woke it and got the app"

# Operator comforts: the host's `sandboxd` command (install.sh's wrapper, which finds the
# install's .env from any directory), and the stack's health check on /readyz.
[ -x /usr/local/bin/sandboxd ] || fail "install.sh put no sandboxd command in /usr/local/bin"
from_readme "sandboxd ls"
ls_out=$(cd "$WORK" && env -u SANDBOXED_TOKEN /usr/local/bin/sandboxd ls) ||
  fail "the host's sandboxd ls failed: $ls_out"
grep -q '^demo  *running' <<<"$ls_out" || fail "sandboxd ls does not list demo as running: $ls_out"
until_ok 120 sh -c "[ \"\$(docker inspect -f '{{.State.Health.Status}}' $(sandboxd_container))\" = healthy ]" ||
  fail "the sandboxd service is not healthy: $(docker inspect -f '{{json .State.Health}}' "$(sandboxd_container)")"
from_readme "curl -s $API/metrics -H \"Authorization: Bearer \$SANDBOXED_TOKEN\""
metrics=$(curl -s "$API/metrics" "${AUTH[@]}")
grep -q '^sandboxd_sandbox_operations_total{op="wake",trigger="preview",result="ok"} 1$' <<<"$metrics" ||
  fail "/metrics did not count the wake: $(grep operations_total <<<"$metrics")"
grep -q '^sandboxd_tasks_finished_total{agent="opencode",status="succeeded",reason=""} 1$' <<<"$metrics" ||
  fail "/metrics did not count the task"
pass "the host's sandboxd ls lists it; the service is healthy; /metrics counted the wake and the task"

# A second install changes nothing that works.
before="$(docker inspect -f '{{.Id}} {{.State.StartedAt}} {{.Image}}' "$(sandboxd_container)") $(sha256sum .env)"
demo_before=$(docker inspect -f '{{.Id}} {{.State.StartedAt}}' "$(docker ps -q --filter label=sandboxed.id=demo)")
say "running ./install.sh again (log: $WORK/install2.log)"
./install.sh >"$WORK/install2.log" 2>&1 || { tail -40 "$WORK/install2.log" >&2; fail "the second ./install.sh failed"; }
after="$(docker inspect -f '{{.Id}} {{.State.StartedAt}} {{.Image}}' "$(sandboxd_container)") $(sha256sum .env)"
[ "$before" = "$after" ] || fail "the second install changed the stack or .env: $before -> $after"
demo_after=$(docker inspect -f '{{.Id}} {{.State.StartedAt}}' "$(docker ps -q --filter label=sandboxed.id=demo)")
[ "$demo_before" = "$demo_after" ] || fail "the second install disturbed sandbox demo"
grep -Eq 'up-to-date|Running' "$WORK/install2.log" || fail "compose did not report the stack up to date"
pass "a second ./install.sh left the stack, .env and the sandbox as they were"

# Uninstall removes everything sandboxed made.
from_readme "./uninstall.sh --all --yes"
./uninstall.sh --all --yes >"$WORK/uninstall.log" 2>&1 || { cat "$WORK/uninstall.log" >&2; fail "./uninstall.sh failed"; }
left=$(docker ps -aq --filter label=sandboxed.managed=true --filter label=sandboxed.instance=default)
[ -z "$left" ] || fail "sandbox containers left: $left"
[ -z "$(docker ps -aq --filter label=com.docker.compose.project=sandboxed)" ] || fail "stack containers left"
for net in sandboxed sandboxed-none; do
  ! docker network inspect "$net" >/dev/null 2>&1 || fail "network $net left"
done
# This install's chains only (SANDBOXED-<kind>-<fnv1a32 of the instance "default">, as
# egress_chain names them): integration tests' daemons may have theirs meanwhile.
chain_hash=$(python3 -c 'h=0x811c9dc5
for b in b"default": h=((h^b)*0x01000193)&0xffffffff
print("%08x"%h)')
! iptables -w -S 2>/dev/null | grep -q -- "-N SANDBOXED-.-$chain_hash" || fail "egress chains left"
! findmnt -rn -o TARGET | grep -q '^/var/lib/sandboxed' || fail "a workspace disk is still mounted"
[ -z "$(docker volume ls -q --filter label=com.docker.compose.project=sandboxed)" ] || fail "stack volumes left"
[ ! -e /var/lib/sandboxed ] || fail "the data dir /var/lib/sandboxed is left"
for img in sandboxed-sandbox:0.1.0 sandboxed-sandboxd:0.1.0 sandboxed-base:0.3.0 sandboxed-debian:bookworm; do
  ! docker image inspect "$img" >/dev/null 2>&1 || fail "image $img left"
done
! curl -fs --max-time 2 "$API/healthz" >/dev/null 2>&1 || fail "the API still answers"
[ ! -e /usr/local/bin/sandboxd ] && [ ! -e /usr/local/lib/sandboxed ] ||
  fail "the sandboxd command (/usr/local/bin/sandboxd, /usr/local/lib/sandboxed) is left"
pass "./uninstall.sh --all --yes left no container, network, firewall rule, mount, volume, image or data dir"
say "PASS"
