#!/usr/bin/env bash
# Self-distillation data for LITE-tuning the default model: stories that the
# full-depth model writes itself (sampled at TEMP, default 0.8, one seed each),
# separated by <|endoftext|>.
# Usage: make_story_data.sh N_STORIES OUT.txt [MODEL] [FIRST_SEED] [TEMP]
set -euo pipefail
n=${1:?number of stories}; out=${2:?output file}
model=${3:-"$(dirname "$0")/../../assets/stories260K.gguf"}
first=${4:-1}
temp=${5:-0.8}
litevk="$(dirname "$0")/../../build/bin/litevk"
openers=("Once upon a time" "One day" "There was a" "Tom and" "The little" "Sara")
: > "$out"
for ((i = first; i < first + n; i++)); do
  opener=${openers[$((i % ${#openers[@]}))]}
  "$litevk" run -m "$model" -p "$opener" -n 256 --temp "$temp" --seed "$i" --no-exit 2>/dev/null >> "$out"
  printf '<|endoftext|>\n' >> "$out"
  if (( (i - first + 1) % 50 == 0 )); then echo "make_story_data: $((i - first + 1)) of $n stories" >&2; fi
done
