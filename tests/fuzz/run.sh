#!/usr/bin/env bash
# Fuzzes the edge's HTTP/1.1 module (src/edge/http1.cpp) with libFuzzer under
# AddressSanitizer and UndefinedBehaviorSanitizer for FUZZ_SECONDS (default 60), starting
# from the checked-in seed corpus (tests/fuzz/corpus/http1, copied: new inputs are not
# kept). Builds build/fuzz/http1_fuzz with clang++ directly (no CMake); installs clang and
# libclang-rt-14-dev (libFuzzer's runtime on Debian 12) when missing, which needs root.
# Exits non-zero when the fuzzer finds a crash, leaving the input under build/fuzz/artifacts/.
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
say "building $OUT/http1_fuzz"
clang++ -std=c++17 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -O1 -g \
  -I include src/edge/http1.cpp tests/fuzz/http1_fuzz.cpp -o "$OUT/http1_fuzz"

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp tests/fuzz/corpus/http1/* "$corpus"/
say "fuzzing for ${FUZZ_SECONDS}s from $(ls "$corpus" | wc -l) seeds"

# libFuzzer prints a line per new input; its full output goes to a log, and only its
# periodic pulse lines and final figures are shown (the whole log on a failure).
log="$OUT/fuzz.log"
rc=0
"$OUT/http1_fuzz" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/" "$corpus" \
  >"$log" 2>&1 || rc=$?
grep -E 'pulse|^Done|^stat::(number_of_executed_units|peak_rss_mb)' "$log" | sed 's/^/[fuzz]   /' || true
if [ "$rc" -ne 0 ]; then
  tail -n 80 "$log"
  say "FAILED (exit $rc): the input is in $ARTIFACTS/ (see 'Test unit written to' above);"
  say "replay it with: $OUT/http1_fuzz <that file>"
  exit "$rc"
fi
say "clean: no crash in ${FUZZ_SECONDS}s"
