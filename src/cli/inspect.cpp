// flint inspect: what a GGUF file holds and what it costs to run.
#include <map>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/progress.h"
#include "gguf/gguf_file.h"
#include "model/cost.h"
#include "model/model_spec.h"

namespace flint::cli {
namespace {

struct InspectArgs {
  std::string path;
  bool json = false;
  bool metadata = false;
};

std::string shape_string(const std::vector<uint64_t>& shape) {
  std::string out;
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? " x " : "") + std::to_string(shape[i]);
  return out;
}

struct TokenizerSummary {
  std::string model, pre;
  uint64_t n_tokens = 0;
  std::map<std::string, std::pair<int64_t, std::string>> special;  // bos/eos/... -> id, text
  std::optional<bool> add_bos, add_eos;
  bool chat_template = false;
};

TokenizerSummary summarize_tokenizer(const gguf::GgufFile& f) {
  TokenizerSummary t;
  if (auto m = f.get_string("tokenizer.ggml.model"); m) t.model = *m;
  if (auto p = f.get_string("tokenizer.ggml.pre"); p) t.pre = *p;
  const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
  if (tokens && tokens->is_array()) t.n_tokens = tokens->array_size();
  for (const char* kind : {"bos", "eos", "eot", "eom", "unknown", "padding", "sep"}) {
    Result<int64_t> id = f.get<int64_t>(fmt::format("tokenizer.ggml.{}_token_id", kind));
    if (!id) continue;
    std::string text;
    if (tokens && tokens->array_type() == gguf::ValueType::STRING && *id >= 0 &&
        static_cast<uint64_t>(*id) < tokens->strings().size()) {
      text = tokens->strings()[static_cast<size_t>(*id)];
    }
    t.special[kind] = {*id, text};
  }
  if (auto b = f.get<bool>("tokenizer.ggml.add_bos_token"); b) t.add_bos = *b;
  if (auto e = f.get<bool>("tokenizer.ggml.add_eos_token"); e) t.add_eos = *e;
  t.chat_template = f.has("tokenizer.chat_template");
  return t;
}

// Tensor count and bytes per type name.
std::map<std::string, std::pair<int, uint64_t>> totals_by_type(const gguf::GgufFile& f) {
  std::map<std::string, std::pair<int, uint64_t>> by_type;
  for (const gguf::TensorInfo& t : f.tensors()) {
    auto& row = by_type[std::string(dtype_name(t.type))];
    row.first++;
    row.second += t.n_bytes;
  }
  return by_type;
}

nlohmann::json to_json(const gguf::GgufFile& f, const Result<model::ModelSpec>& spec,
                       const TokenizerSummary& tok) {
  using nlohmann::json;
  json j;
  j["path"] = f.path();
  j["gguf_version"] = f.version();
  j["file_bytes"] = f.file_size();
  j["has_all_data"] = f.has_all_data();
  j["alignment"] = f.alignment();
  json meta = json::object();
  for (const gguf::KeyValue& kv : f.metadata()) meta[kv.key] = kv.value.to_display_string(8);
  j["metadata"] = meta;
  if (spec) {
    const model::ModelSpec& s = *spec;
    j["architecture"] = {
        {"arch", s.arch}, {"name", s.name}, {"n_layer", s.n_layer}, {"n_embd", s.n_embd},
        {"n_head", s.n_head}, {"n_head_kv", s.n_head_kv}, {"head_dim_k", s.head_dim_k},
        {"head_dim_v", s.head_dim_v}, {"n_ff", s.n_ff}, {"n_vocab", s.n_vocab},
        {"n_ctx_train", s.n_ctx_train}, {"n_expert", s.n_expert},
        {"n_expert_used", s.n_expert_used}, {"n_ff_exp", s.n_ff_exp},
        {"rope_freq_base", s.rope_freq_base}, {"rms_eps", s.rms_eps},
        {"tied_embeddings", s.tied_embeddings}};
    const model::ModelCost c = model::compute_cost(f, s);
    json kv = json::object();
    for (DType t : {DType::F32, DType::F16, DType::Q8_0}) {
      kv[std::string(dtype_name(t))] = *model::kv_bytes_per_token(s, t);
    }
    j["cost"] = {{"weight_bytes", c.weight_bytes},
                 {"weight_bytes_per_token", c.weight_bytes_per_token},
                 {"expert_bytes", c.expert_bytes},
                 {"n_params", c.n_params},
                 {"n_active_params", c.n_active_params},
                 {"kv_bytes_per_token", kv}};
  } else {
    j["architecture_error"] = spec.status().message();
  }
  json special = json::object();
  for (const auto& [kind, v] : tok.special) special[kind] = {{"id", v.first}, {"text", v.second}};
  j["tokenizer"] = {{"model", tok.model}, {"pre", tok.pre}, {"n_tokens", tok.n_tokens},
                    {"special", special}, {"chat_template", tok.chat_template}};
  if (tok.add_bos) j["tokenizer"]["add_bos"] = *tok.add_bos;
  if (tok.add_eos) j["tokenizer"]["add_eos"] = *tok.add_eos;
  json tensors = json::array();
  for (const gguf::TensorInfo& t : f.tensors()) {
    tensors.push_back({{"name", t.name}, {"type", dtype_name(t.type)}, {"shape", t.shape},
                       {"bytes", t.n_bytes}, {"offset", f.data_offset() + t.offset}});
  }
  j["tensors"] = tensors;
  json totals = json::object();
  for (const auto& [type, v] : totals_by_type(f)) totals[type] = {{"tensors", v.first}, {"bytes", v.second}};
  j["totals_by_type"] = totals;
  return j;
}

void print_text(const gguf::GgufFile& f, const Result<model::ModelSpec>& spec,
                const TokenizerSummary& tok, bool show_metadata) {
  fmt::print("{}: GGUF v{}, {}, {} tensors, {} metadata keys{}\n", f.path(), f.version(),
             format_bytes(f.file_size()), f.tensors().size(), f.metadata().size(),
             f.has_all_data() ? "" : " (tensor data missing: header only)");
  if (spec) {
    const model::ModelSpec& s = *spec;
    fmt::print("\narchitecture  {}{}\n", s.arch, s.name.empty() ? "" : "  (" + s.name + ")");
    fmt::print("  layers {}, n_embd {}, heads {} / kv {} x {} (v {}), ffn {}, vocab {}, context {}\n",
               s.n_layer, s.n_embd, s.n_head, s.n_head_kv, s.head_dim_k, s.head_dim_v, s.n_ff,
               s.n_vocab, s.n_ctx_train);
    if (s.is_moe()) {
      fmt::print("  experts {} ({} used per token), expert ffn {}\n", s.n_expert, s.n_expert_used,
                 s.n_ff_exp);
    }
    fmt::print("  rope base {}, rms eps {}, tied embeddings {}\n", s.rope_freq_base, s.rms_eps,
               s.tied_embeddings ? "yes" : "no");
  } else {
    fmt::print("\narchitecture: {}\n", spec.status().message());
  }
  fmt::print("\ntokenizer  {}{}, {} tokens, chat template {}\n", tok.model.empty() ? "(none)" : tok.model,
             tok.pre.empty() ? "" : " / pre " + tok.pre, tok.n_tokens, tok.chat_template ? "yes" : "no");
  for (const auto& [kind, v] : tok.special) fmt::print("  {} {} {:?}\n", kind, v.first, v.second);
  if (tok.add_bos) fmt::print("  add_bos {}\n", *tok.add_bos ? "yes" : "no");

  fmt::print("\n{:<40} {:<8} {:>24} {:>12}\n", "tensor", "type", "shape", "bytes");
  for (const gguf::TensorInfo& t : f.tensors()) {
    fmt::print("{:<40} {:<8} {:>24} {:>12}\n", t.name, dtype_name(t.type), shape_string(t.shape),
               t.n_bytes);
  }
  const auto by_type = totals_by_type(f);
  uint64_t total = 0;
  for (const auto& [type, v] : by_type) total += v.second;
  fmt::print("\ntotals by type\n");
  for (const auto& [type, v] : by_type) {
    fmt::print("  {:<8} {:>4} tensors {:>12} ({:5.1f}%)\n", type, v.first, format_bytes(v.second),
               total ? 100.0 * static_cast<double>(v.second) / static_cast<double>(total) : 0.0);
  }
  if (spec) {
    const model::ModelCost c = model::compute_cost(f, *spec);
    fmt::print("\ncost\n");
    fmt::print("  weights            {} ({} params)\n", format_bytes(c.weight_bytes),
               format_count(c.n_params));
    fmt::print("  read per token     {} ({} bytes, {} active params)\n",
               format_bytes(c.weight_bytes_per_token), c.weight_bytes_per_token,
               format_count(c.n_active_params));
    fmt::print("  KV cache per token");
    for (DType t : {DType::F16, DType::F32, DType::Q8_0}) {
      fmt::print("  {} {}", dtype_name(t), format_bytes(*model::kv_bytes_per_token(*spec, t)));
    }
    fmt::print("\n");
  }
  if (show_metadata) {
    fmt::print("\nmetadata\n");
    for (const gguf::KeyValue& kv : f.metadata()) {
      std::string v = kv.value.to_display_string(4);
      if (v.size() > 120) v = v.substr(0, 117) + "...";
      fmt::print("  {:<44} {}\n", kv.key, v);
    }
  }
}

}  // namespace

Runner add_inspect(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a GGUF file's architecture, tokenizer, tensors and cost per token");
  cmd->add_option("model", args->path, "GGUF file")->required();
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->add_flag("--metadata", args->metadata, "Also list every metadata key");
  return [args]() {
    // Header-only: works on a partial download; the data section is not read.
    Result<gguf::GgufFile> f = gguf::GgufFile::open(args->path, {.require_data = false});
    if (!f) return fail(f.status().message());
    const Result<model::ModelSpec> spec = model::ModelSpec::from_gguf(*f);
    const TokenizerSummary tok = summarize_tokenizer(*f);
    if (args->json) {
      fmt::print("{}\n", to_json(*f, spec, tok).dump(2));
    } else {
      print_text(*f, spec, tok, args->metadata);
    }
    return 0;
  };
}

}  // namespace flint::cli
