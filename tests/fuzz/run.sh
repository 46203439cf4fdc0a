#!/usr/bin/env bash
# Fuzzes the edge's HTTP/1.1 module (src/edge/http1.cpp) and the WebSocket framer
# (src/api/websocket.cpp) with libFuzzer under AddressSanitizer and
# UndefinedBehaviorSanitizer, FUZZ_SECONDS (default 60) in all, half for each, starting
# from the checked-in seed corpora (tests/fuzz/corpus/<target>, copied: new inputs are not
# kept). Builds build/fuzz/http1_fuzz and build/fuzz/ws_fuzz with clang++ directly (no
# CMake); installs clang and libclang-rt-14-dev (libFuzzer's runtime on Debian 12) when
# missing, which needs root. Exits non-zero when a fuzzer finds a crash, leaving the input
# under build/fuzz/artifacts/.
set -euo pipefail

say() { printf '[fuzz] %s\n' "$*"; }
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
PACKAGES=(clang libclang-rt-14-dev)
OUT=build/fuzz
ARTIFACTS=$OUT/artifacts

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { say "missing packages ${missing[*]}: run as root to install them"; exit 1; }
  say "installing ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    | grep --line-buffered -E '^(Unpacking|Setting up) ' | sed -u 's/^/[fuzz]   /'
fi

mkdir -p "$OUT" "$ARTIFACTS"
SANITIZE=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -O1 -g -I include)
say "building $OUT/http1_fuzz"
clang++ -std=c++17 "${SANITIZE[@]}" src/edge/http1.cpp tests/fuzz/http1_fuzz.cpp \
  -o "$OUT/http1_fuzz"
say "building $OUT/ws_fuzz"
clang++ -std=c++20 "${SANITIZE[@]}" src/api/websocket.cpp src/api/content_encoding.cpp \
  tests/fuzz/ws_fuzz.cpp -lcrypto -o "$OUT/ws_fuzz"

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
seconds=$(( FUZZ_SECONDS / 2 > 0 ? FUZZ_SECONDS / 2 : 1 ))

# Runs one target for $seconds from its seeds. libFuzzer prints a line per new input; its
# full output goes to a log, and only its periodic pulse lines and final figures are shown
# (the whole log on a failure).
fuzz() {
  local target=$1
  rm -rf "${corpus:?}"/*
  cp "tests/fuzz/corpus/$target"/* "$corpus"/
  say "$target: fuzzing for ${seconds}s from $(ls "$corpus" | wc -l) seeds"
  local log="$OUT/$target.log" rc=0
  "$OUT/${target}_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/" "$corpus" \
    >"$log" 2>&1 || rc=$?
  grep -E 'pulse|^Done|^stat::(number_of_executed_units|peak_rss_mb)' "$log" | sed 's/^/[fuzz]   /' || true
  if [ "$rc" -ne 0 ]; then
    tail -n 80 "$log"
    say "$target: FAILED (exit $rc): the input is in $ARTIFACTS/ (see 'Test unit written to' above);"
    say "replay it with: $OUT/${target}_fuzz <that file>"
    exit "$rc"
  fi
}

fuzz http1
fuzz ws
say "clean: no crash in ${seconds}s for each target"
