// Special-token partition: before any pre-tokenization, the raw text is cut at the texts of
// special tokens, which become those tokens directly (llama.cpp's tokenizer_st_partition).
//
// Tokens are taken longest text first (vocab.special_tokens is in that order); each one is found
// left to right in every stretch of text that no earlier token claimed. CONTROL and UNKNOWN
// tokens are matched only with parse_special; USER_DEFINED tokens always are (as Hugging Face's
// added tokens that are not "special"). A token with the lstrip/rstrip attribute also swallows
// the whitespace before/after it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace flint::tokenizer::detail {

struct Fragment {
  int32_t token;  // -1 for raw text
  size_t begin;   // raw text: byte range in the input
  size_t end;
  bool is_text() const { return token < 0; }
};

std::vector<Fragment> partition_special(const Vocab& vocab, std::string_view text,
                                        bool parse_special);

}  // namespace flint::tokenizer::detail
