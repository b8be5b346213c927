// Quantizing whole files (byte-identical with llama-quantize where the fixtures allow it) and
// the quantization mixes.
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
// 1. llama-tiny-F32 quantized by flint = llama-quantize's file, byte for byte.

class ModelQuantizeLlamaTiny : public ::testing::TestWithParam<const char*> {};

TEST_P(ModelQuantizeLlamaTiny, ByteIdenticalToLlamaQuantize) {
  FLINT_REQUIRE_FIXTURES();
  const std::string type = GetParam();
  const std::optional<FileType> ftype = file_type_from_name(type);
  ASSERT_TRUE(ftype.has_value()) << type;
  const std::string out = scratch("gguf");
  Result<QuantizeReport> r = quantize_model(quantize_options(model_path("llama-tiny-F32"), out, *ftype));
  ASSERT_TRUE(r.is_ok()) << r.status().message();

  const std::vector<uint8_t> got = read_file(out);
  const std::vector<uint8_t> want = read_file(model_path("llama-tiny-" + type));
  EXPECT_EQ(first_difference(got, want), "");
  EXPECT_EQ(r->bytes_out, got.size());
  EXPECT_EQ(r->bytes_in, fs::file_size(model_path("llama-tiny-F32")));
  // 16 matrices (token_embd, output, 7 per layer) converted; 5 norms kept as they were.
  EXPECT_EQ(r->n_quantized, 16);
  EXPECT_EQ(r->n_copied, 5);
  EXPECT_FALSE(fs::exists(out + ".partial"));
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Types, ModelQuantizeLlamaTiny,
                         ::testing::Values("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M",
                                           "Q2_K", "Q4_0", "IQ4_NL"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

// ---------------------------------------------------------------------------------------------
// 2. Models whose F32 master is not shipped: same structure and mix as llama-quantize's files.

struct MixCase {
  const char* input;
  const char* type;
};
void PrintTo(const MixCase& c, std::ostream* os) { *os << c.input << " -> " << c.type; }

class ModelQuantizeMix : public ::testing::TestWithParam<MixCase> {};

TEST_P(ModelQuantizeMix, SameTensorsAndTypesAsLlamaQuantize) {
  FLINT_REQUIRE_FIXTURES();
  const MixCase c = GetParam();
  const std::string in = std::string(c.input) + "-F16";
  const std::string reference = std::string(c.input) + "-" + c.type;
  const std::string out = scratch("gguf");
  Result<QuantizeReport> r =
      quantize_model(quantize_options(model_path(in), out, *file_type_from_name(c.type)));
  ASSERT_TRUE(r.is_ok()) << r.status().message();

  const GgufFile got = open_or_throw(out);
  const GgufFile want = open_or_throw(model_path(reference));
  expect_same_tensors(got, want);
  // Metadata as llama-quantize writes it: the input's, with file_type set, in the same order.
  ASSERT_EQ(got.metadata().size(), want.metadata().size());
  for (size_t i = 0; i < got.metadata().size(); ++i) {
    EXPECT_EQ(got.metadata()[i].key, want.metadata()[i].key);
    EXPECT_TRUE(got.metadata()[i].value == want.metadata()[i].value) << want.metadata()[i].key;
  }
  // Same types and shapes, so the same size (the data differs: llama.cpp started from F32).
  EXPECT_EQ(fs::file_size(out), fs::file_size(model_path(reference)));
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelQuantizeMix,
                         ::testing::Values(MixCase{"qwen3moe-tiny", "Q4_K_M"},
                                           MixCase{"qwen3moe-tiny", "MXFP4_MOE"},
                                           MixCase{"qwen3-tiny", "Q4_K_M"}),
                         [](const ::testing::TestParamInfo<MixCase>& info) {
                           std::string name = std::string(info.param.input) + "_" + info.param.type;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// ---------------------------------------------------------------------------------------------
// 3. Re-quantizing.

TEST(ModelQuantize, RequantizingNeedsAllowRequantizeAndLeavesNoFile) {
  FLINT_REQUIRE_FIXTURES();
  const std::string out = scratch("gguf");
  QuantizeOptions o = quantize_options(model_path("llama-tiny-Q8_0"), out, FileType::Q4_K_M);
  Result<QuantizeReport> r = quantize_model(o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("--allow-requantize"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("llama-tiny-Q8_0.gguf"), std::string::npos) << r.status().message();
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".partial"));

  // Allowed: the mix is the one llama-quantize picks from F32.
  o.allow_requantize = true;
  r = quantize_model(o);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  expect_same_tensors(open_or_throw(out), open_or_throw(model_path("llama-tiny-Q4_K_M")));
  EXPECT_FALSE(fs::exists(out + ".partial"));
  fs::remove(out);
}

TEST(ModelQuantize, QuantizingToTheFilesOwnTypeCopiesItUnchanged) {
  FLINT_REQUIRE_FIXTURES();
  // Every tensor already has the type the Q8_0 mix picks: nothing is re-quantized.
  const std::string out = scratch("gguf");
  Result<QuantizeReport> r = quantize_model(quantize_options(model_path("llama-tiny-Q8_0"), out, FileType::Q8_0));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->n_quantized, 0);
  EXPECT_EQ(r->n_copied, 21);
  EXPECT_EQ(first_difference(read_file(out), read_file(model_path("llama-tiny-Q8_0"))), "");
  fs::remove(out);
}

TEST(ModelQuantize, MissingInputIsAnErrorAndLeavesNoFile) {
  const std::string out = scratch("gguf");
  Result<QuantizeReport> r =
      quantize_model(quantize_options(test::tmp_dir() + "/no-such-model.gguf", out, FileType::Q4_K_M));
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("no-such-model.gguf"), std::string::npos) << r.status().message();
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".partial"));
}

