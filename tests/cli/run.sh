#!/usr/bin/env bash
# The client commands of build/sandboxd against a real sandboxd, end to end:
#   build/sandboxd_with_daemon tests/cli/run.sh
# (the harness exports SANDBOXD_URL, SANDBOXD_TOKEN and SANDBOXED_TEST_MODEL_URL). Drives
# create, ls, get, exec (its exit code passed through), files put/get, logs, patch,
# snapshot, fork, stop, start, task run --follow, task follow, rm and purge, and the completion
# script; asserts outputs and exit codes. Removes every sandbox and snapshot it made.
# SANDBOXD_BIN overrides the binary under test.
set -euo pipefail
: "${SANDBOXD_URL:?run me under build/sandboxd_with_daemon}"
: "${SANDBOXD_TOKEN:?run me under build/sandboxd_with_daemon}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SBX=${SANDBOXD_BIN:-$ROOT/build/sandboxd}
ID=cli$$
FORK=${ID}f
TMP=$(mktemp -d)
SNAP=""

cleanup() {
  "$SBX" purge "$ID" "$FORK" >/dev/null 2>&1 || true
  [ -z "$SNAP" ] || "$SBX" snapshot rm "$SNAP" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}
pass() { printf 'ok: %s\n' "$*"; }

# run ARG...: runs sandboxd; sets RC, OUT and ERR.
run() {
  set +e
  "$SBX" "$@" >"$TMP/out" 2>"$TMP/err"
  RC=$?
  set -e
  OUT=$(cat "$TMP/out")
  ERR=$(cat "$TMP/err")
}
# expect RC WHAT: the last run exited RC.
expect() {
  [ "$RC" = "$1" ] || fail "$2: exit $RC, expected $1
stdout: $OUT
stderr: $ERR"
}
# contains TEXT PATTERN WHAT: an extended regex matches some line of TEXT.
contains() { grep -Eq -- "$2" <<<"$1" || fail "$3: no line matches /$2/ in:
$1"; }
# within SECONDS CMD...: CMD succeeds before the deadline.
within() {
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.5
  done
}

# --- without the API: usage, completion ------------------------------------------------
run get
expect 2 "a missing argument is a usage error"
run exec
expect 2 "exec without an id"
run completion bash
expect 0 "completion bash"
bash -n <(printf '%s\n' "$OUT") || fail "the completion script is not valid bash"
COMPLETION=$OUT
# complete WORD...: what the script offers for the last word.
complete_words() {
  bash -c 'eval "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sandboxd
           printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION" "$@"
}
contains "$(complete_words sandboxd sna)" '^snapshot$' "completion of a command"
contains "$(complete_words sandboxd snapshot '')" '^restore$' "completion of a subcommand"
contains "$(complete_words sandboxd create --w)" '^--wait-for-app$' "completion of a flag"
contains "$(complete_words sandboxd create --idle-policy '')" '^always_on$' \
  "completion of a flag's value"
contains "$(complete_words sandboxd task run --f)" '^--follow$' "completion of a nested flag"
run create -e =cli-usage-secret x
expect 2 "an --env item without a key"
! grep -q cli-usage-secret <<<"$OUT$ERR" || fail "a usage error printed an --env value: $ERR"
run ls --limit 0
expect 2 "a --limit that is not positive"
pass "usage errors exit 2 (and print no value); the bash completion covers commands, subcommands and flags"

# --- configuration: token, --env-file, SANDBOXED_ENV_FILE -------------------------------
SANDBOXD_TOKEN=wrong-token-0123456789 run ls
expect 1 "a wrong token"
contains "$ERR" 'code unauthorized, HTTP 401, request ' "the API's error on stderr"
printf 'SANDBOXD_URL=%s\nSANDBOXD_API_TOKENS=cli:%s\n' "$SANDBOXD_URL" "$SANDBOXD_TOKEN" >"$TMP/env"
env -u SANDBOXD_URL -u SANDBOXD_TOKEN "$SBX" ls --env-file "$TMP/env" >/dev/null ||
  fail "ls --env-file with SANDBOXD_API_TOKENS"
env -u SANDBOXD_URL -u SANDBOXD_TOKEN SANDBOXED_ENV_FILE="$TMP/env" "$SBX" ls >/dev/null ||
  fail "ls with SANDBOXED_ENV_FILE"
run ls --env-file "$TMP/missing.env"
expect 2 "a missing --env-file"
SANDBOXD_URL=http://cli:cli-url-secret@127.0.0.1:1 run ls
expect 2 "user info in SANDBOXD_URL"
! grep -q cli-url-secret <<<"$OUT$ERR" || fail "the URL's secret was printed: $ERR"
pass "URL and token from the environment, --env-file and SANDBOXED_ENV_FILE"

# --- create, ls, get --------------------------------------------------------------------
run create "$ID" -p 3000 -m owner=cli -e CLI_SECRET=cli-secret-value -q
expect 0 "create"
[ "$OUT" = "$ID" ] || fail "create -q printed '$OUT', expected $ID"
run create "$ID"
expect 1 "create of an existing id"
contains "$ERR" "code conflict, HTTP 409, request " "a conflict names its code and request"
pass "create (and a second create: 409 on stderr, exit 1)"

run ls
expect 0 "ls"
contains "$OUT" "^$ID +running +3000 +sleep " "ls lists the sandbox"
contains "$OUT" '^[0-9]+ sandbox\(es\)' "ls counts"
run ls -q
contains "$OUT" "^$ID\$" "ls -q"
run ls --json
[ "$(jq -r --arg id "$ID" '.sandboxes[] | select(.id == $id) | .status' <<<"$OUT")" = running ] ||
  fail "ls --json: $OUT"
run ls -m owner=cli -q
contains "$OUT" "^$ID\$" "ls -m owner=cli"
run ls -m owner=nobody -q
[ -z "$OUT" ] || fail "ls -m owner=nobody listed: $OUT"
pass "ls: table, ids, JSON, metadata filter"

run get "$ID"
expect 0 "get"
contains "$OUT" '^status: +running$' "get shows the status"
contains "$OUT" '^metadata: +owner=cli$' "get shows the metadata"
contains "$OUT" '^env keys: +CLI_SECRET$' "get shows the env keys"
run get "$ID" --json
[ "$(jq -r .id <<<"$OUT")" = "$ID" ] || fail "get --json: $OUT"
run get nosuchsandbox
expect 1 "get of an unknown sandbox"
contains "$ERR" 'code not_found, HTTP 404' "not found on stderr"
pass "get: fields, JSON, not found"

# --- exec ---------------------------------------------------------------------------------
run exec "$ID" -- sh -c 'echo to-stdout; echo to-stderr >&2; exit 3'
expect 3 "exec passes the command's exit code through"
[ "$OUT" = to-stdout ] || fail "exec stdout: '$OUT'"
[ "$ERR" = to-stderr ] || fail "exec stderr: '$ERR'"
run exec -e CLI_EXTRA=x "$ID" sh -c 'echo "$CLI_EXTRA" "$HOME"'
expect 0 "exec with --env"
[ "$OUT" = "x /home/sandbox" ] || fail "exec env: '$OUT'"
run exec --json "$ID" true
[ "$(jq -r .exit_code <<<"$OUT")" = 0 ] || fail "exec --json: $OUT"
run exec -t 1 "$ID" sleep 30
expect 124 "exec of a command that times out"
pass "exec: stdout, stderr, exit code 3, env, JSON, 124 on a timeout"

# --- files ----------------------------------------------------------------------------------
head -c 100000 /dev/urandom >"$TMP/blob"
run files put "$ID" workspace/app/blob.bin "$TMP/blob"
expect 0 "files put from a file"
contains "$OUT" '^wrote 100000 bytes to workspace/app/blob.bin$' "files put says what it wrote"
run files get "$ID" workspace/app/blob.bin -o "$TMP/back"
expect 0 "files get -o"
cmp -s "$TMP/blob" "$TMP/back" || fail "files get returned other bytes than were put"
printf 'line one\n' | "$SBX" files put -q "$ID" workspace/app/notes.txt || fail "files put from stdin"
printf 'line two\n' | "$SBX" files put -q --append "$ID" workspace/app/notes.txt ||
  fail "files put --append"
[ "$("$SBX" files get "$ID" workspace/app/notes.txt)" = "line one
line two" ] || fail "files get to stdout"
run files ls "$ID" workspace/app
contains "$OUT" '^blob\.bin +file +97\.7 KiB ' "files ls"
run files get "$ID" workspace/app/nothing-here
expect 1 "files get of a missing file"
pass "files: put (file, stdin, append), get (-o, stdout) byte for byte, ls"

# --- logs: the dev server's output -----------------------------------------------------------
printf '{"command": "echo cli-log-marker; exec sleep 3600"}\n' |
  "$SBX" files put -q "$ID" workspace/app/sandbox.json
log_has_marker() { "$SBX" logs "$ID" 2>/dev/null | grep -q cli-log-marker; }
within 60 log_has_marker || fail "logs never showed the app's output: $("$SBX" logs "$ID" 2>&1)"
pass "logs"

# --- patch ------------------------------------------------------------------------------------
run patch "$ID" -m team=tools --unset-metadata owner --memory 512m
expect 0 "patch"
contains "$OUT" '^metadata: +team=tools$' "patch replaced the metadata"
contains "$OUT" '^pending restart: +memory ' "a limit waits for the next start"
run update "$ID" --json --port 3000 --port 3001
[ "$(jq -c .ports <<<"$OUT")" = "[3000,3001]" ] || fail "update --port: $OUT"
run patch "$ID"
expect 2 "patch with nothing to change"
pass "patch/update: metadata, limits pending a restart, ports"

# --- snapshots and fork ---------------------------------------------------------------------------
run snapshot create "$ID" --name "snap$ID" -q
expect 0 "snapshot create"
SNAP=$OUT
run snapshot ls "$ID"
contains "$OUT" "^$SNAP +snap$ID +$ID " "snapshot ls"
printf 'changed\n' | "$SBX" files put -q "$ID" workspace/app/notes.txt
run snapshot restore "$ID" "snap$ID"
expect 0 "snapshot restore"
[ "$("$SBX" files get "$ID" workspace/app/notes.txt)" = "line one
line two" ] || fail "restore did not bring the file back"
run fork "$ID" "$FORK" -q
expect 0 "fork"
cmp -s "$TMP/blob" <("$SBX" files get "$FORK" workspace/app/blob.bin) || fail "fork lacks the file"
pass "snapshot create, ls, restore; fork"

# --- stop, start ------------------------------------------------------------------------------------
run stop "$ID"
expect 0 "stop"
[ "$OUT" = "$ID  stopped" ] || fail "stop printed '$OUT'"
run get "$ID" --json
[ "$(jq -r .status <<<"$OUT")" = stopped ] || fail "not stopped: $OUT"
[ "$(jq -c .pending_restart <<<"$OUT")" = "[\"memory\"]" ] || fail "pending_restart: $OUT"
run start "$ID"
expect 0 "start"
[ "$OUT" = "$ID  running" ] || fail "start printed '$OUT'"
run get "$ID" --json
[ "$(jq -r .limits.memory_bytes <<<"$OUT")" = 536870912 ] || fail "memory not applied: $OUT"
pass "stop, start (the patched memory limit applied)"

# --- an agent task, followed ------------------------------------------------------------------------
if [ -n "${SANDBOXED_TEST_MODEL_URL:-}" ]; then
  run task run "$ID" --agent claude --model claude-sonnet-4-5 --prompt "Create hello.txt" \
    -e ANTHROPIC_BASE_URL="$SANDBOXED_TEST_MODEL_URL" -e ANTHROPIC_API_KEY=sk-mock --follow
  expect 0 "task run --follow"
  contains "$OUT" '^\[status\] ' "the follow prints status events"
  contains "$OUT" '^\[done\] succeeded' "the follow ends with the result"
  run task ls "$ID"
  contains "$OUT" ' succeeded +claude ' "task ls"
  TASK=$("$SBX" task ls "$ID" --json | jq -r '.tasks[0].id')
  run task follow "$ID" "$TASK" --json
  expect 0 "task follow --json of a finished task"
  [ "$(tail -n 1 <<<"$OUT" | jq -r '.event + " " + .data.status')" = "done succeeded" ] ||
    fail "task follow --json did not end with its done event: $OUT"
  [ "$(jq -s 'map(.id) | . == (sort | unique)' <<<"$OUT")" = true ] ||
    fail "task follow --json repeated or reordered events: $OUT"
  pass "task run --follow (exit 0), task ls, task follow --json (replayed to done)"
else
  echo "skip: task run (no SANDBOXED_TEST_MODEL_URL)"
fi

# --- rm, purge ------------------------------------------------------------------------------------------
run rm "$FORK"
expect 0 "rm"
[ "$OUT" = "removed $FORK" ] || fail "rm printed '$OUT'"
run get "$FORK"
expect 1 "get after rm"
run purge "$FORK"
expect 0 "purge"
contains "$OUT" "^purged $FORK \\(freed " "purge"
run snapshot rm "$SNAP"
expect 0 "snapshot rm"
SNAP=""
pass "rm, purge, snapshot rm"
echo "all CLI checks passed"
