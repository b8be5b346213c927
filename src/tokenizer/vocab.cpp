#include "tokenizer/vocab.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

#include <fmt/format.h>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace flint::tokenizer::detail {

namespace {

constexpr std::string_view kModelKey = "tokenizer.ggml.model";
constexpr std::string_view kPreKey = "tokenizer.ggml.pre";
constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kScoresKey = "tokenizer.ggml.scores";
constexpr std::string_view kTypesKey = "tokenizer.ggml.token_type";
constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";

uint32_t attr_of_type(int32_t type) {
  switch (static_cast<TokenType>(type)) {
    case TokenType::kNormal: return kAttrNormal;
    case TokenType::kUnknown: return kAttrUnknown;
    case TokenType::kControl: return kAttrControl;
    case TokenType::kUserDefined: return kAttrUserDefined;
    case TokenType::kUnused: return kAttrUnused;
    case TokenType::kByte: return kAttrByte;
    default: return kAttrUndefined;  // UNDEFINED and values outside the enum
  }
}

TokenType type_of_attr(uint32_t attr) {
  if (attr & kAttrControl) return TokenType::kControl;
  if (attr & kAttrUserDefined) return TokenType::kUserDefined;
  if (attr & kAttrUnknown) return TokenType::kUnknown;
  if (attr & kAttrByte) return TokenType::kByte;
  if (attr & kAttrNormal) return TokenType::kNormal;
  if (attr & kAttrUnused) return TokenType::kUnused;
  return TokenType::kUndefined;
}

// A token-id key (tokenizer.ggml.bos_token_id, ...). llama.cpp ignores an id outside the
// vocabulary (keeping its default), and so does flint.
Status read_token_id(const gguf::GgufFile& file, std::string_view key, int32_t n_tokens,
                     std::optional<int32_t>& id) {
  if (id && (*id < 0 || *id >= n_tokens)) id.reset();  // a default that does not exist here
  if (!file.has(key)) return Status::ok();
  FLINT_ASSIGN_OR_RETURN(const int64_t value, file.get<int64_t>(key));
  if (value >= 0 && value < n_tokens) id = static_cast<int32_t>(value);
  return Status::ok();
}

// llama.cpp's token_to_byte(): the two hex digits of "<0xXX>".
std::optional<uint8_t> byte_of_byte_token(std::string_view text) {
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (text.size() < 5 || digit(text[3]) < 0 || digit(text[4]) < 0) return std::nullopt;
  return static_cast<uint8_t>(digit(text[3]) * 16 + digit(text[4]));
}

// Byte-level BPE token text -> bytes (llama.cpp's llama_decode_text): each character stands for
// one byte; a character outside the alphabet is shown as [UNK_BYTE_0x..] as llama.cpp does.
std::string decode_byte_level(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const uint32_t cp = decode_utf8_lenient(text, pos);
    const int byte = byte_level_byte(cp);
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
      continue;
    }
    std::string utf8;
    append_utf8(utf8, cp);
    out += "[UNK_BYTE_0x";
    for (const char c : utf8) out += fmt::format("{:02x}", static_cast<uint8_t>(c));
    out += text;
    out += "]";
  }
  return out;
}

// The text of a token when detokenized with special tokens shown (llama.cpp's token_to_piece
// with special = true; the cache it builds at load).
std::string build_piece(const Vocab& vocab, const TokenData& token) {
  const uint32_t attr = token.attr;
  if (attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return token.text;
  if (attr & kAttrNormal) {
    if (vocab.kind == ModelKind::kBpe) return decode_byte_level(token.text);
    // SentencePiece: U+2581 (LOWER ONE EIGHTH BLOCK) stands for a space.
    std::string out;
    out.reserve(token.text.size());
    std::string_view rest = token.text;
    for (size_t at; (at = rest.find("\xE2\x96\x81")) != std::string_view::npos;) {
      out.append(rest.substr(0, at));
      out.push_back(' ');
      rest.remove_prefix(at + 3);
    }
    out.append(rest);
    return out;
  }
  if (attr & kAttrByte) {
    const std::optional<uint8_t> byte = byte_of_byte_token(token.text);
    return byte ? std::string(1, static_cast<char>(*byte)) : std::string();
  }
  return {};  // UNUSED and UNDEFINED tokens produce no text
}

// Texts llama.cpp recognizes as special tokens when the GGUF does not name them
// (llama_vocab::impl::load, "auto-detect special tokens by text"). The first text present in the
// vocabulary wins (llama.cpp takes whichever its hash map yields first).
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"};
constexpr std::string_view kEomTexts[] = {"<|eom_id|>"};
constexpr std::string_view kFimPreTexts[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                                             "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
                                             "<|code_prefix|>", "<|prefix|>"};
constexpr std::string_view kFimSufTexts[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                                             "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
                                             "<|code_suffix|>", "<|suffix|>"};
constexpr std::string_view kFimMidTexts[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                                             "<｜fim▁end｜>", "<MID>", "▁<MID>",
                                             "<|code_middle|>", "<|middle|>"};
constexpr std::string_view kFimPadTexts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                             "[PAD]"};
constexpr std::string_view kFimRepTexts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                             "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepTexts[] = {"<|file_sep|>"};

