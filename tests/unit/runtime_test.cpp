// Runtime pieces without fixtures: the sampler, generation with stop strings and streaming, and
// the engine on a model flint generates itself.
#include <algorithm>
#include <filesystem>
#include <limits>
#include <set>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include "backend/cpu/kernels.h"
#include "gguf/gguf_file.h"
#include "model/generator.h"
#include "model/presets.h"
#include "runtime/engine.h"
#include "runtime/generate.h"
#include "runtime/kv_cache.h"
#include "runtime/sampler.h"
#include "support/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace flint::runtime {
namespace {

// A sequence's blocks come in ascending order, also after another sequence gave its blocks back
// (attention reads a chunk's blocks as one run, forwards), and a full pool refuses without
// changing the table.
TEST(RuntimeKvCache, BlocksComeInOrderAfterARelease) {
  Result<KvCache> made = KvCache::create({.n_layer = 1, .kv_dim = 64, .head_dim = 64, .block_size = 16, .n_blocks = 8});
  ASSERT_TRUE(made.is_ok()) << made.status().message();
  KvCache& kv = *made;
  auto ascending = [](const std::vector<int32_t>& t) { return std::is_sorted(t.begin(), t.end()); };
  std::vector<int32_t> a, b;
  ASSERT_TRUE(kv.reserve(a, 40));  // 3 blocks
  ASSERT_TRUE(kv.reserve(b, 16));
  EXPECT_EQ(a, (std::vector<int32_t>{0, 1, 2}));
  kv.release(a);
  ASSERT_TRUE(kv.reserve(a, 64));
  EXPECT_EQ(a.size(), 4u);
  EXPECT_TRUE(ascending({a.begin(), a.begin() + 3})) << a[0] << " " << a[1] << " " << a[2];
  EXPECT_EQ(kv.free_blocks(), 3);
  const std::vector<int32_t> before = a;
  EXPECT_FALSE(kv.reserve(a, 16 * 8));
  EXPECT_EQ(a, before);
  kv.release(a);
  kv.release(b);
  EXPECT_EQ(kv.free_blocks(), 8);
}

TEST(RuntimeSampler, GreedyTakesTheArgmaxAndSkipsBannedTokens) {
  const std::vector<float> logits = {0.1f, 2.0f, 2.0f, -1.0f};
  Sampler s({.temperature = 0.0f});
  EXPECT_EQ(s.sample(logits), 1);  // ties go to the lowest id
  const std::vector<int32_t> banned = {1};
  EXPECT_EQ(s.sample(logits, banned), 2);
}

TEST(RuntimeSampler, SameSeedSameChoicesAndTopKRestricts) {
  std::vector<float> logits(100);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(i % 10) * 0.3f;
  const SamplerParams p{.temperature = 1.0f, .top_k = 20, .top_p = 1.0f, .min_p = 0.0f, .seed = 42};
  Sampler a(p), b(p), c({.temperature = 1.0f, .top_k = 20, .top_p = 1.0f, .min_p = 0.0f, .seed = 43});
  std::vector<int32_t> ta, tb, tc;
  for (int i = 0; i < 200; ++i) {
    ta.push_back(a.sample(logits));
    tb.push_back(b.sample(logits));
    tc.push_back(c.sample(logits));
  }
  EXPECT_EQ(ta, tb);
  EXPECT_NE(ta, tc);
  // Top 20 by logit: the ten ids with i % 10 == 9 and the ten with i % 10 == 8.
  for (int32_t t : ta) EXPECT_GE(t % 10, 8) << t;
  EXPECT_GT(std::set<int32_t>(ta.begin(), ta.end()).size(), 5u);  // it does sample
}

TEST(RuntimeSampler, TopPAndMinPKeepOnlyTheHead) {
  const std::vector<float> logits = {10.0f, 9.0f, 0.0f, -5.0f};
  Sampler top_p({.temperature = 1.0f, .top_k = 0, .top_p = 0.5f, .min_p = 0.0f, .seed = 1});
  Sampler min_p({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.2f, .seed = 1});
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(top_p.sample(logits), 0);  // p(0) = 0.73 >= 0.5 on its own
    EXPECT_LE(min_p.sample(logits), 1);  // p(1) = 0.27 >= 0.2 * 0.73; p(2) is not
  }
}

TEST(RuntimeSampler, PenaltiesLowerRepeatedTokens) {
  const std::vector<float> logits = {1.0f, 0.9f};
  Sampler s({.temperature = 0.0f, .repeat_penalty = 1.5f});
  s.accept(0);
  EXPECT_EQ(s.sample(logits), 1);  // 1.0 / 1.5 < 0.9
  Sampler f({.temperature = 0.0f, .frequency_penalty = 0.05f});
  f.accept(0);
  f.accept(0);
  f.accept(0);
  EXPECT_EQ(f.sample(logits), 1);  // 1.0 - 3 * 0.05 < 0.9
}

