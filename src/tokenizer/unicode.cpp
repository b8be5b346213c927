#include "tokenizer/unicode.h"

namespace flint::tokenizer::detail {

namespace {

constexpr uint32_t kReplacement = 0xFFFD;

bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Bytes that stand for themselves in the byte-level alphabet (printable Latin-1).
bool is_self_byte(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteLevelTables {
  std::array<std::string, 256> alphabet;
  std::array<int16_t, 0x144> byte_of{};  // code point -> byte, -1 when not in the alphabet

  ByteLevelTables() {
    byte_of.fill(-1);
    uint32_t next = 0x100;  // the stand-ins for non-printable bytes, in increasing byte order
    for (int b = 0; b < 256; ++b) {
      const uint32_t cp = is_self_byte(b) ? static_cast<uint32_t>(b) : next++;
      append_utf8(alphabet[b], cp);
      byte_of[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTables& byte_level_tables() {
  static const ByteLevelTables tables;
  return tables;
}

}  // namespace

void append_utf8(std::string& out, uint32_t cp) {
  if (cp <= 0x7F) {
    out.push_back(static_cast<char>(cp));
  } else if (cp <= 0x7FF) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= 0xFFFF) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | ((cp >> 18) & 0x07)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;  // overlong
      if (b == 0xED) hi = 0x9F;  // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;  // overlong
      if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) return false;
    for (size_t k = 2; k < len; ++k) {
      if (!is_continuation(p[i + k])) return false;
    }
    i += len;
  }
  return true;
}

uint32_t decode_utf8_lenient(std::string_view text, size_t& pos) {
  const auto at = [&](size_t k) { return static_cast<uint8_t>(text[pos + k]); };
  const size_t left = text.size() - pos;
  const uint8_t b = at(0);
  if (b < 0x80) {
    ++pos;
    return b;
  }
  size_t len = 0;
  uint32_t cp = 0;
  if ((b & 0xE0) == 0xC0) {
    len = 2;
    cp = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    len = 3;
    cp = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    len = 4;
    cp = b & 0x07;
  }
  // A continuation byte or 0xF8..0xFF as lead (len 0), a truncated or broken sequence.
  bool ok = len != 0 && left >= len;
  for (size_t k = 1; ok && k < len; ++k) {
    ok = is_continuation(at(k));
    cp = (cp << 6) | (at(k) & 0x3F);
  }
  if (!ok) {
    ++pos;
    return kReplacement;
  }
  pos += len;
  return cp;
}

std::string sanitize_utf8(std::string_view text, std::string& regex_view) {
  std::string out;
  out.reserve(text.size() + 8);
  regex_view.clear();
  bool surrogates = false;
  size_t pos = 0;
  while (pos < text.size()) {
    uint32_t cp = decode_utf8_lenient(text, pos);
    if (cp > 0x10FFFF) cp = kReplacement;
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (surrogate && !surrogates) {
      surrogates = true;
      regex_view = out;  // the text so far, then the rest character by character
    }
    append_utf8(out, cp);
    if (surrogates) append_utf8(regex_view, surrogate ? 0xE000 : cp);
  }
  return out;
}

size_t incomplete_utf8_tail(std::string_view text) {
  const size_t n = text.size();
  // Walk back over at most 3 continuation bytes to the byte that starts the last sequence.
  size_t k = 0;
  while (k < 3 && k < n && is_continuation(static_cast<uint8_t>(text[n - 1 - k]))) ++k;
  if (k == n) return 0;  // only continuation bytes (or nothing): no sequence to wait for
  const uint8_t lead = static_cast<uint8_t>(text[n - 1 - k]);
  size_t need = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
  }
  const size_t have = k + 1;
  return need > have ? have : 0;
}

const std::array<std::string, 256>& byte_level_alphabet() { return byte_level_tables().alphabet; }

int byte_level_byte(uint32_t cp) {
  const auto& t = byte_level_tables();
  return cp < t.byte_of.size() ? t.byte_of[cp] : -1;
}

}  // namespace flint::tokenizer::detail
