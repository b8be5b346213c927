#include "tokenizer/bpe.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace flint::tokenizer::detail {

namespace {

// Heap order: lowest rank first, then leftmost (std::push_heap keeps the "largest" on top).
bool lower_priority(const BpeModel::Workspace::Pair& a, const BpeModel::Workspace::Pair& b) {
  return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
}

}  // namespace

Result<BpeModel> BpeModel::build(const Vocab& vocab, const std::vector<std::string>& merges) {
  BpeModel model;
  // String ids: a token's text has the token's id; other strings get ids after the vocabulary.
  TextToId extra;
  int32_t next_id = vocab.size();
  const auto intern = [&](std::string_view s) -> int32_t {
    const int32_t id = vocab.find(s);
    if (id >= 0) return id;
    const auto [it, added] = extra.try_emplace(std::string(s), next_id);
    if (added) ++next_id;
    return it->second;
  };

  model.merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    // "left right", split at the first space after the first character (llama.cpp's rule, so a
    // left side that is itself a space, written in the byte-level alphabet, never occurs raw).
    const std::string& line = merges[rank];
    const size_t space = line.find(' ', 1);
    if (space == std::string::npos) continue;  // malformed: llama.cpp keeps an unusable entry
    const std::string_view left = std::string_view(line).substr(0, space);
    const std::string_view right = std::string_view(line).substr(space + 1);
    const int32_t left_id = intern(left);
    const int32_t right_id = intern(right);
    const int32_t result = intern(line.substr(0, space) + std::string(right));
    // A pair listed twice keeps its first (lowest) rank.
    model.merges_.try_emplace(key(left_id, right_id), Merge{static_cast<int32_t>(rank), result});
  }
  if (next_id < vocab.size()) return error("BPE: too many merge strings");

  model.byte_ids_.assign(256, -1);
  const auto& alphabet = byte_level_alphabet();
  for (int b = 0; b < 256; ++b) {
    const int32_t id = vocab.find(alphabet[b]);
    if (id >= 0) {
      model.byte_ids_[b] = id;
    } else if (const auto it = extra.find(alphabet[b]); it != extra.end()) {
      model.byte_ids_[b] = it->second;
    }
  }
  return model;
}

void BpeModel::push_pair(Workspace& ws, int32_t left, int32_t right) const {
  if (left < 0 || right < 0) return;
  const int32_t left_id = ws.symbols[left].id;
  const int32_t right_id = ws.symbols[right].id;
  if (left_id < 0 || right_id < 0) return;
  const auto it = merges_.find(key(left_id, right_id));
  if (it == merges_.end()) return;
  ws.heap.push_back({it->second.rank, left, right, left_id, right_id, it->second.result});
  std::push_heap(ws.heap.begin(), ws.heap.end(), lower_priority);
}

void BpeModel::encode_word(const Vocab& vocab, std::string_view word, Workspace& ws,
                           std::vector<int32_t>& out) const {
  if (word.empty()) return;
  const auto& alphabet = byte_level_alphabet();
  const auto encode = [&](std::string_view bytes) -> const std::string& {
    ws.encoded.clear();
    for (const char c : bytes) ws.encoded += alphabet[static_cast<uint8_t>(c)];
    return ws.encoded;
  };

  // Llama 3 style: a word that is a token as a whole is that token, merges or not.
  if (vocab.ignore_merges) {
    const int32_t id = vocab.find(encode(word));
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }

  // One symbol per byte, linked in order.
  const auto n = static_cast<int32_t>(word.size());
  ws.symbols.resize(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    ws.symbols[i] = {byte_ids_[static_cast<uint8_t>(word[i])], i - 1, i + 1 < n ? i + 1 : -1,
                     static_cast<uint32_t>(i), 1};
  }
  ws.heap.clear();
  for (int32_t i = 1; i < n; ++i) push_pair(ws, i - 1, i);

  while (!ws.heap.empty()) {
    std::pop_heap(ws.heap.begin(), ws.heap.end(), lower_priority);
    const Workspace::Pair pair = ws.heap.back();
    ws.heap.pop_back();
    Workspace::Symbol& left = ws.symbols[pair.left];
    Workspace::Symbol& right = ws.symbols[pair.right];
    // Stale: one side was merged away, or changed since the pair was queued. (A live symbol only
    // grows by absorbing its right neighbour, so unchanged ids mean the pair is still adjacent.)
    if (left.length == 0 || right.length == 0 || left.id != pair.left_id ||
        right.id != pair.right_id) {
      continue;
    }
    left.id = pair.result;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) ws.symbols[right.next].prev = pair.left;
    push_pair(ws, left.prev, pair.left);
    push_pair(ws, pair.left, left.next);
  }

  for (int32_t i = 0; i >= 0; i = ws.symbols[i].next) {
    const Workspace::Symbol& s = ws.symbols[i];
    if (vocab.valid(s.id)) {
      out.push_back(s.id);
      continue;
    }
    // Not a token (a vocabulary without some byte): llama.cpp looks up each byte of the
    // symbol's encoded text as a one-byte token and drops the bytes that are not tokens.
    const std::string& text = encode(word.substr(s.begin, s.length));
    for (const char c : text) {
      const int32_t id = vocab.find(std::string_view(&c, 1));
      if (id >= 0) out.push_back(id);
    }
  }
}

}  // namespace flint::tokenizer::detail
