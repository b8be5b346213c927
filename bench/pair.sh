#!/usr/bin/env bash
# Compiles bench/pair.cpp (two GGUF files decoding the same tokens in alternated bursts in one
# process) against this checkout's build (`make build` first):
#   bench/pair.sh [OUT_BINARY]
# Then: OUT_BINARY A.gguf B.gguf [--rounds 30] [--burst 16] [--depth 0] [--threads 2] [--repack-a 0|1] [--repack-b 0|1]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/bench-pair}
# shellcheck source=bench/flint-libs.sh
source "$root/bench/flint-libs.sh"
flint_libs "$root" pair.sh
g++ -O2 -std=c++20 -march=native -Wall -Wextra -Werror -I"$root/src" "$root/bench/pair.cpp" -o "$out" \
  -Wl,--start-group "${libs[@]}" -Wl,--end-group -lfmt -lpthread
echo "$out"
