#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (with the Vulkan validation layer on),
# runs every fuzz target for 20 s, then the tests again under the sanitizers: the whole
# suite built with AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer checks
# every process at exit), and the concurrency test built with ThreadSanitizer. Any
# sanitizer report or fuzzing crash fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

stage() { # stage NAME COMMAND...: runs the command and prints how long it took
  local name=$1 start=$SECONDS
  shift
  "$@"
  echo "== $name: $((SECONDS - start)) s"
}
sanitized_build() { # sanitized_build DIR SANITIZERS [TARGET]
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLITEVK_SANITIZE="$2"
  cmake --build "$1" -j"$(nproc)" ${3:+--target "$3"}
}

stage "tests" ctest --test-dir build --output-on-failure -j1
# Every fuzz target for a short, bounded time (its own clang build): any crash fails the run.
stage "fuzz smoke" bash scripts/fuzz.sh --time 20
stage "ASan+UBSan build" sanitized_build build-asan address,undefined
# The *_multi_subgroup variants run the same host code as their plain tests with
# GPU-shaped kernels (checked in the first run); under the sanitizers they would
# add about 7 minutes and nothing new. train_tool is PyTorch driving the CLI and
# the library through commands the cli_* and test_* programs already run under
# the sanitizers; it would add about 6 minutes.
stage "ASan+UBSan tests" ctest --test-dir build-asan --output-on-failure -j1 -E '_multi_subgroup$|^train_tool$'
stage "TSan build" sanitized_build build-tsan thread test_concurrency
stage "TSan concurrency test" ctest --test-dir build-tsan --output-on-failure -R '^test_concurrency$'