// ---------------------------------------------------------------------------------------------
// 11. The mix, on synthetic tensor lists (no data needed).

TensorInfo tensor(std::string name, std::vector<uint64_t> shape, DType type = DType::F32) {
  TensorInfo t;
  t.name = std::move(name);
  t.type = type;
  t.shape = std::move(shape);
  t.n_elements = 1;
  for (uint64_t d : t.shape) t.n_elements *= d;
  return t;
}

// A dense llama in llama-quantize's order.
std::vector<TensorInfo> llama_tensors(uint32_t n_layer, uint64_t n_embd, uint64_t kv_dim, uint64_t n_ff,
                                      uint64_t n_vocab) {
  std::vector<TensorInfo> t = {tensor("output.weight", {n_embd, n_vocab}),
                               tensor("output_norm.weight", {n_embd}),
                               tensor("token_embd.weight", {n_embd, n_vocab})};
  for (uint32_t l = 0; l < n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    t.push_back(tensor(b + "attn_k.weight", {n_embd, kv_dim}));
    t.push_back(tensor(b + "attn_norm.weight", {n_embd}));
    t.push_back(tensor(b + "attn_output.weight", {n_embd, n_embd}));
    t.push_back(tensor(b + "attn_q.weight", {n_embd, n_embd}));
    t.push_back(tensor(b + "attn_v.weight", {n_embd, kv_dim}));
    t.push_back(tensor(b + "ffn_down.weight", {n_ff, n_embd}));
    t.push_back(tensor(b + "ffn_gate.weight", {n_embd, n_ff}));
    t.push_back(tensor(b + "ffn_norm.weight", {n_embd}));
    t.push_back(tensor(b + "ffn_up.weight", {n_embd, n_ff}));
  }
  return t;
}

ModelSpec llama_spec(uint32_t n_layer, uint32_t n_head, uint32_t n_head_kv) {
  ModelSpec s;
  s.arch = "llama";
  s.n_layer = n_layer;
  s.n_head = n_head;
  s.n_head_kv = n_head_kv;
  return s;
}

// llama.cpp's use_more_bits(i, 32), written out.
bool more_bits_32(int i) { return i < 4 || i >= 28 || (i - 4) % 3 == 2; }

