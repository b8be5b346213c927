#include "tokenizer/jinja/lexer.h"

#include <algorithm>
#include <array>
#include <utility>

#include "tokenizer/jinja/text.h"

namespace flint::jinja {

namespace {

// The preprocessed source: its bytes and, for each byte, its offset in the original source.
struct Source {
  std::string text;
  std::vector<uint32_t> origin;

  void append(const Source& from, size_t begin, size_t end) {
    text.append(from.text, begin, end - begin);
    origin.insert(origin.end(), from.origin.begin() + static_cast<ptrdiff_t>(begin),
                  from.origin.begin() + static_cast<ptrdiff_t>(end));
  }
};

bool line_terminator_before(std::string_view s, size_t i) {
  if (i == 0) return true;
  if (s[i - 1] == '\n' || s[i - 1] == '\r') return true;
  // U+2028 / U+2029 end lines for a JavaScript multiline regex too.
  return i >= 3 && s.substr(i - 3, 2) == "\xE2\x80" && (s[i - 1] == '\xA8' || s[i - 1] == '\xA9');
}

// lstrip_blocks: /^[ \t]*({[#%-])/gm -> "$1".
Source lstrip_blocks(const Source& in) {
  Source out;
  const std::string& s = in.text;
  size_t copied = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!line_terminator_before(s, i)) continue;
    size_t j = i;
    while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
    if (j > i && j + 1 < s.size() && s[j] == '{' &&
        (s[j + 1] == '#' || s[j + 1] == '%' || s[j + 1] == '-')) {
      out.append(in, copied, i);
      copied = j;
      i = j + 1;
    }
  }
  out.append(in, copied, s.size());
  return out;
}

// trim_blocks: /([#%-]})\n/g -> "$1".
Source trim_blocks(const Source& in) {
  Source out;
  const std::string& s = in.text;
  size_t copied = 0;
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    if ((s[i] == '#' || s[i] == '%' || s[i] == '-') && s[i + 1] == '}' && s[i + 2] == '\n') {
      out.append(in, copied, i + 2);
      copied = i + 3;
      i += 2;
    }
  }
  out.append(in, copied, s.size());
  return out;
}

size_t skip_spaces(std::string_view s, size_t i) {
  while (size_t n = text::space_at(s, i)) i += n;
  return i;
}

// /(\s*){%(-?)\s*(?:end)?generation\s*(-?)%}(\s*)/gs -> (lstrip ? "" : before) + (rstrip ? "" : after)
Source remove_generation_tags(const Source& in) {
  const std::string& s = in.text;
  if (s.find("generation") == std::string::npos) return in;
  Source out;
  size_t copied = 0, i = 0;
  while (i < s.size()) {
    size_t tag = skip_spaces(s, i);  // a match starting anywhere in this run of spaces ends here
    size_t j = tag;
    bool matched = false, lstrip = false, rstrip = false;
    if (s.compare(j, 2, "{%") == 0) {
      j += 2;
      if (j < s.size() && s[j] == '-') lstrip = true, ++j;
      j = skip_spaces(s, j);
      if (s.compare(j, 3, "end") == 0 && s.compare(j + 3, 10, "generation") == 0) j += 3;
      if (s.compare(j, 10, "generation") == 0) {
        j = skip_spaces(s, j + 10);
        if (j < s.size() && s[j] == '-') rstrip = true, ++j;
        matched = s.compare(j, 2, "%}") == 0;
        j += 2;
      }
    }
    if (!matched) {
      i = tag > i ? tag : i + 1;
      continue;
    }
    size_t after_end = skip_spaces(s, j);
    out.append(in, copied, lstrip ? i : tag);
    if (!rstrip) out.append(in, j, after_end);
    copied = i = after_end;
  }
  out.append(in, copied, s.size());
  return out;
}

