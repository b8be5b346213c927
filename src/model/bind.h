// Binding the tensors that every decoder block of these architectures shares, by llama.cpp's
// names, with shapes from the hyperparameters. Architecture files compose these.
#pragma once

#include "core/status.h"
#include "model/binder.h"
#include "model/layers.h"
#include "model/model_spec.h"

namespace flint::model {

struct EmbeddingWeights {
  cpu::WeightMatrix token_embd;      // [n_vocab rows of n_embd]
  cpu::WeightMatrix output;          // [n_vocab rows of n_embd]; token_embd when tied
  const float* output_norm = nullptr;  // [n_embd]
};

Result<EmbeddingWeights> bind_embeddings(const Binder& b, const ModelSpec& s);
// blk.N.attn_{q,k,v,output}, and attn_{q,k}_norm when `qk_norm`.
Result<AttentionWeights> bind_attention(const Binder& b, const ModelSpec& s, int il, bool qk_norm);
// blk.N.ffn_{gate,up,down}.
Result<FfnWeights> bind_swiglu(const Binder& b, const ModelSpec& s, int il);
// blk.N.ffn_gate_inp and ffn_{gate,up,down}_exps.
Result<MoeWeights> bind_moe(const Binder& b, const ModelSpec& s, int il, bool renormalize);
// Heads, scale 1/sqrt(head_dim), rms eps; the rope settings come from the architecture.
AttentionParams attention_params(const ModelSpec& s, const cpu::RopeParams& rope);

}  // namespace flint::model
