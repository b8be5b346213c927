// Layers shared by the architecture files. Activations are float32, one row per token of the
// batch (sequences concatenated in batch order).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/cpu/attention.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/weights.h"
#include "model/transformer.h"

namespace flint::model {

struct AttentionWeights {
  cpu::WeightMatrix wq;  // [n_embd] -> [n_head * head_dim]
  cpu::WeightMatrix wk;  // [n_embd] -> [n_head_kv * head_dim]
  cpu::WeightMatrix wv;  // [n_embd] -> [n_head_kv * head_dim]
  cpu::WeightMatrix wo;  // [n_head * head_dim] -> [n_embd]
  const float* q_norm = nullptr;  // [head_dim], qwen3: RMS-norm each head of q before rope
  const float* k_norm = nullptr;  // [head_dim]
};

struct AttentionParams {
  cpu::AttentionShape shape;
  cpu::RopeParams rope;
  float rms_eps = 1e-5f;  // for the q/k norms
};

// out: [n_tokens, n_embd] = wo(attention(rope(q), rope(k), v)) for input x: [n_tokens, n_embd];
// stores this layer's k and v in the cache first.
void self_attention(const ForwardContext& ctx, std::span<const SequenceInput> batch, int il,
                    const AttentionWeights& w, const AttentionParams& p, const float* x, float* out);

struct FfnWeights {
  cpu::WeightMatrix gate;  // [n_embd] -> [n_ff]
  cpu::WeightMatrix up;    // [n_embd] -> [n_ff]
  cpu::WeightMatrix down;  // [n_ff] -> [n_embd]
};

// out = down(silu(gate(x)) * up(x)); x, out: [n_tokens, n_embd].
void swiglu(const ForwardContext& ctx, const FfnWeights& w, const float* x, float* out, int64_t n_tokens);

struct MoeWeights {
  cpu::WeightMatrix router;     // [n_embd] -> [n_expert], f32
  cpu::WeightMatrix gate_exps;  // n_expert stacked [n_embd] -> [n_ff_exp]
  cpu::WeightMatrix up_exps;    // n_expert stacked [n_embd] -> [n_ff_exp]
  cpu::WeightMatrix down_exps;  // n_expert stacked [n_ff_exp] -> [n_embd]
  int32_t n_expert = 0;
  int32_t n_used = 0;
  int32_t n_ff_exp = 0;
  bool renormalize = true;  // top-k weights rescaled to sum to 1
};

// Mixture of experts: p = softmax(router(x)); the top n_used experts by p (ties: lower index),
// weights renormalized when asked; out = sum_e w_e * swiglu_e(x). Tokens are grouped by expert so
// each expert's weights are read once per call, and only routed experts are computed.
void moe(const ForwardContext& ctx, const MoeWeights& w, const float* x, float* out, int64_t n_tokens, int il);

// x: [n_tokens, n_embd] = the embedding rows of the batch's tokens (sequences in order).
Status embed(std::span<const SequenceInput> batch, const cpu::WeightMatrix& token_embd, float* x);

// The rows of the batch whose logits are wanted, in order.
std::vector<int64_t> logit_rows(std::span<const SequenceInput> batch);

// x: [n_tokens, n_embd] -> logits [rows, n_vocab] for the wanted rows, after the final norm.
void output_logits(ThreadPool& pool, std::span<const SequenceInput> batch, const float* norm_w,
                   float eps, const cpu::WeightMatrix& output, const float* x, int64_t n_embd,
                   float* logits);

// x += y, both [n].
void add_in_place(float* x, const float* y, int64_t n);

}  // namespace flint::model
