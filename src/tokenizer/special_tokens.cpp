#include "tokenizer/special_tokens.h"

namespace flint::tokenizer::detail {

namespace {

// The C locale's isspace(), which llama.cpp uses for the strip attributes.
bool is_c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

}  // namespace

std::vector<Fragment> partition_special(const Vocab& vocab, std::string_view text,
                                        bool parse_special) {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, 0, text.size()});

  std::vector<Fragment> next;
  for (const int32_t id : vocab.special_tokens) {
    const TokenData& token = vocab.tokens[id];
    if (!parse_special && (token.attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string_view needle = token.text;
    // Most special tokens never occur: one scan of the whole text rules them out.
    if (text.find(needle) == std::string_view::npos) continue;

    next.clear();
    bool changed = false;
    for (const Fragment& f : fragments) {
      if (!f.is_text()) {
        next.push_back(f);
        continue;
      }
      size_t begin = f.begin;
      const size_t end = f.end;
      while (begin < end) {
        const size_t match = text.substr(0, end).find(needle, begin);
        if (match == std::string_view::npos) break;
        changed = true;
        size_t left_end = match;
        if (token.attr & kAttrLstrip) {
          while (left_end > begin && is_c_space(text[left_end - 1])) --left_end;
        }
        if (left_end > begin) next.push_back({-1, begin, left_end});
        next.push_back({id, match, match + needle.size()});
        begin = match + needle.size();
        if (token.attr & kAttrRstrip) {
          while (begin < end && is_c_space(text[begin])) ++begin;
        }
      }
      if (begin < end) next.push_back({-1, begin, end});
    }
    if (changed) fragments.swap(next);
  }
  return fragments;
}

}  // namespace flint::tokenizer::detail
