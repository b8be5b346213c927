// Vocab: the token table and tokenizer settings read from a GGUF file's tokenizer.* metadata,
// with llama.cpp's defaults and fix-ups (llama_vocab::impl::load), so that flint tokenizes and
// detokenizes exactly as llama.cpp does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace flint::tokenizer::detail {

// Token attributes as llama.cpp keeps them (llama_token_attr): the GGUF token type becomes one of
// the first six bits; the rest are set by fix-ups (for example the strip flags of Phi-3's
// special tokens). A token can carry several bits (CONTROL | UNUSED).
enum Attr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,  // swallow whitespace before the token's text when it is matched
  kAttrRstrip = 1u << 8,  // swallow whitespace after it
};

enum class ModelKind { kSpm, kBpe };

struct TokenData {
  std::string text;
  float score = 0.0f;
  TokenType type = TokenType::kNormal;
  uint32_t attr = kAttrNormal;
};

// Hash that lets unordered_map<std::string, ...> be searched with a string_view, no copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TextToId = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct Vocab {
  ModelKind kind = ModelKind::kSpm;
  std::string model_name;  // tokenizer.ggml.model
  std::string pre_name;    // tokenizer.ggml.pre ("default" when absent)

  std::vector<TokenData> tokens;
  TextToId text_to_id;  // a text held by several tokens maps to the last of them (as llama.cpp)

  std::optional<int32_t> bos, eos, eot, eom, unk, pad, sep;

  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;  // SPM: encode as if the text (and text after a special token)
                                  // started with a space; decode drops the first space again
  bool clean_spaces = false;      // decode applies clean_up_tokenization_spaces
  bool ignore_merges = false;     // BPE: a pre-tokenized word that is a token is taken as is

  // Tokens matched in the raw text before pre-tokenization (CONTROL, USER_DEFINED and UNKNOWN
  // tokens), longest text first, then by id.
  std::vector<int32_t> special_tokens;
  std::vector<bool> end_of_generation;  // per token
  std::vector<std::string> pieces;      // per token: its text when detokenized (specials shown)

  // SPM byte fallback: the token for each byte (<0xXX>, else the one-byte text), -1 for none.
  std::vector<int32_t> byte_tokens;

  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
  bool valid(int32_t id) const { return id >= 0 && id < size(); }
  // The id of the token with exactly this text, or -1.
  int32_t find(std::string_view text) const {
    const auto it = text_to_id.find(text);
    return it == text_to_id.end() ? -1 : it->second;
  }
};

// Reads tokenizer.ggml.* from `file`. Errors name the file and the key (or value) at fault.
// `merges` receives tokenizer.ggml.merges for BPE vocabularies (the BPE model is built from it).
Result<Vocab> load_vocab(const gguf::GgufFile& file, std::vector<std::string>* merges);

// The text a token stands for when detokenized, before any leading-space strip: special tokens
// (CONTROL, UNKNOWN) give their text, or nothing when `special` is false.
std::string_view render_token(const Vocab& vocab, int32_t id, bool special);

}  // namespace flint::tokenizer::detail
