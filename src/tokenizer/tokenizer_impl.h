// Tokenizer::Impl: the loaded tables behind a Tokenizer (internal to the tokenizer library).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace flint::tokenizer {

struct Tokenizer::Impl {
  detail::Vocab vocab;
  std::optional<detail::BpeModel> bpe;            // gpt2 vocabularies
  std::optional<detail::RegexSplitter> splitter;  // their pre-tokenizer
};

namespace detail {

// llama.cpp's clean-up of detokenized text (clean_up_tokenization_spaces), in place:
// " ?", " !", " .", " ," lose the space; " ' " becomes "'"; " 's", " 'm", " 're", " 've" lose
// the space (" 't", " 'd", " 'll" keep it).
void clean_up_spaces(std::string& text);

// The largest n such that clean_up_spaces(text[0, n)) + clean_up_spaces(text[n, end)) equals
// clean_up_spaces(text) whatever follows `text`, given that text was itself cut this way (or
// is the start): a cut with no space among the 4 bytes before it is safe, because every rule
// looks at a space and at most the 3 bytes after it.
size_t clean_up_safe_prefix(std::string_view text);

}  // namespace detail
}  // namespace flint::tokenizer