TEST(ModelMix, Llama32LayersQ4_K_M) {
  const std::vector<TensorInfo> tensors = llama_tensors(32, 4096, 1024, 14336, 32000);
  MixPlanner planner(FileType::Q4_K_M, llama_spec(32, 32, 8), tensors);
  int n_more = 0;
  for (const TensorInfo& t : tensors) {
    SCOPED_TRACE(t.name);
    const DType got = planner.choose(t);
    const int layer = tensor_layer(t.name);
    DType want = DType::Q4_K;
    if (t.shape.size() == 1) {
      want = DType::F32;
    } else if (t.name == "output.weight") {
      want = DType::Q6_K;
    } else if ((t.name.ends_with("attn_v.weight") || t.name.ends_with("ffn_down.weight")) && more_bits_32(layer)) {
      want = DType::Q6_K;
      ++n_more;
    }
    EXPECT_EQ(dtype_name(got), dtype_name(want));
  }
  // Layers 0-3, 28-31 and 6, 9, ..., 27: 16 layers, attn_v and ffn_down in each.
  EXPECT_EQ(n_more, 2 * 16);
}

TEST(ModelMix, Q5_K_MUsesMoreBitsInTheSameLayers) {
  const std::vector<TensorInfo> tensors = llama_tensors(32, 4096, 1024, 14336, 32000);
  MixPlanner planner(FileType::Q5_K_M, llama_spec(32, 32, 8), tensors);
  for (const TensorInfo& t : tensors) {
    SCOPED_TRACE(t.name);
    const DType got = planner.choose(t);
    const int layer = tensor_layer(t.name);
    DType want = t.shape.size() == 1 ? DType::F32 : DType::Q5_K;
    if (t.name == "output.weight") want = DType::Q6_K;
    if ((t.name.ends_with("attn_v.weight") || t.name.ends_with("ffn_down.weight")) && more_bits_32(layer)) {
      want = DType::Q6_K;
    }
    EXPECT_EQ(dtype_name(got), dtype_name(want));
  }
}

TEST(ModelMix, RowsNotMultipleOf256FallBack) {
  // n_embd 288 = 9 x 32: no K-quant block fits a row of 288.
  const std::vector<TensorInfo> tensors = llama_tensors(2, 288, 96, 768, 1000);
  MixPlanner planner(FileType::Q4_K_M, llama_spec(2, 9, 3), tensors);
  std::map<std::string, DType> got;
  for (const TensorInfo& t : tensors) got[t.name] = planner.choose(t);
  EXPECT_EQ(dtype_name(got["blk.0.attn_q.weight"]), dtype_name(DType::Q5_0));      // Q4_K -> Q5_0
  EXPECT_EQ(dtype_name(got["blk.0.attn_v.weight"]), dtype_name(DType::Q5_0));      // Q4_K -> Q5_0
  EXPECT_EQ(dtype_name(got["blk.1.attn_v.weight"]), dtype_name(DType::Q8_0));      // Q6_K -> Q8_0
  EXPECT_EQ(dtype_name(got["blk.0.ffn_gate.weight"]), dtype_name(DType::Q5_0));
  EXPECT_EQ(dtype_name(got["blk.1.ffn_down.weight"]), dtype_name(DType::Q6_K));    // 768 columns fit
  EXPECT_EQ(dtype_name(got["output.weight"]), dtype_name(DType::Q8_0));            // llama.cpp: Q8_0
  EXPECT_EQ(dtype_name(got["token_embd.weight"]), dtype_name(DType::Q5_0));
  EXPECT_EQ(dtype_name(got["blk.0.attn_norm.weight"]), dtype_name(DType::F32));

  // Q2_K / Q3_K fall back to Q4_0 (llama-quantize's tensor_type_fallback at the fixtures'
  // commit); a row that no 32-block fits, to F16.
  MixPlanner q2(FileType::Q2_K, llama_spec(2, 9, 3), tensors);
  std::map<std::string, DType> got_q2;
  for (const TensorInfo& t : tensors) got_q2[t.name] = q2.choose(t);
  EXPECT_EQ(dtype_name(got_q2["blk.0.attn_q.weight"]), dtype_name(DType::Q4_0));       // Q2_K
  EXPECT_EQ(dtype_name(got_q2["blk.1.attn_v.weight"]), dtype_name(DType::Q4_0));       // Q3_K
  EXPECT_EQ(dtype_name(got_q2["blk.0.attn_output.weight"]), dtype_name(DType::Q4_0));  // Q3_K
  EXPECT_EQ(dtype_name(got_q2["blk.0.ffn_down.weight"]), dtype_name(DType::Q3_K));       // 768 fits
  EXPECT_EQ(dtype_name(got_q2["output.weight"]), dtype_name(DType::Q8_0));
  const std::vector<TensorInfo> odd = {tensor("blk.0.attn_q.weight", {80, 80}),
                                       tensor("blk.0.attn_v.weight", {80, 80})};
  MixPlanner odd_planner(FileType::Q4_K_M, llama_spec(1, 1, 1), odd);
  EXPECT_EQ(dtype_name(odd_planner.choose(odd[0])), dtype_name(DType::F16));
  EXPECT_EQ(dtype_name(odd_planner.choose(odd[1])), dtype_name(DType::F16));
}