Source preprocess(std::string_view source) {
  Source src;
  src.text.assign(source);
  src.origin.resize(source.size());
  for (size_t i = 0; i < source.size(); ++i) src.origin[i] = static_cast<uint32_t>(i);
  if (!src.text.empty() && src.text.back() == '\n') {
    src.text.pop_back();
    src.origin.pop_back();
  }
  return remove_generation_tags(trim_blocks(lstrip_blocks(src)));
}

struct Symbol {
  std::string_view text;
  TokenType type;
};

// Tried in this order, like the reference's ORDERED_MAPPING_TABLE.
constexpr std::array<Symbol, 29> kSymbols = {{
    {"{%", TokenType::kOpenStatement},
    {"%}", TokenType::kCloseStatement},
    {"{{", TokenType::kOpenExpression},
    {"}}", TokenType::kCloseExpression},
    {"(", TokenType::kOpenParen},
    {")", TokenType::kCloseParen},
    {"{", TokenType::kOpenCurlyBracket},
    {"}", TokenType::kCloseCurlyBracket},
    {"[", TokenType::kOpenSquareBracket},
    {"]", TokenType::kCloseSquareBracket},
    {",", TokenType::kComma},
    {".", TokenType::kDot},
    {":", TokenType::kColon},
    {"|", TokenType::kPipe},
    {"<=", TokenType::kComparisonBinaryOperator},
    {">=", TokenType::kComparisonBinaryOperator},
    {"==", TokenType::kComparisonBinaryOperator},
    {"!=", TokenType::kComparisonBinaryOperator},
    {"<", TokenType::kComparisonBinaryOperator},
    {">", TokenType::kComparisonBinaryOperator},
    {"+", TokenType::kAdditiveBinaryOperator},
    {"-", TokenType::kAdditiveBinaryOperator},
    {"~", TokenType::kAdditiveBinaryOperator},
    {"**", TokenType::kExponentiationBinaryOperator},
    {"*", TokenType::kMultiplicativeBinaryOperator},
    {"//", TokenType::kMultiplicativeBinaryOperator},
    {"/", TokenType::kMultiplicativeBinaryOperator},
    {"%", TokenType::kMultiplicativeBinaryOperator},
    {"=", TokenType::kEquals},
}};

