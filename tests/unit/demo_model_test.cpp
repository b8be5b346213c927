// The bundled demo model (models/) as a fidelity fixture of flint's own: its training script wrote
// the PyTorch model's logits for a held-out passage (tests/data/demo); flint must tokenize the
// passage into the same ids, give the same logits, and write English, not byte soup.
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runtime/engine.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace flint {
namespace {

const std::string kModel = std::string(FLINT_SOURCE_DIR) + "/models/flint-demo-kjv-F16.gguf";
const std::string kData = std::string(FLINT_SOURCE_DIR) + "/tests/data/demo";

nlohmann::json reference() {
  std::ifstream in(kData + "/reference.json");
  return nlohmann::json::parse(in);
}

std::unique_ptr<runtime::Engine> load_engine() {
  Result<std::unique_ptr<runtime::Engine>> e = runtime::Engine::load(
      {.model_path = kModel, .n_ctx = 256, .n_seq = 1, .kv_type = DType::F32, .n_threads = 2, .progress = false});
  EXPECT_TRUE(e.is_ok()) << e.status().message();
  return e.is_ok() ? std::move(e).value() : nullptr;
}

TEST(DemoModel, TokenizesThePassageAsItsTrainingScriptDid) {
  const nlohmann::json ref = reference();
  Result<gguf::GgufFile> f = gguf::GgufFile::open(kModel);
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::from_gguf(*f);
  ASSERT_TRUE(tok.is_ok()) << tok.status().message();
  Result<std::vector<int32_t>> ids = tok->encode(ref["text"].get<std::string>(), {.add_special = true});
  ASSERT_TRUE(ids.is_ok());
  EXPECT_EQ(*ids, ref["tokens"].get<std::vector<int32_t>>());
}

TEST(DemoModel, LogitsMatchThePyTorchModel) {
  const nlohmann::json ref = reference();
  const std::vector<int32_t> tokens = ref["tokens"].get<std::vector<int32_t>>();
  const int64_t n_vocab = ref["n_vocab"].get<int64_t>();
  std::ifstream in(kData + "/reference.logits.f32", std::ios::binary);
  std::vector<float> want(tokens.size() * static_cast<size_t>(n_vocab));
  in.read(reinterpret_cast<char*>(want.data()), static_cast<std::streamsize>(want.size() * sizeof(float)));
  ASSERT_TRUE(in) << "tests/data/demo/reference.logits.f32 is short";

  std::unique_ptr<runtime::Engine> e = load_engine();
  ASSERT_NE(e, nullptr);
  Result<int32_t> seq = e->add_sequence();
  ASSERT_TRUE(seq.is_ok());
  const runtime::DecodeRequest req{.seq = *seq, .tokens = tokens, .all_logits = true};
  Result<std::vector<float>> got = e->decode({&req, 1});
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  ASSERT_EQ(got->size(), want.size());

  double kl_sum = 0;
  int top1 = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    const float* p = want.data() + t * n_vocab;
    const float* q = got->data() + t * n_vocab;
    double pm = -1e30, qm = -1e30;
    int64_t pa = 0, qa = 0;
    for (int64_t v = 0; v < n_vocab; ++v) {
      if (p[v] > pm) pm = p[v], pa = v;
      if (q[v] > qm) qm = q[v], qa = v;
    }
    double ps = 0, qs = 0;
    for (int64_t v = 0; v < n_vocab; ++v) {
      ps += std::exp(p[v] - pm);
      qs += std::exp(q[v] - qm);
    }
    double kl = 0;
    for (int64_t v = 0; v < n_vocab; ++v) {
      const double lp = p[v] - pm - std::log(ps), lq = q[v] - qm - std::log(qs);
      kl += std::exp(lp) * (lp - lq);
    }
    kl_sum += kl;
    top1 += pa == qa;
  }
  const double mean_kl = kl_sum / static_cast<double>(tokens.size());
  std::printf("[  demo    ] %zu positions: top-1 %d/%zu, mean KL %.3e\n", tokens.size(), top1, tokens.size(), mean_kl);
  EXPECT_EQ(top1, static_cast<int>(tokens.size()));
  EXPECT_LT(mean_kl, 1e-5);  // F16 weights, activations rounded to F16 as llama.cpp does
}

// A random-weight model writes bytes; a trained one writes the words of its corpus.
TEST(DemoModel, WritesTheWordsOfItsCorpus) {
  std::unique_ptr<runtime::Engine> e = load_engine();
  ASSERT_NE(e, nullptr);
  Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::from_gguf(e->file());
  ASSERT_TRUE(tok.is_ok());
  Result<std::vector<int32_t>> prompt = tok->encode("And God said", {.add_special = true});
  ASSERT_TRUE(prompt.is_ok());
  Result<int32_t> seq = e->add_sequence();
  ASSERT_TRUE(seq.is_ok());
  const runtime::DecodeRequest req{.seq = *seq, .tokens = *prompt};
  Result<std::vector<float>> logits = e->decode({&req, 1});
  ASSERT_TRUE(logits.is_ok());
  runtime::Sampler sampler({.temperature = 0.0f});
  Result<runtime::GenerateResult> r = runtime::generate(*e, *seq, *tok, sampler, std::move(*logits),
                                                        {.max_tokens = 48, .context = *prompt}, [](const std::string&) {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const std::set<std::string> common = {"the", "and", "of", "to", "that", "in", "he", "shall", "unto", "for",
                                        "i", "his", "a", "lord", "they", "be", "is", "him", "not", "them",
                                        "it", "with", "all", "thou", "thy", "was", "god", "which", "my", "me",
                                        "said", "ye", "have", "from", "as", "are", "thee", "upon", "were", "by"};
  std::istringstream words(r->text);
  std::string w;
  int n = 0, known = 0;
  while (words >> w) {
    std::string lower;
    for (char c : w) {
      if (std::isalpha(static_cast<unsigned char>(c))) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (lower.empty()) continue;
    ++n;
    known += common.count(lower) > 0;
  }
  EXPECT_GE(n, 15) << r->text;
  EXPECT_GE(known, n / 4) << r->text;  // English prose: a third of its words are among these 40
}

}  // namespace
}  // namespace flint
