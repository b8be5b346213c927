#include "tokenizer/jinja/text.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace flint::jinja::text {

namespace {

bool is_js_space(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000: case 0xFEFF:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Length of the StrDecimalLiteral (digits, '.', exponent; no sign, no Infinity) at s[0], or 0.
size_t decimal_literal_length(std::string_view s) {
  size_t i = 0, int_digits = 0, frac_digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    while (j < s.size() && is_digit(s[j])) ++j, ++frac_digits;
    if (int_digits > 0 || frac_digits > 0) i = j;
  }
  if (int_digits == 0 && frac_digits == 0) return 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    size_t exp_start = j;
    while (j < s.size() && is_digit(s[j])) ++j;
    if (j > exp_start) i = j;
  }
  return i;
}

double strtod_of(std::string_view s) {
  std::string copy(s);
  return std::strtod(copy.c_str(), nullptr);
}

// Parses [+-]? (Infinity | decimal literal) at the start of s; sets *len to what was used.
double signed_decimal_prefix(std::string_view s, size_t* len) {
  size_t i = 0;
  double sign = 1;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) sign = s[i++] == '-' ? -1 : 1;
  if (s.substr(i).starts_with("Infinity")) {
    *len = i + 8;
    return sign * std::numeric_limits<double>::infinity();
  }
  size_t n = decimal_literal_length(s.substr(i));
  if (n == 0) {
    *len = 0;
    return kNaN;
  }
  *len = i + n;
  return sign * strtod_of(s.substr(i, n));
}

// ---- case mapping ----------------------------------------------------------------------------
// Scripts mapped here: ASCII, Latin-1, Latin Extended-A, basic Greek, basic Cyrillic and
// fullwidth Latin. Other ranges known to hold cased letters are refused with an error.

bool refused_cased_range(char32_t c) {
  return (c >= 0x0180 && c <= 0x02AF) || c == 0x0345 || (c >= 0x0370 && c <= 0x0385) ||
         (c >= 0x03CF && c <= 0x03FF) || (c >= 0x0460 && c <= 0x052F) ||
         (c >= 0x0531 && c <= 0x0587) || (c >= 0x10A0 && c <= 0x10FF) ||
         (c >= 0x13A0 && c <= 0x13FF) || (c >= 0x1C80 && c <= 0x1CBF) ||
         (c >= 0x1D00 && c <= 0x1DBF) || (c >= 0x1E00 && c <= 0x1FFF) ||
         (c >= 0x2100 && c <= 0x218F) || (c >= 0x24B6 && c <= 0x24E9) ||
         (c >= 0x2C00 && c <= 0x2D2F) || (c >= 0xA640 && c <= 0xA69F) ||
         (c >= 0xA720 && c <= 0xA7FF) || (c >= 0xAB30 && c <= 0xABBF) ||
         (c >= 0xFB00 && c <= 0xFB17) || (c >= 0x10400 && c <= 0x104FF) ||
         (c >= 0x10570 && c <= 0x105BF) || (c >= 0x10C80 && c <= 0x10CFF) ||
         (c >= 0x118A0 && c <= 0x118FF) || (c >= 0x16E40 && c <= 0x16E9F) ||
         (c >= 0x1E900 && c <= 0x1E95F);
}

// Latin Extended-A: pairs (upper, lower) at (even, odd) or (odd, even) code points.
bool ext_a_even_upper(char32_t c) {
  return (c >= 0x0100 && c <= 0x012F) || (c >= 0x0132 && c <= 0x0137) ||
         (c >= 0x014A && c <= 0x0177);
}
bool ext_a_odd_upper(char32_t c) {
  return (c >= 0x0139 && c <= 0x0148) || (c >= 0x0179 && c <= 0x017E);
}

