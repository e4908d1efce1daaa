#!/usr/bin/env bash
# Writes tools/train/RESULTS.md from measurements (nothing in it is typed by
# hand): every exit head's cross-entropy, agreement with the final head and
# greedy drafter acceptance before and after LITE tuning, on the held-out
# split of the training text and on the human-written TinyStories sample;
# `litevk bench` of the tuned model on the held-out story prompts for the
# `lite` and `agreement --target 0.95` thresholds and both K/V fills that keep
# quality; and self-speculative decoding of the shipped default model.
# usage: make_results.sh TUNED.gguf TRAIN_DATA.txt...
#   TUNED.gguf: the LITE-tuned model before calibration; TRAIN_DATA: the files it
#   was trained on (their validation split is the held-out text). The exits
#   calibrated and benched are the shipped default model's.
# (from the repository root, after a build)
set -euo pipefail
tuned=${1:?the LITE-tuned model, before calibration}; shift
data=("${@:?the training text}")
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
base=$root/assets/stories260K.gguf
default=$root/assets/stories260K-lite.gguf
litevk=$root/build/bin/litevk
train="$here/litevk-train"
out=$(mktemp -d)
cd "$root"
exits=$("$litevk" info -m "$default" | sed -n 's/^ *litevk.exit_layers = .*= //p' | head -1 | tr ' ' ,)
[ -n "$exits" ] || { echo "make_results: no exits in $default" >&2; exit 1; }
n_layers=$("$litevk" info -m "$base" | sed -n 's/^blocks: *//p')
all_exits=$(seq -s, 1 $((n_layers - 1)))
for model in base tuned; do
  m=$base; [ "$model" = tuned ] && m=$tuned
  "$train" -m "$m" --data "${data[@]}" --exit-layers "$all_exits" --seq-len 128 --seed 0 --eval-only --json \
    --report-data tools/train/data/tinystories_sample.txt > "$out/eval_$model.json"
done
for rule in lite agreement; do
  args=(--rule lite); [ "$rule" = agreement ] && args=(--rule agreement --target 0.95)
  "$litevk" calibrate -m "$tuned" --prompts assets/prompts/stories-calibrate.jsonl --exit-layers "$exits" "${args[@]}" \
    -o "$out/$rule.gguf" > "$out/calibrate_$rule.txt"
  for fill in propagate deferred; do
    "$litevk" bench -m "$out/$rule.gguf" --prompts assets/prompts/stories-heldout.jsonl --kv-fill "$fill" --json \
      > "$out/bench_${rule}_$fill.json"
  done
done
"$litevk" bench -m "$default" --prompts assets/prompts/stories-heldout.jsonl --speculate --json > "$out/bench_default.json"
python3 "$here/results_md.py" "$out" "$tuned" "${data[@]}" > "$here/RESULTS.md"
echo "wrote $here/RESULTS.md (measurements in $out)"
