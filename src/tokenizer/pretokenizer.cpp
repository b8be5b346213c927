#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>

#include <fmt/format.h>

#include "tokenizer/unicode.h"

namespace flint::tokenizer::detail {

namespace {

// --- the regex lists -----------------------------------------------------------------------------
// Hugging Face's regexes as llama.cpp lists them (llm_tokenizer_bpe). llama.cpp replaces the
// case-insensitive group "(?i:'s|'t|...)" by explicit classes ('[sS]...), so PCRE2's caseless
// matching (which would also accept U+017F LONG S for 's') never comes into play.

// GPT-2 (also the word regex inside several other lists).
constexpr std::string_view kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

// Llama 3: letters may take one leading non-letter, digits go in groups of up to three.
constexpr std::string_view kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen2 / Qwen3: as Llama 3 but every digit is its own word.
constexpr std::string_view kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::array<std::string_view, 1> kGpt2List = {kGpt2};
constexpr std::array<std::string_view, 1> kLlama3List = {kLlama3};
constexpr std::array<std::string_view, 1> kQwen2List = {kQwen2};

// llama.cpp's list for `pre = default` (and a missing pre).
constexpr std::array<std::string_view, 4> kDefaultList = {
    R"([\p{P}\$\+<=>\^~\|]+)",
    kGpt2,
    R"(\p{N}+)",
    R"([0-9][0-9][0-9])",
};

constexpr std::array<std::string_view, 3> kFalconList = {
    R"([\p{P}\$\+<=>\^~\|`]+)",
    kGpt2,
    R"([0-9][0-9][0-9])",
};

// StarCoder and relatives: every digit alone, then GPT-2's regex.
constexpr std::array<std::string_view, 2> kStarcoderList = {R"(\p{N})", kGpt2};

// DeepSeek LLM: newlines alone; Latin/Greek/Cyrillic-like letter runs; ASCII and full-width
// punctuation runs; trailing whitespace; CJK runs; number runs.
constexpr std::array<std::string_view, 6> kDeepseekLlmList = {
    R"([\r\n])",
    R"(\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+)",
    R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)",
    R"(\s+$)",
    R"([一-龥ࠀ-一가-퟿]+)",
    R"(\p{N}+)",
};

// name -> regex list and the flags llama.cpp sets for that name (llama_vocab::impl::load).
//                         name            patterns          ignore_merges add_bos clean_spaces
constexpr PreTokenizerSpec kSpecs[] = {
    {"default",          kDefaultList,      false, false, true},
    {"llama-bpe",        kLlama3List,       true,  true,  true},
    {"llama3",           kLlama3List,       true,  true,  true},
    {"llama-v3",         kLlama3List,       true,  true,  true},
    {"falcon3",          kLlama3List,       true,  true,  true},
    {"falcon-h1",        kLlama3List,       true,  true,  true},
    {"pixtral",          kLlama3List,       true,  true,  true},
    {"dbrx",             kLlama3List,       false, false, true},
    {"smaug-bpe",        kLlama3List,       false, false, true},
    {"qwen2",            kQwen2List,        false, false, false},
    {"deepseek-r1-qwen", kQwen2List,        false, false, false},
    {"stablelm2",        kQwen2List,        false, false, true},
    {"megrez",           kQwen2List,        false, false, true},
    {"gpt-2",            kGpt2List,         false, false, true},
    {"phi-2",            kGpt2List,         false, false, true},
    {"mpt",              kGpt2List,         false, false, true},
    {"olmo",             kGpt2List,         false, false, true},
    {"jais",             kGpt2List,         false, false, true},
    {"exaone4",          kGpt2List,         false, false, true},
    {"falcon",           kFalconList,       false, false, true},
    {"deepseek-llm",     kDeepseekLlmList,  false, false, false},
    {"starcoder",        kStarcoderList,    false, false, true},
    {"refact",           kStarcoderList,    false, false, true},
    {"codeshell",        kStarcoderList,    false, false, true},
    {"exaone",           kStarcoderList,    false, false, true},
    {"minerva-7b",       kStarcoderList,    false, false, true},
    {"command-r",        kStarcoderList,    false, false, false},
    {"smollm",           kStarcoderList,    false, false, false},
};

// --- adapting the regexes to PCRE2 ------------------------------------------------------------
// Two differences between PCRE2 10.42 (the system library) and the character classes of
// llama.cpp (and Hugging Face) would change some words; adapt_pattern() removes both:
//  * \s: Unicode's White_Space is what llama.cpp uses, i.e. \t \n \v \f \r, U+0085 and the Z
//    category. PCRE2's \s lacks U+0085 and has U+180E, so \s and \S are spelled out.
//  * Unicode version: PCRE2 10.42 knows Unicode 14; llama.cpp's tables are Unicode 15.1. The
//    letters, numbers and punctuation assigned since (CJK extensions H and I, Kawi, Nag Mundari,
//    ...) are added to \p{L}, \p{N} and \p{P} explicitly. (They only add to PCRE2's classes, so
//    a newer PCRE2 gives the same result. Symbols and marks need nothing: the lists use them
//    only through "anything but whitespace, letters and numbers".)

constexpr std::string_view kWhitespace = R"(\t\n\x{0B}\f\r\x{85}\p{Z})";

constexpr std::string_view kLettersSince14 =
    R"(\x{1123F}-\x{11240}\x{11F02}\x{11F04}-\x{11F10}\x{11F12}-\x{11F33}\x{1342F}\x{13441}-\x{13446})"
    R"(\x{1B132}\x{1B155}\x{1DF25}-\x{1DF2A}\x{1E030}-\x{1E06D}\x{1E4D0}-\x{1E4EB}\x{2B739})"
    R"(\x{2EBF0}-\x{2EE5D}\x{31350}-\x{323AF})";
constexpr std::string_view kNumbersSince14 =
    R"(\x{11F50}-\x{11F59}\x{1D2C0}-\x{1D2D3}\x{1E4F0}-\x{1E4F9})";
constexpr std::string_view kPunctuationSince14 = R"(\x{11B00}-\x{11B09}\x{11F43}-\x{11F4F})";

// The class items that stand for escape `e` (the letter after '\' or the property name), or "".
std::string class_items(std::string_view escape) {
  if (escape == "s") return std::string(kWhitespace);
  if (escape == "p{L}") return std::string(R"(\p{L})") + std::string(kLettersSince14);
  if (escape == "p{N}") return std::string(R"(\p{N})") + std::string(kNumbersSince14);
  if (escape == "p{P}") return std::string(R"(\p{P})") + std::string(kPunctuationSince14);
  return {};
}

std::string adapt_pattern(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() * 4);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      // The escape: one letter, or p{...}.
      size_t length = 1;
      if (pattern[i + 1] == 'p' && i + 2 < pattern.size() && pattern[i + 2] == '{') {
        const size_t close = pattern.find('}', i + 3);
        if (close != std::string_view::npos) length = close - i;
      }
      const std::string_view escape = pattern.substr(i + 1, length);
      i += length;
      std::string items = class_items(escape);
      if (items.empty() && escape == "S" && !in_class) {
        out += "[^" + class_items("s") + "]";
      } else if (items.empty()) {
        out += '\\';
        out += escape;  // \S inside a class does not occur in the lists
      } else {
        out += in_class ? items : "[" + items + "]";
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal, not the end of the class.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

// Per-thread PCRE2 match state: a JIT stack larger than the 32 KiB default (long whitespace runs
// backtrack), and match data for the whole-match offsets.
struct MatchState {
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_match_data* data = nullptr;

  MatchState() {
    stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    context = pcre2_match_context_create(nullptr);
    if (stack && context) pcre2_jit_stack_assign(context, nullptr, stack);
    data = pcre2_match_data_create(1, nullptr);
  }
  ~MatchState() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

}  // namespace

const PreTokenizerSpec* find_pre_tokenizer(std::string_view name) {
  for (const PreTokenizerSpec& spec : kSpecs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string known_pre_tokenizers() {
  std::string out;
  for (const PreTokenizerSpec& spec : kSpecs) {
    if (!out.empty()) out += ", ";
    out += spec.name;
  }
  return out;
}

struct RegexSplitter::Compiled {
  std::string pattern;  // as given (for messages)
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

Result<RegexSplitter> RegexSplitter::create(std::span<const std::string_view> patterns) {
  RegexSplitter out;
  for (std::string_view pattern : patterns) {
    auto compiled = std::make_shared<Compiled>();
    compiled->pattern = std::string(pattern);
    const std::string adapted = adapt_pattern(pattern);
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    // DOLLAR_ENDONLY: `$` is the end of the piece, never "before a final newline".
    compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(adapted.data()), adapted.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &error_code,
                                   &error_offset, nullptr);
    if (!compiled->code) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error_code, message, sizeof(message));
      return error("pre-tokenizer regex '{}' does not compile at offset {}: {}", pattern,
                   error_offset, reinterpret_cast<const char*>(message));
    }
    // Without JIT support PCRE2 interprets the pattern: slower, same result.
    pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);
    out.regexes_.push_back(std::move(compiled));
  }
  return out;
}

Status RegexSplitter::split(std::string_view text, std::vector<Piece>& pieces) const {
  pieces.clear();
  if (text.empty()) return Status::ok();
  pieces.push_back({0, text.size()});
  MatchState& state = match_state();
  if (!state.data) return error("PCRE2 could not allocate match data");
  std::vector<Piece> next;
  for (const auto& regex : regexes_) {
    next.clear();
    next.reserve(pieces.size() * 2);
    for (const Piece piece : pieces) {
      const auto* subject =
          reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
      const size_t length = piece.end - piece.begin;
      const auto emit = [&](size_t b, size_t e) {
        next.push_back({piece.begin + b, piece.begin + e});
      };
      size_t pos = 0;        // where the next search starts
      size_t unmatched = 0;  // start of the text not yet covered by a match
      uint32_t flags = 0;    // after an empty match: first try a non-empty one at the same place
      while (pos <= length) {
        const int rc = pcre2_match(regex->code, subject, length, pos, flags | PCRE2_NO_UTF_CHECK,
                                   state.data, state.context);
        if (rc == PCRE2_ERROR_NOMATCH) {
          if (flags == 0 || pos >= length) break;
          // No non-empty match where the empty one was: move on by one character.
          flags = 0;
          pos += std::min(utf8_sequence_length(subject[pos]), length - pos);
          continue;
        }
        if (rc < 0) {
          PCRE2_UCHAR message[256];
          pcre2_get_error_message(rc, message, sizeof(message));
          return error("pre-tokenizer regex '{}' failed: {}", regex->pattern,
                       reinterpret_cast<const char*>(message));
        }
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
        const size_t begin = ovector[0], end = ovector[1];
        if (begin > unmatched) emit(unmatched, begin);  // the stretch before the match
        if (end > begin) emit(begin, end);
        unmatched = end;
        pos = end;
        flags = end == begin ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
      }
      if (unmatched < length) emit(unmatched, length);
    }
    pieces.swap(next);
  }
  return Status::ok();
}

}  // namespace flint::tokenizer::detail
