#!/usr/bin/env bash
# Installs, builds and runs LiteVK's main job: the chat app on the default model,
# or, where there is no display, a story from the CLI. Extra arguments go to
# the program (see `build/bin/litevk-chat --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec ./build/bin/litevk-chat "$@"
fi
echo "run.sh: no display (DISPLAY/WAYLAND_DISPLAY unset): generating a story with the CLI instead" >&2
exec ./build/bin/litevk run -p "Once upon a time" -n 120 "$@"
