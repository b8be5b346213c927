// SentencePiece-style BPE (the `llama` tokenizer model: Llama 2, Mistral, Mixtral, Phi-3).
//
// As llama.cpp's llm_tokenizer_spm_session: the text (spaces already written as U+2581) starts
// as one symbol per UTF-8 character; the adjacent pair whose concatenation is a token with the
// highest score (leftmost among equals) is merged until no pair forms a token. A final symbol
// that is not a token falls back to its bytes, as <0xXX> byte tokens.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/vocab.h"

namespace flint::tokenizer::detail {

// Appends the tokens of `text` to `out`. Fails only when a byte has no token to fall back to
// and the vocabulary has no unknown token either.
Status spm_encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out);

}  // namespace flint::tokenizer::detail
