#!/usr/bin/env bash
# Writes tools/train/RESULTS.md from measurements (nothing in it is typed by
# hand): held-out cross-entropy and agreement with the final block of every
# exit head before and after LITE tuning, and `litevk bench` of the tuned
# default model on the held-out story prompts for the `lite` and
# `agreement --target 0.95` thresholds and both K/V fills that keep quality.
# usage: make_results.sh TUNED.gguf TRAIN_DATA.txt   (from the repository root, after a build)
set -euo pipefail
tuned=${1:?the LITE-tuned model, before calibration}; data=${2:?the training text}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
base=$root/assets/stories260K.gguf
litevk=$root/build/bin/litevk
train="$here/litevk-train"
out=$(mktemp -d)
exits=1,2,3,4
cd "$root"
for model in base tuned; do
  m=$base; [ "$model" = tuned ] && m=$tuned
  "$train" -m "$m" --data "$data" --exit-layers $exits --seq-len 128 --seed 0 --eval-only --json > "$out/eval_${model}_split.json"
  "$train" -m "$m" --data "$here/data/tinystories_sample.txt" --exit-layers $exits --seq-len 128 --val-fraction 1 \
    --eval-only --json > "$out/eval_${model}_tinystories.json"
done
for rule in lite agreement; do
  args=(--rule lite); [ "$rule" = agreement ] && args=(--rule agreement --target 0.95)
  "$litevk" calibrate -m "$tuned" --prompts assets/prompts/stories-calibrate.jsonl --exit-layers 2,4 "${args[@]}" \
    -o "$out/$rule.gguf" > "$out/calibrate_$rule.txt"
  for fill in propagate deferred; do
    "$litevk" bench -m "$out/$rule.gguf" --prompts assets/prompts/stories-heldout.jsonl --kv-fill "$fill" --json \
      > "$out/bench_${rule}_$fill.json"
  done
done
"$litevk" devices > "$out/devices.txt" 2>&1 || true
python3 "$here/results_md.py" "$out" "$tuned" "$data" > "$here/RESULTS.md"
echo "wrote $here/RESULTS.md (measurements in $out)"
