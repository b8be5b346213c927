// ModelSpec: an architecture's hyperparameters, read from GGUF metadata.
//
// Keys are "<arch>.<name>" (e.g. "llama.block_count"). A missing or inconsistent value is an
// error naming the key, so a user sees which part of the file is wrong.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "gguf/gguf_file.h"

namespace flint::model {

struct ModelSpec {
  std::string arch;  // general.architecture: "llama", "qwen3", "qwen3moe", ...
  std::string name;  // general.name, or "" when absent
  uint32_t n_layer = 0;
  uint32_t n_embd = 0;
  uint32_t n_head = 0;
  uint32_t n_head_kv = 0;
  uint32_t head_dim_k = 0;  // attention.key_length (n_embd / n_head when absent)
  uint32_t head_dim_v = 0;  // attention.value_length
  uint32_t n_ff = 0;        // feed_forward_length: dense FFN width (unused by qwen3moe; 0 for Mixtral-style llama)
  uint32_t n_vocab = 0;
  uint32_t n_ctx_train = 0;
  // Mixture of experts: 0 experts means dense.
  uint32_t n_expert = 0;
  uint32_t n_expert_used = 0;
  uint32_t n_ff_exp = 0;  // width of one expert's FFN
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_embeddings = false;  // no output.weight: the lm_head is token_embd

  bool is_moe() const { return n_expert > 0; }
  uint32_t n_gqa() const { return n_head_kv == 0 ? 0 : n_head / n_head_kv; }

  static Result<ModelSpec> from_gguf(const gguf::GgufFile& file);
};

}  // namespace flint::model
