#include "model/cost.h"

#include <algorithm>

#include "backend/cpu/attention.h"

namespace flint::model {

bool is_routed_expert_tensor(const gguf::TensorInfo& tensor) {
  return tensor.name.find("_exps.") != std::string::npos;
}

ModelCost compute_cost(const gguf::GgufFile& file, const ModelSpec& spec) {
  ModelCost c;
  for (const gguf::TensorInfo& t : file.tensors()) {
    c.weight_bytes += t.n_bytes;
    c.n_params += t.n_elements;
    if (t.name == "token_embd.weight") {
      const uint64_t rows = std::max<uint64_t>(1, t.n_rows());
      c.weight_bytes_per_token += t.n_bytes / rows;
      c.n_active_params += t.n_elements / rows;
      if (spec.tied_embeddings) {
        c.weight_bytes_per_token += t.n_bytes;
        c.n_active_params += t.n_elements;
      }
    } else if (is_routed_expert_tensor(t) && spec.n_expert > 0) {
      c.expert_bytes += t.n_bytes;
      c.weight_bytes_per_token += t.n_bytes / spec.n_expert * spec.n_expert_used;
      c.n_active_params += t.n_elements / spec.n_expert * spec.n_expert_used;
    } else {
      c.weight_bytes_per_token += t.n_bytes;
      c.n_active_params += t.n_elements;
    }
  }
  return c;
}

Result<uint64_t> kv_bytes_per_token(const ModelSpec& spec, DType kv_type) {
  if (kv_type != DType::F32 && kv_type != DType::F16 && kv_type != DType::BF16 &&
      kv_type != DType::Q8_0) {
    return error("KV cache type {} is not supported (use f32, f16, bf16 or q8_0)",
                 dtype_name(kv_type));
  }
  const uint64_t k_row = uint64_t{spec.n_head_kv} * spec.head_dim_k;
  const uint64_t v_row = uint64_t{spec.n_head_kv} * spec.head_dim_v;
  const DTypeInfo info = dtype_info(kv_type);
  // Q8_0 rows must be whole blocks; head dims of real models are multiples of 32.
  const auto bytes = [&](uint64_t n) { return (n + info.block_elems - 1) / info.block_elems * info.block_bytes; };
  return uint64_t{spec.n_layer} * (bytes(k_row) + bytes(v_row));
}

uint64_t work_bytes(const ModelSpec& s, int32_t n_tokens, int32_t n_ctx) {
  const uint64_t ff = std::max(s.n_ff, s.n_ff_exp * std::max<uint32_t>(1, s.n_expert_used));
  // MoE: every routed copy of a token's input and output at once (layers.cpp, moe), and their
  // quantized forms (matmul_many; at most a float per value)
  const uint64_t routed = s.is_moe() ? (3ull * s.n_embd + s.n_ff_exp) * s.n_expert_used : 0;
  const uint64_t per_token = 6ull * s.n_embd + routed + 3ull * s.n_head * s.head_dim_k + 3ull * ff + s.n_vocab +
                             s.n_expert;
  const cpu::AttentionShape shape{.n_head = static_cast<int32_t>(s.n_head), .n_head_kv = static_cast<int32_t>(s.n_head_kv),
                                  .head_dim = static_cast<int32_t>(s.head_dim_k)};
  const cpu::AttentionScratch attention = cpu::attention_scratch_bytes(shape, kKvBlockSize, kMaxThreads);
  return 4ull * per_token * static_cast<uint64_t>(n_tokens) + attention.fixed +
         attention.per_position * static_cast<uint64_t>(n_ctx);
}

}  // namespace flint::model
