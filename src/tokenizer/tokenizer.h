// flint's tokenizer: text <-> token ids from a GGUF file's tokenizer.* metadata, matching
// llama.cpp's llama_tokenize / llama_detokenize id for id and byte for byte.
//
// Supported tokenizer.ggml.model values:
//  * gpt2   byte-level BPE (Llama 3, Qwen2/Qwen3, GPT-2, Falcon, DeepSeek LLM, ...), with the
//           pre-tokenizer named by tokenizer.ggml.pre (see pretokenizer.h for the list);
//  * llama  SentencePiece-style BPE by piece scores, with byte fallback (Llama 2, Mistral,
//           Mixtral, Phi-3).
//
// Encoding: special-token partition (special_tokens.h), then per stretch of plain text either
// regex pre-tokenization + BPE merges (bpe.h) or SentencePiece merging (spm.h).
// Decoding: each token's text (decoder.cpp), with llama.cpp's leading-space and clean-up rules.
//
// A Tokenizer is immutable once loaded; encode/decode may run on several threads at once, and
// copies share the loaded tables.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace flint::gguf {
class GgufFile;
}

namespace flint::tokenizer {

// GGUF token types (tokenizer.ggml.token_type), as llama.cpp's llama_token_type.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct EncodeOptions {
  // Add BOS / EOS when the vocabulary asks for them (tokenizer.ggml.add_bos_token /
  // add_eos_token; without the keys llama.cpp's defaults: SentencePiece and Llama 3 add BOS).
  bool add_special = false;
  // Match the text of CONTROL tokens such as <|eot_id|> as those tokens. USER_DEFINED tokens are
  // matched either way; with false, control-token text is tokenized as plain text.
  bool parse_special = false;
};

struct DecodeOptions {
  // Drop a leading BOS (when the vocabulary adds BOS) and a trailing EOS (when it adds EOS).
  bool remove_special = false;
  // Render CONTROL and UNKNOWN tokens as their text; false renders them as nothing.
  bool unparse_special = true;
  // Apply the vocabulary's clean_up_tokenization_spaces (" ," -> ",", " 's" -> "'s", ...) when
  // it has that flag (GPT-2, Llama 3 and Falcon vocabularies do, Qwen and DeepSeek do not).
  // llama_detokenize always applies it; llama.cpp's generated text (token pieces) never does, and
  // without it decode(encode(s)) == s. So: false by default; true gives llama_detokenize exactly.
  bool clean_up_spaces = false;
};

class Tokenizer {
 public:
  // Errors name the file and the key at fault (or the unsupported model / pre-tokenizer value).
  static Result<Tokenizer> from_gguf(const gguf::GgufFile& file);

  // Fails only on internal limits (a PCRE2 failure, a byte without any token to stand for it).
  Result<std::vector<int32_t>> encode(std::string_view text, EncodeOptions options = {}) const;

  // The text of `ids` (llama_detokenize). Ids outside the vocabulary produce no text and are
  // otherwise ignored; check ids with n_vocab() first where that matters.
  std::string decode(std::span<const int32_t> ids, DecodeOptions options = {}) const;

  // The bytes token `id` stands for, special tokens as their text ("" outside the vocabulary).
  std::string piece(int32_t id) const;
  // The token's text as stored in the vocabulary (byte-level BPE tokens in the byte alphabet).
  const std::string& text(int32_t id) const;
  // The id of the token whose stored text is exactly `text`.
  std::optional<int32_t> find(std::string_view text) const;

  int32_t n_vocab() const;
  std::optional<int32_t> bos() const;
  std::optional<int32_t> eos() const;
  std::optional<int32_t> eot() const;  // end of turn (<|eot_id|>, <|im_end|>, ...)
  std::optional<int32_t> unk() const;
  std::optional<int32_t> pad() const;
  // EOS, EOT, EOM and the tokens llama.cpp treats as ending generation (<|eot_id|>, <|im_end|>,
  // <|endoftext|>, </s>, ...).
  bool is_end_of_generation(int32_t id) const;
  // The token's type after llama.cpp's fix-ups (e.g. end-of-generation tokens are CONTROL);
  // kUndefined outside the vocabulary.
  TokenType type(int32_t id) const;
  // Whether the token is CONTROL, USER_DEFINED or UNKNOWN (matched before pre-tokenization).
  bool is_special(int32_t id) const;

  bool add_bos() const;
  bool add_eos() const;
  bool add_space_prefix() const;
  bool clean_spaces() const;
  const std::string& model_name() const;  // tokenizer.ggml.model
  const std::string& pre_name() const;    // tokenizer.ggml.pre

  struct Impl;  // tokenizer_impl.h

 private:
  friend class StreamingDecoder;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Detokenizes a stream of tokens one at a time, for printing while generating. Each push()
// returns only complete UTF-8 characters (a character split over byte tokens waits for its
// last byte), and the concatenation of all push() results and finish() equals
// Tokenizer::decode() of all the tokens with the same options. It shares the Tokenizer's tables
// (the Tokenizer object itself may go away).
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tokenizer, DecodeOptions options = {});

  // The text that token `id` completes (often empty or several characters).
  std::string push(int32_t id);
  // Everything still held back (an unfinished character, text the clean-up rules were waiting
  // on). The decoder is then ready for a new sequence.
  std::string finish();

 private:
  std::string take_ready();

  std::shared_ptr<const Tokenizer::Impl> impl_;
  DecodeOptions options_;
  bool started_ = false;       // a token was pushed (the first token has special rules)
  bool strip_space_ = false;   // the next piece loses one leading space
  std::optional<int32_t> held_eos_;  // an EOS that remove_special drops if it is the last token
  std::string raw_;        // text not yet passed through the clean-up rules
  std::string cleaned_;    // text ready except for an unfinished UTF-8 character at its end
};

}  // namespace flint::tokenizer
