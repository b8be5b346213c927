// What a model costs in memory and in bytes read per generated token: the one place the
// inspector, the planner and the benchmark roofline take these numbers from.
//
// Decode reads every weight it touches once per token:
//   - token_embd: one row (the lookup), plus the whole matrix when it is also the lm_head (tied);
//   - routed expert tensors (*_exps): n_expert_used / n_expert of their bytes;
//   - every other tensor: all of its bytes.
// The KV cache adds, per token of context already in the cache, K and V of every layer.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/status.h"
#include "gguf/gguf_file.h"
#include "model/model_spec.h"

namespace flint::model {

struct ModelCost {
  uint64_t weight_bytes = 0;            // all tensor data in the file
  uint64_t weight_bytes_per_token = 0;  // read by one decode step (batch 1)
  uint64_t expert_bytes = 0;            // of weight_bytes, in routed experts
  uint64_t n_params = 0;                // all weights
  uint64_t n_active_params = 0;         // weights one token uses (same rules as the bytes)
};

ModelCost compute_cost(const gguf::GgufFile& file, const ModelSpec& spec);

// True for a tensor that holds one slice per routed expert ("blk.N.ffn_up_exps.weight").
bool is_routed_expert_tensor(const gguf::TensorInfo& tensor);

// Bytes of KV cache per token of context, K and V of every layer, at `kv_type` (F32, F16, BF16
// or Q8_0). Errors for a type the KV cache cannot use.
Result<uint64_t> kv_bytes_per_token(const ModelSpec& spec, DType kv_type);

// Float32 activations of one forward pass of n_tokens tokens at a context of n_ctx: residual,
// norm, attention in/out, q/k/v, the FFN's hidden rows, the logits, and attention's scratch
// (cpu::attention_scratch_bytes, for kKvBlockSize and up to kMaxThreads threads). A generous
// upper bound; the engine allocates within it and the planner counts it.
uint64_t work_bytes(const ModelSpec& spec, int32_t n_tokens, int32_t n_ctx);

// The engine's KV cache block (positions per block) and its most threads.
inline constexpr int32_t kKvBlockSize = 16;
inline constexpr int kMaxThreads = 1024;

}  // namespace flint::model
