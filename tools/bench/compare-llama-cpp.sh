#!/usr/bin/env bash
# Runs LiteVK and llama.cpp side by side on the same GGUF files and prints decode and
# prompt tokens/s, load time and time to first token, with LiteVK / llama.cpp ratios
# taken within each repetition. docs/comparison.md describes the method.
set -euo pipefail

NODE_LLAMA_CPP_VERSION=3.21.1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DRIVER="$ROOT/tools/bench/llama-cpp-driver.mjs"

usage() {
    cat <<EOF
usage: tools/bench/compare-llama-cpp.sh [options] [MODEL.gguf ...]

Runs LiteVK (\`litevk run\`) and llama.cpp (node-llama-cpp $NODE_LLAMA_CPP_VERSION's prebuilt
binaries) on each model, in turns: every repetition runs each model once on every
runtime, back to back, in an order that rotates from one repetition to the next.
Each run is a fresh process that loads the model, evaluates a prompt of at most
--prompt-tokens tokens and decodes --n-predict tokens greedily, full depth (LiteVK's
early exit is off). llama.cpp evaluates the prompt twice: the first, cold, gives the
time to the first token, the second the rates (LiteVK runs its kernels once while
it loads). The table gives the median and range over the repetitions of
decode and prompt tokens/s, load time and time to the first token, and of the
LiteVK / llama.cpp ratios taken within each repetition; under it, how many of the
greedy tokens the runtimes agree on from the start (the same file and prompt: a
check of the weight formats and the forward pass, where near-ties may differ).

models (default: assets/stories260K.gguf and the TinyLlama-1.1B-shaped random-weight
model of each --types that \`litevk-bench --only decode\` writes, DIR/litevk-bench-
tinyllama-TYPE.gguf; one that is missing is written with litevk-bench first)

options:
  --reps N            repetitions (default 3)
  --n-predict M       tokens decoded after the prompt, timed (default 16)
  --prompt-tokens N   prompt length: "Once upon a time, there" repeated as often as
                      fits in N tokens with BOS (and at least once), by llama.cpp's
                      tokenizer of each model (default 64); both runtimes get the same
                      text, and the table shows the tokens each side counted
  --runtimes LIST     comma-separated, of litevk, llama-cpu, llama-vulkan (default all)
  --threads N         llama.cpp CPU threads (default 2)
  --types T[,T...]    weight types of the default TinyLlama-shaped models, any that
                      litevk-bench --types takes (default q4_0)
  --tmp DIR           where those models are (litevk-bench's --tmp; default /tmp)
  --litevk DIR        directory of the litevk and litevk-bench binaries
                      (default: build/bin of this repository)
  --node-llama-cpp DIR  where node-llama-cpp is installed, with npm, on first use
                      (default \$LITEVK_NODE_LLAMA_CPP_DIR, else
                      \${XDG_CACHE_HOME:-~/.cache}/litevk/node-llama-cpp-$NODE_LLAMA_CPP_VERSION)
  --timeout S         give up on a run after S seconds (default 1800)
  --json FILE         also write the setup, every run and the summary as JSON to FILE
  -h, --help          this text

llama.cpp's settings: the CPU backend with --threads threads, no layer on a GPU; the
Vulkan backend with every layer offloaded, on LiteVK's Vulkan device (\`litevk
devices\`; GGML_VK_VISIBLE_DEVICES is set to it, which also lets llama.cpp use a CPU
device such as lavapipe). Both: context 512 tokens (more if the prompt and the
decoded tokens need it; LiteVK gets the same -c), batch 512, node-llama-cpp's
defaults otherwise. Where a backend cannot run, a line under its empty row says why,
and the rest goes on.

needs: node >= 20 and npm (Debian: apt-get install nodejs npm); the npm registry on
first use, for node-llama-cpp and its prebuilt Linux x64 binaries (nothing is built
or downloaded besides); a built LiteVK.

exit status: 0 the table was printed (rows may say a runtime was unavailable);
1 something needed is missing or failed (a model, node, npm, LiteVK); 2 usage error.
EOF
}

die() { echo "compare-llama-cpp: $*" >&2; exit 1; }
usage_error() { echo "compare-llama-cpp: $*" >&2; echo "Try --help." >&2; exit 2; }
say() { echo "compare-llama-cpp: $*" >&2; }

positive_int() { # NAME VALUE
    [[ $2 =~ ^[1-9][0-9]*$ ]] || usage_error "$1 wants a positive integer, not '$2'"
}

reps=3 n_predict=16 prompt_tokens=64 threads=2 timeout_s=1800
runtimes=litevk,llama-cpu,llama-vulkan types=q4_0 tmp_dir=/tmp
litevk_dir="$ROOT/build/bin" json_out=""
nlc_dir=${LITEVK_NODE_LLAMA_CPP_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/litevk/node-llama-cpp-$NODE_LLAMA_CPP_VERSION}
models=()

while (($#)); do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --reps | --n-predict | --prompt-tokens | --runtimes | --threads | --types | --tmp | --litevk | \
        --node-llama-cpp | --timeout | --json)
        (($# >= 2)) || usage_error "$1 wants a value"
        case $1 in
        --reps) positive_int "$1" "$2"; reps=$2 ;;
        --n-predict) positive_int "$1" "$2"; n_predict=$2 ;;
        --prompt-tokens) positive_int "$1" "$2"; prompt_tokens=$2 ;;
        --threads) positive_int "$1" "$2"; threads=$2 ;;
        --timeout) positive_int "$1" "$2"; timeout_s=$2 ;;
        --runtimes) runtimes=$2 ;;
        --types) types=$2 ;;
        --tmp) tmp_dir=$2 ;;
        --litevk) litevk_dir=$2 ;;
        --node-llama-cpp) nlc_dir=$2 ;;
        --json) json_out=$2 ;;
        esac
        shift 2 ;;
    --) shift; models+=("$@"); break ;;
    -*) usage_error "unknown option $1" ;;
    *) models+=("$1"); shift ;;
    esac
done

IFS=, read -r -a runtime_list <<<"$runtimes"
((${#runtime_list[@]})) || usage_error "--runtimes is empty"
for rt in "${runtime_list[@]}"; do
    case $rt in litevk | llama-cpu | llama-vulkan) ;; *) usage_error "unknown runtime '$rt' (litevk, llama-cpu, llama-vulkan)" ;; esac
done
IFS=, read -r -a type_list <<<"$types"

# ---- what is needed -----------------------------------------------------------

litevk="$litevk_dir/litevk"
[[ -x $litevk ]] || die "no LiteVK binary at $litevk (build LiteVK first, or name its directory with --litevk)"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    die "node and npm are needed, for llama.cpp's side and the table (Debian: apt-get install nodejs npm)"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "node $(node --version) is too old: node-llama-cpp $NODE_LLAMA_CPP_VERSION needs node >= 20"
[[ $(node -p 'process.platform + "-" + process.arch') == linux-x64 ]] ||
    die "the prebuilt llama.cpp binaries this script installs are Linux x64 ones"

# The default models: the shipped one, and litevk-bench's, written where missing.
if ((${#models[@]} == 0)); then
    models=("$ROOT/assets/stories260K.gguf")
    for t in "${type_list[@]}"; do
        m="$tmp_dir/litevk-bench-tinyllama-$t.gguf"
        if [[ ! -f $m ]]; then
            [[ -x $litevk_dir/litevk-bench ]] || die "$m is missing and there is no $litevk_dir/litevk-bench to write it"
            say "writing $m with litevk-bench (it measures one decode step on it too)"
            "$litevk_dir/litevk-bench" --only decode --types "$t" --decode-tokens 1 --tmp "$tmp_dir" >/dev/null ||
                die "litevk-bench failed to write $m"
        fi
        models+=("$m")
    done
fi
for i in "${!models[@]}"; do
    [[ -f ${models[i]} && -r ${models[i]} ]] || die "no model file ${models[i]}"
    models[i]=$(realpath "${models[i]}") # the JSON and the table name files unambiguously
done

# node-llama-cpp in its own folder, never a dependency of anything in the repository.
# Only the package and the two prebuilt binaries used are installed: the package's
# optional dependencies would add every other platform's and CUDA's (hundreds of
# MB), hence --omit=optional and the two named. --ignore-scripts skips its
# postinstall step, which downloads llama.cpp's source and builds it when it finds no
# usable prebuilt binary; the driver asks getLlama never to build instead.
install_node_llama_cpp() {
    local modules="$nlc_dir/node_modules" have=""
    if [[ -f $modules/node-llama-cpp/package.json ]]; then
        have=$(node -p "require('$modules/node-llama-cpp/package.json').version" 2>/dev/null || true)
    fi
    if [[ $have == "$NODE_LLAMA_CPP_VERSION" && -d $modules/@node-llama-cpp/linux-x64 &&
        -d $modules/@node-llama-cpp/linux-x64-vulkan ]]; then
        return
    fi
    say "installing node-llama-cpp $NODE_LLAMA_CPP_VERSION into $nlc_dir (npm; about 165 MB)"
    mkdir -p "$(dirname "$nlc_dir")" || die "cannot make $(dirname "$nlc_dir")"
    # into a new folder that replaces the old one only when complete, so an interrupted
    # install never passes for a finished one
    local partial
    partial=$(mktemp -d "$nlc_dir.partial.XXXXXX") || die "cannot make a folder next to $nlc_dir"
    echo '{"private": true, "description": "llama.cpp for LiteVK'"'"'s compare-llama-cpp.sh"}' >"$partial/package.json"
    if ! (cd "$partial" && npm install --ignore-scripts --omit=optional --no-audit --no-fund --save-exact \
        --loglevel=error "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" \
        "@node-llama-cpp/linux-x64@$NODE_LLAMA_CPP_VERSION" \
        "@node-llama-cpp/linux-x64-vulkan@$NODE_LLAMA_CPP_VERSION") >"$partial.log" 2>&1; then
        tail -n 20 "$partial.log" >&2
        rm -rf "$partial"
        die "npm install of node-llama-cpp $NODE_LLAMA_CPP_VERSION failed (its log: $partial.log)"
    fi
    rm -rf "$nlc_dir" "$partial.log"
    mv "$partial" "$nlc_dir"
}
install_node_llama_cpp

work=$(mktemp -d "${TMPDIR:-/tmp}/compare-llama-cpp.XXXXXX")
trap 'rm -rf "$work"' EXIT
runs="$work/runs.jsonl"

# ---- where the figures come from ----------------------------------------------

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
[[ -n $cpu_model ]] || cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
cores=$(nproc)
# `litevk devices` marks the device LiteVK uses with "* INDEX: NAME"
devices_out=$("$litevk" devices 2>&1) || die "litevk devices failed: $devices_out"
device_line=$(grep -m 1 '^\* [0-9]' <<<"$devices_out" || true)
[[ -n $device_line ]] || die "litevk devices shows no usable Vulkan device:"$'\n'"$devices_out"
[[ $device_line =~ ^\*\ ([0-9]+):\ (.*)$ ]]
vk_index=${BASH_REMATCH[1]} vk_name=${BASH_REMATCH[2]}
litevk_version="$("$litevk" --version 2>/dev/null | head -n 1), commit $(git -C "$litevk_dir" describe --always --dirty 2>/dev/null || echo unknown)"
llama_release=$(node -p "require('$nlc_dir/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/_nlcBuildMetadata.json').buildOptions.llamaCpp.release" 2>/dev/null || echo unknown)

echo "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "CPU:         ${cpu_model:-unknown}, $cores cores"
echo "Vulkan:      device $vk_index: $vk_name (LiteVK's; llama.cpp's Vulkan is given the same)"
echo "LiteVK:      $litevk_version ($litevk)"
echo "llama.cpp:   $llama_release (ggml-org/llama.cpp tag), node-llama-cpp $NODE_LLAMA_CPP_VERSION's prebuilt binaries"
plural() { (($1 == 1)) && echo "$1 $2" || echo "$1 $2s"; }
echo "runs:        $(plural "$reps" repetition) of ${runtime_list[*]}; prompt of at most $prompt_tokens tokens, $n_predict decoded;" \
    "llama.cpp CPU $(plural "$threads" thread)"
echo "load:        $(cut -d ' ' -f 1-3 /proc/loadavg) (1, 5, 15 min load average before the runs)"
echo

node -e 'process.stdout.write(JSON.stringify({kind: "setup", date: new Date().toISOString(),
    cpu: process.argv[1], cores: +process.argv[2], vulkan_device: process.argv[3], litevk: process.argv[4],
    node_llama_cpp: process.argv[5], llama_cpp_release: process.argv[6], reps: +process.argv[7],
    n_predict: +process.argv[8], prompt_tokens: +process.argv[9], threads: +process.argv[10],
    runtimes: process.argv[11].split(",")}) + "\n")' \
    "$cpu_model" "$cores" "$vk_name" "$litevk_version" "$NODE_LLAMA_CPP_VERSION" "$llama_release" \
    "$reps" "$n_predict" "$prompt_tokens" "$threads" "$runtimes" >"$runs"

# ---- the runs -----------------------------------------------------------------

# One JSON object on stdout for a run of RUNTIME on model M (prompt P, context C):
# the runtime's figures, or {"ok":false,"error":...}.
run_litevk() { # MODEL PROMPT CTX
    local out="$work/litevk.out" err="$work/litevk.err" status=0
    timeout "$timeout_s" "$litevk" run -m "$1" -p "$2" -n "$n_predict" -c "$3" --temp 0 --no-exit --json \
        >"$out" 2>"$err" || status=$?
    local summary
    summary=$(grep '"done":true' "$out" | tail -n 1 || true)
    if ((status == 0)) && [[ -n $summary ]]; then
        # the summary with the ids of the tokens chosen, as the driver reports llama.cpp's
        node -e 'const fs = require("fs"), lines = fs.readFileSync(process.argv[1], "utf8").split("\n");
            const ids = lines.filter((l) => l.startsWith("{\"i\":")).map((l) => JSON.parse(l).id);
            console.log(JSON.stringify(Object.assign(JSON.parse(process.argv[2]), {ids})))' "$out" "$summary"
    else
        local why
        ((status == 124)) && why="timed out after $timeout_s s" || why=$(tail -n 1 "$err")
        node -e 'console.log(JSON.stringify({ok: false, error: process.argv[1] || "litevk failed"}))' "$why"
    fi
}

run_llama() { # BACKEND MODEL PROMPT CTX
    local status=0 line
    line=$(GGML_VK_VISIBLE_DEVICES=${GGML_VK_VISIBLE_DEVICES:-$vk_index} timeout "$timeout_s" \
        node "$DRIVER" --node-modules "$nlc_dir/node_modules" --model "$2" --backend "$1" \
        --threads "$threads" --prompt "$3" --n-predict "$n_predict" --ctx "$4" --batch 512 \
        2>"$work/llama.err" | tail -n 1) || status=$?
    if [[ $line == \{* ]]; then
        echo "$line"
    else
        local why
        ((status == 124)) && why="timed out after $timeout_s s" || why=$(tail -n 1 "$work/llama.err")
        node -e 'console.log(JSON.stringify({ok: false, error: process.argv[1] || "the driver failed"}))' "$why"
    fi
}

# The same text for both runtimes, sized by llama.cpp's tokenizer of each model.
declare -A prompt_of ctx_of
for m in "${models[@]}"; do
    made=$(node "$DRIVER" --node-modules "$nlc_dir/node_modules" --model "$m" --make-prompt "$prompt_tokens" \
        2>"$work/prompt.err") || die "cannot tokenize with $m: $(tail -n 1 "$work/prompt.err") $made"
    prompt_of[$m]=$(node -e 'console.log(JSON.parse(process.argv[1]).prompt)' "$made")
    n=$(node -e 'console.log(JSON.parse(process.argv[1]).n_prompt)' "$made")
    # 512 tokens, or the next multiple of 256 that holds the prompt and the decoded tokens
    need=$((n + n_predict + 1))
    ctx_of[$m]=$((need <= 512 ? 512 : (need + 255) / 256 * 256))
done

n_rt=${#runtime_list[@]}
for ((rep = 1; rep <= reps; rep++)); do
    for m in "${models[@]}"; do
        for ((k = 0; k < n_rt; k++)); do
            rt=${runtime_list[$(((k + rep - 1) % n_rt))]}
            say "repetition $rep/$reps: $(basename "$m") on $rt"
            case $rt in
            litevk) line=$(run_litevk "$m" "${prompt_of[$m]}" "${ctx_of[$m]}") ;;
            llama-cpu) line=$(run_llama cpu "$m" "${prompt_of[$m]}" "${ctx_of[$m]}") ;;
            llama-vulkan) line=$(run_llama vulkan "$m" "${prompt_of[$m]}" "${ctx_of[$m]}") ;;
            esac
            # the run's figures, tagged with what it was
            node -e 'const [line, rep, model, runtime] = process.argv.slice(1), r = JSON.parse(line);
                if (r.ok === undefined) r.ok = r.done === true; // LiteVK says "done"
                delete r.done;
                console.log(JSON.stringify(Object.assign({kind: "run", rep: +rep}, r, {model, runtime})))' \
                "$line" "$rep" "$m" "$rt" >>"$runs"
        done
    done
done

# ---- the table ----------------------------------------------------------------

echo "load after:  $(cut -d ' ' -f 1-3 /proc/loadavg)"
echo
report=(--report "$runs")
[[ -z $json_out ]] || report+=(--json "$json_out")
node "$DRIVER" "${report[@]}"