// Single-code-point mappings; 0 when the character has no mapping of that kind.
char32_t simple_upper(char32_t c) {
  if (c >= 'a' && c <= 'z') return c - 0x20;
  if (c < 0x80) return 0;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 0x20;
  if (c == 0xFF) return 0x178;
  if (c == 0xB5) return 0x39C;
  if (ext_a_even_upper(c)) return (c % 2 == 1) ? c - 1 : 0;
  if (ext_a_odd_upper(c)) return (c % 2 == 0) ? c - 1 : 0;
  if (c == 0x131) return 'I';
  if (c == 0x17F) return 'S';
  if (c >= 0x3B1 && c <= 0x3CB && c != 0x3C2) return c - 0x20;
  if (c == 0x3C2) return 0x3A3;
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 0x25;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 0x3F;
  if (c >= 0x430 && c <= 0x44F) return c - 0x20;
  if (c >= 0x450 && c <= 0x45F) return c - 0x50;
  if (c >= 0xFF41 && c <= 0xFF5A) return c - 0x20;
  return 0;
}

char32_t simple_lower(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 0x20;
  if (c < 0x80) return 0;
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 0x20;
  if (c == 0x178) return 0xFF;
  if (ext_a_even_upper(c)) return (c % 2 == 0) ? c + 1 : 0;
  if (ext_a_odd_upper(c)) return (c % 2 == 1) ? c + 1 : 0;
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 0x20;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 0x25;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 0x3F;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 0x20;
  return 0;
}

bool is_cased(char32_t c) {
  return simple_upper(c) != 0 || simple_lower(c) != 0 || c == 0xDF || c == 0xAA || c == 0xBA ||
         c == 0x138 || c == 0x149 || c == 0x130 || c == 0x390 || c == 0x3B0;
}

bool is_case_ignorable(char32_t c) {
  return c == '\'' || c == '.' || c == ':' || c == '^' || c == '`' || c == 0xA8 || c == 0xAD ||
         c == 0xAF || c == 0xB4 || c == 0xB7 || c == 0xB8 || c == 0x2019 ||
         (c >= 0x300 && c <= 0x36F);
}

Status refuse(char32_t c, const char* what) {
  return error("{}() of U+{:04X} is not supported (no case table for its script)", what,
               static_cast<uint32_t>(c));
}

}  // namespace

size_t space_at(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  unsigned char b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return is_js_space(b) ? 1 : 0;
  size_t len = 0;
  char32_t cp = decode(s, i, &len);
  return is_js_space(cp) ? len : 0;
}

size_t space_before(std::string_view s, size_t end) {
  if (end == 0) return 0;
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && end - start < 4) {
    --start;
  }
  size_t len = space_at(s, start);
  return start + len == end ? len : 0;
}

std::string_view trim_start(std::string_view s) {
  size_t i = 0;
  while (size_t n = space_at(s, i)) i += n;
  return s.substr(i);
}

std::string_view trim_end(std::string_view s) {
  size_t end = s.size();
  while (size_t n = space_before(s, end)) end -= n;
  return s.substr(0, end);
}

std::string_view trim(std::string_view s) { return trim_end(trim_start(s)); }

char32_t decode(std::string_view s, size_t i, size_t* len) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = byte(i);
  *len = 1;
  if (b < 0x80) return b;
  size_t n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0xFFFD;
  char32_t cp = b & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  *len = n;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::vector<char32_t> code_points(std::string_view s) {
  std::vector<char32_t> out;
  for (size_t i = 0, n = 0; i < s.size(); i += n) out.push_back(decode(s, i, &n));
  return out;
}

std::vector<size_t> code_point_offsets(std::string_view s) {
  std::vector<size_t> out;
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += n) {
    out.push_back(i);
    decode(s, i, &n);
  }
  out.push_back(s.size());
  return out;
}

size_t utf16_length(std::string_view s) {
  size_t units = 0, n = 0;
  for (size_t i = 0; i < s.size(); i += n) units += decode(s, i, &n) > 0xFFFF ? 2 : 1;
  return units;
}

