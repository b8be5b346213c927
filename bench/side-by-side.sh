#!/usr/bin/env bash
# flint bench and llama.cpp's llama-bench on the same file, same thread count, interleaved
# (A B A B), each row as JSON lines in OUT_DIR.
#   bench/side-by-side.sh LLAMA_BENCH OUT_DIR MODEL.gguf [flint bench args ...]
# The flint bench arguments (default: -p 512 -n 128 -r 2 -t 2) are passed to llama-bench as they
# are: both take -p, -n, -d, -t, -r. Run `flint probe` first so the roofline uses this session's
# bandwidth.
set -euo pipefail
llama=$1
out=$2
model=$3
shift 3
args=("$@")
((${#args[@]})) || args=(-p 512 -n 128 -r 2 -t 2)
root=$(cd "$(dirname "$0")/.." && pwd)
flint="$root/build/src/cli/flint"
mkdir -p "$out"
name=$(basename "$model" .gguf)
tag=$(echo "${args[*]}" | tr ' ' '_')
for round in 1 2; do
  echo "side-by-side: $name ${args[*]}: round $round flint" >&2
  "$flint" bench -m "$model" "${args[@]}" --json 2>/dev/null > "$out/$name.$tag.flint.$round.json"
  echo "side-by-side: $name ${args[*]}: round $round llama.cpp" >&2
  "$llama" -m "$model" "${args[@]}" -o json 2>/dev/null > "$out/$name.$tag.llama.$round.json"
done
