#!/usr/bin/env bash
# Checks LiteVK's reading of every weight type, architecture and RoPE variant against
# llama.cpp's: the same trained model in each, greedy tokens from both runtimes, compared
# token for token.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

usage() {
    cat <<EOF
usage: tools/bench/check-formats.sh [--types T[,T...]] [--n-predict N] [--runtimes LIST] [--litevk DIR]

Widens stories260K (tests/fixtures) from 64 to 256 wide without changing what it
computes (widen-llama2c.py), so that every weight type's blocks fit its rows; converts it
to each type with \`litevk convert\`; rewrites its F32 file as qwen2 (NeoX RoPE, Q/K/V
biases), with Llama 3.1's rope_freqs and with linear RoPE scaling (arch-variants.py); and
runs compare-llama-cpp.sh once on those files:
LiteVK and llama.cpp decode N tokens greedily at full depth from the same prompt, and the
report says under each table how many of the tokens agree from the start. The model is
trained, so its choices are well separated: a misread block shows as tokens that differ
early; a near-tie that the runtimes' arithmetic resolves differently can still differ
late (llama.cpp's CPU backend rounds activations to 8 bits for quantised matrices).

options:
  --types T[,T...]   weight types (default: every type \`litevk convert\` lists)
  --n-predict N      tokens decoded (default 40)
  --runtimes LIST    of llama-cpu, llama-vulkan, LiteVK always (default both)
  --litevk DIR       directory of the litevk binaries (default build/bin)
  -h, --help         this text

needs: /usr/bin/python3 with numpy; what compare-llama-cpp.sh needs (node, npm).
EOF
}

die() { echo "check-formats: $*" >&2; exit 1; }
usage_error() { echo "check-formats: $*" >&2; echo "Try --help." >&2; exit 2; }

types="" n_predict=40 runtimes=llama-cpu,llama-vulkan litevk_dir="$ROOT/build/bin"
while (($#)); do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --types | --n-predict | --runtimes | --litevk)
        (($# >= 2)) || usage_error "$1 wants a value"
        case $1 in
        --types) types=$2 ;;
        --n-predict) [[ $2 =~ ^[1-9][0-9]*$ ]] || usage_error "--n-predict wants a positive integer"; n_predict=$2 ;;
        --runtimes) runtimes=$2 ;;
        --litevk) litevk_dir=$2 ;;
        esac
        shift 2 ;;
    *) usage_error "unknown argument $1" ;;
    esac
done

litevk="$litevk_dir/litevk"
[[ -x $litevk ]] || die "no LiteVK binary at $litevk (build LiteVK first, or name its directory with --litevk)"
# every type the converter takes, from its --help: "[--type f32|f16|...]"
if [[ -z $types ]]; then
    types=$("$litevk" convert --help | sed -n 's/.*--type \([a-z0-9_|]*\)\].*/\1/p' | tr '|' ',')
    [[ -n $types ]] || die "cannot read the weight types from litevk convert --help"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/check-formats.XXXXXX")
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$ROOT/tools/bench/widen-llama2c.py" "$ROOT/tests/fixtures/stories260K.bin" "$work/wide.bin" ||
    die "widening stories260K failed"
models=()
IFS=, read -r -a type_list <<<"$types"
for t in "${type_list[@]}"; do
    "$litevk" convert "$work/wide.bin" "$ROOT/tests/fixtures/tok512.bin" -o "$work/stories260K-wide-$t.gguf" \
        --type "$t" 2>"$work/convert.err" || die "litevk convert --type $t: $(tail -n 1 "$work/convert.err")"
    models+=("$work/stories260K-wide-$t.gguf")
done
"$litevk" convert "$work/wide.bin" "$ROOT/tests/fixtures/tok512.bin" -o "$work/wide-f32.gguf" --type f32 2>/dev/null ||
    die "litevk convert --type f32 failed"
/usr/bin/python3 "$ROOT/tools/bench/arch-variants.py" "$work/wide-f32.gguf" "$work/stories260K-wide" ||
    die "arch-variants.py failed"
models+=("$work/stories260K-wide-qwen2.gguf" "$work/stories260K-wide-rope-freqs.gguf" "$work/stories260K-wide-rope-linear.gguf")
bash "$ROOT/tools/bench/compare-llama-cpp.sh" --reps 1 --runtimes "litevk,$runtimes" --n-predict "$n_predict" \
    --prompt-tokens 8 --litevk "$litevk_dir" "${models[@]}"
