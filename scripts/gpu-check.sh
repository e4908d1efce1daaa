#!/usr/bin/env bash
# gpu-check.sh — LiteVK's test suite and litevk-bench on a machine with a real
# GPU, from a build folder made on a Debian 12 machine: a GPU machine may have
# its vendor's Vulkan driver but no glslc, so it cannot build LiteVK, and maybe
# no Vulkan loader.
# Logs and one summary table go to --out; the summary is printed last.
#
# Usage, from the repository root:
#
#   on the Debian 12 build machine:
#       cmake --build build                       (build/ must be current)
#       bash scripts/gpu-check.sh --prepare       (Debian's Vulkan loader, cmocka and
#                                                  validation-layer .debs into .gl/)
#   on the GPU machine, with the checkout, build/ and .gl/ copied to it:
#       bash scripts/gpu-check.sh [--build build] [--gl .gl] [--out DIR] [--budget S]
#
# --budget S bounds all steps together (default 480 s); each step also has a
# cap of its own, so a shorter budget still runs every step it can and leaves
# time for a rerun (e.g. with --no-tests or --quick). What --out then holds:
# setup.log devices.txt nvidia-smi.txt ctest.log LastTest.log bench.log
# summary.txt. A dry run on lavapipe, on the build machine itself:
#   bash scripts/gpu-check.sh --quick --out /tmp/gpu-check
#
# Steps, each bounded by what is left of --budget:
#   setup     loader and libraries: each .gl/*.deb whose library `ldconfig -p` lacks
#             (libvulkan.so.1; libGLdispatch.so.0, which NVIDIA's Vulkan driver
#             links) is unpacked onto / (root only; never over installed ones);
#             libcmocka (the test programs link it) and the Khronos validation layer
#             (every test runs with LITEVK_VALIDATE=1), where the system has none,
#             from .gl/extra/*.deb into a private folder under --tmp, found through
#             LD_LIBRARY_PATH and VK_ADD_LAYER_PATH. Where no GPU is listed, tries
#             an NVIDIA driver manifest under /usr/local/nvidia, /usr/share or /etc
#             (VK_DRIVER_FILES).
#   paths     see link_build_paths below: the build holds absolute paths of the
#             machine it was made on.
#   devices   `litevk devices`
#   tests     ctest, all tests but those that need a display (chat_*) where
#             xvfb-run or SDL is missing there
#   bench     litevk-bench, one run per part: copy+matvec, decode (not with
#             --quick), default, overhead, columns
#   summary   one table from the logs
#
# Exit status: 0 all tests passed and every bench part ran; 1 otherwise; 2 usage.
set -uo pipefail

