// Llama 2 / 3.x and Mistral; Mixtral when the file has routed experts (ffn_*_exps).
//
//   h = x + attn(rms_norm(x) * attn_norm)         # rope NORM (adjacent pairs), GQA
//   x = h + ffn(rms_norm(h) * ffn_norm)            # SwiGLU, or top-k experts of SwiGLUs
//   logits = output(rms_norm(x) * output_norm)     # output = token_embd when tied
#include "model/bind.h"
#include "model/binder.h"
#include "model/layers.h"
#include "model/transformer.h"

namespace flint::model {
namespace {

class Llama final : public Model {
 public:
  struct Block {
    const float* attn_norm;  // [n_embd]
    AttentionWeights attn;
    const float* ffn_norm;   // [n_embd]
    FfnWeights ffn;          // dense models
    MoeWeights moe;          // Mixtral-style (moe.n_expert > 0)
  };

  Llama(ModelSpec spec, const LoadOptions& options) : Model(std::move(spec), options) {}

  Status bind(const gguf::GgufFile& file) {
    const ModelSpec& s = spec_;
    const Binder b = binder(file);
    FLINT_ASSIGN_OR_RETURN(embd_, bind_embeddings(b, s));
    FLINT_ASSIGN_OR_RETURN(cpu::RopeParams rope, rope_params(file, s, /*neox=*/false));
    if (b.has("rope_freqs.weight")) {  // Llama 3.1+ long-context frequency factors
      FLINT_ASSIGN_OR_RETURN(rope.freq_factors, b.vector("rope_freqs.weight", s.head_dim_k / 2));
    }
    params_ = attention_params(s, rope);
    for (uint32_t il = 0; il < s.n_layer; ++il) {
      const int l = static_cast<int>(il);
      Block blk{};
      FLINT_ASSIGN_OR_RETURN(blk.attn_norm, b.vector(Binder::layer(l, "attn_norm"), s.n_embd));
      FLINT_ASSIGN_OR_RETURN(blk.attn, bind_attention(b, s, l, /*qk_norm=*/false));
      FLINT_ASSIGN_OR_RETURN(blk.ffn_norm, b.vector(Binder::layer(l, "ffn_norm"), s.n_embd));
      if (s.is_moe()) {
        // Mixtral: softmax over experts, top-k, weights renormalized over the k.
        FLINT_ASSIGN_OR_RETURN(blk.moe, bind_moe(b, s, l, /*renormalize=*/true));
      } else {
        FLINT_ASSIGN_OR_RETURN(blk.ffn, bind_swiglu(b, s, l));
      }
      blocks_.push_back(blk);
    }
    return Status::ok();
  }

  Status forward(const ForwardContext& ctx, std::span<const SequenceInput> batch, float* logits) const override {
    const int64_t n_tokens = count_tokens(batch), n_embd = spec_.n_embd;
    float* x = ctx.ws.floats(Workspace::kResidual, n_tokens * n_embd);  // [n_tokens, n_embd] residual
    float* h = ctx.ws.floats(Workspace::kNormed, n_tokens * n_embd);
    float* y = ctx.ws.floats(Workspace::kBlockOut, n_tokens * n_embd);
    FLINT_RETURN_IF_ERROR(embed(batch, embd_.token_embd, x));
    for (size_t il = 0; il < blocks_.size(); ++il) {
      const Block& blk = blocks_[il];
      const int l = static_cast<int>(il);
      cpu::rms_norm(x, blk.attn_norm, h, n_tokens, n_embd, spec_.rms_eps);
      ctx.trace("attn_norm", l, h, n_tokens * n_embd);
      self_attention(ctx, batch, l, blk.attn, params_, h, y);
      add_in_place(x, y, n_tokens * n_embd);
      cpu::rms_norm(x, blk.ffn_norm, h, n_tokens, n_embd, spec_.rms_eps);
      ctx.trace("ffn_norm", l, h, n_tokens * n_embd);
      if (spec_.is_moe()) {
        moe(ctx, blk.moe, h, y, n_tokens, l);
      } else {
        swiglu(ctx, blk.ffn, h, y, n_tokens);
      }
      add_in_place(x, y, n_tokens * n_embd);
      ctx.trace("l_out", l, x, n_tokens * n_embd);
    }
    output_logits(ctx.pool, batch, embd_.output_norm, spec_.rms_eps, embd_.output, x, n_embd, logits);
    return Status::ok();
  }

 private:
  EmbeddingWeights embd_;
  AttentionParams params_;
  std::vector<Block> blocks_;
};

}  // namespace

Result<std::unique_ptr<Model>> load_llama(const gguf::GgufFile& file, ModelSpec spec, const LoadOptions& options) {
  auto model = std::make_unique<Llama>(std::move(spec), options);
  FLINT_RETURN_IF_ERROR(model->bind(file));
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace flint::model
