// The seeded model generator: determinism, architectures, weight statistics, vocabularies.
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
// 6-10. The generator.

// 1 layer, 256 wide: big enough for K-quant blocks, small enough to be quick.
ModelShape small_shape() {
  ModelShape s;
  s.n_layer = 1;
  s.n_embd = 256;
  s.n_head = 4;
  s.n_head_kv = 2;
  s.head_dim = 64;
  s.n_ff = 256;
  s.n_vocab = 300;
  return s;
}

GenOptions gen_options(const ModelShape& shape, const std::string& output, FileType type) {
  GenOptions o;
  o.shape = shape;
  o.ftype = type;
  o.output = output;
  o.progress = false;
  o.n_threads = 2;
  return o;
}

TEST(ModelGenerator, SameOptionsSameBytesWhateverTheThreads) {
  const ModelShape shape = small_shape();
  const std::string path_a = scratch("a.gguf");
  GenOptions o = gen_options(shape, path_a, FileType::Q4_K_M);
  ASSERT_TRUE(generate_model(o).is_ok());
  const std::vector<uint8_t> a = read_file(path_a);

  o.output = scratch("b.gguf");
  ASSERT_TRUE(generate_model(o).is_ok());
  EXPECT_EQ(first_difference(read_file(o.output), a), "") << "same options, different bytes";

  o.output = scratch("c.gguf");
  o.n_threads = 1;
  ASSERT_TRUE(generate_model(o).is_ok());
  EXPECT_EQ(first_difference(read_file(o.output), a), "") << "1 vs 2 threads";

  o.output = scratch("d.gguf");
  o.n_threads = 2;
  o.seed = 2;
  Result<GenReport> r = generate_model(o);
  ASSERT_TRUE(r.is_ok());
  const std::vector<uint8_t> d = read_file(o.output);
  EXPECT_EQ(d.size(), a.size());  // same header and types
  EXPECT_NE(first_difference(d, a), "") << "a different seed gave the same bytes";
  // Every tensor's data changes with the seed, not just some.
  const GgufFile fa = open_or_throw(path_a);
  const GgufFile fd = open_or_throw(o.output);
  for (const TensorInfo& t : fd.tensors()) {
    const std::span<const uint8_t> x = fd.tensor_data(t);
    const std::span<const uint8_t> y = fa.tensor_data(*fa.find_tensor(t.name));
    EXPECT_FALSE(std::equal(x.begin(), x.end(), y.begin(), y.end())) << t.name;
  }
  EXPECT_EQ(r->bytes, d.size());
  for (const char* x : {"a.gguf", "b.gguf", "c.gguf", "d.gguf"}) fs::remove(scratch(x));
}

// What llama.cpp's loader expects for `shape`, by name: shape in ggml order.
std::map<std::string, std::vector<uint64_t>> expected_tensors(const ModelShape& s) {
  std::map<std::string, std::vector<uint64_t>> t;
  const uint64_t q = uint64_t{s.n_head} * s.head_dim, kv = uint64_t{s.n_head_kv} * s.head_dim;
  t["token_embd.weight"] = {s.n_embd, s.n_vocab};
  t["output_norm.weight"] = {s.n_embd};
  if (!s.tied_embeddings) t["output.weight"] = {s.n_embd, s.n_vocab};
  for (uint32_t l = 0; l < s.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    t[b + "attn_norm.weight"] = {s.n_embd};
    t[b + "attn_q.weight"] = {s.n_embd, q};
    t[b + "attn_k.weight"] = {s.n_embd, kv};
    t[b + "attn_v.weight"] = {s.n_embd, kv};
    t[b + "attn_output.weight"] = {q, s.n_embd};
    t[b + "ffn_norm.weight"] = {s.n_embd};
    if (s.arch != "llama") {
      t[b + "attn_q_norm.weight"] = {s.head_dim};
      t[b + "attn_k_norm.weight"] = {s.head_dim};
    }
    if (s.n_expert > 0) {
      t[b + "ffn_gate_inp.weight"] = {s.n_embd, s.n_expert};
      t[b + "ffn_gate_exps.weight"] = {s.n_embd, s.n_ff_exp, s.n_expert};
      t[b + "ffn_up_exps.weight"] = {s.n_embd, s.n_ff_exp, s.n_expert};
      t[b + "ffn_down_exps.weight"] = {s.n_ff_exp, s.n_embd, s.n_expert};
    } else {
      t[b + "ffn_gate.weight"] = {s.n_embd, s.n_ff};
      t[b + "ffn_up.weight"] = {s.n_embd, s.n_ff};
      t[b + "ffn_down.weight"] = {s.n_ff, s.n_embd};
    }
  }
  return t;
}

