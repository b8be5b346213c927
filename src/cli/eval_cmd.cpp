// flint eval: teacher-forced logits for every position of a token file, and flint compare: where
// two logit files agree and where they start to diverge. These interfaces are stable: they are
// how fidelity is checked from outside.
#include <cmath>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "runtime/engine.h"

namespace flint::cli {
namespace {

// A token file: a JSON array of ids, or raw little-endian int32.
Result<std::vector<int32_t>> read_tokens(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("cannot open {}", path);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t first = bytes.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && bytes[first] == '[') {
    nlohmann::json j = nlohmann::json::parse(bytes, nullptr, false);
    if (j.is_discarded() || !j.is_array()) return error("{}: not a JSON array of token ids", path);
    std::vector<int32_t> ids;
    for (const auto& v : j) {
      if (!v.is_number_integer()) return error("{}: element {} is not an integer", path, ids.size());
      const int64_t id = v.get<int64_t>();
      if (id < INT32_MIN || id > INT32_MAX) return error("{}: element {} ({}) is not a token id", path, ids.size(), id);
      ids.push_back(static_cast<int32_t>(id));
    }
    return ids;
  }
  if (bytes.size() % 4 != 0) return error("{}: {} bytes is not a whole number of int32 tokens", path, bytes.size());
  std::vector<int32_t> ids(bytes.size() / 4);
  std::memcpy(ids.data(), bytes.data(), bytes.size());
  return ids;
}

Result<std::vector<float>> read_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("cannot open {}", path);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() % 4 != 0) return error("{}: not a float32 file", path);
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

Result<DType> kv_type_from(const std::string& name) {
  if (name == "f16") return DType::F16;
  if (name == "f32") return DType::F32;
  return error("--kv must be f16 or f32, not '{}'", name);
}

}  // namespace

