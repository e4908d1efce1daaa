#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (with the Vulkan validation layer on).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
(cd build && ctest --output-on-failure -j1)
# Every fuzz target for a short, bounded time (about 3 minutes with the fuzz
# build): any crash fails the run.
bash scripts/fuzz.sh --time 20
