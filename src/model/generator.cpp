#include "model/generator.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numbers>
#include <vector>

#include "core/progress.h"
#include "core/thread_pool.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/model_spec.h"
#include "quant/quant.h"

namespace flint::model {
namespace {

using gguf::Value;

// How a tensor's values are drawn.
struct Init {
  enum Kind { kNormal, kNorm, kRopeFreqs } kind = kNormal;
  float sigma = 0.0f;  // kNormal: N(0, sigma); kNorm: scale * (1 + 0.1 N(0, 1))
  float scale = 1.0f;
};

struct TensorPlan {
  std::string name;
  std::vector<uint64_t> shape;  // ggml order
  Init init;
};

// splitmix64: a tiny, well-mixed generator; one stream per (seed, tensor, row).
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53; }  // (0, 1]
};

uint64_t hash_name(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Standard normals by Box-Muller, filling `out`.
void fill_normal(SplitMix64& rng, float* out, uint64_t n, float sigma) {
  for (uint64_t i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2.0 * std::log(rng.uniform()));
    const double theta = 2.0 * std::numbers::pi * rng.uniform();
    out[i] = static_cast<float>(sigma * r * std::cos(theta));
    if (i + 1 < n) out[i + 1] = static_cast<float>(sigma * r * std::sin(theta));
  }
}

