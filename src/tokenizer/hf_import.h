// Hugging Face tokenizer.json (+ tokenizer_config.json) -> GGUF tokenizer metadata, the way
// llama.cpp's convert_hf_to_gguf.py writes it, so flint can tokenize models that come as
// Hugging Face folders and the offline references can be checked against GGUF vocabularies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/gguf_file.h"

namespace flint::tokenizer {

struct HfImportOptions {
  std::string tokenizer_json = {};         // path to tokenizer.json
  std::string tokenizer_config_json = {};  // path to tokenizer_config.json, or "" (no chat template)
  uint32_t vocab_size = 0;   // pad the vocabulary to this size with [PADn] tokens (0: as is)
  std::string pre = {};      // pre-tokenizer name; "" detects it from the regex
  // The model's config.json, or "": bos_token_id / eos_token_id come from there when
  // tokenizer_config.json names no such token (Qwen's names no BOS), as convert_hf_to_gguf does.
  std::string config_json = {};
};

// The tokenizer.* metadata, in convert_hf_to_gguf's order. Byte-level BPE (the gpt2 model:
// Llama 3, Qwen, GPT-2 style) is supported; a tokenizer.json of another kind is a clear error.
Result<std::vector<gguf::KeyValue>> import_hf_tokenizer(const HfImportOptions& options);

// Writes a vocab-only GGUF: general.architecture, general.name, then `tokenizer`.
Status write_vocab_gguf(const std::string& path, const std::string& architecture,
                        const std::string& name, std::vector<gguf::KeyValue> tokenizer);

}  // namespace flint::tokenizer
