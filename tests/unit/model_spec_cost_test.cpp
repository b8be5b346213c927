// Hyperparameters read from metadata, and the per-token cost (bytes read, KV bytes).
#include "model_test_support.h"

namespace flint::model {
namespace {

using namespace testing_support;
using gguf::GgufFile;
using gguf::TensorInfo;
using test::fixtures_dir;
using test::read_file;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// 4. Hyperparameters of the fixture models (README table 2.2).

struct SpecCase {
  const char* file;
  const char* arch;
  uint32_t n_head, n_ff, n_expert, n_expert_used, n_ff_exp;
  bool tied;
  float rms_eps, rope_base;
};
void PrintTo(const SpecCase& c, std::ostream* os) { *os << c.file; }

class ModelSpecFixtures : public ::testing::TestWithParam<SpecCase> {};

TEST_P(ModelSpecFixtures, MatchesTheReadme) {
  FLINT_REQUIRE_FIXTURES();
  const SpecCase c = GetParam();
  const GgufFile f = open_or_throw(model_path(c.file));
  Result<ModelSpec> s = ModelSpec::from_gguf(f);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s->arch, c.arch);
  EXPECT_EQ(s->n_layer, 2u);
  EXPECT_EQ(s->n_embd, 256u);
  EXPECT_EQ(s->n_head, c.n_head);
  EXPECT_EQ(s->n_head_kv, 2u);
  EXPECT_EQ(s->n_gqa(), c.n_head / 2);
  EXPECT_EQ(s->head_dim_k, 64u);
  EXPECT_EQ(s->head_dim_v, 64u);
  EXPECT_EQ(s->n_ff, c.n_ff);
  EXPECT_EQ(s->n_expert, c.n_expert);
  EXPECT_EQ(s->n_expert_used, c.n_expert_used);
  EXPECT_EQ(s->n_ff_exp, c.n_ff_exp);
  EXPECT_EQ(s->is_moe(), c.n_expert > 0);
  EXPECT_EQ(s->tied_embeddings, c.tied);
  EXPECT_FLOAT_EQ(s->rms_eps, c.rms_eps);
  EXPECT_FLOAT_EQ(s->rope_freq_base, c.rope_base);
  EXPECT_EQ(s->n_vocab, 512u);
  EXPECT_EQ(s->n_ctx_train, 2048u);
}

INSTANTIATE_TEST_SUITE_P(
    Readme, ModelSpecFixtures,
    ::testing::Values(
        SpecCase{"llama-tiny-F32", "llama", 4, 512, 0, 0, 0, false, 1e-5f, 1e4f},
        // Mixtral-style: llama.feed_forward_length is the expert width; there is no dense FFN.
        SpecCase{"llama-moe-tiny-Q4_K_M", "llama", 4, 0, 4, 2, 256, false, 1e-5f, 1e4f},
        SpecCase{"qwen3-tiny-F16", "qwen3", 8, 768, 0, 0, 0, true, 1e-6f, 1e6f},
        // qwen3moe keeps its (unused) feed_forward_length from the metadata.
        SpecCase{"qwen3moe-tiny-F16", "qwen3moe", 8, 768, 8, 2, 128, false, 1e-6f, 1e6f}),
    [](const ::testing::TestParamInfo<SpecCase>& info) {
      std::string name = info.param.file;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });


TEST(ModelSpecErrors, InconsistentMetadataIsAnErrorNamingTheKey) {
  using gguf::Value;
  const auto base = [] {
    return std::vector<gguf::KeyValue>{{"general.architecture", Value::string("llama")},
                                       {"llama.block_count", Value::u32(2)},
                                       {"llama.embedding_length", Value::u32(256)},
                                       {"llama.context_length", Value::u32(2048)}};
  };
  {
    std::vector<gguf::KeyValue> kv = base();
    kv.push_back({"llama.attention.head_count", Value::u32(4)});
    kv.push_back({"llama.attention.head_count_kv", Value::u32(3)});
    const GgufFile f = open_or_throw(write_metadata_only(scratch("kv.gguf"), kv));
    Result<ModelSpec> s = ModelSpec::from_gguf(f);
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.status().message().find("llama.attention.head_count_kv"), std::string::npos)
        << s.status().message();
  }
  {
    std::vector<gguf::KeyValue> kv = base();
    kv.push_back({"llama.attention.head_count", Value::u32(4)});
    kv.push_back({"llama.expert_count", Value::u32(4)});
    kv.push_back({"llama.expert_used_count", Value::u32(5)});
    const GgufFile f = open_or_throw(write_metadata_only(scratch("experts.gguf"), kv));
    Result<ModelSpec> s = ModelSpec::from_gguf(f);
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.status().message().find("llama.expert_used_count"), std::string::npos)
        << s.status().message();
  }
  {
    // head_count missing entirely.
    const GgufFile f = open_or_throw(write_metadata_only(scratch("missing.gguf"), base()));
    Result<ModelSpec> s = ModelSpec::from_gguf(f);
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.status().message().find("llama.attention.head_count"), std::string::npos)
        << s.status().message();
  }
  {
    // A complete header: head_dim defaults to n_embd / n_head, vocab to the tokens array.
    std::vector<gguf::KeyValue> kv = base();
    kv.push_back({"llama.attention.head_count", Value::u32(4)});
    kv.push_back({"tokenizer.ggml.tokens", Value::string_array({"a", "b", "c"})});
    const GgufFile f = open_or_throw(write_metadata_only(scratch("ok.gguf"), kv));
    Result<ModelSpec> s = ModelSpec::from_gguf(f);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    EXPECT_EQ(s->n_head_kv, 4u);
    EXPECT_EQ(s->head_dim_k, 64u);
    EXPECT_EQ(s->n_vocab, 3u);
    EXPECT_TRUE(s->tied_embeddings);  // no output.weight
  }
}