// Llama 3.x rope scaling as a per-frequency divisor (llama.cpp's rope_freqs tensor):
// low frequencies are slowed by `factor`, high ones kept, the band between interpolated.
void fill_llama3_rope_freqs(const ModelShape& s, float* out) {
  const double low_freq_factor = 1.0, high_freq_factor = 4.0;
  const double old_ctx = s.llama3_rope_original_ctx;
  const double low_wavelen = old_ctx / low_freq_factor, high_wavelen = old_ctx / high_freq_factor;
  for (uint32_t i = 0; i < s.head_dim / 2; ++i) {
    const double freq = 1.0 / std::pow(s.rope_freq_base, 2.0 * i / s.head_dim);
    const double wavelen = 2.0 * std::numbers::pi / freq;
    double divisor;
    if (wavelen < high_wavelen) {
      divisor = 1.0;
    } else if (wavelen > low_wavelen) {
      divisor = s.llama3_rope_factor;
    } else {
      const double smooth = (old_ctx / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      divisor = 1.0 / ((1.0 - smooth) / s.llama3_rope_factor + smooth);
    }
    out[i] = static_cast<float>(divisor);
  }
}

std::vector<TensorPlan> plan_tensors(const ModelShape& s) {
  const auto inv_sqrt = [](uint32_t n) { return 1.0f / std::sqrt(static_cast<float>(n)); };
  const uint64_t q_dim = uint64_t{s.n_head} * s.head_dim, kv_dim = uint64_t{s.n_head_kv} * s.head_dim;
  const bool qk_norm = s.arch == "qwen3" || s.arch == "qwen3moe";
  const bool moe = s.n_expert > 0;
  std::vector<TensorPlan> t;
  const Init norm{Init::kNorm, 0.0f, 1.0f};
  t.push_back({"token_embd.weight", {s.n_embd, s.n_vocab},
               {Init::kNormal, s.tied_embeddings ? 2.0f * inv_sqrt(s.n_embd) : 1.0f}});
  t.push_back({"output_norm.weight", {s.n_embd}, norm});
  if (!s.tied_embeddings) t.push_back({"output.weight", {s.n_embd, s.n_vocab}, {Init::kNormal, 2.0f * inv_sqrt(s.n_embd)}});
  if (s.llama3_rope_factor > 0) t.push_back({"rope_freqs.weight", {s.head_dim / 2}, {Init::kRopeFreqs}});
  for (uint32_t l = 0; l < s.n_layer; ++l) {
    const auto n = [l](const char* what) { return "blk." + std::to_string(l) + "." + what + ".weight"; };
    t.push_back({n("attn_norm"), {s.n_embd}, norm});
    // q/k of q/k-normed models are smaller: the norm restores their scale.
    const float qk_sigma = (qk_norm ? 0.64f : 1.28f) * inv_sqrt(s.n_embd);
    t.push_back({n("attn_q"), {s.n_embd, q_dim}, {Init::kNormal, qk_sigma}});
    t.push_back({n("attn_k"), {s.n_embd, kv_dim}, {Init::kNormal, qk_sigma}});
    t.push_back({n("attn_v"), {s.n_embd, kv_dim}, {Init::kNormal, 1.6f * inv_sqrt(s.n_embd)}});
    t.push_back({n("attn_output"), {q_dim, s.n_embd}, {Init::kNormal, 0.3f * inv_sqrt(static_cast<uint32_t>(q_dim))}});
    if (qk_norm) {
      t.push_back({n("attn_q_norm"), {s.head_dim}, {Init::kNorm, 0.0f, 1.2f}});
      t.push_back({n("attn_k_norm"), {s.head_dim}, {Init::kNorm, 0.0f, 1.2f}});
    }
    t.push_back({n("ffn_norm"), {s.n_embd}, norm});
    if (moe) {
      const float down = (s.arch == "qwen3moe" ? 0.45f : 0.6f) * inv_sqrt(s.n_ff_exp);
      t.push_back({n("ffn_gate_inp"), {s.n_embd, s.n_expert}, {Init::kNormal, 0.96f * inv_sqrt(s.n_embd)}});
      t.push_back({n("ffn_gate_exps"), {s.n_embd, s.n_ff_exp, s.n_expert}, {Init::kNormal, 0.96f * inv_sqrt(s.n_embd)}});
      t.push_back({n("ffn_up_exps"), {s.n_embd, s.n_ff_exp, s.n_expert}, {Init::kNormal, 0.96f * inv_sqrt(s.n_embd)}});
      t.push_back({n("ffn_down_exps"), {s.n_ff_exp, s.n_embd, s.n_expert}, {Init::kNormal, down}});
    } else {
      t.push_back({n("ffn_gate"), {s.n_embd, s.n_ff}, {Init::kNormal, 0.96f * inv_sqrt(s.n_embd)}});
      t.push_back({n("ffn_up"), {s.n_embd, s.n_ff}, {Init::kNormal, 0.96f * inv_sqrt(s.n_embd)}});
      t.push_back({n("ffn_down"), {s.n_ff, s.n_embd}, {Init::kNormal, 0.2f * inv_sqrt(s.n_ff)}});
    }
  }
  // llama-quantize's order: tensors outside layers first, then by layer; by name within each.
  std::stable_sort(t.begin(), t.end(), [](const TensorPlan& a, const TensorPlan& b) {
    return llama_tensor_order(a.name, b.name);
  });
  return t;
}

Status validate(const ModelShape& s) {
  if (s.arch != "llama" && s.arch != "qwen3" && s.arch != "qwen3moe") {
    return error("unknown architecture '{}' (expected llama, qwen3 or qwen3moe)", s.arch);
  }
  if (s.n_layer == 0 || s.n_embd == 0 || s.n_head == 0 || s.head_dim == 0 || s.n_vocab == 0) {
    return error("layers, embedding width, heads, head dim and vocab must all be positive");
  }
  if (s.n_head_kv == 0 || s.n_head % s.n_head_kv != 0) {
    return error("kv heads ({}) must divide heads ({})", s.n_head_kv, s.n_head);
  }
  if (s.head_dim % 2 != 0) return error("head dim {} must be even (rope rotates pairs)", s.head_dim);
  if (s.arch == "qwen3moe" && s.n_expert == 0) return error("qwen3moe needs --experts");
  if (s.arch == "qwen3" && s.n_expert > 0) return error("qwen3 is dense: use --arch qwen3moe for experts");
  if (s.n_expert > 0 && (s.n_expert_used == 0 || s.n_expert_used > s.n_expert || s.n_ff_exp == 0)) {
    return error("experts need 1 <= experts used ({}) <= experts ({}) and an expert ffn width",
                 s.n_expert_used, s.n_expert);
  }
  if (s.n_expert == 0 && s.n_ff == 0) return error("a dense model needs an ffn width");
  return Status::ok();
}

void add_architecture_metadata(std::vector<gguf::KeyValue>& kv, const ModelShape& s) {
  const std::string p = s.arch + ".";
  kv.push_back({p + "context_length", Value::u32(s.n_ctx)});
  kv.push_back({p + "embedding_length", Value::u32(s.n_embd)});
  kv.push_back({p + "block_count", Value::u32(s.n_layer)});
  // Mixtral-style llama MoE has no dense FFN: llama.cpp reads the expert width from
  // feed_forward_length (ffn_*_exps are {n_embd, n_ff, n_expert}) and has no expert key for it.
  const uint32_t ff = s.arch == "llama" && s.n_expert > 0 ? s.n_ff_exp : s.n_ff;
  if (ff > 0) kv.push_back({p + "feed_forward_length", Value::u32(ff)});
  kv.push_back({p + "attention.head_count", Value::u32(s.n_head)});
  kv.push_back({p + "attention.head_count_kv", Value::u32(s.n_head_kv)});
  kv.push_back({p + "rope.freq_base", Value::f32(s.rope_freq_base)});
  kv.push_back({p + "attention.layer_norm_rms_epsilon", Value::f32(s.rms_eps)});
  if (s.head_dim * s.n_head != s.n_embd || s.arch != "llama") {
    kv.push_back({p + "attention.key_length", Value::u32(s.head_dim)});
    kv.push_back({p + "attention.value_length", Value::u32(s.head_dim)});
  }
  if (s.arch == "llama") {
    kv.push_back({p + "vocab_size", Value::u32(s.n_vocab)});
    kv.push_back({p + "rope.dimension_count", Value::u32(s.head_dim)});
  }
  if (s.n_expert > 0) {
    kv.push_back({p + "expert_count", Value::u32(s.n_expert)});
    kv.push_back({p + "expert_used_count", Value::u32(s.n_expert_used)});
    if (s.arch == "qwen3moe") kv.push_back({p + "expert_feed_forward_length", Value::u32(s.n_ff_exp)});
  }
}

// A SentencePiece-style vocabulary of byte tokens: any text encodes (as bytes) in flint and in
// llama.cpp. Ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then unused fillers.
void add_byte_vocab(std::vector<gguf::KeyValue>& kv, uint32_t n_vocab) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};  // UNKNOWN, CONTROL, CONTROL
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(fmt::format("<0x{:02X}>", b));
    types.push_back(6);  // BYTE
  }
  for (uint32_t i = static_cast<uint32_t>(tokens.size()); i < n_vocab; ++i) {
    tokens.push_back(fmt::format("[UNUSED{}]", i));
    types.push_back(5);  // UNUSED
  }
  const std::vector<float> scores(tokens.size(), 0.0f);
  kv.push_back({"tokenizer.ggml.model", Value::string("llama")});
  kv.push_back({"tokenizer.ggml.pre", Value::string("default")});
  kv.push_back({"tokenizer.ggml.tokens", Value::string_array(std::move(tokens))});
  kv.push_back({"tokenizer.ggml.scores", Value::array_of(gguf::ValueType::FLOAT32, scores)});
  kv.push_back({"tokenizer.ggml.token_type", Value::array_of(gguf::ValueType::INT32, types)});
  kv.push_back({"tokenizer.ggml.bos_token_id", Value::u32(1)});
  kv.push_back({"tokenizer.ggml.eos_token_id", Value::u32(2)});
  kv.push_back({"tokenizer.ggml.unknown_token_id", Value::u32(0)});
  kv.push_back({"tokenizer.ggml.add_bos_token", Value::boolean(true)});
  kv.push_back({"tokenizer.ggml.add_eos_token", Value::boolean(false)});
}