struct PresetCase {
  const char* preset;
  const char* type;
};
void PrintTo(const PresetCase& c, std::ostream* os) { *os << c.preset << " " << c.type; }

class ModelGeneratePreset : public ::testing::TestWithParam<PresetCase> {};

TEST_P(ModelGeneratePreset, HasTheArchitecturesTensorsAndMetadata) {
  const PresetCase c = GetParam();
  const std::optional<ModelShape> shape = find_preset(c.preset);
  ASSERT_TRUE(shape.has_value()) << c.preset;
  const FileType ftype = *file_type_from_name(c.type);
  GenOptions o = gen_options(*shape, scratch("gguf"), ftype);
  o.name = c.preset;
  Result<GenReport> r = generate_model(o);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const GgufFile f = open_or_throw(o.output);
  EXPECT_EQ(r->bytes, f.file_size());
  EXPECT_EQ(r->n_vocab, shape->n_vocab);

  // Hyperparameters read back.
  Result<ModelSpec> s = ModelSpec::from_gguf(f);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s->arch, shape->arch);
  EXPECT_EQ(s->name, c.preset);
  EXPECT_EQ(s->n_layer, shape->n_layer);
  EXPECT_EQ(s->n_embd, shape->n_embd);
  EXPECT_EQ(s->n_head, shape->n_head);
  EXPECT_EQ(s->n_head_kv, shape->n_head_kv);
  EXPECT_EQ(s->head_dim_k, shape->head_dim);
  EXPECT_EQ(s->head_dim_v, shape->head_dim);
  EXPECT_EQ(s->n_vocab, shape->n_vocab);
  EXPECT_EQ(s->n_ctx_train, shape->n_ctx);
  EXPECT_EQ(s->n_expert, shape->n_expert);
  EXPECT_EQ(s->n_expert_used, shape->n_expert_used);
  if (shape->n_expert > 0) {
    EXPECT_EQ(s->n_ff_exp, shape->n_ff_exp);
  } else {
    EXPECT_EQ(s->n_ff, shape->n_ff);
    EXPECT_EQ(s->n_ff_exp, 0u);
  }
  EXPECT_EQ(s->tied_embeddings, shape->tied_embeddings);
  EXPECT_FLOAT_EQ(s->rope_freq_base, shape->rope_freq_base);
  EXPECT_FLOAT_EQ(s->rms_eps, shape->rms_eps);
  EXPECT_EQ(*f.get<uint32_t>("general.file_type"), static_cast<uint32_t>(ftype));

  // Tensors: the names and shapes llama.cpp's loader asks for, in llama-quantize's order.
  const std::map<std::string, std::vector<uint64_t>> want = expected_tensors(*shape);
  std::map<std::string, std::vector<uint64_t>> got;
  for (const TensorInfo& t : f.tensors()) got[t.name] = t.shape;
  EXPECT_EQ(got, want);
  for (size_t i = 1; i < f.tensors().size(); ++i) {
    const std::string& a = f.tensors()[i - 1].name;
    const std::string& b = f.tensors()[i].name;
    const int la = a.starts_with("blk.") ? std::stoi(a.substr(4)) : -1;
    const int lb = b.starts_with("blk.") ? std::stoi(b.substr(4)) : -1;
    EXPECT_TRUE(la < lb || (la == lb && a < b)) << a << " before " << b;
  }
  for (const TensorInfo& t : f.tensors()) {
    if (t.shape.size() == 1 || t.name.find("ffn_gate_inp") != std::string::npos || ftype == FileType::ALL_F32) {
      EXPECT_EQ(t.type, DType::F32) << t.name;
    }
  }

  // The byte vocabulary: <unk> <s> </s>, then the 256 byte tokens, then fillers.
  Result<std::vector<std::string>> tokens = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.is_ok()) << tokens.status().message();
  ASSERT_EQ(tokens->size(), shape->n_vocab);
  EXPECT_EQ((*tokens)[0], "<unk>");
  EXPECT_EQ((*tokens)[1], "<s>");
  EXPECT_EQ((*tokens)[2], "</s>");
  const std::vector<int32_t> types = *f.get_array<int32_t>("tokenizer.ggml.token_type");
  ASSERT_EQ(types.size(), shape->n_vocab);
  for (int b = 0; b < 256; ++b) {
    char want_token[8];
    std::snprintf(want_token, sizeof want_token, "<0x%02X>", b);
    EXPECT_EQ((*tokens)[3 + b], want_token);
    EXPECT_EQ(types[3 + b], 6) << "token " << 3 + b << " should be BYTE";
  }
  EXPECT_EQ(*f.get<uint32_t>("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(*f.get<uint32_t>("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(*f.get_string("tokenizer.ggml.model"), "llama");

  // The presets have the fixtures' structure: same architecture metadata and tensors as the
  // files llama.cpp made, and for Q4_K_M the same mix.
  if (fixtures_dir()) {
    const GgufFile ref = open_or_throw(model_path(std::string(c.preset) + "-Q4_K_M"));
    const std::string prefix = shape->arch + ".";
    std::vector<std::string> got_keys, want_keys;
    for (const gguf::KeyValue& kv : f.metadata()) {
      if (kv.key.starts_with(prefix)) got_keys.push_back(kv.key);
    }
    for (const gguf::KeyValue& kv : ref.metadata()) {
      if (!kv.key.starts_with(prefix)) continue;
      want_keys.push_back(kv.key);
      const gguf::Value* v = f.find(kv.key);
      ASSERT_NE(v, nullptr) << kv.key;
      EXPECT_TRUE(*v == kv.value) << kv.key << ": " << v->to_display_string() << " vs "
                                  << kv.value.to_display_string();
    }
    EXPECT_EQ(got_keys, want_keys);
    ASSERT_EQ(f.tensors().size(), ref.tensors().size());
    for (size_t i = 0; i < f.tensors().size(); ++i) {
      EXPECT_EQ(f.tensors()[i].name, ref.tensors()[i].name);
      EXPECT_EQ(f.tensors()[i].shape, ref.tensors()[i].shape) << ref.tensors()[i].name;
      if (ftype == FileType::Q4_K_M) {
        EXPECT_EQ(dtype_name(f.tensors()[i].type), dtype_name(ref.tensors()[i].type)) << ref.tensors()[i].name;
      }
    }
  }
  fs::remove(o.output);
}

INSTANTIATE_TEST_SUITE_P(Presets, ModelGeneratePreset,
                         ::testing::Values(PresetCase{"llama-tiny", "F32"}, PresetCase{"llama-tiny", "Q4_K_M"},
                                           PresetCase{"llama-moe-tiny", "F32"},
                                           PresetCase{"llama-moe-tiny", "Q4_K_M"},
                                           PresetCase{"qwen3-tiny", "F32"}, PresetCase{"qwen3-tiny", "Q4_K_M"},
                                           PresetCase{"qwen3moe-tiny", "F32"},
                                           PresetCase{"qwen3moe-tiny", "Q4_K_M"}),
                         [](const ::testing::TestParamInfo<PresetCase>& info) {
                           std::string name = std::string(info.param.preset) + "_" + info.param.type;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

struct Stats {
  double mean = 0, std = 0;
  size_t n = 0;
};

Stats f32_stats(const GgufFile& f, const std::string& name) {
  const TensorInfo* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  if (!t) return {};
  EXPECT_EQ(t->type, DType::F32) << name;
  const std::span<const uint8_t> bytes = f.tensor_data(*t);
  std::vector<float> v(t->n_elements);
  EXPECT_EQ(bytes.size(), v.size() * sizeof(float));
  std::memcpy(v.data(), bytes.data(), std::min(bytes.size(), v.size() * sizeof(float)));
  Stats s;
  s.n = v.size();
  for (float x : v) s.mean += x;
  s.mean /= static_cast<double>(s.n);
  for (float x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(s.n));
  return s;
}

// N(0, sigma): mean within 5 standard errors of 0, std within 5% of sigma.
void expect_normal(const GgufFile& f, const std::string& name, double sigma) {
  SCOPED_TRACE(name);
  const Stats s = f32_stats(f, name);
  ASSERT_GT(s.n, 1000u);
  EXPECT_LT(std::abs(s.mean), 5 * sigma / std::sqrt(static_cast<double>(s.n)));
  EXPECT_NEAR(s.std, sigma, 0.05 * sigma);
}

// scale * (1 + 0.1 N(0, 1)).
void expect_norm(const GgufFile& f, const std::string& name, double scale) {
  SCOPED_TRACE(name);
  const Stats s = f32_stats(f, name);
  ASSERT_GT(s.n, 32u);
  EXPECT_NEAR(s.mean, scale, 5 * 0.1 * scale / std::sqrt(static_cast<double>(s.n)));
  EXPECT_NEAR(s.std, 0.1 * scale, 0.3 * 0.1 * scale);  // few values: a loose bound
}

TEST(ModelGenerator, WeightStatisticsFollowTheDocumentedSigmas) {
  // The fixtures' recipe (README 2.2), which the generator follows.
  {
    GenOptions o = gen_options(*find_preset("llama-tiny"), scratch("llama.gguf"), FileType::ALL_F32);
    ASSERT_TRUE(generate_model(o).is_ok());
    const GgufFile f = open_or_throw(o.output);
    expect_normal(f, "token_embd.weight", 1.0);
    expect_normal(f, "output.weight", 2.0 / 16);
    expect_normal(f, "blk.0.attn_q.weight", 0.08);
    expect_normal(f, "blk.1.attn_k.weight", 0.08);
    expect_normal(f, "blk.0.attn_v.weight", 0.1);
    expect_normal(f, "blk.0.attn_output.weight", 0.3 / std::sqrt(4.0 * 64));
    expect_normal(f, "blk.1.ffn_gate.weight", 0.06);
    expect_normal(f, "blk.0.ffn_up.weight", 0.06);
    expect_normal(f, "blk.0.ffn_down.weight", 0.2 / std::sqrt(512.0));
    expect_norm(f, "output_norm.weight", 1.0);
    expect_norm(f, "blk.0.attn_norm.weight", 1.0);
    expect_norm(f, "blk.1.ffn_norm.weight", 1.0);
    fs::remove(o.output);
  }
  {
    GenOptions o = gen_options(*find_preset("qwen3-tiny"), scratch("qwen3.gguf"), FileType::ALL_F32);
    ASSERT_TRUE(generate_model(o).is_ok());
    const GgufFile f = open_or_throw(o.output);
    expect_normal(f, "token_embd.weight", 2.0 / 16);  // tied
    expect_normal(f, "blk.0.attn_q.weight", 0.04);
    expect_normal(f, "blk.0.attn_k.weight", 0.04);
    expect_norm(f, "blk.0.attn_q_norm.weight", 1.2);
    expect_norm(f, "blk.1.attn_k_norm.weight", 1.2);
    fs::remove(o.output);
  }
  {
    GenOptions o = gen_options(*find_preset("qwen3moe-tiny"), scratch("qwen3moe.gguf"), FileType::ALL_F32);
    ASSERT_TRUE(generate_model(o).is_ok());
    const GgufFile f = open_or_throw(o.output);
    expect_normal(f, "blk.0.ffn_gate_inp.weight", 0.06);
    expect_normal(f, "blk.0.ffn_up_exps.weight", 0.06);
    expect_normal(f, "blk.1.ffn_down_exps.weight", 0.45 / std::sqrt(128.0));
    fs::remove(o.output);
  }
}

TEST(ModelGenerator, DistinctTensorsAndRowsGetDistinctValues) {
  GenOptions o = gen_options(small_shape(), scratch("gguf"), FileType::ALL_F32);
  ASSERT_TRUE(generate_model(o).is_ok());
  const GgufFile f = open_or_throw(o.output);
  // attn_k and attn_v have the same shape; each row of a matrix has its own stream.
  const std::span<const uint8_t> k = f.tensor_data(*f.find_tensor("blk.0.attn_k.weight"));
  const std::span<const uint8_t> v = f.tensor_data(*f.find_tensor("blk.0.attn_v.weight"));
  ASSERT_EQ(k.size(), v.size());
  EXPECT_FALSE(std::equal(k.begin(), k.end(), v.begin()));
  const size_t row = 256 * sizeof(float);
  EXPECT_FALSE(std::equal(k.begin(), k.begin() + row, k.begin() + row));

  // No row is another row shifted: every pair of neighbouring values occurs once in the matrix.
  const TensorInfo* q = f.find_tensor("blk.0.attn_q.weight");
  std::vector<float> values(q->n_elements);
  std::memcpy(values.data(), f.tensor_data(*q).data(), values.size() * sizeof(float));
  std::set<std::pair<float, float>> pairs;
  size_t n_pairs = 0;
  for (size_t r = 0; r < q->n_rows(); ++r) {
    for (size_t j = 0; j + 1 < q->shape[0]; ++j) {
      pairs.insert({values[r * q->shape[0] + j], values[r * q->shape[0] + j + 1]});
      ++n_pairs;
    }
  }
  EXPECT_EQ(pairs.size(), n_pairs) << "rows repeat each other's values";
  fs::remove(o.output);
}

TEST(ModelGenerator, VocabFromAnotherFile) {
  FLINT_REQUIRE_FIXTURES();
  const std::string vocab_path = test::vocab_gguf("ggml-vocab-llama-spm");
  ModelShape shape = small_shape();
  shape.n_embd = 64;
  shape.n_head = 2;
  shape.n_head_kv = 1;
  shape.head_dim = 32;
  shape.n_ff = 64;
  shape.n_vocab = 300;  // replaced by the vocab's size
  shape.tied_embeddings = true;
  GenOptions o = gen_options(shape, scratch("gguf"), FileType::F16);
  o.vocab_path = vocab_path;
  Result<GenReport> r = generate_model(o);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->n_vocab, 32000u);

  const GgufFile f = open_or_throw(o.output);
  const GgufFile vocab = open_or_throw(vocab_path);
  std::vector<std::string> got_keys, want_keys;
  for (const gguf::KeyValue& kv : f.metadata()) {
    if (kv.key.starts_with("tokenizer.")) got_keys.push_back(kv.key);
  }
  for (const gguf::KeyValue& kv : vocab.metadata()) {
    if (!kv.key.starts_with("tokenizer.")) continue;
    want_keys.push_back(kv.key);
    const gguf::Value* v = f.find(kv.key);
    ASSERT_NE(v, nullptr) << kv.key;
    EXPECT_TRUE(*v == kv.value) << kv.key;
  }
  EXPECT_EQ(got_keys, want_keys);
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens")->size(), 32000u);

  Result<ModelSpec> s = ModelSpec::from_gguf(f);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_EQ(s->n_vocab, 32000u);
  EXPECT_EQ(f.find_tensor("token_embd.weight")->shape, (std::vector<uint64_t>{64, 32000}));
  EXPECT_EQ(*f.get<uint32_t>("llama.vocab_size"), 32000u);
  fs::remove(o.output);
}

TEST(ModelGenerator, VocabFileWithoutTokensIsAnError) {
  const std::string vocab = write_metadata_only(
      scratch("vocab.gguf"), {{"general.architecture", gguf::Value::string("llama")}});
  GenOptions o = gen_options(small_shape(), scratch("out.gguf"), FileType::F16);
  o.vocab_path = vocab;
  Result<GenReport> r = generate_model(o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("tokenizer.ggml.tokens"), std::string::npos) << r.status().message();
  EXPECT_FALSE(fs::exists(o.output));
  EXPECT_FALSE(fs::exists(o.output + ".partial"));
}

TEST(ModelGenerator, BadShapesAreErrors) {
  struct Bad {
    const char* what;
    ModelShape shape;
    const char* message;  // a part of the error
  };
  std::vector<Bad> cases;
  {
    ModelShape s = small_shape();
    s.n_head_kv = 3;
    cases.push_back({"kv heads not dividing heads", s, "kv heads"});
  }
  {
    ModelShape s = small_shape();
    s.n_head_kv = 0;
    cases.push_back({"no kv heads", s, "kv heads"});
  }
  {
    ModelShape s = small_shape();
    s.head_dim = 63;
    cases.push_back({"odd head dim", s, "even"});
  }
  {
    ModelShape s = *find_preset("qwen3moe-tiny");
    s.n_expert = 0;
    s.n_expert_used = 0;
    cases.push_back({"qwen3moe without experts", s, "experts"});
  }
  {
    ModelShape s = *find_preset("qwen3-tiny");
    s.n_expert = 4;
    s.n_expert_used = 2;
    s.n_ff_exp = 128;
    cases.push_back({"qwen3 with experts", s, "qwen3moe"});
  }
  {
    ModelShape s = small_shape();
    s.arch = "gpt2";
    cases.push_back({"unknown arch", s, "gpt2"});
  }
  {
    ModelShape s = *find_preset("llama-moe-tiny");
    s.n_expert_used = 5;
    cases.push_back({"experts used > experts", s, "experts"});
  }
  {
    ModelShape s = *find_preset("llama-moe-tiny");
    s.n_ff_exp = 0;
    cases.push_back({"experts without a width", s, "expert ffn width"});
  }
  {
    ModelShape s = small_shape();
    s.n_ff = 0;
    cases.push_back({"dense without ffn", s, "ffn width"});
  }
  {
    ModelShape s = small_shape();
    s.n_layer = 0;
    cases.push_back({"no layers", s, "positive"});
  }
  {
    ModelShape s = small_shape();
    s.n_vocab = 100;
    cases.push_back({"byte vocab too small", s, "259"});
  }
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.what);
    GenOptions o = gen_options(c.shape, scratch("gguf"), FileType::Q4_K_M);
    Result<GenReport> r = generate_model(o);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
    EXPECT_FALSE(fs::exists(o.output));
    EXPECT_FALSE(fs::exists(o.output + ".partial"));
  }
}


}  // namespace
}  // namespace flint::model