// ---------------------------------------------------------------------------------------------
// 5. Per-token cost.

struct ExpectedCost {
  uint64_t total = 0, per_token = 0, experts = 0, params = 0, active = 0;
};

// The bytes-per-token formula of docs/benchmarks.md, written out tensor by tensor.
ExpectedCost expected_cost(const GgufFile& f, bool tied, uint64_t n_expert, uint64_t n_used) {
  ExpectedCost e;
  for (const TensorInfo& t : f.tensors()) {
    uint64_t elements = 1;
    for (uint64_t d : t.shape) elements *= d;
    const uint64_t bytes = *dtype_row_bytes(t.type, t.shape[0]) * (elements / t.shape[0]);
    EXPECT_EQ(bytes, t.n_bytes) << t.name;
    e.total += bytes;
    e.params += elements;
    if (t.name == "token_embd.weight") {
      const uint64_t n_vocab = t.shape[1];
      e.per_token += bytes / n_vocab;  // the looked-up row
      e.active += elements / n_vocab;
      if (tied) {                      // ... and the whole matrix as the lm_head
        e.per_token += bytes;
        e.active += elements;
      }
    } else if (t.name.ends_with("_exps.weight")) {
      EXPECT_EQ(t.shape.size(), 3u) << t.name;
      EXPECT_EQ(t.shape[2], n_expert) << t.name;
      e.experts += bytes;
      e.per_token += bytes * n_used / n_expert;
      e.active += elements * n_used / n_expert;
    } else {
      e.per_token += bytes;
      e.active += elements;
    }
  }
  return e;
}

struct CostCase {
  const char* file;
  bool tied;
  uint64_t n_expert, n_used;
};
void PrintTo(const CostCase& c, std::ostream* os) { *os << c.file; }

class ModelCostFixtures : public ::testing::TestWithParam<CostCase> {};

