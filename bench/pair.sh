#!/usr/bin/env bash
# Compiles bench/pair.cpp (two GGUF files decoding the same tokens in alternated bursts in one
# process) against this checkout's build (`make build` first):
#   bench/pair.sh [OUT_BINARY]
# Then: OUT_BINARY A.gguf B.gguf [--rounds 30] [--burst 16] [--depth 0] [--threads 2]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/bench-pair}
b=$root/build/src
libs=()
for l in runtime/libflint_runtime planner/libflint_planner model/libflint_model backend/cpu/libflint_cpu gguf/libflint_gguf \
         quant/libflint_quant tokenizer/libflint_tokenizer tokenizer/jinja/libflint_jinja core/libflint_core; do
  [[ -f $b/$l.a ]] || { echo "pair.sh: $b/$l.a is missing: run make build first" >&2; exit 1; }
  libs+=("$b/$l.a")
done
g++ -O2 -std=c++20 -march=native -Wall -Wextra -Werror -I"$root/src" "$root/bench/pair.cpp" -o "$out" \
  -Wl,--start-group "${libs[@]}" -Wl,--end-group -lfmt -lpthread
echo "$out"
