#include "model/presets.h"

namespace flint::model {
namespace {

ModelShape llama3(uint32_t layers, uint32_t embd, uint32_t heads, uint32_t ff, bool tied, float factor) {
  return {.arch = "llama", .n_layer = layers, .n_embd = embd, .n_head = heads, .n_head_kv = 8,
          .head_dim = embd / heads, .n_ff = ff, .n_vocab = 128256, .n_ctx = 131072,
          .rope_freq_base = 500000.0f, .rms_eps = 1e-5f, .tied_embeddings = tied,
          .llama3_rope_factor = factor};
}

ModelShape qwen3moe(uint32_t layers, uint32_t embd, uint32_t heads, uint32_t kv, uint32_t experts,
                    uint32_t ff_exp) {
  return {.arch = "qwen3moe", .n_layer = layers, .n_embd = embd, .n_head = heads, .n_head_kv = kv,
          .head_dim = 128, .n_ff = 6144, .n_vocab = 151936, .n_ctx = 40960, .n_expert = experts,
          .n_expert_used = 8, .n_ff_exp = ff_exp, .rope_freq_base = 1000000.0f, .rms_eps = 1e-6f};
}

}  // namespace

const std::vector<Preset>& presets() {
  static const std::vector<Preset> kPresets = {
      {"llama3-1b", "Llama 3.2 1B shape: 16 layers, 2048, 32/8 heads, ffn 8192, tied",
       llama3(16, 2048, 32, 8192, true, 32.0f)},
      {"llama3-8b", "Llama 3.1 8B shape: 32 layers, 4096, 32/8 heads, ffn 14336",
       llama3(32, 4096, 32, 14336, false, 8.0f)},
      {"llama3-70b", "Llama 3.x 70B shape: 80 layers, 8192, 64/8 heads, ffn 28672",
       llama3(80, 8192, 64, 28672, false, 8.0f)},
      {"qwen3-moe-mini", "CPU-sized Qwen3 MoE: 12 layers, 1024, 16/4 heads of 128, 64 experts (8 used) of 512",
       qwen3moe(12, 1024, 16, 4, 64, 512)},
      {"qwen3-30b-a3b", "Qwen3-30B-A3B shape: 48 layers, 2048, 32/4 heads of 128, 128 experts (8 used) of 768",
       qwen3moe(48, 2048, 32, 4, 128, 768)},
      {"qwen3-32b", "Qwen3 32B shape: 64 layers, 5120, 64/8 heads of 128, ffn 25600",
       {.arch = "qwen3", .n_layer = 64, .n_embd = 5120, .n_head = 64, .n_head_kv = 8,
        .head_dim = 128, .n_ff = 25600, .n_vocab = 151936, .n_ctx = 40960,
        .rope_freq_base = 1000000.0f, .rms_eps = 1e-6f}},
      // Tiny shapes (the fixtures' structure) for tests and quick checks.
      {"llama-tiny", "2 layers, 256, 4/2 heads of 64, ffn 512", {}},
      {"llama-moe-tiny", "2 layers, 256, 4/2 heads, 4 experts (2 used) of 256",
       {.n_ff = 0, .n_expert = 4, .n_expert_used = 2, .n_ff_exp = 256}},
      {"qwen3-tiny", "2 layers, 256, 8/2 heads of 64, ffn 768, tied",
       {.arch = "qwen3", .n_head = 8, .n_ff = 768, .rope_freq_base = 1000000.0f, .rms_eps = 1e-6f,
        .tied_embeddings = true}},
      {"qwen3moe-tiny", "2 layers, 256, 8/2 heads of 64, 8 experts (2 used) of 128",
       {.arch = "qwen3moe", .n_head = 8, .n_ff = 768, .n_expert = 8, .n_expert_used = 2,
        .n_ff_exp = 128, .rope_freq_base = 1000000.0f, .rms_eps = 1e-6f}},
  };
  return kPresets;
}

std::optional<ModelShape> find_preset(std::string_view name) {
  for (const Preset& p : presets()) {
    if (p.name == name) return p.shape;
  }
  return std::nullopt;
}

}  // namespace flint::model