// A tiny generated model with flint's byte vocabulary: every byte is a token.
class RuntimeEngine : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = test::tmp_dir() + "/runtime-tiny.gguf";
    if (!std::filesystem::exists(path_)) {
      model::GenOptions o;
      o.shape = *model::find_preset("llama-tiny");
      o.shape.n_vocab = 300;
      o.ftype = model::FileType::Q8_0;
      o.seed = 9;
      // ctest runs each test case as its own process, several at once: each writes its own
      // temporary file and renames it into place atomically.
      o.output = path_ + ".tmp." + std::to_string(::getpid());
      o.progress = false;
      ASSERT_TRUE(model::generate_model(o).is_ok());
      std::filesystem::rename(o.output, path_);
    }
  }
  std::unique_ptr<Engine> load(int32_t n_ctx = 256) {
    Result<std::unique_ptr<Engine>> e = Engine::load({.model_path = path_, .n_ctx = n_ctx, .n_seq = 2,
                                                      .n_batch = 512, .kv_type = DType::F16,
                                                      .n_threads = 2, .progress = false});
    EXPECT_TRUE(e.is_ok()) << e.status().message();
    return std::move(e).value();
  }
  static std::string path_;
};
std::string RuntimeEngine::path_;

TEST_F(RuntimeEngine, GenerationIsDeterministicAndStreamsTheWholeText) {
  std::unique_ptr<Engine> e = load();
  Result<gguf::GgufFile> f = gguf::GgufFile::open(path_);
  ASSERT_TRUE(f.is_ok());
  Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::from_gguf(*f);
  ASSERT_TRUE(tok.is_ok()) << tok.status().message();
  Result<std::vector<int32_t>> prompt = tok->encode("Hello", {.add_special = true});
  ASSERT_TRUE(prompt.is_ok());
  std::vector<std::string> runs;
  for (int run = 0; run < 2; ++run) {
    Result<int32_t> seq = e->add_sequence();
    ASSERT_TRUE(seq.is_ok());
    const DecodeRequest req{.seq = *seq, .tokens = *prompt};
    Result<std::vector<float>> logits = e->decode({&req, 1});
    ASSERT_TRUE(logits.is_ok());
    Sampler sampler({.temperature = 0.7f, .seed = 5});
    std::string streamed;
    Result<GenerateResult> r = generate(*e, *seq, *tok, sampler, std::move(*logits),
                                        {.max_tokens = 20, .context = *prompt, .ignore_eos = true},
                                        [&](const std::string& s) { streamed += s; });
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->tokens.size(), 20u);
    EXPECT_EQ(r->stop_reason, "length");
    EXPECT_EQ(streamed, r->text);
    runs.push_back(r->text);
    e->remove_sequence(*seq);
  }
  EXPECT_EQ(runs[0], runs[1]);
}

TEST_F(RuntimeEngine, StopStringsEndGenerationBeforeThemAndAreNeverStreamed) {
  std::unique_ptr<Engine> e = load();
  Result<gguf::GgufFile> f = gguf::GgufFile::open(path_);
  Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::from_gguf(*f);
  ASSERT_TRUE(tok.is_ok());
  Result<std::vector<int32_t>> prompt = tok->encode("abc", {.add_special = true});
  // First see what greedy generates, then stop on a piece of it.
  std::string full;
  {
    Result<int32_t> seq = e->add_sequence();
    const DecodeRequest req{.seq = *seq, .tokens = *prompt};
    Result<std::vector<float>> logits = e->decode({&req, 1});
    Sampler sampler({.temperature = 0.0f});
    Result<GenerateResult> r = generate(*e, *seq, *tok, sampler, std::move(*logits),
                                        {.max_tokens = 24, .context = *prompt, .ignore_eos = true},
                                        [](const std::string&) {});
    ASSERT_TRUE(r.is_ok());
    full = r->text;
    e->remove_sequence(*seq);
  }
  ASSERT_GE(full.size(), 8u);
  const std::string stop = full.substr(4, 3);
  const size_t expected_end = full.find(stop);
  Result<int32_t> seq = e->add_sequence();
  const DecodeRequest req{.seq = *seq, .tokens = *prompt};
  Result<std::vector<float>> logits = e->decode({&req, 1});
  Sampler sampler({.temperature = 0.0f});
  std::string streamed;
  Result<GenerateResult> r = generate(*e, *seq, *tok, sampler, std::move(*logits),
                                      {.max_tokens = 24, .context = *prompt, .stop = {stop}, .ignore_eos = true},
                                      [&](const std::string& s) { streamed += s; });
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->stop_reason, "stop");
  EXPECT_EQ(r->text, full.substr(0, expected_end));
  EXPECT_EQ(streamed, r->text);
}

