// UTF-8 helpers for the tokenizer, and the GPT-2 byte-level alphabet.
//
// The tokenizer reproduces llama.cpp, so two of these helpers deliberately follow llama.cpp's
// (lenient) reading of UTF-8 rather than the strict standard:
//  * utf8_sequence_length() looks only at the first byte, as SentencePiece-style symbol splitting
//    does in llama.cpp (a stray continuation byte is a one-byte "character").
//  * sanitize_utf8() is what llama.cpp's regex pre-tokenization does to invalid input: every byte
//    that does not start a well-formed sequence becomes U+FFFD.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace flint::tokenizer::detail {

// Length of the UTF-8 sequence announced by `lead` (1 for ASCII, continuation and invalid bytes).
inline size_t utf8_sequence_length(uint8_t lead) {
  static constexpr uint8_t kLength[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLength[lead >> 4];
}

void append_utf8(std::string& out, uint32_t codepoint);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or values > U+10FFFF).
bool is_valid_utf8(std::string_view text);

// `text` as llama.cpp's pre-tokenizer reads it: decoded leniently (decode_utf8_lenient) and
// re-encoded, so a malformed byte becomes U+FFFD and an overlong form its short form. A
// surrogate code point (ED A0..BF xx) is kept, as llama.cpp keeps it; a value above U+10FFFF,
// which makes llama.cpp throw, becomes U+FFFD.
// PCRE2 cannot match surrogates, so when there are some, `regex_view` receives the same text with
// each surrogate replaced by U+E000: a private-use character of the same length and the same
// class for the regexes (llama.cpp files both under \p{C}). Otherwise `regex_view` is cleared.
std::string sanitize_utf8(std::string_view text, std::string& regex_view);

// Number of bytes at the end of `text` that start a UTF-8 sequence but do not finish it (0..3):
// the part a streaming decoder must hold back until the next bytes arrive.
size_t incomplete_utf8_tail(std::string_view text);

// GPT-2's byte-level alphabet: every byte is represented by one printable Unicode character
// (bytes 0x21..0x7E, 0xA1..0xAC and 0xAE..0xFF by themselves, the other 68 bytes by U+0100...
// U+0143 in increasing byte order), so that BPE vocabularies consist of printable strings.
// The UTF-8 encoding of the character standing for each byte:
const std::array<std::string, 256>& byte_level_alphabet();

// The byte a byte-level character stands for, or -1 when `codepoint` is not in the alphabet.
int byte_level_byte(uint32_t codepoint);

// Decodes one code point at `pos` with llama.cpp's lenient rules (lead byte + continuation bytes,
// overlong forms accepted) and advances `pos`; a malformed sequence gives U+FFFD and advances by
// one byte.
uint32_t decode_utf8_lenient(std::string_view text, size_t& pos);

}  // namespace flint::tokenizer::detail
