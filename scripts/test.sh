#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (with the Vulkan validation layer on).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cd build
ctest --output-on-failure -j1
