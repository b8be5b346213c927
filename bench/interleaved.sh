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
b=$root/build/src
libs=()
for l in runtime/libflint_runtime planner/libflint_planner model/libflint_model backend/cpu/libflint_cpu gguf/libflint_gguf \
         quant/libflint_quant tokenizer/libflint_tokenizer tokenizer/jinja/libflint_jinja core/libflint_core; do
  [[ -f $b/$l.a ]] || { echo "interleaved.sh: $b/$l.a is missing: run make build first" >&2; exit 1; }
  libs+=("$b/$l.a")
done
libdir=$(dirname "$(find "$llama/build" -name 'libllama.so' -print -quit)")
[[ -n $libdir ]] || { echo "interleaved.sh: no libllama.so under $llama/build" >&2; exit 1; }
g++ -O2 -std=c++20 -march=native -Wall -Wextra -Werror -I"$root/src" -I"$llama/include" -I"$llama/ggml/include" \
  "$root/bench/interleaved.cpp" -o "$out" -Wl,--start-group "${libs[@]}" -Wl,--end-group \
  -L"$libdir" -lllama -lggml -lggml-base -lggml-cpu -Wl,-rpath,"$libdir" -lfmt -lpthread
echo "$out"
