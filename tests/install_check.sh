#!/usr/bin/env bash
# install_check.sh BUILD_DIR SOURCE_DIR WORK_DIR: installs the build into a fresh
# prefix and uses it as an embedder and a user would:
#  - the shared library exports lvk_* alone, and the static one defines no other global;
#  - docs/example.c builds with `pkg-config --cflags --libs litevk` and with a
#    CMake project's find_package(LiteVK), against the shared and the static library,
#    and each runs on the installed default model;
#  - the installed CLI finds its default model from another working directory, and
#    no program holds a path into the source or build tree.
set -euo pipefail
build=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" > "$work/install.log"

fail() { echo "FAIL: $*" >&2; exit 1; }
libdir=$(dirname "$(find "$prefix" -name liblitevk.so -print -quit)")
[ -f "$libdir/liblitevk.a" ] || fail "liblitevk.a not installed next to liblitevk.so"
[ -f "$prefix/include/litevk.h" ] || fail "litevk.h not installed"
model=$prefix/share/litevk/stories260K-lite.gguf
[ -f "$model" ] || fail "the default model is not installed at $model"
[ -f "$prefix/share/litevk/prompts/stories-heldout.jsonl" ] || fail "the prompt sets are not installed"

soname=$(objdump -p "$libdir/liblitevk.so" | awk '/SONAME/ {print $2}')
[ "$soname" = "liblitevk.so.0" ] || fail "SONAME is '$soname', not liblitevk.so.0"
others=$(nm -D --defined-only "$libdir/liblitevk.so" | awk '{print $3}' | grep -v '^lvk_' || true)
[ -z "$others" ] || fail "liblitevk.so exports non-API symbols: $(echo $others | head -c 400)"
others=$(nm -g --defined-only "$libdir/liblitevk.a" | awk 'NF == 3 {print $3}' | grep -v '^lvk_' || true)
[ -z "$others" ] || fail "liblitevk.a defines non-API globals: $(echo $others | head -c 400)"
n_api=$(nm -D --defined-only "$libdir/liblitevk.so" | grep -c ' lvk_')
echo "liblitevk.so ($soname) exports $n_api symbols, all lvk_*"

run_example() { # run_example NAME BINARY
  local out
  out=$(LD_LIBRARY_PATH=$libdir "$2" "$model") || fail "$1 failed: $out"
  [ -n "$out" ] || fail "$1 printed nothing"
  echo "$1: ${out:0:60}..."
}

export PKG_CONFIG_PATH=$libdir/pkgconfig
cc -o "$work/example_pc" "$src/docs/example.c" $(pkg-config --cflags --libs litevk)
run_example "pkg-config, shared" "$work/example_pc"
cc -o "$work/example_pc_static" "$src/docs/example.c" $(pkg-config --cflags litevk) \
   "$libdir/liblitevk.a" $(pkg-config --libs-only-l --static litevk | sed 's/-llitevk//')
run_example "pkg-config, static" "$work/example_pc_static"

mkdir -p "$work/cmake_project"
cp "$src/docs/example.c" "$work/cmake_project/"
cat > "$work/cmake_project/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.22)
project(example C)
find_package(LiteVK 0.1 REQUIRED)
add_executable(example example.c)
target_link_libraries(example PRIVATE LiteVK::litevk)
add_executable(example_static example.c)
target_link_libraries(example_static PRIVATE LiteVK::litevk_static)
CMAKE
cmake -S "$work/cmake_project" -B "$work/cmake_build" -DCMAKE_PREFIX_PATH="$prefix" > "$work/cmake.log"
cmake --build "$work/cmake_build" > "$work/cmake_build.log"
run_example "find_package, shared" "$work/cmake_build/example"
run_example "find_package, static" "$work/cmake_build/example_static"

for program in "$prefix"/bin/*; do
  for tree in "$src" "$build"; do
    if grep -qF "$(realpath "$tree")" "$program"; then fail "$program holds the path $tree"; fi
  done
done
story=$(cd / && "$prefix/bin/litevk" run -p "Once upon a time" -n 12 2>"$work/run.err") \
  || fail "the installed litevk could not run on its default model: $(cat "$work/run.err")"
echo "installed litevk, default model: ${story:0:60}..."
echo "install check passed"