class Lexer {
 public:
  Lexer(std::string_view original, Source src) : original_(original), src_(std::move(src)) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < original_.size(); ++i) {
      if (original_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  Result<std::vector<Token>> run();

 private:
  Pos pos_at(size_t i) const {
    size_t offset = i < src_.origin.size() ? src_.origin[i] : original_.size();
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line_start = *(it - 1);
    size_t column = 0;  // code points before the offset on its line
    for (size_t k = line_start; k < offset; ++k) {
      if ((static_cast<unsigned char>(original_[k]) & 0xC0) != 0x80) ++column;
    }
    return Pos{static_cast<uint32_t>(it - line_starts_.begin()), static_cast<uint32_t>(column + 1)};
  }
  bool at(std::string_view s) const { return std::string_view(src_.text).substr(i_).starts_with(s); }
  char peek(size_t ahead = 0) const {
    return i_ + ahead < src_.text.size() ? src_.text[i_ + ahead] : '\0';
  }
  TokenType last_type(bool* any) const {
    *any = !tokens_.empty();
    return *any ? tokens_.back().type : TokenType::kText;
  }
  void push(TokenType type, std::string value, size_t start) {
    tokens_.push_back(Token{type, std::move(value), pos_at(start)});
  }
  void strip_trailing_whitespace() {
    if (!tokens_.empty() && tokens_.back().type == TokenType::kText) {
      std::string& value = tokens_.back().value;
      value.resize(text::trim_end(value).size());
      if (value.empty()) tokens_.pop_back();
    }
  }
  void skip_leading_whitespace() { i_ = skip_spaces(src_.text, i_); }
  Status consume_string(char quote, std::string* out);
  std::string consume_digits() {
    size_t start = i_;
    while (text::is_digit(peek())) ++i_;
    return src_.text.substr(start, i_ - start);
  }
  Status end_of_input() const { return syntax_error(pos_at(i_), "unexpected end of template"); }

  std::string_view original_;
  Source src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  size_t i_ = 0;
};

Status Lexer::consume_string(char quote, std::string* out) {
  const std::string& s = src_.text;
  char32_t pending_high = 0;  // a \uD800-\uDBFF escape waiting for its low half
  while (i_ < s.size() && s[i_] != quote) {
    if (s[i_] != '\\') {
      if (pending_high) return syntax_error(pos_at(i_), "unpaired surrogate escape in a string");
      out->push_back(s[i_++]);
      continue;
    }
    size_t escape_start = i_++;
    if (i_ >= s.size()) return end_of_input();
    char e = s[i_++];
    if (e == 'x' || e == 'u') {
      size_t len = e == 'x' ? 2 : 4;
      std::string hex = s.substr(i_, len);
      if (hex.size() != len || !std::all_of(hex.begin(), hex.end(), [](char c) {
            return std::isxdigit(static_cast<unsigned char>(c)) != 0;
          })) {
        return syntax_error(pos_at(escape_start), "invalid hexadecimal escape sequence: \\{}{}", e,
                            hex);
      }
      i_ += len;
      auto unit = static_cast<char32_t>(std::stoul(hex, nullptr, 16));
      if (pending_high) {
        if (unit < 0xDC00 || unit > 0xDFFF) {
          return syntax_error(pos_at(escape_start), "unpaired surrogate escape in a string");
        }
        text::append_utf8(*out, 0x10000 + ((pending_high - 0xD800) << 10) + (unit - 0xDC00));
        pending_high = 0;
      } else if (unit >= 0xD800 && unit <= 0xDBFF) {
        pending_high = unit;
      } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
        return syntax_error(pos_at(escape_start), "unpaired surrogate escape in a string");
      } else {
        text::append_utf8(*out, unit);
      }
      continue;
    }
    if (pending_high) return syntax_error(pos_at(escape_start), "unpaired surrogate escape in a string");
    switch (e) {
      case 'n': out->push_back('\n'); break;
      case 't': out->push_back('\t'); break;
      case 'r': out->push_back('\r'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'v': out->push_back('\v'); break;
      case '\'': case '"': case '\\': out->push_back(e); break;
      default:
        return syntax_error(pos_at(escape_start), "unexpected escaped character: {}", e);
    }
  }
  if (pending_high) return syntax_error(pos_at(i_), "unpaired surrogate escape in a string");
  if (i_ >= s.size()) return end_of_input();
  ++i_;  // the closing quote
  return Status::ok();
}

Result<std::vector<Token>> Lexer::run() {
  const std::string& s = src_.text;
  int curly_depth = 0;
  while (i_ < s.size()) {
    bool any = false;
    TokenType last = last_type(&any);
    if (!any || last == TokenType::kCloseStatement || last == TokenType::kCloseExpression ||
        last == TokenType::kComment) {
      size_t start = i_;
      while (i_ < s.size() && !(s[i_] == '{' && (peek(1) == '%' || peek(1) == '{' || peek(1) == '#'))) {
        ++i_;
      }
      if (i_ > start) {
        push(TokenType::kText, s.substr(start, i_ - start), start);
        continue;
      }
    }

    if (at("{#")) {
      size_t start = i_;
      i_ += 2;
      bool strip_before = peek() == '-';
      if (strip_before) ++i_;
      size_t end = s.find("#}", i_);
      if (end == std::string::npos) {
        return syntax_error(pos_at(start), "unclosed comment: missing '#}}'");
      }
      std::string comment = s.substr(i_, end - i_);
      bool strip_after = !comment.empty() && comment.back() == '-';
      if (strip_after) comment.pop_back();
      if (strip_before) strip_trailing_whitespace();
      push(TokenType::kComment, std::move(comment), start);
      i_ = end + 2;
      if (strip_after) skip_leading_whitespace();
      continue;
    }
    if (at("{%-") || at("{{-")) {
      strip_trailing_whitespace();
      bool statement = at("{%-");
      push(statement ? TokenType::kOpenStatement : TokenType::kOpenExpression,
           statement ? "{%" : "{{", i_);
      if (!statement) curly_depth = 0;
      i_ += 3;
      continue;
    }

    skip_leading_whitespace();
    if (i_ >= s.size()) return end_of_input();
    if (at("-%}") || at("-}}")) {
      bool statement = at("-%}");
      push(statement ? TokenType::kCloseStatement : TokenType::kCloseExpression,
           statement ? "%}" : "}}", i_);
      i_ += 3;
      skip_leading_whitespace();
      continue;
    }

    char c = s[i_];
    if (c == '-' || c == '+') {
      last = last_type(&any);
      if (!any || last == TokenType::kText) {
        return syntax_error(pos_at(i_), "unexpected character: {}", c);
      }
      bool binary = last == TokenType::kIdentifier || last == TokenType::kNumericLiteral ||
                    last == TokenType::kStringLiteral || last == TokenType::kCloseParen ||
                    last == TokenType::kCloseSquareBracket;
      if (!binary) {
        size_t start = i_++;
        std::string num = consume_digits();
        if (!num.empty() && peek() == '.' && text::is_digit(peek(1))) {
          ++i_;
          num += "." + consume_digits();
        }
        if (i_ >= s.size() && !num.empty()) return end_of_input();
        if (num.empty()) {
          push(TokenType::kUnaryOperator, std::string(1, c), start);
        } else {
          push(TokenType::kNumericLiteral, c + num, start);
        }
        continue;
      }
    }

    bool matched = false;
    for (const Symbol& symbol : kSymbols) {
      if (symbol.text == "}}" && curly_depth > 0) continue;
      if (!at(symbol.text)) continue;
      push(symbol.type, std::string(symbol.text), i_);
      if (symbol.type == TokenType::kOpenExpression) curly_depth = 0;
      if (symbol.type == TokenType::kOpenCurlyBracket) ++curly_depth;
      if (symbol.type == TokenType::kCloseCurlyBracket) --curly_depth;
      i_ += symbol.text.size();
      matched = true;
      break;
    }
    if (matched) continue;

    if (c == '\'' || c == '"') {
      size_t start = i_++;
      std::string value;
      FLINT_RETURN_IF_ERROR(consume_string(c, &value));
      push(TokenType::kStringLiteral, std::move(value), start);
      continue;
    }
    if (text::is_digit(c)) {
      size_t start = i_;
      std::string num = consume_digits();
      if (tokens_.empty() || tokens_.back().type != TokenType::kDot) {
        if (peek() == '.' && text::is_digit(peek(1))) {
          ++i_;
          num += "." + consume_digits();
        }
      }
      if (i_ >= s.size()) return end_of_input();
      push(TokenType::kNumericLiteral, std::move(num), start);
      continue;
    }
    if (text::is_word(c)) {
      size_t start = i_;
      while (i_ < s.size() && text::is_word(s[i_])) ++i_;
      if (i_ >= s.size()) return end_of_input();
      push(TokenType::kIdentifier, s.substr(start, i_ - start), start);
      continue;
    }
    size_t len = 0;
    text::decode(s, i_, &len);
    return syntax_error(pos_at(i_), "unexpected character '{}'", s.substr(i_, len));
  }
  return std::move(tokens_);
}

}  // namespace

std::string describe(const Token& token) {
  switch (token.type) {
    case TokenType::kText: return "text";
    case TokenType::kComment: return "a comment";
    case TokenType::kNumericLiteral: return fmt::format("number {}", token.value);
    case TokenType::kStringLiteral: return fmt::format("string {}", text::json_quote(token.value));
    case TokenType::kIdentifier: return fmt::format("'{}'", token.value);
    default: return fmt::format("'{}'", token.value);
  }
}

Result<std::vector<Token>> tokenize(std::string_view source) {
  Lexer lexer(source, preprocess(source));
  return lexer.run();
}

}  // namespace flint::jinja
