#!/usr/bin/env bash
# Fuzzes LiteVK's parsers with libFuzzer (tests/fuzz/): builds the targets with
# clang, AddressSanitizer and UndefinedBehaviorSanitizer in build-fuzz/, then
# runs each target for SECONDS (default 60), one at a time on one core.
#
#   scripts/fuzz.sh [--time SECONDS] [--record] [TARGET...]
#
# TARGET: gguf, tokenizer, prompts, chat_template, cli, safetensors, hf_config, hf_vocab (default: all).
# Any crash, leak, sanitizer report, failed check or hang fails the script; the
# input is kept in build-fuzz/crashes/TARGET/. Fix the bug, then commit the
# input to tests/fuzz/regressions/TARGET/, where ctest replays it.
# --record appends each run's executions to tests/fuzz/executions.tsv, the
# measured totals docs/reliability.md quotes. Corpora grow in build-fuzz/corpus/TARGET/
# from run to run. JOBS=N limits the build's parallel jobs (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60 record=0 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) seconds="$2"; shift 2 ;;
    --record) record=1; shift ;;
    -h|--help) sed -n '2,15p' "$0" | cut -c3-; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(gguf tokenizer prompts chat_template cli safetensors hf_config hf_vocab)
for t in "${targets[@]}"; do
  [ -f "tests/fuzz/fuzz_$t.c" ] || { echo "fuzz.sh: no target '$t' (tests/fuzz/fuzz_$t.c)" >&2; exit 2; }
done

build=build-fuzz
CC=clang cmake -S . -B $build -DLITEVK_FUZZ=ON -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS=-O1 >/dev/null
cmake --build $build -j"${JOBS:-$(nproc)}" --target fuzz_gguf_seeds "${targets[@]/#/fuzz_}" >/dev/null

# A target's corpus starts from its committed seeds and regression inputs and
# the project's own files of its kind (the same files its ctest replay reads).
seed() {
  local t=$1 dir=$build/corpus/$1
  mkdir -p "$dir"
  for d in tests/fuzz/seeds/$t tests/fuzz/regressions/$t; do
    if [ -d "$d" ]; then cp "$d"/* "$dir"/; fi
  done
  case $t in
    gguf)
      cp assets/*.gguf tests/fixtures/*.gguf "$dir"/
      $build/bin/fuzz_gguf_seeds "$dir" ;; # tiny models: mutations reach their header, not megabytes of weights
    tokenizer)
      # the first byte picks the mode (see fuzz_tokenizer.c): 0 encodes llama.cpp's
      # test strings with SentencePiece, 3 with byte-level BPE (GPT-2's vocabulary;
      # 0x1b: StarCoder's, special tokens parsed); 2 builds a vocabulary (a tiny
      # model's, a tiny byte-level BPE one with special tokens parsed) and encodes text
      { printf '\0'; cat tests/fixtures/ggml-vocab-llama-spm.gguf.inp; } > "$dir/encode-llama-vectors"
      { printf '\3'; cat tests/fixtures/ggml-vocab-gpt-2.gguf.inp; } > "$dir/encode-gpt2-vectors"
      { printf '\x1b'; cat tests/fixtures/ggml-vocab-starcoder.gguf.inp; } > "$dir/encode-starcoder-vectors"
      mkdir -p "$build/gguf-seeds"
      $build/bin/fuzz_gguf_seeds "$build/gguf-seeds"
      { printf '\2\5Hello'; cat "$build/gguf-seeds/tiny-f32.gguf"; } > "$dir/vocabulary-tiny"
      { printf '\x0e\x18<|endoftext|>the <tag>in'; cat "$build/gguf-seeds/tiny-bpe-vocabulary.gguf"; } \
        > "$dir/vocabulary-bpe" ;;
    prompts)
      cp assets/prompts/* tests/fixtures/alpaca_tiny.json "$dir"/ ;;
  esac
}

failed=()
for t in "${targets[@]}"; do
  seed "$t"
  mkdir -p "$build/crashes/$t"
  log=$build/fuzz-$t.log
  echo "fuzz.sh: $t for ${seconds}s (log: $log)"
  # -close_fd_mask=3: the targets' own output (the CLI's messages) is dropped;
  # libFuzzer's and the sanitizers' reports still come through
  if "$build/bin/fuzz_$t" "$build/corpus/$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
       -rss_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$build/crashes/$t/" >"$log" 2>&1; then
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 \2/p' "$log" | tail -1)
    echo "fuzz.sh: $t: ${runs% *} executions in ${runs#* } s, no failure"
    if [ "$record" = 1 ]; then
      printf '%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$t" "${runs#* }" "${runs% *}" >> tests/fuzz/executions.tsv
    fi
  else
    tail -40 "$log"
    echo "fuzz.sh: $t FAILED; the input is in $build/crashes/$t/" >&2
    failed+=("$t")
  fi
done

if [ "$record" = 1 ]; then
  echo "fuzz.sh: executions recorded in tests/fuzz/executions.tsv, in total:"
  awk -F'\t' 'NR > 1 { n[$2] += $4; s[$2] += $3 } END { for (t in n) printf "  %-14s %12d executions in %d s\n", t, n[t], s[t] }' \
    tests/fuzz/executions.tsv | sort
fi
[ ${#failed[@]} -eq 0 ] || { echo "fuzz.sh: failed: ${failed[*]}" >&2; exit 1; }
