#include "planner/catalog.h"

#include "planner/hardware_json.h"

namespace flint::planner {
namespace {

std::optional<double> opt_number(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<double>();
}

std::vector<Hardware> parse_catalog() {
  // Built into the binary from hardware.json; a malformed file fails the unit tests, and here
  // it would abort at first use rather than plan with wrong figures.
  const nlohmann::json doc = nlohmann::json::parse(kHardwareJson);
  std::vector<Hardware> out;
  for (const nlohmann::json& m : doc.at("machines")) {
    Hardware h;
    h.id = m.at("id").get<std::string>();
    h.name = m.at("name").get<std::string>();
    h.kind = m.at("kind").get<std::string>();
    h.os = m.at("os").get<std::string>();
    h.memory_gb = m.at("memory_gb").get<double>();
    h.bandwidth_gbs = opt_number(m, "bandwidth_gbs");
    h.fp16_tflops = opt_number(m, "fp16_tflops");
    h.fp8_tflops = opt_number(m, "fp8_tflops");
    h.fp4_tflops = opt_number(m, "fp4_tflops");
    h.power_w = opt_number(m, "power_w");
    h.price_usd = opt_number(m, "price_usd");
    h.os_reserve_gb = m.at("os_reserve_gb").get<double>();
    h.usable_fraction = m.at("usable_fraction").get<double>();
    h.decode_efficiency = m.at("decode_efficiency").get<double>();
    h.prefill_efficiency = m.at("prefill_efficiency").get<double>();
    h.sources = m.at("sources");
    out.push_back(std::move(h));
  }
  return out;
}

model::ModelShape llama(uint32_t layers, uint32_t embd, uint32_t heads, uint32_t kv, uint32_t ff,
                        uint32_t vocab, uint32_t ctx, float rope_base) {
  model::ModelShape s;
  s.arch = "llama";
  s.n_layer = layers;
  s.n_embd = embd;
  s.n_head = heads;
  s.n_head_kv = kv;
  s.head_dim = embd / heads;
  s.n_ff = ff;
  s.n_vocab = vocab;
  s.n_ctx = ctx;
  s.rope_freq_base = rope_base;
  return s;
}

model::ModelShape qwen3(uint32_t layers, uint32_t embd, uint32_t heads, uint32_t kv, uint32_t head_dim,
                        uint32_t ff, uint32_t ctx) {
  model::ModelShape s;
  s.arch = "qwen3";
  s.n_layer = layers;
  s.n_embd = embd;
  s.n_head = heads;
  s.n_head_kv = kv;
  s.head_dim = head_dim;
  s.n_ff = ff;
  s.n_vocab = 151936;
  s.n_ctx = ctx;
  s.rope_freq_base = 1e6f;
  s.rms_eps = 1e-6f;
  return s;
}

model::ModelShape moe(model::ModelShape s, uint32_t experts, uint32_t used, uint32_t ff_exp) {
  s.n_expert = experts;
  s.n_expert_used = used;
  s.n_ff_exp = ff_exp;
  if (s.arch == "qwen3") s.arch = "qwen3moe";
  s.n_ff = s.arch == "llama" ? 0 : s.n_ff;
  return s;
}

std::vector<CatalogModel> build_models() {
  std::vector<CatalogModel> m;
  auto add = [&](std::string id, std::string desc, model::ModelShape s, std::string native = "BF16") {
    m.push_back({.id = std::move(id), .description = std::move(desc), .shape = s, .native_quant = std::move(native), .note = {}});
    return &m.back();
  };
  // Llama 3.x: rope base 500000 with the 3.1 long-context frequency factors (a rope_freqs tensor).
  for (auto [id, desc, s] : {std::tuple{"llama-3.1-8b", "Meta Llama 3.1 8B", llama(32, 4096, 32, 8, 14336, 128256, 131072, 5e5f)},
                             std::tuple{"llama-3.3-70b", "Meta Llama 3.3 70B", llama(80, 8192, 64, 8, 28672, 128256, 131072, 5e5f)},
                             std::tuple{"llama-3.1-405b", "Meta Llama 3.1 405B", llama(126, 16384, 128, 8, 53248, 128256, 131072, 5e5f)}}) {
    s.llama3_rope_factor = 8.0f;
    add(id, desc, s);
  }
  add("mistral-7b", "Mistral 7B v0.3", llama(32, 4096, 32, 8, 14336, 32768, 32768, 1e6f));
  add("mixtral-8x7b", "Mixtral 8x7B (8 experts, 2 per token)", moe(llama(32, 4096, 32, 8, 0, 32000, 32768, 1e6f), 8, 2, 14336));
  add("qwen3-8b", "Qwen3 8B", qwen3(36, 4096, 32, 8, 128, 12288, 40960));
  add("qwen3-14b", "Qwen3 14B", qwen3(40, 5120, 40, 8, 128, 17408, 40960));
  add("qwen3-32b", "Qwen3 32B", qwen3(64, 5120, 64, 8, 128, 25600, 40960));
  add("qwen3-30b-a3b", "Qwen3 30B-A3B (128 experts, 8 per token)", moe(qwen3(48, 2048, 32, 4, 128, 0, 40960), 128, 8, 768));
  add("qwen3-235b-a22b", "Qwen3 235B-A22B (128 experts, 8 per token)", moe(qwen3(94, 4096, 64, 4, 128, 0, 40960), 128, 8, 1536));
  // gpt-oss: alternating full and 128-token sliding-window attention, 4 experts per token,
  // released with MXFP4 experts. Its tensors are priced as a qwen3moe of the same shape (the
  // attention sinks and biases it adds are under 0.1% of the bytes).
  for (auto [id, desc, layers, experts] : {std::tuple{"gpt-oss-20b", "OpenAI gpt-oss-20b (32 experts, 4 per token)", 24u, 32u},
                                           std::tuple{"gpt-oss-120b", "OpenAI gpt-oss-120b (128 experts, 4 per token)", 36u, 128u}}) {
    model::ModelShape s = moe(qwen3(layers, 2880, 64, 8, 64, 0, 131072), experts, 4, 2880);
    s.n_vocab = 201088;
    s.rope_freq_base = 150000.0f;
    CatalogModel* c = add(id, desc, s, "MXFP4");
    c->n_swa_layers = layers / 2;
    c->swa_window = 128;
    c->note = "tensors priced as a qwen3moe of the same shape (sinks and biases omitted, <0.1%)";
  }
  return m;
}

}  // namespace

const std::vector<Hardware>& hardware_catalog() {
  static const std::vector<Hardware> catalog = parse_catalog();
  return catalog;
}

const Hardware* find_hardware(std::string_view id) {
  for (const Hardware& h : hardware_catalog()) {
    if (h.id == id) return &h;
  }
  return nullptr;
}

const nlohmann::json& hardware_efficiency_sources() {
  static const nlohmann::json sources = nlohmann::json::parse(kHardwareJson).at("efficiency_sources");
  return sources;
}

const std::vector<CatalogModel>& model_catalog() {
  static const std::vector<CatalogModel> catalog = build_models();
  return catalog;
}

const CatalogModel* find_model(std::string_view id) {
  for (const CatalogModel& m : model_catalog()) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

}  // namespace flint::planner
