// Pre-tokenizers of byte-level BPE vocabularies: the `tokenizer.ggml.pre` name chooses a list of
// regular expressions that cut text into words before BPE merges run inside each word.
//
// How a list is applied (llama.cpp's unicode_regex_split, Hugging Face's Split with the
// "Isolated" behaviour): the text starts as one piece; each regex in turn cuts every piece into
// its matches and the stretches between matches, all kept in order. A piece's ends are the
// subject's ends for the next regex, so `$` and `(?!\S)` look no further than the piece.
//
// The regexes are the Hugging Face ones as llama.cpp lists them, run by PCRE2 with UTF and UCP
// (Unicode properties for \p{..} and \s) and JIT compilation, after two adjustments that make
// PCRE2's character classes equal llama.cpp's (pretokenizer.cpp, adapt_pattern): \s is Unicode's
// White_Space exactly, and \p{L}, \p{N}, \p{P} include the characters assigned after the
// Unicode version of the system's PCRE2.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace flint::tokenizer::detail {

struct PreTokenizerSpec {
  std::string_view name;                        // tokenizer.ggml.pre
  std::span<const std::string_view> patterns;  // applied in order
  bool ignore_merges = false;  // a word that is itself a token is not merged (Llama 3 style)
  bool add_bos = false;        // llama.cpp's default for add_bos_token (the GGUF key overrides)
  bool clean_spaces = true;    // decoding applies clean_up_tokenization_spaces
};

// The spec for a `tokenizer.ggml.pre` value, or nullptr when flint does not know it.
const PreTokenizerSpec* find_pre_tokenizer(std::string_view name);
// All names find_pre_tokenizer() knows, comma-separated (for error messages).
std::string known_pre_tokenizers();

// Byte range [begin, end) of a word inside the text given to RegexSplitter::split().
struct Piece {
  size_t begin;
  size_t end;
};

// A compiled list of regexes. Thread-safe: split() may run concurrently.
class RegexSplitter {
 public:
  static Result<RegexSplitter> create(std::span<const std::string_view> patterns);

  // Cuts `text`, which must be valid UTF-8, into words (see the file comment). `pieces` is
  // cleared first. Fails only when PCRE2 itself fails (for example a match limit).
  Status split(std::string_view text, std::vector<Piece>& pieces) const;

 private:
  struct Compiled;
  std::vector<std::shared_ptr<const Compiled>> regexes_;
};

}  // namespace flint::tokenizer::detail
