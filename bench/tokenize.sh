#!/usr/bin/env bash
# Tokenization throughput: flint against llama.cpp's llama-tokenize on the same text and vocab.
#   bench/tokenize.sh VOCAB.gguf [LLAMA_TOKENIZE] [MB]
# The text is the tokenizer corpus (tests/data/tokenizer/corpus.json) repeated to MB megabytes
# (default 4). Each engine runs 3 times; the best wall time is reported (load included).
set -euo pipefail
vocab=$1
llama=${2:-}
mb=${3:-4}
root=$(cd "$(dirname "$0")/.." && pwd)
flint="$root/build/src/cli/flint"
text=$(mktemp /tmp/flint-tok-XXXXXX.txt)
trap 'rm -f "$text"' EXIT
node -e '
  const c = require(process.argv[1]); let s = c.join("\n"); let out = "";
  while (out.length < process.argv[2] * 1e6) out += s + "\n";
  require("fs").writeFileSync(process.argv[3], out);' "$root/tests/data/tokenizer/corpus.json" "$mb" "$text"
bytes=$(stat -c %s "$text")
best() {  # best of 3 wall times of "$@"
  local b=999999
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N)
    b=$(echo "$b $s $e" | awk '{t=$3-$2; print (t<$1)?t:$1}')
  done
  echo "$b"
}
tf=$(best sh -c "'$flint' tokenize -m '$vocab' --ids < '$text'")
echo "flint:     $(echo "$bytes $tf" | awk '{printf "%.2f MB in %.2f s = %.1f MB/s", $1/1e6, $2, $1/1e6/$2}')"
if [[ -n "$llama" ]]; then
  tl=$(best "$llama" -m "$vocab" -f "$text" --ids --log-disable)
  echo "llama.cpp: $(echo "$bytes $tl" | awk '{printf "%.2f MB in %.2f s = %.1f MB/s", $1/1e6, $2, $1/1e6/$2}')"
  echo "ratio flint/llama.cpp: $(echo "$tf $tl" | awk '{printf "%.2fx", $2/$1}')"
fi
