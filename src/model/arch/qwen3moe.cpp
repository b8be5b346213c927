// Qwen3 MoE: Qwen3's attention (per-head q/k RMS norms, NEOX rope) with a mixture of experts
// in every layer: softmax router over all experts, top-k, weights renormalized over the k.
//
//   h = x + attn(rms_norm(x) * attn_norm)
//   x = h + sum_{e in topk} w_e * swiglu_e(rms_norm(h) * ffn_norm)
//   logits = output(rms_norm(x) * output_norm)
#include "model/binder.h"
#include "model/layers.h"
#include "model/transformer.h"

namespace flint::model {
namespace {

class Qwen3Moe final : public Model {
 public:
  struct Block {
    const float* attn_norm;  // [n_embd]
    AttentionWeights attn;
    const float* ffn_norm;   // [n_embd]
    MoeWeights moe;
  };

  explicit Qwen3Moe(ModelSpec spec) : Model(std::move(spec)) {}

  Status bind(const gguf::GgufFile& file) {
    const ModelSpec& s = spec_;
    const Binder b(file);
    const uint64_t q_dim = uint64_t{s.n_head} * s.head_dim_k, kv_dim = uint64_t{s.n_head_kv} * s.head_dim_k;
    FLINT_ASSIGN_OR_RETURN(token_embd_, b.matrix("token_embd.weight", {s.n_embd, s.n_vocab}));
    FLINT_ASSIGN_OR_RETURN(output_norm_, b.vector("output_norm.weight", s.n_embd));
    if (s.tied_embeddings) {
      output_ = token_embd_;
    } else {
      FLINT_ASSIGN_OR_RETURN(output_, b.matrix("output.weight", {s.n_embd, s.n_vocab}));
    }
    FLINT_ASSIGN_OR_RETURN(params_.rope, rope_params(file, s, /*neox=*/true));
    // Qwen3 MoE renormalizes the top-k weights (norm_topk_prob); a file may say otherwise.
    FLINT_ASSIGN_OR_RETURN(const bool norm_topk, file.get_or<bool>(s.arch + ".expert_weights_norm", true));
    if (!s.is_moe() || s.n_ff_exp == 0) {
      return error("{}: qwen3moe needs {}.expert_count, expert_used_count and "
                   "expert_feed_forward_length", file.path(), s.arch);
    }
    params_.shape = {.n_head = static_cast<int32_t>(s.n_head), .n_head_kv = static_cast<int32_t>(s.n_head_kv),
                     .head_dim = static_cast<int32_t>(s.head_dim_k),
                     .scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim_k))};
    params_.rms_eps = s.rms_eps;
    for (uint32_t il = 0; il < s.n_layer; ++il) {
      const int l = static_cast<int>(il);
      Block blk{};
      FLINT_ASSIGN_OR_RETURN(blk.attn_norm, b.vector(Binder::layer(l, "attn_norm"), s.n_embd));
      FLINT_ASSIGN_OR_RETURN(blk.attn.wq, b.matrix(Binder::layer(l, "attn_q"), {s.n_embd, q_dim}));
      FLINT_ASSIGN_OR_RETURN(blk.attn.wk, b.matrix(Binder::layer(l, "attn_k"), {s.n_embd, kv_dim}));
      FLINT_ASSIGN_OR_RETURN(blk.attn.wv, b.matrix(Binder::layer(l, "attn_v"), {s.n_embd, kv_dim}));
      FLINT_ASSIGN_OR_RETURN(blk.attn.wo, b.matrix(Binder::layer(l, "attn_output"), {q_dim, s.n_embd}));
      FLINT_ASSIGN_OR_RETURN(blk.attn.q_norm, b.vector(Binder::layer(l, "attn_q_norm"), s.head_dim_k));
      FLINT_ASSIGN_OR_RETURN(blk.attn.k_norm, b.vector(Binder::layer(l, "attn_k_norm"), s.head_dim_k));
      FLINT_ASSIGN_OR_RETURN(blk.ffn_norm, b.vector(Binder::layer(l, "ffn_norm"), s.n_embd));
      const uint64_t ff = s.n_ff_exp, e = s.n_expert;
      FLINT_ASSIGN_OR_RETURN(blk.moe.router, b.matrix(Binder::layer(l, "ffn_gate_inp"), {s.n_embd, e}));
      FLINT_ASSIGN_OR_RETURN(blk.moe.gate_exps, b.matrix(Binder::layer(l, "ffn_gate_exps"), {s.n_embd, ff, e}));
      FLINT_ASSIGN_OR_RETURN(blk.moe.up_exps, b.matrix(Binder::layer(l, "ffn_up_exps"), {s.n_embd, ff, e}));
      FLINT_ASSIGN_OR_RETURN(blk.moe.down_exps, b.matrix(Binder::layer(l, "ffn_down_exps"), {ff, s.n_embd, e}));
      blk.moe.n_expert = static_cast<int32_t>(s.n_expert);
      blk.moe.n_used = static_cast<int32_t>(s.n_expert_used);
      blk.moe.n_ff_exp = static_cast<int32_t>(s.n_ff_exp);
      blk.moe.renormalize = norm_topk;
      blocks_.push_back(blk);
    }
    return Status::ok();
  }

  Status forward(const ForwardContext& ctx, std::span<const SequenceInput> batch, float* logits) const override {
    const int64_t n_tokens = count_tokens(batch), n_embd = spec_.n_embd;
    std::vector<float> x(static_cast<size_t>(n_tokens * n_embd));  // [n_tokens, n_embd] residual
    std::vector<float> h(x.size()), y(x.size());
    std::vector<int32_t> ids;
    for (const SequenceInput& s : batch) ids.insert(ids.end(), s.tokens.begin(), s.tokens.end());
    FLINT_RETURN_IF_ERROR(cpu::get_rows(token_embd_, ids, x.data()));
    for (size_t il = 0; il < blocks_.size(); ++il) {
      const Block& blk = blocks_[il];
      const int l = static_cast<int>(il);
      cpu::rms_norm(x.data(), blk.attn_norm, h.data(), n_tokens, n_embd, spec_.rms_eps);
      ctx.trace("attn_norm", l, h.data(), n_tokens * n_embd);
      self_attention(ctx, batch, l, blk.attn, params_, h.data(), y.data());
      add_in_place(x.data(), y.data(), n_tokens * n_embd);
      cpu::rms_norm(x.data(), blk.ffn_norm, h.data(), n_tokens, n_embd, spec_.rms_eps);
      ctx.trace("ffn_norm", l, h.data(), n_tokens * n_embd);
      moe(ctx, blk.moe, h.data(), y.data(), n_tokens, l);
      add_in_place(x.data(), y.data(), n_tokens * n_embd);
      ctx.trace("l_out", l, x.data(), n_tokens * n_embd);
    }
    output_logits(ctx.pool, batch, output_norm_, spec_.rms_eps, output_, x.data(), n_embd, logits);
    return Status::ok();
  }

 private:
  cpu::WeightMatrix token_embd_;  // [n_vocab rows of n_embd]
  cpu::WeightMatrix output_;      // [n_vocab rows of n_embd]
  const float* output_norm_ = nullptr;
  AttentionParams params_;
  std::vector<Block> blocks_;
};

}  // namespace

Result<std::unique_ptr<Model>> load_qwen3moe(const gguf::GgufFile& file, ModelSpec spec) {
  auto model = std::make_unique<Qwen3Moe>(std::move(spec));
  FLINT_RETURN_IF_ERROR(model->bind(file));
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace flint::model
