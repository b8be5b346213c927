// Model shapes for `flint gen`: the benchmark presets of docs/benchmarks.md (real
// architectures at real sizes) and tiny shapes for tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flint::model {

struct ModelShape {
  std::string arch = "llama";  // llama (Mixtral-style experts when n_expert > 0), qwen3, qwen3moe
  uint32_t n_layer = 2;
  uint32_t n_embd = 256;
  uint32_t n_head = 4;
  uint32_t n_head_kv = 2;
  uint32_t head_dim = 64;
  uint32_t n_ff = 512;        // dense FFN width
  uint32_t n_vocab = 512;
  uint32_t n_ctx = 2048;      // context_length
  uint32_t n_expert = 0;
  uint32_t n_expert_used = 0;
  uint32_t n_ff_exp = 0;      // expert FFN width
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_embeddings = false;
  // Llama 3.x long-context rope: writes a rope_freqs tensor with this factor (0: none).
  float llama3_rope_factor = 0.0f;
  uint32_t llama3_rope_original_ctx = 8192;
};

struct Preset {
  std::string_view name;
  std::string_view description;
  ModelShape shape;
};

const std::vector<Preset>& presets();
std::optional<ModelShape> find_preset(std::string_view name);

}  // namespace flint::model