Runner add_eval(CLI::App& app) {
  struct Args {
    runtime::EngineOptions engine;
    std::string tokens, logits_out, kv = "f16";
    bool incremental = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("eval", "Teacher-forced logits for every position of a token file");
  cmd->add_option("-m,--model", a->engine.model_path, "GGUF model")->required();
  cmd->add_option("--tokens", a->tokens, "Token ids: a JSON array, or raw int32")->required();
  cmd->add_option("--logits-out", a->logits_out, "float32 [n_tokens][n_vocab], row-major")->required();
  cmd->add_flag("--incremental", a->incremental, "One token per forward pass (the KV-cache path)");
  cmd->add_option("--kv", a->kv, "KV cache type: f16 (default) or f32");
  cmd->add_option("--ctx", a->engine.n_ctx, "Context length (default: the number of tokens)");
  cmd->add_option("-b,--batch", a->engine.n_batch, "Tokens per forward pass");
  cmd->add_option("-t,--threads", a->engine.n_threads, "Threads (default: all)");
  cmd->add_option("--trace", a->engine.trace_dir, "Dump named intermediates into this folder");
  return [a]() {
    Result<std::vector<int32_t>> tokens = read_tokens(a->tokens);
    if (!tokens) return fail(tokens.status().message());
    if (tokens->empty()) return fail(a->tokens + ": no tokens");
    Result<DType> kv = kv_type_from(a->kv);
    if (!kv) return fail(kv.status().message());
    a->engine.kv_type = *kv;
    if (a->engine.n_ctx == 0) a->engine.n_ctx = static_cast<int32_t>(tokens->size());
    Result<std::unique_ptr<runtime::Engine>> engine = runtime::Engine::load(a->engine);
    if (!engine) return fail(engine.status().message());
    runtime::Engine& e = **engine;
    Result<int32_t> seq = e.add_sequence();
    if (!seq) return fail(seq.status().message());
    // Logits are written a chunk at a time: a long file of a large-vocabulary model would not fit
    // in memory as one array ([n_tokens][n_vocab] floats). The chunking changes no logit: the
    // engine gives the same values batched, chunked or token by token.
    std::FILE* f = std::fopen(a->logits_out.c_str(), "wb");
    if (!f) return fail("cannot write " + a->logits_out);
    const size_t step = a->incremental ? 1 : static_cast<size_t>(std::max(1, a->engine.n_batch));
    for (size_t i = 0; i < tokens->size(); i += step) {
      const size_t n = std::min(step, tokens->size() - i);
      const runtime::DecodeRequest r{.seq = *seq, .tokens = std::span(*tokens).subspan(i, n), .all_logits = true};
      Result<std::vector<float>> l = e.decode({&r, 1});
      if (!l || std::fwrite(l->data(), sizeof(float), l->size(), f) != l->size()) {
        std::fclose(f);
        std::remove(a->logits_out.c_str());
        return fail(l ? "writing " + a->logits_out + " failed" : l.status().message());
      }
    }
    if (std::fclose(f) != 0) return fail("writing " + a->logits_out + " failed");
    fmt::print(stderr, "{} tokens x {} logits -> {}\n", tokens->size(), e.spec().n_vocab, a->logits_out);
    return 0;
  };
}

Runner add_compare(CLI::App& app) {
  struct Args {
    std::string a, b;
    int64_t n_vocab = 0;
    bool quiet = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("compare", "Compare two logit files: top-1 agreement and KL(A || B) per position");
  cmd->add_option("reference", a->a, "Reference logits (A), float32 [n][n_vocab]")->required();
  cmd->add_option("candidate", a->b, "Logits to check (B)")->required();
  cmd->add_option("--n-vocab", a->n_vocab, "Vocabulary size (row length)")->required();
  cmd->add_flag("-q,--quiet", a->quiet, "Only the summary");
  return [a]() {
    Result<std::vector<float>> ra = read_f32(a->a), rb = read_f32(a->b);
    if (!ra) return fail(ra.status().message());
    if (!rb) return fail(rb.status().message());
    if (a->n_vocab <= 0 || ra->size() != rb->size() || ra->size() % static_cast<size_t>(a->n_vocab) != 0) {
      return fail(fmt::format("sizes do not match: {} and {} floats, rows of {}", ra->size(), rb->size(), a->n_vocab));
    }
    const size_t nv = static_cast<size_t>(a->n_vocab), rows = ra->size() / nv;
    double kl_sum = 0, kl_max = 0, max_abs = 0;
    size_t agree = 0;
    int64_t first_disagreement = -1;
    if (!a->quiet) fmt::print("{:>5} {:>7} {:>7} {:>12} {:>10}\n", "pos", "top1_A", "top1_B", "KL(A||B)", "max|d|");
    for (size_t r = 0; r < rows; ++r) {
      const float* pa = ra->data() + r * nv;
      const float* pb = rb->data() + r * nv;
      const auto softmax_log = [nv](const float* x, std::vector<double>& out) {
        double mx = x[0];
        for (size_t i = 1; i < nv; ++i) mx = std::max<double>(mx, x[i]);
        double sum = 0;
        for (size_t i = 0; i < nv; ++i) sum += std::exp(x[i] - mx);
        out.resize(nv);
        for (size_t i = 0; i < nv; ++i) out[i] = x[i] - mx - std::log(sum);
      };
      std::vector<double> la, lb;
      softmax_log(pa, la);
      softmax_log(pb, lb);
      double kl = 0, row_max = 0;
      size_t ta = 0, tb = 0;
      for (size_t i = 0; i < nv; ++i) {
        kl += std::exp(la[i]) * (la[i] - lb[i]);
        row_max = std::max(row_max, std::fabs(static_cast<double>(pa[i]) - pb[i]));
        if (pa[i] > pa[ta]) ta = i;
        if (pb[i] > pb[tb]) tb = i;
      }
      kl_sum += kl;
      kl_max = std::max(kl_max, kl);
      max_abs = std::max(max_abs, row_max);
      if (ta == tb) ++agree;
      else if (first_disagreement < 0) first_disagreement = static_cast<int64_t>(r);
      if (!a->quiet) fmt::print("{:>5} {:>7} {:>7} {:>12.3e} {:>10.3e}{}\n", r, ta, tb, kl, row_max, ta == tb ? "" : "  <- top-1 differs");
    }
    fmt::print("positions {}  top-1 agreement {:.2f}%  mean KL {:.3e}  max KL {:.3e}  max |dlogit| {:.3e}  first top-1 difference {}\n",
               rows, 100.0 * static_cast<double>(agree) / static_cast<double>(rows), kl_sum / static_cast<double>(rows),
               kl_max, max_abs, first_disagreement < 0 ? std::string("none") : std::to_string(first_disagreement));
    return 0;
  };
}

}  // namespace flint::cli