// The plans with the types llama-quantize would give them for `ftype`, and their bytes.
Result<std::vector<gguf::TensorInfo>> typed_tensors(const std::vector<TensorPlan>& plans, const ModelShape& shape,
                                                    FileType ftype) {
  std::vector<gguf::TensorInfo> infos;
  for (const TensorPlan& p : plans) {
    gguf::TensorInfo t{.name = p.name, .type = DType::F32, .shape = p.shape};
    t.n_elements = 1;
    for (uint64_t d : p.shape) t.n_elements *= d;
    infos.push_back(std::move(t));
  }
  ModelSpec spec;
  spec.arch = shape.arch;
  spec.n_layer = shape.n_layer;
  spec.n_head = shape.n_head;
  spec.n_head_kv = shape.n_head_kv;
  spec.n_expert = shape.n_expert;
  spec.tied_embeddings = shape.tied_embeddings;
  MixPlanner planner(ftype, spec, infos);
  for (gguf::TensorInfo& t : infos) {
    t.type = planner.choose(t);
    const std::optional<uint64_t> row = dtype_row_bytes(t.type, t.shape[0]);
    if (!row) return error("tensor '{}': rows of {} values cannot be stored as {}", t.name, t.shape[0], dtype_name(t.type));
    t.n_bytes = *row * (t.n_elements / t.shape[0]);
  }
  return infos;
}

}  // namespace

