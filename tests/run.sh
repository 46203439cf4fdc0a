#!/usr/bin/env bash
# The test command (README, .ci/run): prepares the host (packages, dockerd), builds the
# sandbox image, the project and the starter templates (scripts/build-templates.sh into
# $BUILD_DIR/templates, exported as SANDBOXED_TEST_TEMPLATES_DIR), registers gVisor with
# dockerd, runs every test with ctest: unit tests (fakes, the Traefik and Compose config
# checks, the API reference being current) and integration tests (real dockerd, real
# containers, headless Chromium; the TypeScript and Python SDKs' and the CLI's tests
# under build/sandboxd_with_daemon);
# fuzzes the edge's HTTP/1.1 parser and framer (tests/fuzz/run.sh: libFuzzer under
# ASan+UBSan from the checked-in seeds); then the newcomer test (tests/newcomer/run.sh:
# the README's quick start from a fresh clone, install to uninstall). Needs root.
#   BUILD_DIR  (default build)   CTEST_ARGS  extra ctest arguments, e.g. "-L unit"
#   FUZZ_SECONDS (default 60) how long the fuzzer runs; 0 skips it
#   NEWCOMER=0 skips the newcomer test, for quicker local runs: it rebuilds the images
#              and its uninstall removes them. CI always runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

scripts/host-deps.sh
# The waking-page and console tests drive a real headless browser (the console test
# through chromedriver, the same version as chromium).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "[tests] installing chromium and chromium-driver (for the waking-page and console tests)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium \
    chromium-driver | { grep --line-buffered -E '^Setting up ' || true; } | sed -u 's/^/[tests]   /'
fi
echo "[tests] configuring and building in $BUILD_DIR (-j2)"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# What the tests need (the benchmarks build with a plain `cmake --build`).
cmake --build "$BUILD_DIR" -j2 --target sandboxd sandbox-init sandboxd_unit_tests \
  sandboxd_integration_tests sandboxd_with_daemon
SANDBOX_INIT="$BUILD_DIR/sandbox-init" docker/build-images.sh
# The starter templates (templates/, npm-installed), for the integration tests' daemons.
scripts/build-templates.sh "$BUILD_DIR/templates"
SANDBOXED_TEST_TEMPLATES_DIR=$(cd "$BUILD_DIR/templates" && pwd)
export SANDBOXED_TEST_TEMPLATES_DIR
# gVisor (Debian's runsc), registered with dockerd: the integration suite runs sandboxes
# under it too.
scripts/gvisor.sh
echo "[tests] running unit and integration tests (the console test's screenshots: $BUILD_DIR/test-artifacts/console/)"
# shellcheck disable=SC2086
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 ${CTEST_ARGS:-}
if [ "${FUZZ_SECONDS:-60}" != 0 ]; then
  echo "[tests] fuzzing the edge's HTTP/1.1 parser and the WebSocket framer (tests/fuzz/run.sh, ${FUZZ_SECONDS:-60} s)"
  FUZZ_SECONDS=${FUZZ_SECONDS:-60} tests/fuzz/run.sh
fi
if [ "${NEWCOMER:-1}" != 0 ]; then
  echo "[tests] running the newcomer test (tests/newcomer/run.sh)"
  tests/newcomer/run.sh
fi
