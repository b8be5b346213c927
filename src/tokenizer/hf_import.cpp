#include "tokenizer/hf_import.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gguf/gguf_writer.h"

namespace flint::tokenizer {
namespace {

using json = nlohmann::json;  // ordered_json inserts in O(n): far too slow for a 150k-entry vocab
using gguf::Value;

Result<json> read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return error("cannot open {}", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  json j = json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return error("{}: not valid JSON", path);
  return j;
}

// The pre-tokenizer regexes of the models flint knows, as tokenizer.json spells them.
struct KnownPre {
  const char* name;
  const char* regex;
};
constexpr KnownPre kKnownPres[] = {
    {"llama-bpe", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
    {"qwen2", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
};

// Finds the Split regex (or a bare ByteLevel with its GPT-2 regex) in the pre_tokenizer tree.
Result<std::string> detect_pre(const json& pre_tokenizer, const std::string& path) {
  std::vector<std::string> regexes;
  bool byte_level_regex = false;
  const auto visit = [&](const json& node, const auto& self) -> void {
    if (!node.is_object()) return;
    const std::string type = node.value("type", "");
    if (type == "Sequence" && node.contains("pretokenizers")) {
      for (const json& child : node["pretokenizers"]) self(child, self);
    } else if (type == "Split" && node.contains("pattern") && node["pattern"].contains("Regex")) {
      regexes.push_back(node["pattern"]["Regex"].get<std::string>());
    } else if (type == "ByteLevel" && node.value("use_regex", true)) {
      byte_level_regex = true;
    }
  };
  visit(pre_tokenizer, visit);
  if (regexes.empty() && byte_level_regex) return std::string("gpt-2");
  if (regexes.size() == 1) {
    for (const KnownPre& k : kKnownPres) {
      if (regexes[0] == k.regex) return std::string(k.name);
    }
  }
  return error("{}: unrecognized pre-tokenizer {}: pass --pre NAME (llama-bpe, qwen2, gpt-2, ...)",
               path, regexes.empty() ? std::string("(no Split regex)") : "regex " + regexes[0]);
}

// convert_hf_to_gguf's does_token_look_special: added tokens that are control tokens in
// practice even when tokenizer.json does not flag them special.
bool looks_special(const std::string& t) {
  if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
  if (t.starts_with("<|") && t.ends_with("|>")) return true;
  if (t.starts_with("<\xEF\xBD\x9C") && t.ends_with("\xEF\xBD\x9C>")) return true;  // <｜ ... ｜>
  return t.starts_with("<unused") && t.ends_with(">");
}

// tokenizer_config's special tokens are a string or {"content": ...}.
std::optional<std::string> token_text(const json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

Result<std::vector<gguf::KeyValue>> import_impl(const HfImportOptions& options);

}  // namespace

Result<std::vector<gguf::KeyValue>> import_hf_tokenizer(const HfImportOptions& options) {
  // A field of the wrong JSON type throws from nlohmann's accessors: report it, never crash.
  try {
    return import_impl(options);
  } catch (const nlohmann::json::exception& e) {
    return error("{}: unexpected structure: {}", options.tokenizer_json, e.what());
  }
}

namespace {

Result<std::vector<gguf::KeyValue>> import_impl(const HfImportOptions& options) {
  FLINT_ASSIGN_OR_RETURN(json tok, read_json(options.tokenizer_json));
  json config = json::object();
  if (!options.tokenizer_config_json.empty()) {
    FLINT_ASSIGN_OR_RETURN(config, read_json(options.tokenizer_config_json));
  }
  const std::string& path = options.tokenizer_json;
  if (!tok.contains("model") || !tok["model"].is_object()) return error("{}: no \"model\" object", path);
  const json& model = tok["model"];
  if (model.value("type", "") != "BPE" || !model.contains("vocab") || !model.contains("merges")) {
    return error("{}: model type '{}' is not supported (flint imports byte-level BPE tokenizers)",
                 path, model.value("type", "?"));
  }
  if (model.value("byte_fallback", false)) {
    return error("{}: a SentencePiece-style BPE (byte_fallback) tokenizer.json is not supported "
                 "yet; use the model's GGUF vocabulary", path);
  }
  std::string pre = options.pre;
  if (pre.empty()) {
    FLINT_ASSIGN_OR_RETURN(pre, detect_pre(tok.value("pre_tokenizer", json()), path));
  }

  // Tokens by id: the BPE vocab plus added tokens; gaps (and padding) are [PADn], UNUSED.
  std::map<int64_t, std::string> by_id;
  for (const auto& [text, id] : model["vocab"].items()) by_id[id.get<int64_t>()] = text;
  struct Added {
    bool special;
  };
  std::map<int64_t, Added> added;
  if (tok.contains("added_tokens")) {
    for (const json& a : tok["added_tokens"]) {
      const int64_t id = a.value("id", int64_t{-1});
      if (id < 0) return error("{}: an added token has no id", path);
      by_id[id] = a.value("content", "");
      added[id] = {a.value("special", false)};
    }
  }
  const int64_t max_id = by_id.empty() ? -1 : by_id.rbegin()->first;
  const int64_t n = std::max<int64_t>(max_id + 1, options.vocab_size);
  if (options.vocab_size != 0 && max_id >= options.vocab_size) {
    return error("{}: token id {} does not fit --vocab-size {}", path, max_id, options.vocab_size);
  }
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::map<std::string, int64_t> id_of;
  tokens.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    const auto it = by_id.find(i);
    if (it == by_id.end()) {
      tokens.push_back("[PAD" + std::to_string(i) + "]");
      types.push_back(5);  // UNUSED
      continue;
    }
    std::string text = it->second;
    const auto a = added.find(i);
    if (a == added.end()) {
      types.push_back(1);  // NORMAL
    } else if (a->second.special || looks_special(text)) {
      types.push_back(3);  // CONTROL
    } else {
      // User-defined tokens are matched against raw text: pre-normalize SentencePiece spaces.
      for (size_t p; (p = text.find("\xE2\x96\x81")) != std::string::npos;) text.replace(p, 3, " ");
      types.push_back(4);  // USER_DEFINED
    }
    id_of.emplace(text, i);
    tokens.push_back(std::move(text));
  }

  // Merges are "a b" strings or [a, b] pairs.
  std::vector<std::string> merges;
  for (const json& m : model["merges"]) {
    if (m.is_string()) {
      merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    } else {
      return error("{}: a merge is neither \"a b\" nor [a, b]", path);
    }
  }

  std::vector<gguf::KeyValue> kv;
  kv.push_back({"tokenizer.ggml.model", Value::string("gpt2")});
  kv.push_back({"tokenizer.ggml.pre", Value::string(pre)});
  kv.push_back({"tokenizer.ggml.tokens", Value::string_array(std::move(tokens))});
  kv.push_back({"tokenizer.ggml.token_type", Value::array_of(gguf::ValueType::INT32, types)});
  kv.push_back({"tokenizer.ggml.merges", Value::string_array(std::move(merges))});
  const auto special_id = [&](const char* config_key, const char* gguf_name) -> Status {
    const std::optional<std::string> text = token_text(config, config_key);
    if (!text) return Status::ok();
    const auto it = id_of.find(*text);
    if (it == id_of.end()) {
      return error("{}: {} '{}' is not in the vocabulary", options.tokenizer_config_json, config_key, *text);
    }
    kv.push_back({std::string("tokenizer.ggml.") + gguf_name + "_token_id",
                  Value::u32(static_cast<uint32_t>(it->second))});
    return Status::ok();
  };
  FLINT_RETURN_IF_ERROR(special_id("bos_token", "bos"));
  FLINT_RETURN_IF_ERROR(special_id("eos_token", "eos"));
  if (!options.config_json.empty()) {
    FLINT_ASSIGN_OR_RETURN(const json model_config, read_json(options.config_json));
    for (const auto& [key, name] : {std::pair{"bos_token_id", "bos"}, std::pair{"eos_token_id", "eos"}}) {
      const std::string gguf_key = std::string("tokenizer.ggml.") + name + "_token_id";
      const bool present = std::any_of(kv.begin(), kv.end(), [&](const gguf::KeyValue& e) { return e.key == gguf_key; });
      if (present || !model_config.contains(key) || !model_config[key].is_number_integer()) continue;
      const int64_t id = model_config[key].get<int64_t>();
      if (id < 0 || id >= n) return error("{}: {} {} is outside the vocabulary", options.config_json, key, id);
      kv.push_back({gguf_key, Value::u32(static_cast<uint32_t>(id))});
    }
  }
  FLINT_RETURN_IF_ERROR(special_id("unk_token", "unknown"));
  FLINT_RETURN_IF_ERROR(special_id("sep_token", "seperator"));  // sic: llama.cpp's key
  FLINT_RETURN_IF_ERROR(special_id("pad_token", "padding"));
  // add_bos: the config's word when it has one; Llama 3 (llama-bpe) always starts with BOS.
  if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) {
    kv.push_back({"tokenizer.ggml.add_bos_token", Value::boolean(config["add_bos_token"].get<bool>())});
  } else if (pre == "llama-bpe" && token_text(config, "bos_token")) {
    kv.push_back({"tokenizer.ggml.add_bos_token", Value::boolean(true)});
  }
  if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean()) {
    kv.push_back({"tokenizer.ggml.add_eos_token", Value::boolean(config["add_eos_token"].get<bool>())});
  } else if (pre == "llama-bpe" && token_text(config, "bos_token")) {
    kv.push_back({"tokenizer.ggml.add_eos_token", Value::boolean(false)});
  }
  if (config.contains("chat_template") && config["chat_template"].is_string()) {
    kv.push_back({"tokenizer.chat_template", Value::string(config["chat_template"].get<std::string>())});
  }
  return kv;
}

}  // namespace

Status write_vocab_gguf(const std::string& path, const std::string& architecture,
                        const std::string& name, std::vector<gguf::KeyValue> tokenizer) {
  FLINT_ASSIGN_OR_RETURN(gguf::GgufWriter w, gguf::GgufWriter::create(path));
  FLINT_RETURN_IF_ERROR(w.add("general.architecture", Value::string(architecture)));
  FLINT_RETURN_IF_ERROR(w.add("general.name", Value::string(name)));
  for (gguf::KeyValue& kv : tokenizer) FLINT_RETURN_IF_ERROR(w.add(std::move(kv.key), std::move(kv.value)));
  return w.finish();
}

}  // namespace flint::tokenizer