// Texts that end generation whatever the metadata says (llama.cpp's special_eog_ids).
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<｜end▁of▁sentence｜>", "[e~["};

// Detects a special token by text when `id` is unset, and marks it CONTROL (llama.cpp warns
// that a control-looking token was not control-type, and overrides its type).
template <size_t N>
std::optional<int32_t> detect(Vocab& vocab, std::optional<int32_t> id,
                              const std::string_view (&texts)[N]) {
  if (!id) {
    for (std::string_view text : texts) {
      const int32_t found = vocab.find(text);
      if (found >= 0) {
        id = found;
        vocab.tokens[found].attr |= kAttrControl;
        break;
      }
    }
  }
  return id;
}

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Result<Vocab> load_vocab(const gguf::GgufFile& file, std::vector<std::string>* merges) {
  Vocab vocab;
  const std::string& name = file.path();

  // --- model and pre-tokenizer ---------------------------------------------------------------
  FLINT_ASSIGN_OR_RETURN(vocab.model_name, file.get_string(kModelKey));
  if (const gguf::Value* pre = file.find(kPreKey)) {
    if (pre->type() != gguf::ValueType::STRING) {
      return error("{}: metadata key '{}' has type {}, expected string", name, kPreKey,
                   gguf::value_type_name(pre->type()));
    }
    vocab.pre_name = pre->str();
  }

  std::optional<int32_t> bos, eos, unk;
  if (vocab.model_name == "llama") {
    // SentencePiece: BOS 1, EOS 2, UNK 0 unless the metadata says otherwise.
    vocab.kind = ModelKind::kSpm;
    bos = 1;
    eos = 2;
    unk = 0;
    vocab.add_space_prefix = true;
    vocab.add_bos = true;
    vocab.clean_spaces = false;
    if (vocab.pre_name.empty()) vocab.pre_name = "default";
  } else if (vocab.model_name == "gpt2") {
    vocab.kind = ModelKind::kBpe;
    // llama.cpp's defaults for byte-level BPE (token 11 is GPT-NeoX's <|endoftext|>).
    bos = 11;
    eos = 11;
    if (vocab.pre_name.empty()) vocab.pre_name = "default";  // llama.cpp warns and degrades
    const PreTokenizerSpec* spec = find_pre_tokenizer(vocab.pre_name);
    if (!spec) {
      return error("{}: unknown pre-tokenizer '{}' ({}); flint knows: {}", name, vocab.pre_name,
                   kPreKey, known_pre_tokenizers());
    }
    vocab.add_bos = spec->add_bos;
    vocab.clean_spaces = spec->clean_spaces;
    vocab.ignore_merges = spec->ignore_merges;
    if (!file.has(kMergesKey)) {
      return error("{}: metadata key '{}' is missing (a gpt2 tokenizer needs its BPE merges)", name,
                   kMergesKey);
    }
    if (merges) {
      FLINT_ASSIGN_OR_RETURN(*merges, file.get_string_array(kMergesKey));
    }
  } else {
    return error("{}: unknown tokenizer model '{}' ({}); flint supports 'llama' (SentencePiece) "
                 "and 'gpt2' (byte-level BPE)",
                 name, vocab.model_name, kModelKey);
  }
  FLINT_ASSIGN_OR_RETURN(vocab.add_space_prefix, file.get_or<bool>("tokenizer.ggml.add_space_prefix",
                                                                    vocab.add_space_prefix));

  // --- tokens, scores, types -------------------------------------------------------------------
  const gguf::Value* tokens = file.find(kTokensKey);
  if (!tokens) return error("{}: metadata key '{}' is missing (no vocabulary)", name, kTokensKey);
  if (!tokens->is_array() || tokens->array_type() != gguf::ValueType::STRING) {
    return error("{}: metadata key '{}' is not an array of strings", name, kTokensKey);
  }
  const std::vector<std::string>& texts = tokens->strings();
  if (texts.empty()) return error("{}: metadata key '{}' is empty", name, kTokensKey);
  if (texts.size() > static_cast<size_t>(INT32_MAX)) {
    return error("{}: metadata key '{}' has {} tokens, too many", name, kTokensKey, texts.size());
  }
  const int32_t n = static_cast<int32_t>(texts.size());

  std::vector<float> scores;
  if (const gguf::Value* s = file.find(kScoresKey)) {
    if (s->is_array() && s->array_type() == gguf::ValueType::INT32) {
      FLINT_ASSIGN_OR_RETURN(const std::vector<int32_t> ints, file.get_array<int32_t>(kScoresKey));
      scores.assign(ints.begin(), ints.end());
    } else if (s->is_array() && s->array_type() == gguf::ValueType::FLOAT32) {
      FLINT_ASSIGN_OR_RETURN(scores, file.get_array<float>(kScoresKey));
    } else {
      return error("{}: metadata key '{}' is not an array of float32 or int32", name, kScoresKey);
    }
    if (scores.size() < texts.size()) {
      return error("{}: metadata key '{}' has {} entries for {} tokens", name, kScoresKey,
                   scores.size(), texts.size());
    }
  }
  std::vector<int32_t> types;
  if (const gguf::Value* t = file.find(kTypesKey)) {
    if (!t->is_array() || t->array_type() != gguf::ValueType::INT32) {
      return error("{}: metadata key '{}' is not an array of int32", name, kTypesKey);
    }
    FLINT_ASSIGN_OR_RETURN(types, file.get_array<int32_t>(kTypesKey));
    if (types.size() < texts.size()) {
      return error("{}: metadata key '{}' has {} entries for {} tokens", name, kTypesKey,
                   types.size(), texts.size());
    }
  }

  vocab.tokens.resize(texts.size());
  vocab.text_to_id.reserve(texts.size());
  for (int32_t i = 0; i < n; ++i) {
    TokenData& t = vocab.tokens[i];
    t.text = texts[i].empty() ? fmt::format("[EMPTY_{}]", i) : texts[i];  // as llama.cpp
    t.score = scores.empty() ? 0.0f : scores[i];
    t.attr = types.empty() ? kAttrNormal : attr_of_type(types[i]);
    vocab.text_to_id.insert_or_assign(t.text, i);
  }

  // --- special tokens and flags ------------------------------------------------------------------
  std::optional<int32_t> eot, eom, sep, pad, fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
  const std::pair<std::string_view, std::optional<int32_t>*> id_keys[] = {
      {"tokenizer.ggml.bos_token_id", &bos},
      {"tokenizer.ggml.eos_token_id", &eos},
      {"tokenizer.ggml.eot_token_id", &eot},
      {"tokenizer.ggml.eom_token_id", &eom},
      {"tokenizer.ggml.unknown_token_id", &unk},
      {"tokenizer.ggml.seperator_token_id", &sep},  // sic: the key is spelled this way
      {"tokenizer.ggml.padding_token_id", &pad},
      {"tokenizer.ggml.fim_pre_token_id", &fim_pre},
      {"tokenizer.ggml.fim_suf_token_id", &fim_suf},
      {"tokenizer.ggml.fim_mid_token_id", &fim_mid},
      {"tokenizer.ggml.fim_pad_token_id", &fim_pad},
      {"tokenizer.ggml.fim_rep_token_id", &fim_rep},
      {"tokenizer.ggml.fim_sep_token_id", &fim_sep},
      {"tokenizer.ggml.prefix_token_id", &fim_pre},  // deprecated names
      {"tokenizer.ggml.suffix_token_id", &fim_suf},
      {"tokenizer.ggml.middle_token_id", &fim_mid},
  };
  for (const auto& [key, id] : id_keys) FLINT_RETURN_IF_ERROR(read_token_id(file, key, n, *id));

  FLINT_ASSIGN_OR_RETURN(vocab.add_bos,
                         file.get_or<bool>("tokenizer.ggml.add_bos_token", vocab.add_bos));
  FLINT_ASSIGN_OR_RETURN(vocab.add_eos,
                         file.get_or<bool>("tokenizer.ggml.add_eos_token", vocab.add_eos));

  eot = detect(vocab, eot, kEotTexts);
  eom = detect(vocab, eom, kEomTexts);
  fim_pre = detect(vocab, fim_pre, kFimPreTexts);
  fim_suf = detect(vocab, fim_suf, kFimSufTexts);
  fim_mid = detect(vocab, fim_mid, kFimMidTexts);
  fim_pad = detect(vocab, fim_pad, kFimPadTexts);
  fim_rep = detect(vocab, fim_rep, kFimRepTexts);
  fim_sep = detect(vocab, fim_sep, kFimSepTexts);

  // End of generation: EOS, EOT, EOM, the FIM pad/repo/file-separator tokens, and tokens known
  // by their text. llama.cpp also forces the latter to CONTROL, which makes text such as "</s>"
  // parse as a token in vocabularies where it is an ordinary one (Qwen's id 128247); flint keeps
  // the vocabulary's own type, so parse_special matches what the model's tokenizer (Hugging
  // Face's) matches, and still stops generation on them.
  vocab.end_of_generation.assign(texts.size(), false);
  for (const std::optional<int32_t>& id : {fim_pad, fim_rep, fim_sep, eos, eot, eom}) {
    if (id) vocab.end_of_generation[*id] = true;
  }
  for (std::string_view text : kEndOfGenerationTexts) {
    const int32_t id = vocab.find(text);
    if (id < 0) continue;
    vocab.end_of_generation[id] = true;
  }

  vocab.bos = bos;
  vocab.eos = eos;
  vocab.eot = eot;
  vocab.eom = eom;
  vocab.unk = unk;
  vocab.pad = pad;
  vocab.sep = sep;

  // --- special-token matching order and per-model strip flags ---------------------------------
  for (int32_t i = 0; i < n; ++i) {
    if (vocab.tokens[i].attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) {
      vocab.special_tokens.push_back(i);
    }
  }
  // Longest first so that a token containing another one wins; ties by id (llama.cpp's order
  // among equal lengths is unspecified).
  std::stable_sort(vocab.special_tokens.begin(), vocab.special_tokens.end(),
                   [&](int32_t a, int32_t b) {
                     return vocab.tokens[a].text.size() > vocab.tokens[b].text.size();
                   });

  // Phi-3: special tokens swallow the whitespace after them (llama.cpp sets this by model name).
  const gguf::Value* general_name = file.find("general.name");
  const std::string model_title = general_name && general_name->type() == gguf::ValueType::STRING
                                      ? lowercase(general_name->str())
                                      : std::string();
  if (model_title.find("phi-3") != std::string::npos ||
      model_title.find("phi3") != std::string::npos) {
    for (int32_t id : vocab.special_tokens) vocab.tokens[id].attr |= kAttrRstrip;
    const auto set_rstrip = [&](std::string_view text, bool on) {
      const int32_t id = vocab.find(text);
      if (id < 0) return;
      if (on) {
        vocab.tokens[id].attr |= kAttrRstrip;
      } else {
        vocab.tokens[id].attr &= ~kAttrRstrip;
      }
    };
    set_rstrip("</s>", true);
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) set_rstrip(text, false);
  }

  // --- derived tables ---------------------------------------------------------------------------
  for (TokenData& t : vocab.tokens) t.type = type_of_attr(t.attr);
  vocab.pieces.reserve(texts.size());
  for (const TokenData& t : vocab.tokens) vocab.pieces.push_back(build_piece(vocab, t));

  if (vocab.kind == ModelKind::kSpm) {
    vocab.byte_tokens.assign(256, -1);
    for (int b = 0; b < 256; ++b) {
      int32_t id = vocab.find(fmt::format("<0x{:02X}>", b));
      if (id < 0) id = vocab.find(std::string(1, static_cast<char>(b)));
      vocab.byte_tokens[b] = id;
    }
  }
  return vocab;
}

std::string_view render_token(const Vocab& vocab, int32_t id, bool special) {
  if (!vocab.valid(id)) return {};
  if (!special && (vocab.tokens[id].attr & (kAttrUnknown | kAttrControl))) return {};
  return vocab.pieces[id];
}

}  // namespace flint::tokenizer::detail
