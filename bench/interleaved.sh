#!/usr/bin/env bash
# Compiles bench/interleaved.cpp (flint and llama.cpp generating in alternated bursts in one
# process) against this checkout's build (`make build` first) and an existing llama.cpp build:
#   bench/interleaved.sh LLAMA_CPP_DIR [OUT_BINARY]
# LLAMA_CPP_DIR: a llama.cpp source tree built with CMake into LLAMA_CPP_DIR/build (shared
# libraries, as its default build makes them). Then:
#   OUT_BINARY MODEL.gguf [--burst 16] [--rounds 40] [--depth 0] [--n-gen 128] [--prompt 0] [--threads 2]
set -euo pipefail
llama=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$root/build/bench-interleaved}
# shellcheck source=bench/flint-libs.sh
source "$root/bench/flint-libs.sh"
flint_libs "$root" interleaved.sh
libdir=$(dirname "$(find "$llama/build" -name 'libllama.so' -print -quit)")
[[ -n $libdir ]] || { echo "interleaved.sh: no libllama.so under $llama/build" >&2; exit 1; }
g++ -O2 -std=c++20 -march=native -Wall -Wextra -Werror -I"$root/src" -I"$llama/include" -I"$llama/ggml/include" \
  "$root/bench/interleaved.cpp" -o "$out" -Wl,--start-group "${libs[@]}" -Wl,--end-group \
  -L"$libdir" -lllama -lggml -lggml-base -lggml-cpu -Wl,-rpath,"$libdir" -lfmt -lpthread
echo "$out"
