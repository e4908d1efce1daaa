#!/usr/bin/env bash
# Installs, builds and runs LiteVK's main job: a story from the default model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./build/bin/litevk run -p "Once upon a time" -n 120 "$@"
