#include "tokenizer/spm.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace flint::tokenizer::detail {

namespace {

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t begin;   // bytes of the text
  uint32_t length;  // 0 once merged into its left neighbour
};

struct Pair {
  float score;
  int32_t left;
  int32_t right;
  uint32_t length;  // bytes of the merged text, to detect pairs made stale by other merges
};

// Heap order: highest score first, then leftmost (std::push_heap keeps the "largest" on top).
bool lower_priority(const Pair& a, const Pair& b) {
  return a.score < b.score || (a.score == b.score && a.left > b.left);
}

}  // namespace

Status spm_encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) {
  if (text.empty()) return Status::ok();
  if (text.size() > UINT32_MAX) {
    return error("text of {} bytes is too long to tokenize", text.size());
  }

  // One symbol per UTF-8 character (by its first byte, as llama.cpp: no validation).
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t len =
        std::min(utf8_sequence_length(static_cast<uint8_t>(text[pos])), text.size() - pos);
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, pos + len < text.size() ? index + 1 : -1,
                       static_cast<uint32_t>(pos), static_cast<uint32_t>(len)});
    pos += len;
  }

  std::vector<Pair> heap;
  const auto push_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    // Adjacent live symbols are contiguous in the text.
    const uint32_t length = symbols[left].length + symbols[right].length;
    const int32_t id = vocab.find(text.substr(symbols[left].begin, length));
    if (id < 0) return;
    heap.push_back({vocab.tokens[id].score, left, right, length});
    std::push_heap(heap.begin(), heap.end(), lower_priority);
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) push_pair(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), lower_priority);
    const Pair pair = heap.back();
    heap.pop_back();
    Symbol& left = symbols[pair.left];
    Symbol& right = symbols[pair.right];
    if (left.length == 0 || right.length == 0 || left.length + right.length != pair.length) {
      continue;  // stale
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = pair.left;
    push_pair(left.prev, pair.left);
    push_pair(pair.left, left.next);
  }

  // Every merged symbol is a token (a pair is queued only when it is one); a symbol that stayed a
  // single character may not be, and then becomes its bytes. (llama.cpp's resegment() can also
  // split a merged symbol back into its parts, but that path is unreachable for this reason.)
  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].begin, symbols[i].length);
    const int32_t id = vocab.find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (const char c : piece) {
      const int32_t byte_id = vocab.byte_tokens[static_cast<uint8_t>(c)];
      if (byte_id >= 0) {
        out.push_back(byte_id);
      } else if (vocab.unk) {
        out.push_back(*vocab.unk);
      } else {
        return error("byte 0x{:02X} has no token (no <0x{:02X}> and no unknown token)",
                     static_cast<uint8_t>(c), static_cast<uint8_t>(c));
      }
    }
  }
  return Status::ok();
}

}  // namespace flint::tokenizer::detail
