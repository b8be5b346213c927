// Byte-level BPE (the `gpt2` tokenizer model): merges ranked by their order in
// tokenizer.ggml.merges, applied inside each pre-tokenized word.
//
// A word's bytes are first written in the byte-level alphabet (one character per byte), one
// symbol per byte. Then, as in llama.cpp's llm_tokenizer_bpe_session, the adjacent pair with the
// lowest merge rank (leftmost among equals) is merged until no ranked pair is left; each final
// symbol is a token. Pairs live in a priority queue and symbols in a linked list, so a word of n
// bytes costs O(n log n).
//
// Every string that occurs in a merge (both sides and their concatenation) gets an integer id, the
// token id when it is a token, so the merge table is a hash map keyed by a pair of ids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "tokenizer/vocab.h"

namespace flint::tokenizer::detail {

class BpeModel {
 public:
  static Result<BpeModel> build(const Vocab& vocab, const std::vector<std::string>& merges);

  // Scratch space reused from word to word (one per encode call).
  struct Workspace {
    struct Symbol {
      int32_t id;      // string id (token id, or an id above the vocabulary), -1 when unknown
      int32_t prev;    // linked list of live symbols
      int32_t next;
      uint32_t begin;  // bytes of the word
      uint32_t length;  // 0 once merged into its left neighbour
    };
    struct Pair {
      int32_t rank;
      int32_t left;  // symbol indices
      int32_t right;
      int32_t left_id;  // the symbols' string ids when the pair was queued (to detect stale pairs)
      int32_t right_id;
      int32_t result;  // string id of the merged pair
    };
    std::vector<Symbol> symbols;
    std::vector<Pair> heap;
    std::string encoded;
  };

  // Appends the tokens of one pre-tokenized word (raw UTF-8 bytes) to `out`.
  void encode_word(const Vocab& vocab, std::string_view word, Workspace& ws,
                   std::vector<int32_t>& out) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;  // string id of the merged pair
  };
  static uint64_t key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  void push_pair(Workspace& ws, int32_t left, int32_t right) const;

  std::unordered_map<uint64_t, Merge> merges_;
  std::vector<int32_t> byte_ids_;  // string id of each byte's alphabet character, or -1
};

}  // namespace flint::tokenizer::detail
