#include "planner/plan.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "core/memory.h"
#include "core/progress.h"
#include "gguf/gguf_file.h"
#include "model/cost.h"
#include "model/generator.h"
#include "model/mix.h"
#include "model/model_spec.h"

namespace flint::planner {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr int32_t kPlanBatch = 512;  // tokens per forward pass the work buffers are sized for

model::ModelSpec spec_from_shape(const model::ModelShape& s) {
  model::ModelSpec spec;
  spec.arch = s.arch;
  spec.n_layer = s.n_layer;
  spec.n_embd = s.n_embd;
  spec.n_head = s.n_head;
  spec.n_head_kv = s.n_head_kv;
  spec.head_dim_k = spec.head_dim_v = s.head_dim;
  spec.n_ff = s.n_ff;
  spec.n_vocab = s.n_vocab;
  spec.n_ctx_train = s.n_ctx;
  spec.n_expert = s.n_expert;
  spec.n_expert_used = s.n_expert_used;
  spec.n_ff_exp = s.n_ff_exp;
  spec.tied_embeddings = s.tied_embeddings;
  return spec;
}

model::ModelShape shape_from_spec(const model::ModelSpec& s) {
  model::ModelShape shape;
  shape.arch = s.arch;
  shape.n_layer = s.n_layer;
  shape.n_embd = s.n_embd;
  shape.n_head = s.n_head;
  shape.n_head_kv = s.n_head_kv;
  shape.head_dim = s.head_dim_k;
  shape.n_ff = s.n_ff;
  shape.n_vocab = s.n_vocab;
  shape.n_ctx = s.n_ctx_train;
  shape.n_expert = s.n_expert;
  shape.n_expert_used = s.n_expert_used;
  shape.n_ff_exp = s.n_ff_exp;
  shape.tied_embeddings = s.tied_embeddings;
  return shape;
}

// FP8 and NVFP4 are not GGUF types: their checkpoints (vLLM / TensorRT-LLM / NVIDIA ModelOpt)
// quantize every linear layer and keep the embeddings, the lm_head and the norms in BF16.
//   FP8:   1 byte per weight + a float32 scale per output row.
//   NVFP4: 4-bit E2M1 values + an FP8 scale per 16 values (4.5 bits) + a float32 per tensor.
struct Priced {
  gguf::TensorInfo t;
  std::string label;  // dtype name, FP8 or NVFP4
};

std::vector<Priced> reprice(const std::vector<gguf::TensorInfo>& bf16, const std::string& format) {
  std::vector<Priced> out;
  for (const gguf::TensorInfo& t : bf16) {
    Priced p{t, std::string(dtype_name(t.type))};
    const bool embedding = t.name == "token_embd.weight" || t.name == "output.weight";
    if (model::is_quantizable(t) && !embedding) {
      const uint64_t rows = t.n_elements / t.shape[0];
      if (format == "FP8") {
        p.t.n_bytes = t.n_elements + 4 * rows;
      } else {
        p.t.n_bytes = t.n_elements / 2 + t.n_elements / 16 + 4;
      }
      p.label = format;
    }
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<Priced>> price_shape(const model::ModelShape& shape, const std::string& quant) {
  if (quant == "FP8" || quant == "NVFP4") {
    FLINT_ASSIGN_OR_RETURN(const std::vector<gguf::TensorInfo> t, model::shape_tensors(shape, model::FileType::BF16));
    return reprice(t, quant);
  }
  const std::string name = quant == "MXFP4" ? "MXFP4_MOE" : quant;
  const std::optional<model::FileType> ft = model::file_type_from_name(name);
  if (!ft) return error("unknown quantization '{}' (use one of Q4_K_M, Q5_K_M, Q6_K, Q8_0, F16, BF16, FP8, NVFP4, MXFP4)", quant);
  FLINT_ASSIGN_OR_RETURN(const std::vector<gguf::TensorInfo> t, model::shape_tensors(shape, *ft));
  std::vector<Priced> out;
  for (const gguf::TensorInfo& x : t) out.push_back({x, std::string(dtype_name(x.type))});
  return out;
}

ModelNeeds needs_from(const std::vector<Priced>& tensors, const model::ModelSpec& spec, DType kv_type) {
  ModelNeeds n;
  n.arch = spec.arch;
  n.n_layer = spec.n_layer;
  n.n_head = spec.n_head;
  n.head_dim = spec.head_dim_k;
  n.n_ctx_train = spec.n_ctx_train;
  n.n_expert_used = spec.is_moe() ? spec.n_expert_used : 0;
  n.expert_fraction = spec.is_moe() ? static_cast<double>(spec.n_expert_used) / spec.n_expert : 1.0;
  std::map<std::string, ModelNeeds::TypeShare> by;
  for (const Priced& p : tensors) {
    const gguf::TensorInfo& t = p.t;
    ModelNeeds::TypeShare& share = by[p.label];
    share.type = p.label;
    n.weights_bytes += t.n_bytes;
    n.n_params += t.n_elements;
    const bool matrix = t.shape.size() >= 2;
    if (t.name == "token_embd.weight") {
      n.embd_row_bytes = t.n_bytes / std::max<uint64_t>(1, t.n_rows());
      share.token_bytes += n.embd_row_bytes;
      n.n_active_params += t.shape[0];
      if (spec.tied_embeddings) {  // also the lm_head
        n.dense_bytes += t.n_bytes;
        share.token_bytes += t.n_bytes;
        n.decode_macs += static_cast<double>(t.n_elements);
        n.n_active_params += t.n_elements;
      }
    } else if (model::is_routed_expert_tensor(t) && spec.is_moe()) {
      n.expert_bytes += t.n_bytes;
      const double f = n.expert_fraction;
      share.token_bytes += static_cast<uint64_t>(t.n_bytes * f);
      share.prompt_macs += t.n_elements * f;
      share.expert_prompt_macs += t.n_elements * f;
      share.expert_prompt_bytes += static_cast<double>(t.n_bytes);
      n.prompt_macs += t.n_elements * f;
      n.decode_macs += t.n_elements * f;
      n.n_active_params += static_cast<uint64_t>(t.n_elements * f);
    } else {
      n.dense_bytes += t.n_bytes;
      share.token_bytes += t.n_bytes;
      n.n_active_params += t.n_elements;
      if (matrix) {
        n.decode_macs += static_cast<double>(t.n_elements);
        if (t.name != "output.weight") {
          n.prompt_macs += static_cast<double>(t.n_elements);
          share.prompt_macs += static_cast<double>(t.n_elements);
          share.dense_prompt_bytes += static_cast<double>(t.n_bytes);
        }
      }
    }
  }
  n.bytes_per_token = n.dense_bytes + static_cast<uint64_t>(n.expert_bytes * n.expert_fraction) + n.embd_row_bytes;
  for (auto& [k, v] : by) n.by_type.push_back(v);
  const Result<uint64_t> kv = model::kv_bytes_per_token(spec, kv_type);
  const uint64_t per_layer = (kv.is_ok() ? *kv : 0) / std::max<uint32_t>(1, spec.n_layer);
  n.kv_layer_token_bytes = per_layer;
  return n;
}

// Bytes of usable memory: what a model may take.
double usable_bytes(const Hardware& h) {
  return std::max(0.0, (h.memory_gb - h.os_reserve_gb) * kGiB * h.usable_fraction);
}

uint64_t need_bytes(const ModelNeeds& m, const model::ModelSpec& spec, int64_t ctx, int users) {
  return m.weights_bytes + m.kv_bytes(ctx) * static_cast<uint64_t>(users) +
         model::work_bytes(spec, kPlanBatch, static_cast<int32_t>(std::min<int64_t>(ctx, INT32_MAX)));
}

int64_t longest_fitting_ctx(const ModelNeeds& m, const model::ModelSpec& spec, int users, double usable) {
  const int64_t hi_limit = std::max<int64_t>(m.n_ctx_train, 1);
  if (static_cast<double>(need_bytes(m, spec, 1, users)) > usable) return 0;
  int64_t lo = 1, hi = hi_limit;
  if (static_cast<double>(need_bytes(m, spec, hi, users)) <= usable) return hi;
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (static_cast<double>(need_bytes(m, spec, mid, users)) <= usable) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

int most_users(const ModelNeeds& m, const model::ModelSpec& spec, int64_t ctx, double usable) {
  const double fixed = static_cast<double>(m.weights_bytes + model::work_bytes(spec, kPlanBatch, static_cast<int32_t>(ctx)));
  const double per = static_cast<double>(m.kv_bytes(ctx));
  if (usable < fixed + per) return 0;
  return static_cast<int>(std::min(1e6, std::floor((usable - fixed) / std::max(per, 1.0))));
}

// The tensor-core throughput a weight format computes at (TFLOPS), or nullopt when unknown.
// GGUF block formats and F16/BF16 run as FP16 (llama.cpp dequantizes or uses int8 at FP16's
// rate or better); FP8 and FP4 formats use their own units where the hardware has them.
std::optional<double> peak_tflops(const Hardware& h, const std::string& quant) {
  if (quant == "FP8" && h.fp8_tflops) return h.fp8_tflops;
  if ((quant == "NVFP4" || quant == "MXFP4") && h.fp4_tflops) return h.fp4_tflops;
  return h.fp16_tflops;
}

double experts_read(const ModelNeeds& m, int users) {
  if (m.expert_bytes == 0) return 0;
  return static_cast<double>(m.expert_bytes) * (1.0 - std::pow(1.0 - m.expert_fraction, users));
}

void plan_catalog_machine(const ModelNeeds& m, const PlanRequest& r, const Hardware& h, MachinePlan& p) {
  const double depth = static_cast<double>(std::min(r.prompt, p.ctx));
  const double kv_read = static_cast<double>(m.kv_bytes(static_cast<int64_t>(depth)));
  if (!h.bandwidth_gbs) {
    p.unknown.push_back("decode speed: the memory bandwidth of this machine is not published");
  } else {
    const double bw = *h.bandwidth_gbs * 1e9;
    p.decode_tok_s_ceiling = bw / (static_cast<double>(m.bytes_per_token) + kv_read);
    p.decode_tok_s_expected = *p.decode_tok_s_ceiling * h.decode_efficiency;
  }
  const std::optional<double> peak = peak_tflops(h, m.quant);
  if (!peak) {
    p.unknown.push_back("prefill speed and time to first token: no published FLOPS figure for this machine");
  } else {
    const double flops = 2.0 * (m.prompt_macs + m.attention_macs(depth / 2.0));
    p.prefill_tok_s_expected = *peak * 1e12 * h.prefill_efficiency / flops;
    p.ttft_s = static_cast<double>(r.prompt) / *p.prefill_tok_s_expected;
  }
  if (h.bandwidth_gbs) {
    // One step decodes a token for every user: memory time and compute time, whichever is longer.
    const double step_bytes = static_cast<double>(m.dense_bytes) + experts_read(m, r.users) +
                              r.users * (static_cast<double>(m.embd_row_bytes) + kv_read);
    double step_s = step_bytes / (*h.bandwidth_gbs * 1e9 * h.decode_efficiency);
    if (peak) {
      step_s = std::max(step_s, r.users * 2.0 * (m.decode_macs + m.attention_macs(depth)) /
                                    (*peak * 1e12 * h.prefill_efficiency));
    }
    p.aggregate_tok_s = r.users / step_s;
  }
}

// What flint's engine adds to its kernels' measured time on this kind of machine, calibrated by
// flint bench against these predictions on four generated files (llama3-1b Q4_K_M, Q8_0, Q4_0,
// qwen3-moe-mini Q4_K_M; BENCHMARKS.md): norms, rope, activation quantization and the thread
// pool's hand-offs cost ~12% of a decode step and ~25% of a prompt's matmul time, and every
// routed expert's three small matmuls ~12 us per token per layer beyond their bytes. A prompt's
// matmuls cost what the probe measured at two token counts: a setup per weight byte (the rows
// decoded into tiles, once per batch of up to kPromptBatch tokens; for routed experts, once per
// expert some token chose) plus a per-token rate. Older probe results have only the rate at
// 256 tokens, which routed experts (a few tokens each) reach 0.76 of, and the engine's prompt
// overhead calibrated for them (x1/0.83).
constexpr double kLocalDecodeEngine = 0.88;
constexpr double kLocalPrefillEngine = 0.75;
constexpr double kLocalPrefillEngineRateOnly = 0.83;
constexpr double kLocalExpertCallSeconds = 12e-6;
constexpr double kLocalExpertPrefill = 0.76;
constexpr double kPromptBatch = 512;  // the engine's n_batch (runtime::EngineOptions)

// This machine, from flint probe: each weight type at the speed its kernels were measured at.
void plan_local_machine(const ModelNeeds& m, const PlanRequest& r, const ProbeResult& probe, MachinePlan& p) {
  const double depth = static_cast<double>(std::min(r.prompt, p.ctx));
  const double kv_read = static_cast<double>(m.kv_bytes(static_cast<int64_t>(depth)));
  const double bw = probe.read_gbps() * 1e9;
  p.decode_tok_s_ceiling = bw / (static_cast<double>(m.bytes_per_token) + kv_read);
  double weight_s = 0;
  double prompt_s = 0, setup_s = 0;  // per prompt token: the products, the tiles' setup
  bool rate_only = false;            // an older probe result: no setup measured
  // A prompt runs in batches of up to kPromptBatch tokens, each paying the setup; in a batch,
  // an expert is decoded when at least one token chose it.
  const double prompt = std::max(1.0, static_cast<double>(r.prompt));
  const double batches = std::ceil(prompt / kPromptBatch);
  const double batch = prompt / batches;
  const double touched = 1.0 - std::pow(1.0 - m.expert_fraction, batch);
  std::vector<std::string> missing;
  for (const ModelNeeds::TypeShare& s : m.by_type) {
    const std::optional<DType> t = dtype_from_name(s.type);
    const MatmulPoint* mp = t ? probe.matmul_for(*t) : nullptr;
    if (s.type == "f32" && s.prompt_macs == 0) {  // norms: read at the plain read bandwidth
      weight_s += static_cast<double>(s.token_bytes) / bw;
      continue;
    }
    if (!mp || mp->decode_gbps <= 0 || mp->prefill_gflops <= 0) {
      missing.push_back(s.type);
      continue;
    }
    weight_s += static_cast<double>(s.token_bytes) / (mp->decode_gbps * 1e9);
    if (mp->prefill_marginal_gflops > 0) {
      prompt_s += 2.0 * s.prompt_macs / (mp->prefill_marginal_gflops * 1e9);
      setup_s += (s.dense_prompt_bytes + s.expert_prompt_bytes * touched) * mp->prefill_setup_s_per_byte / batch;
    } else {
      rate_only = true;
      const double dense_macs = s.prompt_macs - s.expert_prompt_macs;
      prompt_s += 2.0 * (dense_macs + s.expert_prompt_macs / kLocalExpertPrefill) / (mp->prefill_gflops * 1e9);
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const std::string& x : missing) list += (list.empty() ? "" : ", ") + x;
    p.unknown.push_back(fmt::format("expected speeds: flint's CPU kernels do not run {} (flint probe measured no such type)", list));
    return;
  }
  // Attention streams the KV cache at the read bandwidth (decode) and runs at the rate the probe
  // measured for a prompt (older probe results: the F16 matmul rate).
  const MatmulPoint* f16 = probe.matmul_for(DType::F16);
  const double attn_gflops = probe.attention_gflops > 0 ? probe.attention_gflops
                             : f16 && f16->prefill_gflops > 0 ? f16->prefill_gflops : 10.0;
  const double expert_calls_s = static_cast<double>(m.n_layer) * m.n_expert_used * kLocalExpertCallSeconds;
  // The kernels' rates and the read bandwidth are separate measurements (a kernel may time a
  // little faster than the plain read on a noisy machine): expected never exceeds the ceiling.
  p.decode_tok_s_expected = std::min(*p.decode_tok_s_ceiling,
                                     1.0 / ((weight_s + kv_read / bw) / kLocalDecodeEngine + expert_calls_s));
  const double prompt_tok_s = (prompt_s + setup_s + 2.0 * m.attention_macs(depth / 2.0) / (attn_gflops * 1e9)) /
                              (rate_only ? kLocalPrefillEngineRateOnly : kLocalPrefillEngine);
  p.prefill_tok_s_expected = 1.0 / prompt_tok_s;
  p.ttft_s = static_cast<double>(r.prompt) * prompt_tok_s;
  // Batched: the dense weights once per step (at their measured decode speed), experts the
  // step's tokens chose, and every user's KV; compute at the prompt's per-token rate.
  const double dense_fraction = static_cast<double>(m.bytes_per_token) > 0
                                    ? weight_s / static_cast<double>(m.bytes_per_token) : 0;  // s per byte
  const double step_bytes = static_cast<double>(m.dense_bytes) + experts_read(m, r.users) + r.users * static_cast<double>(m.embd_row_bytes);
  const double mem_s = step_bytes * dense_fraction + r.users * kv_read / bw;
  const double compute_s = r.users * (m.decode_macs / std::max(m.prompt_macs, 1.0)) * prompt_s;
  p.aggregate_tok_s = r.users / std::max(mem_s, compute_s);
}

std::string fmt_gib(double bytes) { return fmt::format("{:.1f} GiB", bytes / kGiB); }

}  // namespace

uint64_t ModelNeeds::kv_bytes(int64_t ctx) const {
  const uint64_t full_layers = n_layer - n_swa_layers;
  const uint64_t c = static_cast<uint64_t>(std::max<int64_t>(0, ctx));
  const uint64_t swa = std::min<uint64_t>(c, swa_window);
  return kv_layer_token_bytes * (full_layers * c + uint64_t{n_swa_layers} * swa);
}

double ModelNeeds::attention_macs(double ctx) const {
  const double full = static_cast<double>(n_layer - n_swa_layers) * ctx;
  const double swa = static_cast<double>(n_swa_layers) * std::min(ctx, static_cast<double>(swa_window));
  return 2.0 * n_head * head_dim * (full + swa);
}

const std::vector<std::string>& plan_quants() {
  static const std::vector<std::string> q = {"BF16", "F16", "Q8_0", "FP8", "Q6_K", "Q5_K_M", "NVFP4", "MXFP4",
                                             "Q4_K_M", "Q3_K_M", "Q2_K"};
  return q;
}

Result<Plan> make_plan(const PlanRequest& req, const ProbeResult* probe) {
  Plan plan;
  plan.request = req;
  if (req.users < 1 || req.users > 100000) return error("--users must be 1..100000, not {}", req.users);
  if (req.ctx < 0) return error("--ctx must be positive, not {}", req.ctx);
  if (req.prompt < 1) return error("--prompt must be at least 1 token, not {}", req.prompt);
  if (req.kv_type != DType::F16 && req.kv_type != DType::Q8_0) return error("--kv must be f16 or q8_0");
  if (req.hw.empty()) return error("name at least one machine (--hw ID or --all)");

  model::ModelSpec spec;
  const CatalogModel* cat = find_model(req.model);
  std::vector<Priced> tensors;
  std::string quant = req.quant;
  uint32_t swa_layers = 0, swa_window = 0;
  std::string note;
  if (cat) {
    if (quant.empty()) quant = "Q4_K_M";
    FLINT_ASSIGN_OR_RETURN(tensors, price_shape(cat->shape, quant));
    spec = spec_from_shape(cat->shape);
    swa_layers = cat->n_swa_layers;
    swa_window = cat->swa_window;
    note = cat->note;
    plan.model.name = cat->id;
  } else {
    if (!std::filesystem::exists(req.model)) {
      std::string ids;
      for (const CatalogModel& m : model_catalog()) ids += (ids.empty() ? "" : ", ") + m.id;
      return error("'{}' is neither a GGUF file nor a catalog model ({})", req.model, ids);
    }
    FLINT_ASSIGN_OR_RETURN(const gguf::GgufFile file, gguf::GgufFile::open(req.model, {.require_data = false}));
    FLINT_ASSIGN_OR_RETURN(spec, model::ModelSpec::from_gguf(file));
    plan.model.name = std::filesystem::path(req.model).filename().string();
    const bool priceable = spec.arch == "llama" || spec.arch == "qwen3" || spec.arch == "qwen3moe";
    if (quant.empty()) {
      for (const gguf::TensorInfo& t : file.tensors()) tensors.push_back({t, std::string(dtype_name(t.type))});
      const auto ft = file.get_or<uint32_t>("general.file_type", UINT32_MAX);
      quant = ft.is_ok() && *ft != UINT32_MAX ? std::string(model::file_type_name(static_cast<model::FileType>(*ft))) : "file";
    } else {
      if (!priceable) return error("{}: re-pricing as {} needs a llama, qwen3 or qwen3moe file, not {}", req.model, quant, spec.arch);
      FLINT_ASSIGN_OR_RETURN(tensors, price_shape(shape_from_spec(spec), quant));
    }
    plan.model.can_requantize = priceable;
  }
  ModelNeeds& m = plan.model;
  const std::string name = m.name;
  const bool requant = cat ? true : m.can_requantize;
  m = needs_from(tensors, spec, req.kv_type);
  m.name = name;
  m.quant = quant;
  m.note = note;
  m.n_swa_layers = swa_layers;
  m.swa_window = swa_window;
  m.shape = cat ? cat->shape : shape_from_spec(spec);
  m.can_requantize = requant;
  const int64_t ctx = req.ctx > 0 ? req.ctx : std::min<int64_t>(std::max<uint32_t>(m.n_ctx_train, 1), 8192);
  if (m.n_ctx_train > 0 && ctx > m.n_ctx_train) {
    return error("--ctx {} is longer than the {} tokens {} was trained for", ctx, m.n_ctx_train, m.name);
  }

  // The quantizations that would be smaller, for suggestions.
  std::vector<std::pair<std::string, ModelNeeds>> smaller;
  if (m.can_requantize) {
    for (const std::string& q : plan_quants()) {
      if (q == quant) continue;
      Result<std::vector<Priced>> t = price_shape(m.shape, q);
      if (!t) continue;
      ModelNeeds o = needs_from(*t, spec, req.kv_type);
      o.n_swa_layers = swa_layers;
      o.swa_window = swa_window;
      if (o.weights_bytes < m.weights_bytes) smaller.emplace_back(q, std::move(o));
    }
    std::sort(smaller.begin(), smaller.end(), [](const auto& a, const auto& b) { return a.second.weights_bytes > b.second.weights_bytes; });
  }

  for (const std::string& id : req.hw) {
    MachinePlan p;
    p.hw = id;
    p.ctx = ctx;
    p.users = req.users;
    p.weights_bytes = m.weights_bytes;
    p.kv_bytes = m.kv_bytes(ctx) * static_cast<uint64_t>(req.users);
    p.overhead_bytes = model::work_bytes(spec, kPlanBatch, static_cast<int32_t>(ctx));
    double usable = 0;
    if (id == "local") {
      if (!probe) return error("--hw local needs flint probe's measurements of this machine");
      FLINT_ASSIGN_OR_RETURN(const MemoryInfo mem, query_memory());
      p.name = fmt::format("this machine ({}, {} threads, measured {})", probe->machine.cpu, probe->machine.cores, probe->date);
      p.kind = "cpu";
      usable = static_cast<double>(mem.available);
    } else {
      const Hardware* h = find_hardware(id);
      if (!h) {
        std::string ids;
        for (const Hardware& x : hardware_catalog()) ids += (ids.empty() ? "" : ", ") + x.id;
        return error("unknown machine '{}' (known: {}, local)", id, ids);
      }
      p.name = h->name;
      p.kind = h->kind;
      usable = usable_bytes(*h);
    }
    p.usable_bytes = static_cast<uint64_t>(usable);
    p.fits = static_cast<double>(p.weights_bytes + p.kv_bytes + p.overhead_bytes) <= usable;
    p.max_ctx = longest_fitting_ctx(m, spec, req.users, usable);
    p.max_users = most_users(m, spec, ctx, usable);
    if (id == "local") {
      plan_local_machine(m, req, *probe, p);
    } else {
      plan_catalog_machine(m, req, *find_hardware(id), p);
    }
    if (!p.fits) {
      for (const auto& [q, o] : smaller) {
        if (static_cast<double>(need_bytes(o, spec, ctx, req.users)) <= usable) {
          p.suggestions.push_back(fmt::format("{} fits ({} of weights)", q, fmt_gib(static_cast<double>(o.weights_bytes))));
          break;
        }
      }
      if (p.max_ctx >= 256) p.suggestions.push_back(fmt::format("a context of {} tokens fits", p.max_ctx));
      if (req.users > 1 && p.max_users >= 1) p.suggestions.push_back(fmt::format("{} users fit at this context", p.max_users));
      if (p.suggestions.empty()) {
        p.suggestions.push_back(fmt::format("no context fits: the weights alone take {} of the {} usable",
                                            fmt_gib(static_cast<double>(m.weights_bytes)), fmt_gib(usable)));
      }
    }
    plan.machines.push_back(std::move(p));
  }
  return plan;
}

nlohmann::json to_json(const Plan& plan) {
  const ModelNeeds& m = plan.model;
  const auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  nlohmann::json machines = nlohmann::json::array();
  for (const MachinePlan& p : plan.machines) {
    machines.push_back({{"hw", p.hw}, {"name", p.name}, {"kind", p.kind}, {"fits", p.fits},
                        {"weights_bytes", p.weights_bytes}, {"kv_bytes", p.kv_bytes},
                        {"overhead_bytes", p.overhead_bytes}, {"usable_bytes", p.usable_bytes},
                        {"ctx", p.ctx}, {"users", p.users}, {"max_ctx", p.max_ctx}, {"max_users", p.max_users},
                        {"decode_tok_s_ceiling", opt(p.decode_tok_s_ceiling)},
                        {"decode_tok_s_expected", opt(p.decode_tok_s_expected)},
                        {"prefill_tok_s_expected", opt(p.prefill_tok_s_expected)}, {"ttft_s", opt(p.ttft_s)},
                        {"aggregate_tok_s", opt(p.aggregate_tok_s)}, {"unknown", p.unknown},
                        {"suggestions", p.suggestions}});
  }
  nlohmann::json types = nlohmann::json::array();
  for (const auto& t : m.by_type) types.push_back({{"type", t.type}, {"bytes_per_token", t.token_bytes}});
  return {{"model", {{"name", m.name}, {"quant", m.quant}, {"arch", m.arch}, {"n_params", m.n_params},
                     {"n_active_params", m.n_active_params}, {"weights_bytes", m.weights_bytes},
                     {"bytes_per_token", m.bytes_per_token}, {"kv_bytes_per_token", m.kv_bytes(1)},
                     {"n_ctx_train", m.n_ctx_train}, {"types", types}, {"note", m.note}}},
          {"request", {{"ctx", plan.machines.empty() ? 0 : plan.machines[0].ctx}, {"users", plan.request.users},
                       {"prompt", plan.request.prompt}, {"kv", dtype_name(plan.request.kv_type)}}},
          {"efficiency_sources", hardware_efficiency_sources()},
          {"machines", machines}};
}

std::string to_table(const Plan& plan) {
  const ModelNeeds& m = plan.model;
  std::string out = fmt::format("{} {}: {} params ({} active), {:.1f} GB of weights, {:.2f} GB read per token, KV {} per token\n",
                                m.name, m.quant, format_count(m.n_params), format_count(m.n_active_params),
                                static_cast<double>(m.weights_bytes) / 1e9, static_cast<double>(m.bytes_per_token) / 1e9,
                                format_bytes(m.kv_bytes(1)));
  if (!plan.machines.empty()) {
    out += fmt::format("context {} tokens x {} user{}, prompt {} tokens, KV {}\n\n", plan.machines[0].ctx,
                       plan.request.users, plan.request.users == 1 ? "" : "s", plan.request.prompt,
                       dtype_name(plan.request.kv_type));
  }
  const auto num = [](const std::optional<double>& v, const char* f) { return v ? fmt::format(fmt::runtime(f), *v) : std::string("?"); };
  out += fmt::format("{:<24} {:>4} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>10} {:>8} {:>10}\n", "machine", "fits",
                     "needs", "usable", "max ctx", "ceiling", "decode", "users", "prefill", "TTFT", "");
  out += fmt::format("{:<24} {:>4} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>10} {:>8}\n", "", "", "", "", "",
                     "tok/s", "tok/s", "tok/s", "tok/s", "s");
  for (const MachinePlan& p : plan.machines) {
    out += fmt::format("{:<24} {:>4} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>10} {:>8}\n", p.hw, p.fits ? "yes" : "NO",
                       fmt_gib(static_cast<double>(p.weights_bytes + p.kv_bytes + p.overhead_bytes)),
                       fmt_gib(static_cast<double>(p.usable_bytes)), p.max_ctx, num(p.decode_tok_s_ceiling, "{:.1f}"),
                       num(p.decode_tok_s_expected, "{:.1f}"), num(p.aggregate_tok_s, "{:.1f}"),
                       num(p.prefill_tok_s_expected, "{:.0f}"), num(p.ttft_s, "{:.2f}"));
    for (const std::string& s : p.suggestions) out += fmt::format("{:<24}   -> {}\n", "", s);
    for (const std::string& u : p.unknown) out += fmt::format("{:<24}   ? {}\n", "", u);
  }
  out += "\nceiling: bandwidth / bytes read per token; decode: expected (ceiling x measured or published efficiency);\n"
         "users: aggregate tok/s with every user decoding together; see flint plan --json for the sources.\n";
  if (!m.note.empty()) out += fmt::format("note: {}\n", m.note);
  return out;
}

std::string to_svg(const Plan& plan) {
  std::vector<const MachinePlan*> rows;
  for (const MachinePlan& p : plan.machines) rows.push_back(&p);
  std::sort(rows.begin(), rows.end(), [](const MachinePlan* a, const MachinePlan* b) {
    return a->decode_tok_s_expected.value_or(0) > b->decode_tok_s_expected.value_or(0);
  });
  double max_v = 1e-9;
  for (const MachinePlan* p : rows) max_v = std::max({max_v, p->decode_tok_s_ceiling.value_or(0), p->decode_tok_s_expected.value_or(0)});
  constexpr int kLabel = 200, kWidth = 520, kRow = 30, kTop = 50;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<text x=\"10\" y=\"20\" font-size=\"14\">flint plan: {} {}, ctx {} x {} user(s)</text>\n"
      "<text x=\"10\" y=\"38\" fill=\"#555\">decode tok/s expected (bar) and ceiling (outline); red: does not fit</text>\n",
      kLabel + kWidth + 160, kTop + kRow * static_cast<int>(rows.size()) + 20, plan.model.name, plan.model.quant,
      rows.empty() ? 0 : rows[0]->ctx, plan.request.users);
  for (size_t i = 0; i < rows.size(); ++i) {
    const MachinePlan& p = *rows[i];
    const int y = kTop + kRow * static_cast<int>(i);
    svg += fmt::format("<text x=\"10\" y=\"{}\">{}</text>\n", y + 15, p.hw);
    if (p.decode_tok_s_ceiling) {
      svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"20\" fill=\"none\" stroke=\"#555\" stroke-dasharray=\"4 2\"/>\n",
                         kLabel, y, kWidth * *p.decode_tok_s_ceiling / max_v);
    }
    const double v = p.decode_tok_s_expected.value_or(0);
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"20\" fill=\"{}\"/>\n", kLabel, y, kWidth * v / max_v,
                       p.fits ? "#3b9d5d" : "#d04545");
    svg += fmt::format("<text x=\"{}\" y=\"{}\">{} {}</text>\n", kLabel + kWidth + 8, y + 15,
                       p.decode_tok_s_expected ? fmt::format("{:.1f} tok/s", v) : std::string("unknown"),
                       p.fits ? "fits" : "does not fit");
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace flint::planner
