#include "model/bind.h"

#include <cmath>

namespace flint::model {

Result<EmbeddingWeights> bind_embeddings(const Binder& b, const ModelSpec& s) {
  EmbeddingWeights w;
  // Tied, the table is also the output matrix (which may be repacked: rows are still looked up
  // from it, read back one at a time); otherwise it is only looked up and stays mapped.
  if (s.tied_embeddings) {
    FLINT_ASSIGN_OR_RETURN(w.token_embd, b.matrix("token_embd.weight", {s.n_embd, s.n_vocab}));
  } else {
    FLINT_ASSIGN_OR_RETURN(w.token_embd, b.table("token_embd.weight", {s.n_embd, s.n_vocab}));
  }
  FLINT_ASSIGN_OR_RETURN(w.output_norm, b.vector("output_norm.weight", s.n_embd));
  if (s.tied_embeddings) {
    w.output = w.token_embd;
  } else {
    FLINT_ASSIGN_OR_RETURN(w.output, b.matrix("output.weight", {s.n_embd, s.n_vocab}));
  }
  return w;
}

Result<AttentionWeights> bind_attention(const Binder& b, const ModelSpec& s, int il, bool qk_norm) {
  const uint64_t q_dim = uint64_t{s.n_head} * s.head_dim_k, kv_dim = uint64_t{s.n_head_kv} * s.head_dim_k;
  AttentionWeights w;
  FLINT_ASSIGN_OR_RETURN(w.wq, b.matrix(Binder::layer(il, "attn_q"), {s.n_embd, q_dim}));
  FLINT_ASSIGN_OR_RETURN(w.wk, b.matrix(Binder::layer(il, "attn_k"), {s.n_embd, kv_dim}));
  FLINT_ASSIGN_OR_RETURN(w.wv, b.matrix(Binder::layer(il, "attn_v"), {s.n_embd, kv_dim}));
  FLINT_ASSIGN_OR_RETURN(w.wo, b.matrix(Binder::layer(il, "attn_output"), {q_dim, s.n_embd}));
  if (qk_norm) {
    FLINT_ASSIGN_OR_RETURN(w.q_norm, b.vector(Binder::layer(il, "attn_q_norm"), s.head_dim_k));
    FLINT_ASSIGN_OR_RETURN(w.k_norm, b.vector(Binder::layer(il, "attn_k_norm"), s.head_dim_k));
  }
  return w;
}

Result<FfnWeights> bind_swiglu(const Binder& b, const ModelSpec& s, int il) {
  FfnWeights w;
  FLINT_ASSIGN_OR_RETURN(w.gate, b.matrix(Binder::layer(il, "ffn_gate"), {s.n_embd, s.n_ff}));
  FLINT_ASSIGN_OR_RETURN(w.up, b.matrix(Binder::layer(il, "ffn_up"), {s.n_embd, s.n_ff}));
  FLINT_ASSIGN_OR_RETURN(w.down, b.matrix(Binder::layer(il, "ffn_down"), {s.n_ff, s.n_embd}));
  return w;
}

Result<MoeWeights> bind_moe(const Binder& b, const ModelSpec& s, int il, bool renormalize) {
  const uint64_t ff = s.n_ff_exp, e = s.n_expert;
  MoeWeights w;
  FLINT_ASSIGN_OR_RETURN(w.router, b.matrix(Binder::layer(il, "ffn_gate_inp"), {s.n_embd, e}));
  FLINT_ASSIGN_OR_RETURN(w.gate_exps, b.matrix(Binder::layer(il, "ffn_gate_exps"), {s.n_embd, ff, e}));
  FLINT_ASSIGN_OR_RETURN(w.up_exps, b.matrix(Binder::layer(il, "ffn_up_exps"), {s.n_embd, ff, e}));
  FLINT_ASSIGN_OR_RETURN(w.down_exps, b.matrix(Binder::layer(il, "ffn_down_exps"), {ff, s.n_embd, e}));
  w.n_expert = static_cast<int32_t>(s.n_expert);
  w.n_used = static_cast<int32_t>(s.n_expert_used);
  w.n_ff_exp = static_cast<int32_t>(s.n_ff_exp);
  w.renormalize = renormalize;
  return w;
}

AttentionParams attention_params(const ModelSpec& s, const cpu::RopeParams& rope) {
  AttentionParams p;
  p.shape = {.n_head = static_cast<int32_t>(s.n_head), .n_head_kv = static_cast<int32_t>(s.n_head_kv),
             .head_dim = static_cast<int32_t>(s.head_dim_k),
             .scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim_k))};
  p.rope = rope;
  p.rms_eps = s.rms_eps;
  return p;
}

}  // namespace flint::model
