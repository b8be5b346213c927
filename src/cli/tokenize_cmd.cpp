// flint tokenize / detokenize / convert-tokenizer: tokenization checked from outside.
// These interfaces are stable: scripts compare them with other tokenizers.
#include <cctype>
#include <iostream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tokenizer.h"

namespace flint::cli {
namespace {

std::string read_stdin() {
  std::ios::sync_with_stdio(false);
  return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
}

Result<tokenizer::Tokenizer> load(const std::string& path) {
  // Header only: a vocab-only file or a partial download is enough to tokenize.
  FLINT_ASSIGN_OR_RETURN(gguf::GgufFile f, gguf::GgufFile::open(path, {.require_data = false}));
  return tokenizer::Tokenizer::from_gguf(f);
}

// Ids from text: a JSON array, or integers separated by spaces, commas or newlines.
Result<std::vector<int32_t>> parse_ids(const std::string& text) {
  std::string s = text;
  for (char& c : s) {
    if (c == '[' || c == ']' || c == ',') c = ' ';
  }
  std::istringstream in(s);
  std::vector<int32_t> ids;
  std::string word;
  while (in >> word) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(word, &used);
    } catch (...) {
      used = 0;
    }
    if (used != word.size() || v < INT32_MIN || v > INT32_MAX) {
      return error("'{}' is not a token id (expected integers, or a JSON array of them)", word);
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

}  // namespace

Runner add_tokenize(CLI::App& app) {
  struct Args {
    std::string model;
    bool add_special = false, parse_special = false, ids = false, json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Tokenize text from stdin with a model's tokenizer");
  cmd->add_option("-m,--model", a->model, "GGUF file (a vocab-only file is enough)")->required();
  cmd->add_flag("--add-special", a->add_special, "Add BOS/EOS as the model's metadata says");
  cmd->add_flag("--parse-special", a->parse_special, "Match control-token text such as <|eot_id|>");
  cmd->add_flag("--ids", a->ids, "Print only the ids, separated by spaces");
  cmd->add_flag("--json", a->json, "Print the ids as a JSON array");
  return [a]() {
    Result<tokenizer::Tokenizer> tok = load(a->model);
    if (!tok) return fail(tok.status().message());
    const std::string text = read_stdin();
    Result<std::vector<int32_t>> ids =
        tok->encode(text, {.add_special = a->add_special, .parse_special = a->parse_special});
    if (!ids) return fail(ids.status().message());
    if (a->json) {
      fmt::print("{}\n", nlohmann::json(*ids).dump());
    } else if (a->ids) {
      fmt::print("{}\n", fmt::join(*ids, " "));
    } else {
      for (int32_t id : *ids) fmt::print("{:>8} {:?}\n", id, tok->piece(id));
    }
    return 0;
  };
}

Runner add_detokenize(CLI::App& app) {
  struct Args {
    std::string model;
    bool remove_special = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("detokenize", "Turn token ids from stdin back into text");
  cmd->add_option("-m,--model", a->model, "GGUF file (a vocab-only file is enough)")->required();
  cmd->add_flag("--remove-special", a->remove_special, "Drop BOS/EOS added by tokenization");
  return [a]() {
    Result<tokenizer::Tokenizer> tok = load(a->model);
    if (!tok) return fail(tok.status().message());
    Result<std::vector<int32_t>> ids = parse_ids(read_stdin());
    if (!ids) return fail(ids.status().message());
    for (size_t i = 0; i < ids->size(); ++i) {
      const int32_t id = (*ids)[i];
      if (id < 0 || id >= tok->n_vocab()) {
        return fail(fmt::format("token {} (position {}) is outside the vocabulary 0..{}", id, i,
                                tok->n_vocab() - 1));
      }
    }
    const std::string text = tok->decode(*ids, {.remove_special = a->remove_special});
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  };
}

Runner add_convert_tokenizer(CLI::App& app) {
  struct Args {
    tokenizer::HfImportOptions import;
    std::string output, arch = "llama", name;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("convert-tokenizer", "Turn a Hugging Face tokenizer.json into a vocab-only GGUF");
  cmd->add_option("tokenizer_json", a->import.tokenizer_json, "tokenizer.json")->required();
  cmd->add_option("tokenizer_config_json", a->import.tokenizer_config_json, "tokenizer_config.json (special tokens, chat template)");
  cmd->add_option("-o,--output", a->output, "Output GGUF")->required();
  cmd->add_option("--vocab-size", a->import.vocab_size, "Pad the vocabulary to the model's size (config.json vocab_size)");
  cmd->add_option("--pre", a->import.pre, "Pre-tokenizer name (default: detected from the regex)");
  cmd->add_option("--config", a->import.config_json, "The model's config.json (BOS/EOS ids when tokenizer_config.json has none)");
  cmd->add_option("--arch", a->arch, "general.architecture to write (default llama)");
  cmd->add_option("--name", a->name, "general.name");
  return [a]() {
    Result<std::vector<gguf::KeyValue>> kv = tokenizer::import_hf_tokenizer(a->import);
    if (!kv) return fail(kv.status().message());
    const std::string name = a->name.empty() ? "vocab-only" : a->name;
    Status s = tokenizer::write_vocab_gguf(a->output, a->arch, name, std::move(*kv));
    if (!s) return fail(s.message());
    fmt::print(stderr, "wrote {}\n", a->output);
    return 0;
  };
}

}  // namespace flint::cli
