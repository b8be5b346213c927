// Detokenization (llama.cpp's llama_vocab::impl::detokenize) and the streaming decoder.
//
// The text of a token sequence is the concatenation of the tokens' pieces (vocab.h's pieces:
// byte-level characters mapped back to bytes, SentencePiece's U+2581 back to a space, <0xXX> byte
// tokens to their byte, special tokens to their text or nothing), with three rules from
// llama.cpp:
//  * vocabularies that encode with a space prefix (SentencePiece) drop one leading space of the
//    first token's piece, unless remove_special just removed a leading BOS;
//  * remove_special drops a leading BOS / trailing EOS when the vocabulary adds them;
//  * with DecodeOptions::clean_up_spaces, vocabularies with clean_spaces get clean_up_spaces()
//    over the whole text (llama_detokenize always does this; token-by-token output never does).
#include <string>

#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace flint::tokenizer {

namespace detail {

void clean_up_spaces(std::string& t) {
  // Three passes, each compacting the text in place exactly as llama.cpp does (including its
  // quirk of blanking the space after " ' " to '\0', which the next comparison then sees).
  size_t n = t.size();
  if (n == 0) return;

  size_t total = 1;  // pass 1: " ?", " !", " .", " ," -> "?", "!", ".", ","
  for (size_t i = 1; i < n; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    t[total++] = x;
  }
  n = total;

  total = 1;  // pass 2: " ' " -> "'"
  for (size_t i = 1; i < n; ++i) {
    const char x = t[i];
    if (x == '\'' && i + 1 < n && t[i - 1] == ' ' && t[i + 1] == ' ') {
      --total;       // the space before
      t[++i] = '\0';  // and the one after
    }
    t[total++] = x;
  }
  n = total;

  total = 1;  // pass 3: " 's", " 'm", " 're", " 've" -> "'s", "'m", "'re", "'ve"
  for (size_t i = 1; i < n; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && x == '\'' && i + 1 < n) {
      const char x1 = t[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (x1 != 't' && x1 != 'd' && i + 2 < n) {
        const char x2 = t[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    t[total++] = x;
  }
  t.resize(total);
}

size_t clean_up_safe_prefix(std::string_view text) {
  size_t cut = text.size();
  while (cut > 0) {
    const size_t window = cut >= 4 ? cut - 4 : 0;
    const size_t space = text.rfind(' ', cut - 1);
    if (space == std::string_view::npos || space < window) return cut;
    cut = space;  // any safe cut at or before this space
  }
  return 0;
}

}  // namespace detail

namespace {

// One token's piece with llama.cpp's lstrip: drop one leading space when `strip` is set.
void append_piece(const detail::Vocab& vocab, int32_t id, bool special, bool strip, std::string& out) {
  std::string_view piece = detail::render_token(vocab, id, special);
  if (strip && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
  out.append(piece);
}

}  // namespace

std::string Tokenizer::decode(std::span<const int32_t> ids, DecodeOptions options) const {
  const detail::Vocab& vocab = impl_->vocab;
  size_t begin = 0, end = ids.size();
  bool strip = vocab.add_space_prefix;
  if (options.remove_special && vocab.add_bos && vocab.bos && end > 0 && ids[0] == *vocab.bos) {
    strip = false;
    begin = 1;
  }
  if (options.remove_special && vocab.add_eos && vocab.eos && end > begin && ids[end - 1] == *vocab.eos) {
    --end;
  }
  std::string text;
  for (size_t i = begin; i < end; ++i) {
    if (!vocab.valid(ids[i])) continue;
    append_piece(vocab, ids[i], options.unparse_special, strip, text);
    strip = false;
  }
  if (vocab.clean_spaces && options.clean_up_spaces) detail::clean_up_spaces(text);
  return text;
}

// --- StreamingDecoder ------------------------------------------------------------------------------
//
// Text flows raw_ -> cleaned_ -> caller. raw_ holds text the clean-up rules may still change
// (a space near its end); cleaned_ holds an unfinished UTF-8 character at most.

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, DecodeOptions options)
    : impl_(tokenizer.impl_), options_(options) {}

std::string StreamingDecoder::push(int32_t id) {
  const detail::Vocab& vocab = impl_->vocab;
  const bool first = !started_;
  started_ = true;
  if (first) {
    strip_space_ = vocab.add_space_prefix;
    if (options_.remove_special && vocab.add_bos && vocab.bos && id == *vocab.bos) {
      strip_space_ = false;
      return {};
    }
  }
  // An EOS held back is not the last token after all.
  if (held_eos_) {
    append_piece(vocab, *held_eos_, options_.unparse_special, strip_space_, raw_);
    strip_space_ = false;
    held_eos_.reset();
  }
  if (options_.remove_special && vocab.add_eos && vocab.eos && id == *vocab.eos) {
    held_eos_ = id;  // dropped by finish() if nothing follows
  } else if (vocab.valid(id)) {
    append_piece(vocab, id, options_.unparse_special, strip_space_, raw_);
    strip_space_ = false;
  }
  return take_ready();
}

std::string StreamingDecoder::take_ready() {
  const detail::Vocab& vocab = impl_->vocab;
  if (vocab.clean_spaces && options_.clean_up_spaces) {
    const size_t cut = detail::clean_up_safe_prefix(raw_);
    if (cut > 0) {
      std::string ready = raw_.substr(0, cut);
      detail::clean_up_spaces(ready);
      cleaned_ += ready;
      raw_.erase(0, cut);
    }
  } else {
    cleaned_ += raw_;
    raw_.clear();
  }
  const size_t keep = detail::incomplete_utf8_tail(cleaned_);
  std::string out = cleaned_.substr(0, cleaned_.size() - keep);
  cleaned_.erase(0, cleaned_.size() - keep);
  return out;
}

std::string StreamingDecoder::finish() {
  const detail::Vocab& vocab = impl_->vocab;
  held_eos_.reset();
  if (vocab.clean_spaces && options_.clean_up_spaces) detail::clean_up_spaces(raw_);
  std::string out = std::move(cleaned_);
  out += raw_;
  raw_.clear();
  cleaned_.clear();
  started_ = false;
  strip_space_ = false;
  return out;
}

}  // namespace flint::tokenizer
