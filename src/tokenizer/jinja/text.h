// Text and number helpers with JavaScript semantics.
//
// flint's chat templates must render byte-identically to @huggingface/jinja, which runs on
// JavaScript strings (UTF-16) and numbers (doubles). These helpers reproduce the JavaScript
// behaviour that leaks into rendered prompts, on UTF-8 std::strings: what \s and trim() treat as
// whitespace, String(number), JSON.stringify of a string, parseInt/parseFloat, UTF-16 lengths and
// toUpperCase/toLowerCase (for the scripts listed in text.cpp; others are refused, not guessed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace flint::jinja::text {

// Byte length of the JavaScript whitespace character (regex \s, String.prototype.trim) starting
// at s[i], or 0 when s[i] does not start one.
size_t space_at(std::string_view s, size_t i);
// Byte length of the whitespace character ending just before s[end], or 0.
size_t space_before(std::string_view s, size_t end);

std::string_view trim_start(std::string_view s);  // String.prototype.trimStart
std::string_view trim_end(std::string_view s);    // String.prototype.trimEnd
std::string_view trim(std::string_view s);        // String.prototype.trim

// ASCII \w: [A-Za-z0-9_].
inline bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// UTF-8 decoding of valid input (chat templates and JSON contexts are valid UTF-8).
// Returns the code point at s[i] and sets len to its byte length (1 for an invalid byte).
char32_t decode(std::string_view s, size_t i, size_t* len);
void append_utf8(std::string& out, char32_t cp);
std::vector<char32_t> code_points(std::string_view s);
// Byte offsets of the start of every code point, plus s.size() at the end.
std::vector<size_t> code_point_offsets(std::string_view s);
// Length in UTF-16 code units (JavaScript's String.prototype.length).
size_t utf16_length(std::string_view s);

// String(number) for a JavaScript number (Number.prototype.toString()).
std::string js_number(double v);
// JSON.stringify(string); ensure_ascii escapes every UTF-16 unit >= 0x7f as \uXXXX.
std::string json_quote(std::string_view s, bool ensure_ascii = false);

// parseInt(s, 10) and parseFloat(s): NaN when no number starts the (left-trimmed) string.
double parse_int(std::string_view s);
double parse_float(std::string_view s);
// Number(s), the conversion loose equality uses: NaN when s is not a numeric literal.
double string_to_number(std::string_view s);

// String.prototype.toUpperCase / toLowerCase. Errors for a cased script these tables do not
// cover (rather than render a silently different prompt).
Result<std::string> to_upper(std::string_view s);
Result<std::string> to_lower(std::string_view s);

}  // namespace flint::jinja::text