TEST(ModelMix, FloatTypesAndWhatIsNeverQuantized) {
  const std::vector<TensorInfo> tensors = {
      tensor("token_embd.weight", {256, 512}), tensor("blk.0.attn_norm.weight", {256}),
      tensor("blk.0.ffn_gate_inp.weight", {256, 8}), tensor("blk.0.ffn_up_exps.weight", {256, 128, 8}),
      tensor("blk.0.attn_q_norm.weight", {64})};
  for (FileType ft : {FileType::F16, FileType::BF16, FileType::ALL_F32, FileType::Q8_0}) {
    SCOPED_TRACE(file_type_name(ft));
    ModelSpec spec = llama_spec(1, 4, 4);
    spec.n_expert = 8;
    MixPlanner planner(ft, spec, tensors);
    const DType base = file_type_base(ft);
    EXPECT_EQ(planner.choose(tensors[0]), base);
    EXPECT_EQ(planner.choose(tensors[1]), DType::F32);
    EXPECT_EQ(planner.choose(tensors[2]), DType::F32);
    EXPECT_EQ(planner.choose(tensors[3]), base);
    EXPECT_EQ(planner.choose(tensors[4]), DType::F32);
  }
  EXPECT_FALSE(is_quantizable(tensor("blk.0.ffn_gate_inp.weight", {256, 8})));
  EXPECT_FALSE(is_quantizable(tensor("blk.0.attn_k_norm.weight", {64})));
  EXPECT_FALSE(is_quantizable(tensor("rope_freqs.weight", {32})));
  EXPECT_TRUE(is_quantizable(tensor("blk.0.ffn_down_exps.weight", {128, 256, 8})));
}

TEST(ModelMix, FileTypeNames) {
  EXPECT_EQ(file_type_from_name("q4_k_m"), FileType::Q4_K_M);
  EXPECT_EQ(file_type_from_name("MXFP4_MOE"), FileType::MXFP4_MOE);
  EXPECT_EQ(file_type_from_name("f32"), FileType::ALL_F32);
  EXPECT_FALSE(file_type_from_name("Q4_K_X").has_value());
  for (std::string_view name : file_type_names()) {
    const std::optional<FileType> t = file_type_from_name(name);
    ASSERT_TRUE(t.has_value()) << name;
    EXPECT_EQ(file_type_name(*t), name);
  }
  // llama.cpp's LLAMA_FTYPE ids, stored as general.file_type.
  EXPECT_EQ(static_cast<uint32_t>(FileType::Q4_K_M), 15u);
  EXPECT_EQ(static_cast<uint32_t>(FileType::MXFP4_MOE), 38u);
  EXPECT_EQ(tensor_layer("blk.17.attn_q.weight"), 17);
  EXPECT_EQ(tensor_layer("output.weight"), -1);
  EXPECT_TRUE(llama_tensor_order("token_embd.weight", "blk.0.attn_q.weight"));
  EXPECT_TRUE(llama_tensor_order("blk.2.ffn_up.weight", "blk.10.attn_k.weight"));
  EXPECT_FALSE(llama_tensor_order("blk.10.attn_k.weight", "blk.2.ffn_up.weight"));
}


}  // namespace
}  // namespace flint::model