TEST_F(RuntimeEngine, APromptLongerThanTheContextIsAnErrorNotATruncation) {
  std::unique_ptr<Engine> e = load(32);
  Result<int32_t> seq = e->add_sequence();
  const std::vector<int32_t> tokens(40, 65);
  const DecodeRequest req{.seq = *seq, .tokens = tokens};
  Result<std::vector<float>> logits = e->decode({&req, 1});
  ASSERT_FALSE(logits.is_ok());
  EXPECT_NE(logits.status().message().find("do not fit the context of 32"), std::string::npos)
      << logits.status().message();
  EXPECT_EQ(e->sequence_length(*seq), 0);
}

TEST_F(RuntimeEngine, BadBatchesAreErrorsAndChangeNothing) {
  std::unique_ptr<Engine> e = load(64);
  Result<int32_t> seq = e->add_sequence();
  const std::vector<int32_t> tokens = {1, 70, 71};
  const DecodeRequest twice[] = {{.seq = *seq, .tokens = tokens}, {.seq = *seq, .tokens = tokens}};
  Result<std::vector<float>> r = e->decode(twice);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("appears twice"), std::string::npos) << r.status().message();
  const DecodeRequest empty{.seq = *seq, .tokens = {}};
  r = e->decode({&empty, 1});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("no tokens"), std::string::npos);
  EXPECT_EQ(e->sequence_length(*seq), 0);
  Result<std::unique_ptr<Engine>> bad = Engine::load({.model_path = path_, .n_ctx = -5, .progress = false});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("must be positive"), std::string::npos);
}

// Q4_K weights repacked for the kernels (model::LoadOptions::repack) give the same logits, bit for
// bit, as the file's layout: a prompt (prompt tiles, and a few tokens per expert) and single
// decode steps, dense and MoE.
TEST(RuntimeRepack, RepackedWeightsGiveTheSameLogits) {
  for (const auto& [preset, ftype] : {std::pair{"llama-tiny", model::FileType::Q4_K_M}, {"llama-moe-tiny", model::FileType::Q4_K_M},
                                       {"llama-tiny", model::FileType::Q4_0}, {"llama-moe-tiny", model::FileType::Q8_0}}) {
    const std::string path = test::tmp_dir() + "/runtime-repack-" + preset + "-" + std::to_string(static_cast<uint32_t>(ftype)) +
                             "-" + std::to_string(::getpid()) + ".gguf";
    model::GenOptions o;
    o.shape = *model::find_preset(preset);
    o.shape.n_vocab = 300;
    o.ftype = ftype;
    o.seed = 4;
    o.output = path;
    o.progress = false;
    ASSERT_TRUE(model::generate_model(o).is_ok());
    std::vector<std::vector<float>> runs;
    for (bool repack : {true, false}) {
      Result<std::unique_ptr<Engine>> e = Engine::load({.model_path = path, .n_ctx = 64, .n_seq = 1, .n_batch = 512,
                                                        .kv_type = DType::F16, .n_threads = 2, .progress = false,
                                                        .repack = repack});
      ASSERT_TRUE(e.is_ok()) << e.status().message();
      const bool kernels_repack = cpu::best_kernels().gemm_rows16 != nullptr;
      EXPECT_EQ((*e)->repacked_bytes() > 0, repack && kernels_repack) << preset << " " << static_cast<uint32_t>(ftype);
      Result<int32_t> seq = (*e)->add_sequence();
      ASSERT_TRUE(seq.is_ok());
      std::vector<float> all;
      // 20 tokens (prompt tiles: more than the 16 the interleaved kernels take), then 7 (those
      // kernels, 4 and 3 tokens at a time), then single steps
      const std::vector<int32_t> prompt = {1, 72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100, 33, 10, 84, 104, 101, 32, 101, 110};
      const std::vector<int32_t> more = {100, 32, 111, 102, 32, 105, 116};
      for (const std::vector<int32_t>& tokens : {prompt, more, {44}, {45}}) {
        const DecodeRequest req{.seq = *seq, .tokens = tokens, .all_logits = true};
        Result<std::vector<float>> logits = (*e)->decode({&req, 1});
        ASSERT_TRUE(logits.is_ok()) << logits.status().message();
        all.insert(all.end(), logits->begin(), logits->end());
      }
      runs.push_back(std::move(all));
    }
    std::filesystem::remove(path);
    ASSERT_EQ(runs[0].size(), runs[1].size());
    for (size_t i = 0; i < runs[0].size(); ++i) {
      ASSERT_EQ(runs[0][i], runs[1][i]) << preset << " " << static_cast<uint32_t>(ftype) << " at " << i;
    }
  }
}

TEST(RuntimeSampler, NonFiniteLogitsFallBackToTheBestToken) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {1.0f, inf, 0.5f};
  Sampler s({.temperature = 0.8f, .seed = 3});
  EXPECT_EQ(s.sample(logits), 1);
}

}  // namespace
}  // namespace flint::runtime
