// Qwen3 (dense): Llama's block with q and k RMS-normed per head before rope, NEOX rope, and
// head_dim independent of n_embd; small models tie the output to token_embd.
//
//   q, k = rms_norm(q_h) * q_norm, rms_norm(k_h) * k_norm     # per head, before rope
//   h = x + attn(rms_norm(x) * attn_norm)                     # rope NEOX (two halves)
//   x = h + swiglu(rms_norm(h) * ffn_norm)
//   logits = output(rms_norm(x) * output_norm)
#include "model/binder.h"
#include "model/layers.h"
#include "model/transformer.h"

namespace flint::model {
namespace {

class Qwen3 final : public Model {
 public:
  struct Block {
    const float* attn_norm;  // [n_embd]
    AttentionWeights attn;
    const float* ffn_norm;   // [n_embd]
    FfnWeights ffn;
  };

  explicit Qwen3(ModelSpec spec) : Model(std::move(spec)) {}

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
      if (s.is_moe()) return error("{}: qwen3 is dense but the file has experts (use qwen3moe)", file.path());
      FLINT_ASSIGN_OR_RETURN(blk.ffn.gate, b.matrix(Binder::layer(l, "ffn_gate"), {s.n_embd, s.n_ff}));
      FLINT_ASSIGN_OR_RETURN(blk.ffn.up, b.matrix(Binder::layer(l, "ffn_up"), {s.n_embd, s.n_ff}));
      FLINT_ASSIGN_OR_RETURN(blk.ffn.down, b.matrix(Binder::layer(l, "ffn_down"), {s.n_ff, s.n_embd}));
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
      swiglu(ctx.pool, blk.ffn, h.data(), y.data(), n_tokens);
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

Result<std::unique_ptr<Model>> load_qwen3(const gguf::GgufFile& file, ModelSpec spec) {
  auto model = std::make_unique<Qwen3>(std::move(spec));
  FLINT_RETURN_IF_ERROR(model->bind(file));
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace flint::model