std::string js_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (v == 0) return "0";
  if (std::isinf(v)) return v < 0 ? "-Infinity" : "Infinity";
  std::string out = v < 0 ? "-" : "";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));  // "d.ddde+XX" or "de-XX"
  size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits += c;
  }
  int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  int k = static_cast<int>(digits.size());
  int n = exponent + 1;  // value = 0.digits * 10^n
  if (k <= n && n <= 21) {
    out.append(digits).append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<size_t>(n)).append(1, '.').append(digits, static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out.append("0.").append(static_cast<size_t>(-n), '0').append(digits);
  } else {
    int e = n - 1;
    out.append(digits, 0, 1);
    if (k > 1) out.append(1, '.').append(digits, 1);
    out.append(e < 0 ? "e-" : "e+").append(std::to_string(e < 0 ? -e : e));
  }
  return out;
}

std::string json_quote(std::string_view s, bool ensure_ascii) {
  std::string out = "\"";
  auto hex4 = [&](uint32_t unit) { out += fmt::format("\\u{:04x}", unit); };
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += n) {
    char32_t cp = decode(s, i, &n);
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (cp < 0x20) {
      hex4(cp);
    } else if (ensure_ascii && cp >= 0x7F) {
      if (cp <= 0xFFFF) {
        hex4(cp);
      } else {
        hex4(0xD800 + ((cp - 0x10000) >> 10));
        hex4(0xDC00 + ((cp - 0x10000) & 0x3FF));
      }
    } else {
      out.append(s.substr(i, n));
    }
  }
  out += '"';
  return out;
}

double parse_int(std::string_view s) {
  s = trim_start(s);
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  size_t start = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == start) return kNaN;
  double v = strtod_of(s.substr(start, i - start));
  return negative ? -v : v;
}

double parse_float(std::string_view s) {
  size_t len = 0;
  return signed_decimal_prefix(trim_start(s), &len);
}

double string_to_number(std::string_view s) {
  s = trim(s);
  if (s.empty()) return 0;
  if (s.size() > 2 && s[0] == '0') {
    int base = (s[1] == 'x' || s[1] == 'X') ? 16 : (s[1] == 'o' || s[1] == 'O') ? 8
               : (s[1] == 'b' || s[1] == 'B') ? 2 : 0;
    if (base != 0) {
      double v = 0;
      for (char c : s.substr(2)) {
        int d = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : 99;
        if (d >= base) return kNaN;
        v = v * base + d;
      }
      return v;
    }
  }
  size_t len = 0;
  double v = signed_decimal_prefix(s, &len);
  return len == s.size() ? v : kNaN;
}

Result<std::string> to_upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += n) {
    char32_t c = decode(s, i, &n);
    if (char32_t u = simple_upper(c)) {
      append_utf8(out, u);
    } else if (c == 0xDF) {
      out += "SS";
    } else if (c == 0x149) {
      out += "\u02BCN";
    } else if (c == 0x390) {
      out += "\u0399\u0308\u0301";
    } else if (c == 0x3B0) {
      out += "\u03A5\u0308\u0301";
    } else if (refused_cased_range(c)) {
      return refuse(c, "upper");
    } else {
      out.append(s.substr(i, n));
    }
  }
  return out;
}

Result<std::string> to_lower(std::string_view s) {
  std::vector<char32_t> cps = code_points(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    char32_t c = cps[i];
    if (c == 0x3A3) {
      // Final_Sigma: preceded by a cased letter and not followed by one (ignoring ' . etc.).
      bool before = false, after = false;
      for (size_t j = i; j-- > 0;) {
        if (is_case_ignorable(cps[j])) continue;
        before = is_cased(cps[j]);
        break;
      }
      for (size_t j = i + 1; j < cps.size(); ++j) {
        if (is_case_ignorable(cps[j])) continue;
        after = is_cased(cps[j]);
        break;
      }
      append_utf8(out, before && !after ? 0x3C2 : 0x3C3);
    } else if (char32_t l = simple_lower(c)) {
      append_utf8(out, l);
    } else if (c == 0x130) {
      out += "i\u0307";
    } else if (refused_cased_range(c)) {
      return refuse(c, "lower");
    } else {
      append_utf8(out, c);
    }
  }
  return out;
}

}  // namespace flint::jinja::text
