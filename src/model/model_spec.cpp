#include "model/model_spec.h"

namespace flint::model {

Result<ModelSpec> ModelSpec::from_gguf(const gguf::GgufFile& file) {
  ModelSpec s;
  FLINT_ASSIGN_OR_RETURN(s.arch, file.get_string("general.architecture"));
  if (file.has("general.name")) {
    FLINT_ASSIGN_OR_RETURN(s.name, file.get_string("general.name"));
  }
  const std::string p = s.arch + ".";
  FLINT_ASSIGN_OR_RETURN(s.n_layer, file.get<uint32_t>(p + "block_count"));
  FLINT_ASSIGN_OR_RETURN(s.n_embd, file.get<uint32_t>(p + "embedding_length"));
  FLINT_ASSIGN_OR_RETURN(s.n_head, file.get<uint32_t>(p + "attention.head_count"));
  FLINT_ASSIGN_OR_RETURN(s.n_head_kv, file.get_or<uint32_t>(p + "attention.head_count_kv", s.n_head));
  FLINT_ASSIGN_OR_RETURN(s.n_ctx_train, file.get<uint32_t>(p + "context_length"));
  FLINT_ASSIGN_OR_RETURN(s.n_ff, file.get_or<uint32_t>(p + "feed_forward_length", 0));
  FLINT_ASSIGN_OR_RETURN(s.n_expert, file.get_or<uint32_t>(p + "expert_count", 0));
  FLINT_ASSIGN_OR_RETURN(s.n_expert_used, file.get_or<uint32_t>(p + "expert_used_count", 0));
  FLINT_ASSIGN_OR_RETURN(s.n_ff_exp, file.get_or<uint32_t>(p + "expert_feed_forward_length", 0));
  if (s.n_expert > 0 && !file.has(p + "expert_feed_forward_length")) {
    // Mixtral-style (llama MoE): feed_forward_length is the expert width, there is no dense FFN.
    s.n_ff_exp = s.n_ff;
    s.n_ff = 0;
  }
  FLINT_ASSIGN_OR_RETURN(s.rope_freq_base, file.get_or<float>(p + "rope.freq_base", 10000.0f));
  FLINT_ASSIGN_OR_RETURN(s.rms_eps, file.get_or<float>(p + "attention.layer_norm_rms_epsilon", 1e-5f));

  const auto bad = [&](const std::string& key, const std::string& why) {
    return error("{}: metadata key '{}{}': {}", file.path(), p, key, why);
  };
  if (s.n_layer == 0) return bad("block_count", "is 0");
  if (s.n_embd == 0) return bad("embedding_length", "is 0");
  if (s.n_head == 0) return bad("attention.head_count", "is 0");
  if (s.n_head_kv == 0 || s.n_head % s.n_head_kv != 0) {
    return bad("attention.head_count_kv", fmt::format("is {}, expected a divisor of head_count {}",
                                                      s.n_head_kv, s.n_head));
  }
  const uint32_t default_head_dim = s.n_embd % s.n_head == 0 ? s.n_embd / s.n_head : 0;
  FLINT_ASSIGN_OR_RETURN(s.head_dim_k, file.get_or<uint32_t>(p + "attention.key_length", default_head_dim));
  FLINT_ASSIGN_OR_RETURN(s.head_dim_v, file.get_or<uint32_t>(p + "attention.value_length", s.head_dim_k));
  if (s.head_dim_k == 0 || s.head_dim_v == 0) {
    return bad("attention.key_length", "is missing and embedding_length is not a multiple of head_count");
  }
  if (s.n_expert > 0 && (s.n_expert_used == 0 || s.n_expert_used > s.n_expert)) {
    return bad("expert_used_count", fmt::format("is {}, expected 1..expert_count ({})",
                                                s.n_expert_used, s.n_expert));
  }

  // Vocabulary size: the metadata key when present, else the embedding matrix's rows.
  const gguf::TensorInfo* embd = file.find_tensor("token_embd.weight");
  if (file.has(p + "vocab_size")) {
    FLINT_ASSIGN_OR_RETURN(s.n_vocab, file.get<uint32_t>(p + "vocab_size"));
  } else if (embd != nullptr && embd->shape.size() == 2) {
    s.n_vocab = static_cast<uint32_t>(embd->shape[1]);
  } else if (file.has("tokenizer.ggml.tokens")) {
    s.n_vocab = static_cast<uint32_t>(file.find("tokenizer.ggml.tokens")->array_size());
  }
  s.tied_embeddings = file.find_tensor("output.weight") == nullptr;
  return s;
}

}  // namespace flint::model