TEST_P(ModelCostFixtures, FollowsTheBytesPerTokenFormula) {
  FLINT_REQUIRE_FIXTURES();
  const CostCase c = GetParam();
  const GgufFile f = open_or_throw(model_path(c.file));
  Result<ModelSpec> spec = ModelSpec::from_gguf(f);
  ASSERT_TRUE(spec.is_ok()) << spec.status().message();
  const ModelCost cost = compute_cost(f, *spec);
  const ExpectedCost e = expected_cost(f, c.tied, c.n_expert, c.n_used);
  EXPECT_EQ(cost.weight_bytes, e.total);
  EXPECT_EQ(cost.weight_bytes_per_token, e.per_token);
  EXPECT_EQ(cost.expert_bytes, e.experts);
  EXPECT_EQ(cost.n_params, e.params);
  EXPECT_EQ(cost.n_active_params, e.active);
  EXPECT_LE(cost.weight_bytes, f.file_size() - f.data_offset());
  EXPECT_EQ(cost.expert_bytes > 0, c.n_expert > 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelCostFixtures,
                         ::testing::Values(CostCase{"llama-tiny-Q4_K_M", false, 0, 0},
                                           CostCase{"qwen3-tiny-F16", true, 0, 0},
                                           CostCase{"qwen3moe-tiny-Q4_K_M", false, 8, 2}),
                         [](const ::testing::TestParamInfo<CostCase>& info) {
                           std::string name = info.param.file;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(ModelCost, HandCheckedTotals) {
  FLINT_REQUIRE_FIXTURES();
  {
    // Tied F16: every tensor in full, plus one 256-value F16 row of token_embd for the lookup.
    const GgufFile f = open_or_throw(model_path("qwen3-tiny-F16"));
    const ModelCost c = compute_cost(f, *ModelSpec::from_gguf(f));
    EXPECT_EQ(c.weight_bytes_per_token, c.weight_bytes + 256 * 2);
    EXPECT_EQ(c.n_active_params, c.n_params + 256);
  }
  {
    // Untied Q4_K_M: token_embd (Q4_K, 144 bytes per 256 values) counts one row instead of 512.
    const GgufFile f = open_or_throw(model_path("llama-tiny-Q4_K_M"));
    const ModelCost c = compute_cost(f, *ModelSpec::from_gguf(f));
    EXPECT_EQ(c.weight_bytes - c.weight_bytes_per_token, 511u * 144u);
    EXPECT_EQ(c.expert_bytes, 0u);
  }
  {
    // MoE: 6 of 8 experts' bytes are not read.
    const GgufFile f = open_or_throw(model_path("qwen3moe-tiny-Q4_K_M"));
    const ModelCost c = compute_cost(f, *ModelSpec::from_gguf(f));
    const uint64_t embd_skipped = f.find_tensor("token_embd.weight")->n_bytes / 512 * 511;
    EXPECT_EQ(c.weight_bytes - c.weight_bytes_per_token, c.expert_bytes / 8 * 6 + embd_skipped);
  }
}

TEST(ModelCost, KvBytesPerToken) {
  ModelSpec s;
  s.n_layer = 3;
  s.n_head_kv = 2;
  s.head_dim_k = 64;
  s.head_dim_v = 64;
  const uint64_t values = 3 * 2 * (2 * 64);  // layers x (K, V) x kv heads x head dim
  EXPECT_EQ(*kv_bytes_per_token(s, DType::F16), values * 2);
  EXPECT_EQ(*kv_bytes_per_token(s, DType::BF16), values * 2);
  EXPECT_EQ(*kv_bytes_per_token(s, DType::F32), values * 4);
  EXPECT_EQ(*kv_bytes_per_token(s, DType::Q8_0), values / 32 * 34);
  for (DType bad : {DType::Q4_K, DType::Q4_0, DType::I32}) {
    Result<uint64_t> r = kv_bytes_per_token(s, bad);
    ASSERT_FALSE(r.is_ok()) << dtype_name(bad);
    EXPECT_NE(r.status().message().find(std::string(dtype_name(bad))), std::string::npos)
        << r.status().message();
  }
}

TEST(ModelCost, KvBytesPerTokenOfTheFixtures) {
  FLINT_REQUIRE_FIXTURES();
  for (const char* file : {"llama-tiny-F32", "qwen3-tiny-F16", "qwen3moe-tiny-F16"}) {
    SCOPED_TRACE(file);
    const GgufFile f = open_or_throw(model_path(file));
    const ModelSpec s = *ModelSpec::from_gguf(f);
    // n_layer 2 x (K, V) x 2 kv heads x 64.
    EXPECT_EQ(*kv_bytes_per_token(s, DType::F16), 2u * 2 * 2 * 64 * 2);
    EXPECT_EQ(*kv_bytes_per_token(s, DType::F32), 2u * 2 * 2 * 64 * 4);
    EXPECT_EQ(*kv_bytes_per_token(s, DType::Q8_0), 2u * 2 * (2 * 64 / 32) * 34);
  }
}


}  // namespace
}  // namespace flint::model
