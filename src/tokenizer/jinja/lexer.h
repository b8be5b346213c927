// Template source -> tokens, exactly as @huggingface/jinja 0.5.11 tokenizes a chat template.
//
// Before tokenizing, the source goes through the same rewrites as the reference (Template's
// constructor always passes lstrip_blocks and trim_blocks, like transformers' apply_chat_template):
//   1. one trailing "\n" of the template is dropped;
//   2. lstrip_blocks: spaces and tabs from a line start to a "{%", "{#" (or "{-") are dropped;
//   3. trim_blocks: the "\n" right after "%}", "#}" (or "-}") is dropped;
//   4. transformers' {% generation %} / {% endgeneration %} tags are removed (honouring "-").
// These are plain text rewrites (they also apply inside string literals, as in the reference).
// Every token keeps the line and column of its first character in the ORIGINAL source.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace flint::jinja {

struct Pos {
  uint32_t line = 0;    // 1-based
  uint32_t column = 0;  // 1-based, in code points
};

enum class TokenType : uint8_t {
  kText,
  kNumericLiteral,
  kStringLiteral,
  kIdentifier,
  kEquals,
  kOpenParen,
  kCloseParen,
  kOpenStatement,
  kCloseStatement,
  kOpenExpression,
  kCloseExpression,
  kOpenSquareBracket,
  kCloseSquareBracket,
  kOpenCurlyBracket,
  kCloseCurlyBracket,
  kComma,
  kDot,
  kColon,
  kPipe,
  kAdditiveBinaryOperator,        // + - ~
  kMultiplicativeBinaryOperator,  // * / // %
  kExponentiationBinaryOperator,  // **
  kComparisonBinaryOperator,      // < > <= >= == !=
  kUnaryOperator,                 // - + (in a unary position, not followed by a digit)
  kComment,
};

struct Token {
  TokenType type;
  std::string value;
  Pos pos;
};

// A short description of a token for error messages: "'%}'", "identifier 'foo'", "text".
std::string describe(const Token& token);

// "chat template syntax error at line L, column C: <message>".
template <typename... Args>
Status syntax_error(Pos pos, fmt::format_string<Args...> format, Args&&... args) {
  return Status::error(fmt::format("chat template syntax error at line {}, column {}: {}", pos.line,
                                   pos.column, fmt::format(format, std::forward<Args>(args)...)));
}

// Errors carry "line L, column C: ..." of the original source.
Result<std::vector<Token>> tokenize(std::string_view source);

}  // namespace flint::jinja