Result<GenReport> generate_model(const GenOptions& options) {
  ModelShape shape = options.shape;
  std::vector<gguf::KeyValue> tokenizer_kv;
  if (!options.vocab_path.empty()) {
    FLINT_ASSIGN_OR_RETURN(gguf::GgufFile vocab, gguf::GgufFile::open(options.vocab_path));
    for (const gguf::KeyValue& kv : vocab.metadata()) {
      if (kv.key.starts_with("tokenizer.")) tokenizer_kv.push_back(kv);
    }
    const gguf::Value* tokens = vocab.find("tokenizer.ggml.tokens");
    if (!tokens || tokens->array_type() != gguf::ValueType::STRING) {
      return error("{}: no tokenizer.ggml.tokens: not a vocab file", options.vocab_path);
    }
    shape.n_vocab = static_cast<uint32_t>(tokens->array_size());
  } else {
    if (shape.n_vocab < 259) return error("a byte vocabulary needs at least 259 tokens, got {}", shape.n_vocab);
    add_byte_vocab(tokenizer_kv, shape.n_vocab);
  }
  FLINT_RETURN_IF_ERROR(validate(shape));

  // Metadata in llama-quantize's order: general, architecture, tokenizer, quantization keys.
  std::vector<gguf::KeyValue> kv = {{"general.architecture", Value::string(shape.arch)},
                                    {"general.name", Value::string(options.name)}};
  add_architecture_metadata(kv, shape);
  kv.insert(kv.end(), tokenizer_kv.begin(), tokenizer_kv.end());
  kv.push_back({"general.quantization_version", Value::u32(2)});
  kv.push_back({"general.file_type", Value::u32(static_cast<uint32_t>(options.ftype))});

  FLINT_ASSIGN_OR_RETURN(gguf::GgufWriter out, gguf::GgufWriter::create(options.output));
  for (gguf::KeyValue& e : kv) FLINT_RETURN_IF_ERROR(out.add(std::move(e.key), std::move(e.value)));

  // Choose types the way `flint quantize` would from an F32 master.
  const std::vector<TensorPlan> plans = plan_tensors(shape);
  FLINT_ASSIGN_OR_RETURN(const std::vector<gguf::TensorInfo> infos, typed_tensors(plans, shape, options.ftype));
  std::vector<DType> types;
  uint64_t total_values = 0;
  for (const gguf::TensorInfo& t : infos) {
    types.push_back(t.type);
    total_values += t.n_elements;
    FLINT_RETURN_IF_ERROR(out.add_tensor(t.name, t.type, t.shape));
  }
  if (options.header_only) {
    FLINT_RETURN_IF_ERROR(out.finish_header_only());
    return GenReport{.bytes = out.bytes_written(), .n_params = total_values, .n_vocab = shape.n_vocab};
  }
  FLINT_RETURN_IF_ERROR(out.write_header());

  ThreadPool pool(options.n_threads);
  Progress progress("gen", total_values, options.progress);
  std::vector<uint8_t> chunk;
  for (size_t i = 0; i < plans.size(); ++i) {
    const TensorPlan& p = plans[i];
    const uint64_t row_len = p.shape[0];
    const uint64_t n_rows = infos[i].n_elements / row_len;
    const uint64_t row_bytes = *dtype_row_bytes(types[i], row_len);
    const uint64_t rows_per_chunk = std::max<uint64_t>(1, (16ull << 20) / (row_len * 4));
    const uint64_t tensor_seed = options.seed ^ hash_name(p.name);
    for (uint64_t r0 = 0; r0 < n_rows; r0 += rows_per_chunk) {
      const uint64_t n = std::min(rows_per_chunk, n_rows - r0);
      chunk.resize(n * row_bytes);
      Status failed;
      std::mutex mu;
      pool.parallel_for(static_cast<int64_t>(n), 1, [&](int64_t b, int64_t e) {
        std::vector<float> row(row_len + 1);
        for (int64_t r = b; r < e; ++r) {
          // Each row's stream starts at a hashed state (the tensor stream's output for the row):
          // seeding rows with consecutive states of one sequence made row r + 2 a copy of row r
          // shifted by two values.
          const uint64_t row_index = r0 + static_cast<uint64_t>(r);
          SplitMix64 rng{SplitMix64{tensor_seed + 0x9E3779B97F4A7C15ull * row_index}.next()};
          if (p.init.kind == Init::kRopeFreqs) {
            fill_llama3_rope_freqs(shape, row.data());
          } else if (p.init.kind == Init::kNorm) {
            fill_normal(rng, row.data(), row_len, 0.1f);
            for (uint64_t j = 0; j < row_len; ++j) row[j] = p.init.scale * (1.0f + row[j]);
          } else {
            fill_normal(rng, row.data(), row_len, p.init.sigma);
          }
          Status s = quant::quantize_row(types[i], row.data(), chunk.data() + r * row_bytes,
                                         static_cast<int64_t>(row_len));
          if (!s.is_ok()) {
            std::lock_guard lock(mu);
            failed = s;
          }
        }
      });
      FLINT_RETURN_IF_ERROR(failed.with_context("tensor '" + p.name + "'"));
      FLINT_RETURN_IF_ERROR(out.write_tensor_data(chunk));
      progress.advance(n * row_len, p.name);
    }
  }
  progress.finish();
  FLINT_RETURN_IF_ERROR(out.finish());
  return GenReport{.bytes = out.bytes_written(), .n_params = total_values, .n_vocab = shape.n_vocab};
}

Result<std::vector<gguf::TensorInfo>> shape_tensors(const ModelShape& shape, FileType ftype) {
  FLINT_RETURN_IF_ERROR(validate(shape));
  return typed_tensors(plan_tensors(shape), shape, ftype);
}

}  // namespace flint::model