usage() {
    cat <<'EOF'
usage: scripts/gpu-check.sh [options]

Runs LiteVK's test suite (ctest) and litevk-bench (copy, matvec, decode, default, columns,
overhead) from an existing build folder, then prints one summary table.

  --build DIR          the build folder (default: build/ of this checkout)
  --out DIR            where logs and summary.txt go (default: ./gpu-check-out)
  --gl DIR             the .debs of --prepare (default: .gl/ of this checkout, if any):
                       DIR/*.deb are the Vulkan loader and GL libraries (unpacked
                       onto / when the loader is missing), DIR/extra/*.deb are
                       libcmocka0 and vulkan-validationlayers (unpacked under --tmp)
  --tmp DIR            local scratch: decode models (0.6-2.2 GB each), private
                       libraries, ctest's working copy (default: /tmp/litevk-gpu-check)
  --decode-tokens N    decode steps per model in the decode part (default 64)
  --jobs N             ctest parallelism (default: number of cores, at most 8)
  --budget S           seconds all steps may take together (default 480); a step
                       gets at most its own cap (ctest 180 s, decode 240 s, the
                       other bench parts 60-90 s) and what is left, and is skipped
                       under 15 s
  --device SEL         LITEVK_DEVICE for tests and bench (index or name substring)
  --quick              leave out the decode part (its models take minutes on a CPU)
  --no-tests           leave out ctest
  --no-validate        run the tests without the validation layer
  --prepare            download the .debs into .gl/ of this checkout (here, with
                       apt-get; Debian 12 amd64 packages) and exit
  --summary-only       print the summary of the logs already in --out and exit
  -h, --help           this text
EOF
}

die() { echo "gpu-check: $*" >&2; exit 2; }
note() { echo "gpu-check: $*" | tee -a "$out/setup.log"; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
build="$repo/build" out="$PWD/gpu-check-out" gl="" tmp=/tmp/litevk-gpu-check
decode_tokens=64 jobs="" budget=480 device="" quick=0 tests=1 validate=1 prepare=0 summary_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --build|--out|--gl|--tmp|--decode-tokens|--jobs|--budget|--device)
            [ $# -ge 2 ] || die "option $1 needs a value (see --help)"
            case "$1" in
                --build) build=$2 ;; --out) out=$2 ;; --gl) gl=$2 ;; --tmp) tmp=$2 ;;
                --decode-tokens) decode_tokens=$2 ;; --jobs) jobs=$2 ;; --budget) budget=$2 ;;
                --device) device=$2 ;;
            esac
            shift 2 ;;
        --quick) quick=1; shift ;;
        --no-tests) tests=0; shift ;;
        --no-validate) validate=0; shift ;;
        --prepare) prepare=1; shift ;;
        --summary-only) summary_only=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done
for n in "$decode_tokens" "$budget" ${jobs:+"$jobs"}; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "expected a positive integer, got '$n'"
done

# ---- --prepare: the .debs the target lacks, downloaded here -----------------------
# The Vulkan loader and the GL libraries NVIDIA's Vulkan driver links; a private
# package list keeps the system's apt state untouched.
if [ "$prepare" = 1 ]; then
    dest="$repo/.gl"
    mkdir -p "$dest/extra" /tmp/amd64/partial || exit 1
    o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
    apt-get "${o[@]}" update -qq || exit 1
    (cd "$dest" && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2) || exit 1
    (cd "$dest/extra" && apt-get "${o[@]}" download libcmocka0 vulkan-validationlayers) || exit 1
    du -sh "$dest"
    ls "$dest" "$dest/extra"
    exit 0
fi

# Absolute paths of the folders, made where missing; the deadline.
resolve_paths() {
    mkdir -p "$out" || die "cannot create '$out'"
    out=$(cd "$out" && pwd -P)
    [ "$summary_only" = 1 ] && return
    [ -f "$build/CMakeCache.txt" ] || die "no CMakeCache.txt in '$build': --build must be a configured build folder"
    build=$(cd "$build" && pwd -P)
    bin="$build/bin"
    [ -z "$gl" ] && [ -d "$repo/.gl" ] && gl="$repo/.gl"
    if [ -n "$gl" ]; then gl=$(cd "$gl" 2>/dev/null && pwd -P) || die "--gl: no folder '$gl'"; fi
    mkdir -p "$tmp" || die "cannot create '$tmp'"
    tmp=$(cd "$tmp" && pwd -P)
    [ -n "$jobs" ] || jobs=$(( $(nproc) < 8 ? $(nproc) : 8 ))
    [ -n "$device" ] && export LITEVK_DEVICE="$device"
    deadline=$(( SECONDS + budget ))
}

# Seconds the next step may take: at most $1, and what is left of the budget
# less a margin for the summary; 0 when too little is left to start it.
step_time() {
    local left=$(( deadline - SECONDS - 10 ))
    local t=$(( left < $1 ? left : $1 ))
    [ "$t" -ge 15 ] && echo "$t" || echo 0
}

# ---- libraries ------------------------------------------------------------------------

# Whether the dynamic linker knows a library (by soname). No `| grep -q`: under
# pipefail, grep's early exit can fail the pipeline with SIGPIPE.
have_lib() {
    local known
    known=$(ldconfig -p 2>/dev/null)
    [[ "$known" == *"$1 "* ]]
}

# The sonames a .deb ships (libvulkan.so.1 for libvulkan1).
deb_sonames() {
    dpkg-deb -c "$1" | awk '{ f = ($(NF - 1) == "->") ? $(NF - 2) : $NF; sub(/.*\//, "", f) }
                           f ~ /^lib.*\.so\.[0-9]+$/ { print f }'
}

# The Vulkan loader and the GL libraries NVIDIA's Vulkan driver links
# (libGLdispatch.so.0) onto /: only the packages
# whose libraries the system lacks (never over installed ones), only as root.
setup_loader() {
    local f lib missing unpacked=0
    [ -n "$gl" ] && compgen -G "$gl/*.deb" >/dev/null || {
        have_lib libvulkan.so.1 || note "no libvulkan.so.1 here and no .debs in --gl: the Vulkan loader is missing"
        return 0
    }
    for f in "$gl"/*.deb; do
        missing=""
        for lib in $(deb_sonames "$f"); do have_lib "$lib" || missing+=" $lib"; done
        [ -n "$missing" ] || continue
        if [ "$(id -u)" != 0 ]; then
            note "missing:$missing; not root, so $(basename "$f") is not unpacked onto /"
            continue
        fi
        note "missing:$missing; unpacking $(basename "$f") onto /"
        dpkg -x "$f" / && unpacked=1 || note "dpkg -x $f failed"
    done
    [ "$unpacked" = 0 ] || ldconfig
}

# Whether the loader will find VK_LAYER_KHRONOS_validation.
validation_layer_installed() {
    local d
    for d in ${VK_LAYER_PATH:+${VK_LAYER_PATH//:/ }} ${VK_ADD_LAYER_PATH:+${VK_ADD_LAYER_PATH//:/ }} \
             /usr/share/vulkan/explicit_layer.d \
             /usr/local/share/vulkan/explicit_layer.d /etc/vulkan/explicit_layer.d; do
        [ -f "$d/VkLayer_khronos_validation.json" ] && return 0
    done
    return 1
}

# libcmocka and the validation layer into $tmp/libs, where the system has none.
setup_extras() {
    local libs="$tmp/libs" need=()
    have_lib libcmocka.so.0 || need+=(libcmocka0)
    [ "$validate" = 1 ] && ! validation_layer_installed && need+=(vulkan-validationlayers)
    [ ${#need[@]} -gt 0 ] || return 0
    local p f
    for p in "${need[@]}"; do
        f=$(ls "$gl"/extra/"$p"_*.deb 2>/dev/null | head -n1)
        if [ -z "$gl" ] || [ -z "$f" ]; then note "$p: missing here, and not carried in ${gl:-(no --gl)}/extra"; continue; fi
        dpkg -x "$f" "$libs" && note "unpacked $(basename "$f") into $libs"
    done
    export LD_LIBRARY_PATH="$libs/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    [ -d "$libs/usr/share/vulkan/explicit_layer.d" ] &&
        export VK_ADD_LAYER_PATH="$libs/usr/share/vulkan/explicit_layer.d${VK_ADD_LAYER_PATH:+:$VK_ADD_LAYER_PATH}"
    return 0
}

# ---- the build's absolute paths ---------------------------------------------------
# CMake writes absolute paths of the machine it ran on into the build: ctest's
# CTestTestfile.cmake files (test programs, working directories, source files
# given as arguments), the programs' RPATH (example_embed finds liblitevk.so
# through it), and paths compiled into the programs (LITEVK_ASSETS_DIR,
# LITEVK_FIXTURES, LITEVK_BIN_DIR, LITEVK_TMP_DIR: assets, test fixtures, the
# CLI, scratch files). The build was made in another folder; here the
# checkout lies elsewhere. Rewriting the text files would leave the compiled-in
# paths dangling, so instead the original source and build folders are made to
# exist, as symbolic links to this checkout and this build folder (the GPU
# machine runs commands as root; the build path is not expected there). Where an
# original path exists and is something else, it is another checkout whose
# files the programs would silently use: that is an error, not a guess.
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt" | head -n1; }

link_path() { # link_path ORIGINAL TARGET
    local orig=$1 target=$2
    [ -L "$orig" ] && [ ! -e "$orig" ] && rm -f "$orig" # a link left dangling by an earlier run elsewhere
    if [ -e "$orig" ]; then
        [ "$(cd "$orig" && pwd -P)" = "$target" ] && return 0
        note "ERROR: the build was made for $orig, which exists here and is not $target;"
        note "       its programs would read that folder's files. Run where $orig does not exist, or build here."
        return 1
    fi
    mkdir -p "$(dirname "$orig")" && ln -s "$target" "$orig" ||
        { note "ERROR: cannot create the link $orig -> $target (the build's original path; root needed?)"; return 1; }
    note "linked $orig -> $target (the build's original path)"
}

link_build_paths() {
    local src bld
    src=$(cache_value CMAKE_HOME_DIRECTORY)
    bld=$(cache_value CMAKE_CACHEFILE_DIR)
    [ -n "$src" ] && [ -n "$bld" ] || { note "ERROR: CMakeCache.txt names no source or build folder"; return 1; }
    note "build made for source $src, build $bld; here: source $repo, build $build"
    link_path "$src" "$repo" || return 1
    link_path "$bld" "$build" || return 1 # resolves through the first link when the build lay inside the source
    # the tests' scratch folder (LITEVK_TMP_DIR), made at configure time: a copy may leave out empty folders
    mkdir -p "$build/tests/tmp"
}

# ---- devices ---------------------------------------------------------------------------

has_gpu() { grep -Eq "type (discrete|integrated|virtual)" "$out/devices.txt"; }

list_devices() { "$bin/litevk" devices >"$out/devices.txt" 2>&1; }

# NVIDIA's manifest where the loader finds no GPU in its default folders (some
# machines install the driver under /usr/local/nvidia, outside them).
setup_devices() {
    list_devices
    has_gpu && return 0
    local icd
    icd=$(ls /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd*.json /usr/share/vulkan/icd.d/nvidia_icd*.json \
             /etc/vulkan/icd.d/nvidia_icd*.json 2>/dev/null | head -n1)
    [ -n "$icd" ] || return 0
    note "no GPU listed; trying $icd"
    export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
    local d
    for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
        [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    done
    list_devices
    has_gpu || { note "still no GPU: unsetting VK_DRIVER_FILES"; unset VK_DRIVER_FILES VK_ICD_FILENAMES; list_devices; }
}

# ---- tests -------------------------------------------------------------------------------
# ctest runs on a copy of the CTestTestfile.cmake tree under $tmp (subdirs() in
# them are relative; test commands and working directories absolute): ctest
# writes its Testing/ folder there rather than into the build, and --no-validate
# (or a missing layer) turns LITEVK_VALIDATE=1 off in the copy alone.
# ctest.log starts and ends with "=== " lines the summary reads.
run_tests() {
    local t shadow="$tmp/ctest" exclude="^$" log="$out/ctest.log" rc t0
    t=$(step_time 180)
    if [ "$t" = 0 ]; then echo "=== ctest: skipped, out of time" >"$log"; return 1; fi
    rm -rf "$shadow" && mkdir -p "$shadow"
    (cd "$build" && find . -name CTestTestfile.cmake -exec cp --parents {} "$shadow" \;)
    if [ "$validate" = 1 ] && ! validation_layer_installed; then
        note "no Khronos validation layer: the tests run without it"
        validate=0
    fi
    [ "$validate" = 1 ] || find "$shadow" -name CTestTestfile.cmake -exec sed -i 's/LITEVK_VALIDATE=1/LITEVK_VALIDATE=0/g' {} +
    # litevk-chat's window tests need xvfb-run and SDL's libraries
    local chat_libs
    chat_libs=$(ldd "$bin/litevk-chat" 2>&1)
    if ! command -v xvfb-run >/dev/null || [[ "$chat_libs" == *"not found"* ]]; then
        exclude="^chat_"
        note "no xvfb-run or SDL here: the chat window tests (chat_*) are left out"
    fi
    echo "gpu-check: ctest -j$jobs (at most $t s)"
    echo "=== ctest -j$jobs, validation layer $([ "$validate" = 1 ] && echo on || echo OFF)$([ "$exclude" != "^$" ] &&
        echo ", chat_* left out")" >"$log"
    t0=$SECONDS
    (cd "$shadow" && timeout -k 10 "$t" ctest -j"$jobs" --output-on-failure -E "$exclude") >>"$log" 2>&1
    rc=$?
    echo "=== exit $rc after $(( SECONDS - t0 )) s$([ "$rc" = 124 ] && echo " (stopped: out of time)")" >>"$log"
    cp "$shadow/Testing/Temporary/LastTest.log" "$out/LastTest.log" 2>/dev/null
    [ "$rc" = 0 ]
}

# ---- bench --------------------------------------------------------------------------------
# One litevk-bench run per part, so that a part that fails or runs out of time
# leaves the others' figures; LITEVK_VALIDATE is unset (the layer slows figures).
# Each run sits between "=== litevk-bench ARGS" and "=== exit N after S s" in bench.log.
bench_part() { # bench_part CAP ARGS...
    local cap=$1 t t0 rc log="$out/bench.log"
    shift
    t=$(step_time "$cap")
    echo "=== litevk-bench $*" >>"$log"
    if [ "$t" = 0 ]; then echo "=== exit skipped (out of time)" >>"$log"; return 1; fi
    echo "gpu-check: litevk-bench $* (at most $t s)"
    t0=$SECONDS
    (unset LITEVK_VALIDATE; timeout -k 10 "$t" "$bin/litevk-bench" "$@") >>"$log" 2>&1
    rc=$?
    echo "=== exit $rc after $(( SECONDS - t0 )) s$([ "$rc" = 124 ] && echo " (stopped: out of time)")" >>"$log"
    [ "$rc" = 0 ]
}

run_bench() {
    local ok=0
    bench_part 90 --only copy,matvec || ok=1
    # the models are written to $tmp, local disk, on first use: 4 GB for the three types
    if [ "$quick" = 1 ]; then echo "=== litevk-bench --only decode: left out (--quick)" >>"$out/bench.log"
    else bench_part 240 --only decode --decode-tokens "$decode_tokens" --tmp "$tmp" || ok=1
    fi
    bench_part 60 --only default || ok=1
    bench_part 60 --only overhead --tmp "$tmp" || ok=1
    # 1, 2, 4 and 8 token columns: the mat-vec and a whole pass of four types (the pass models
    # are decode's), and a 64-token prompt in passes of 8 to 64 columns
    bench_part 240 --only columns --types f16,q8_0,q4_0,q4_k --tmp "$tmp" || ok=1
    return $ok
}

# ---- summary -------------------------------------------------------------------------------
# Made from the logs in $out alone (--summary-only makes it again): litevk
# devices' list, ctest's last lines, and litevk-bench's figure lines, whose
# format tools/bench/bench.c sets (keep the two in step).
summary() {
    local dev
    dev=$(awk '/^\* [0-9]+: /{sub(/^\* [0-9]+: /, ""); name = $0; getline; sub(/^ +/, ""); sub(/,$/, "");
               print name " (" $0 ")"; exit}' "$out/devices.txt" 2>/dev/null)
    echo "LiteVK GPU check, $(date -u -r "$out/setup.log" '+%Y-%m-%d %H:%M UTC' 2>/dev/null)"
    echo "device: ${dev:-none found (see devices.txt)}"
    [ -f "$out/nvidia-smi.txt" ] && sed 's/^/nvidia-smi: /' "$out/nvidia-smi.txt"
    if [ -f "$out/ctest.log" ]; then
        awk '
            NR == 1 { sub(/^=== /, ""); how = $0 }
            /tests passed, [0-9]+ tests? failed out of/ { failed = $4; total = $NF }
            /^=== exit / { sub(/^=== exit /, ""); end = $0 }
            /^=== ctest: skipped/ { end = "skipped: out of time" }
            /^[ \t]+[0-9]+ - .* \(/ { sub(/^[ \t]+/, ""); bad = bad "\n  failed: " $0 }
            END {
                if (total != "") printf "tests: %d of %d passed (%s; exit %s)%s\n", total - failed, total, how, end, bad
                else printf "tests: no result (%s; exit %s)\n", how, end }' "$out/ctest.log"
    else
        echo "tests: not run"
    fi
    echo
    echo "| litevk-bench | figure |"
    echo "|---|---|"
    [ -f "$out/bench.log" ] && awk '
        # the first number in the text pattern matches
        function num(pattern,   m) {
            if (!match($0, pattern)) return "?"
            m = substr($0, RSTART, RLENGTH)
            match(m, /[0-9][0-9.]*/)
            return substr(m, RSTART, RLENGTH) }
        /^=== litevk-bench / { cmd = substr($0, 5); part = ""; if ($0 ~ /left out/) print "| decode | left out (--quick) |" }
        /^=== exit / && $3 != "0" { sub(/^=== exit /, ""); print "| FAILED: " cmd " | exit " $0 "; see bench.log |" }
        /^copy: / { print "| copy kernel, read + write | " num("[0-9.]+ GB/s read") " GB/s |" }
        /^(matvec|decode|columns): / { part = $1; next }
        /^(copy|default|overhead): / { part = "" } # (stderr progress lines "bench: ..." come between figure lines)
        part == "columns:" && $1 ~ /^(f16|q8_0|q4_0|q4_k)$/ && ($2 == "matvec" || $2 == "pass") {
            print "| " $1 " " $2 ", 1 / 2 / 4 / 8 token columns | " $3 " / " $5 " / " $7 " / " $9 " ms (8 columns: " $10 \
                  " the time of 1) |" }
        part == "columns:" && $1 ~ /^(f16|q8_0|q4_0|q4_k)$/ && $2 == "prompt" {
            print "| " $1 " 64-token prompt, passes of 8 / 16 / 32 / 64 columns | " $3 " / " $5 " / " $7 " / " $9 \
                  " ms per token (64: " $10 " the time of 8) |" }
        part == "matvec:" && $1 ~ /^(f32|f16|q8_0|q4_0)$/ {
            if ($2 == "wrong") print "| mat-vec 11008 x 4096, " $1 " | WRONG RESULT: " $0 " |"
            else print "| mat-vec 11008 x 4096, " $1 " | " $4 " GB/s of weights (" $6 " of copy), " $3 " ms |" }
        part == "decode:" && $1 ~ /^(f32|f16|q8_0|q4_0)$/ {
            if ($3 == "not") print "| decode, TinyLlama-1.1B shapes, " $1 " | not run: out of device memory |"
            else print "| decode, TinyLlama-1.1B shapes, " $1 " (" $2 " MB/token) | " $4 " tokens/s (" $7 \
                       " of the bound, " $6 "); prompt " $3 " tokens/s |" }
        /^default: / {
            print "| stories260K, 200 greedy tokens | API " num("API [0-9.]+ tokens") " tokens/s (prompt " \
                  num("[0-9.]+ prompt tokens") "), plain-C reference " num("[0-9.]+ tokens/s$") " tokens/s |" }
        /^overhead: / { print "| per-token overhead, 32 blocks 16 wide | " num("[0-9.]+ us/token") " us/token, " \
                        num("[0-9.]+ us/dispatch") " us/dispatch |" }
    ' "$out/bench.log"
    echo
    echo "logs in $out: $(cd "$out" && ls | tr '\n' ' ')"
}

# ---- main ----------------------------------------------------------------------------------

resolve_paths
if [ "$summary_only" = 1 ]; then summary; exit 0; fi
rm -f "$out"/{setup.log,devices.txt,nvidia-smi.txt,ctest.log,LastTest.log,bench.log,summary.txt}
note "repo $repo, build $build, out $out, tmp $tmp, budget $budget s"
setup_loader
setup_extras
link_build_paths || { summary | tee "$out/summary.txt"; exit 1; }
setup_devices
cat "$out/devices.txt"
command -v nvidia-smi >/dev/null &&
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$out/nvidia-smi.txt" 2>&1
has_gpu || note "no GPU listed: figures are the CPU device's (a dry run)"
ok=1
if [ "$tests" = 1 ]; then
    run_tests || { ok=0; tail -n 40 "$out/ctest.log"; }
fi
run_bench || { ok=0; tail -n 20 "$out/bench.log"; }
echo
summary | tee "$out/summary.txt"
echo "gpu-check: $SECONDS s in all"
[ "$ok" = 1 ]
