// Tests for src/quant: bit-exactness against llama.cpp's outputs (shared fixtures) and
// fixture-independent checks (error bounds, argument errors, edge cases).
#include "quant/quant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <ostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "support/fixtures.h"

namespace flint::quant {
namespace {

constexpr int kRows = 8;
constexpr int kCols = 512;

// The fixture types, by the names the fixture files use.
struct TypeCase {
  DType type;
  const char* name;
};
void PrintTo(const TypeCase& c, std::ostream* os) { *os << c.name; }

constexpr TypeCase kFixtureTypes[] = {
    {DType::F16, "F16"},       {DType::BF16, "BF16"},   {DType::Q4_0, "Q4_0"},
    {DType::Q4_1, "Q4_1"},     {DType::Q5_0, "Q5_0"},   {DType::Q5_1, "Q5_1"},
    {DType::Q8_0, "Q8_0"},     {DType::Q2_K, "Q2_K"},   {DType::Q3_K, "Q3_K"},
    {DType::Q4_K, "Q4_K"},     {DType::Q5_K, "Q5_K"},   {DType::Q6_K, "Q6_K"},
    {DType::IQ4_NL, "IQ4_NL"}, {DType::MXFP4, "MXFP4"},
};

// Every type quantize_row() handles, F32 included.
const std::vector<DType>& quantizable_types() {
  static const std::vector<DType> types = [] {
    std::vector<DType> out{DType::F32};
    for (const TypeCase& c : kFixtureTypes) out.push_back(c.type);
    return out;
  }();
  return types;
}

std::string case_name(const testing::TestParamInfo<TypeCase>& info) { return info.param.name; }

uint64_t row_bytes(DType type, int64_t n) {
  return dtype_row_bytes(type, static_cast<uint64_t>(n)).value();
}

std::vector<uint32_t> float_bits(const float* x, size_t n) {
  std::vector<uint32_t> out(n);
  std::memcpy(out.data(), x, n * sizeof(float));
  return out;
}

double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    sum += d * d;
  }
  return std::sqrt(sum / static_cast<double>(a.size()));
}

// Quantizes then dequantizes `x` (one row) through `type`.
std::vector<float> round_trip(DType type, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(row_bytes(type, n));
  EXPECT_TRUE(quantize_row(type, x.data(), q.data(), n).is_ok());
  std::vector<float> y(x.size());
  EXPECT_TRUE(dequantize_row(type, q.data(), y.data(), n).is_ok());
  return y;
}

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f, float mean = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, sigma);
  std::vector<float> out(n);
  for (float& v : out) v = dist(rng);
  return out;
}

// --- fixtures: llama.cpp's bytes and floats ---

struct Fixture {
  std::vector<float> input;     // [kRows][kCols]
  std::vector<uint8_t> blocks;  // ggml's quantization of input
  std::vector<float> dequant;   // ggml's dequantization of blocks
  double ggml_rmse = 0;         // of dequant against input, all rows
};

Fixture load_fixture(const char* name) {
  const std::string dir = *test::fixtures_dir() + "/quant/";
  Fixture f;
  f.input = test::read_f32(dir + name + ".input.f32");
  f.blocks = test::read_file(dir + name + ".blocks.bin");
  f.dequant = test::read_f32(dir + name + ".dequant.f32");
  std::ifstream index(dir + "index.json");
  const nlohmann::json json = nlohmann::json::parse(index);
  for (const auto& t : json.at("types")) {
    if (t.at("type") == name) f.ggml_rmse = t.at("rmse_all_rows").get<double>();
  }
  return f;
}

// Quantizes all rows of the fixture input one row at a time.
std::vector<uint8_t> quantize_rows(DType type, const std::vector<float>& input) {
  const uint64_t rb = row_bytes(type, kCols);
  std::vector<uint8_t> out(rb * kRows);
  for (int r = 0; r < kRows; ++r) {
    const Status s = quantize_row(type, input.data() + r * kCols, out.data() + r * rb, kCols);
    EXPECT_TRUE(s.is_ok()) << s.message();
  }
  return out;
}

std::vector<float> dequantize_rows(DType type, const std::vector<uint8_t>& blocks) {
  const uint64_t rb = row_bytes(type, kCols);
  std::vector<float> out(static_cast<size_t>(kRows) * kCols);
  for (int r = 0; r < kRows; ++r) {
    const Status s = dequantize_row(type, blocks.data() + r * rb, out.data() + r * kCols, kCols);
    EXPECT_TRUE(s.is_ok()) << s.message();
  }
  return out;
}

class QuantFixtureTest : public testing::TestWithParam<TypeCase> {};

TEST_P(QuantFixtureTest, DequantizeMatchesGgmlBitForBit) {
  FLINT_REQUIRE_FIXTURES();
  const TypeCase c = GetParam();
  const Fixture f = load_fixture(c.name);
  ASSERT_EQ(f.blocks.size(), row_bytes(c.type, kCols) * kRows);
  ASSERT_EQ(f.dequant.size(), static_cast<size_t>(kRows) * kCols);
  const std::vector<float> got = dequantize_rows(c.type, f.blocks);
  const std::vector<uint32_t> want_bits = float_bits(f.dequant.data(), f.dequant.size());
  const std::vector<uint32_t> got_bits = float_bits(got.data(), got.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < got_bits.size(); ++i) {
    if (got_bits[i] != want_bits[i] && mismatches++ < 5) {
      ADD_FAILURE() << c.name << " value " << i << " (row " << i / kCols << "): got " << got[i]
                    << ", ggml " << f.dequant[i];
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

// Every fixture type, K-quants and IQ4_NL included, reproduces ggml's bytes: the quantizers
// follow ggml's scale searches operation by operation.
TEST_P(QuantFixtureTest, QuantizeMatchesGgmlByteForByte) {
  FLINT_REQUIRE_FIXTURES();
  const TypeCase c = GetParam();
  const Fixture f = load_fixture(c.name);
  const std::vector<uint8_t> got = quantize_rows(c.type, f.input);
  ASSERT_EQ(got.size(), f.blocks.size());
  const uint64_t rb = row_bytes(c.type, kCols);
  size_t mismatches = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != f.blocks[i] && mismatches++ < 5) {
      ADD_FAILURE() << c.name << " byte " << i << " (row " << i / rb << ", byte " << i % rb
                    << " of the row): got " << int{got[i]} << ", ggml " << int{f.blocks[i]};
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

// The round-trip error over the fixture input is ggml's, within 2% (a weaker statement than
// byte equality, kept so that a future non-bit-exact quantizer still has a quality bar).
TEST_P(QuantFixtureTest, RoundTripErrorMatchesGgml) {
  FLINT_REQUIRE_FIXTURES();
  const TypeCase c = GetParam();
  const Fixture f = load_fixture(c.name);
  ASSERT_GT(f.ggml_rmse, 0);
  const std::vector<float> y = dequantize_rows(c.type, quantize_rows(c.type, f.input));
  const double ours = rmse(y, f.input);
  EXPECT_NEAR(ours / f.ggml_rmse, 1.0, 0.02)
      << c.name << ": rmse " << ours << ", ggml " << f.ggml_rmse;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantFixtureTest, testing::ValuesIn(kFixtureTypes), case_name);

// --- fixture-independent checks ---

TEST(QuantTest, SupportedTypes) {
  for (DType t : quantizable_types()) {
    EXPECT_TRUE(can_dequantize(t)) << dtype_name(t);
    EXPECT_TRUE(can_quantize(t)) << dtype_name(t);
  }
  for (DType t : {DType::Q8_1, DType::Q8_K, DType::IQ2_XXS, DType::IQ4_XS, DType::TQ1_0, DType::I32,
                  DType::F64, DType::NVFP4}) {
    EXPECT_FALSE(can_dequantize(t)) << dtype_name(t);
    EXPECT_FALSE(can_quantize(t)) << dtype_name(t);
  }
}

// Relative RMSE (to sigma = 1) of a round trip of N(0, 1) data: a loose ceiling per type, about
// 1.25x what the format achieves, to catch a broken kernel rather than a slightly worse search.
TEST(QuantTest, RoundTripErrorOnGaussianData) {
  const struct {
    DType type;
    double max_rmse;
  } cases[] = {
      {DType::F32, 0.0},    {DType::F16, 2.6e-4}, {DType::BF16, 2.1e-3}, {DType::Q8_0, 7e-3},
      {DType::Q5_1, 0.048}, {DType::Q5_0, 0.055}, {DType::Q4_1, 0.1},    {DType::Q4_0, 0.11},
      {DType::Q6_K, 0.023}, {DType::Q5_K, 0.046}, {DType::Q4_K, 0.092},  {DType::Q3_K, 0.19},
      {DType::Q2_K, 0.37},  {DType::IQ4_NL, 0.1}, {DType::MXFP4, 0.15},
  };
  const std::vector<float> x = gaussian(4096, 1234);
  for (const auto& c : cases) {
    const double e = rmse(round_trip(c.type, x), x);
    EXPECT_LE(e, c.max_rmse) << dtype_name(c.type);
  }
}

// Row kinds beyond N(0,1): small, offset and outlier data stay within a fraction of their
// range, and a round trip never produces NaN or infinity. Values around 1e-6 need scales below
// fp16's smallest subnormal, so there the formats may flush to zero (as ggml's do): only
// finiteness and an error no larger than the data's range are required.
TEST(QuantTest, RoundTripStaysFiniteAndScaled) {
  std::vector<float> outliers = gaussian(1024, 10);
  for (size_t i = 0; i < outliers.size(); i += 37) outliers[i] *= 40;
  const struct {
    std::vector<float> x;
    double max_relative_rmse;  // of the round trip, relative to max |x|
  } inputs[] = {
      {gaussian(1024, 7, 1e-6f), 1.0},
      {gaussian(1024, 8, 0.5f, 2.5f), 0.1},
      {gaussian(1024, 9, 0.02f), 0.1},
      {outliers, 0.1},
  };
  for (DType t : quantizable_types()) {
    for (const auto& in : inputs) {
      const std::vector<float> y = round_trip(t, in.x);
      double range = 0;
      for (float v : in.x) range = std::max(range, static_cast<double>(std::fabs(v)));
      for (float v : y) ASSERT_TRUE(std::isfinite(v)) << dtype_name(t);
      EXPECT_LE(rmse(y, in.x), in.max_relative_rmse * range) << dtype_name(t);
    }
  }
}

TEST(QuantTest, ZeroBlocksRoundTripToZeros) {
  for (DType t : quantizable_types()) {
    const std::vector<float> zeros(512, 0.0f);
    for (float v : round_trip(t, zeros)) ASSERT_EQ(v, 0.0f) << dtype_name(t);
  }
}

TEST(QuantTest, ConstantRowRoundTrip) {
  const std::vector<float> x(512, 0.3712f);
  for (DType t : quantizable_types()) {
    const std::vector<float> y = round_trip(t, x);
    EXPECT_LE(rmse(y, x), 0.1 * 0.3712) << dtype_name(t);
  }
}

// Exactly representable values survive: multiples of a power-of-two step in Q8_0 and F16.
TEST(QuantTest, ExactValuesRoundTripExactly) {
  std::vector<float> x(64);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(static_cast<int>(i % 32) * 8 - 127) / 8.0f;
  x[0] = 127.0f / 8.0f;  // absmax 127/8 gives d = 1/8 exactly
  x[32] = 127.0f / 8.0f;
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
    EXPECT_EQ(float_bits(round_trip(t, x).data(), x.size()), float_bits(x.data(), x.size()))
        << dtype_name(t);
  }
}

// A hand-built Q4_0 block: d = 0.5, nibble q decodes to (q - 8) * d.
TEST(QuantTest, DequantizeHandBuiltQ4_0) {
  uint8_t block[18];
  const uint16_t d = fp32_to_fp16(0.5f);
  std::memcpy(block, &d, 2);
  for (int j = 0; j < 16; ++j) block[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  ASSERT_TRUE(dequantize_row(DType::Q4_0, block, y, 32).is_ok());
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 0.5f);
    EXPECT_EQ(y[j + 16], (7 - j) * 0.5f);
  }
}

// A hand-built Q4_K super-block exercising the 6-bit scale packing: sub-block j has scale
// j + 1 + 16 * (j >= 4) and min j, with d = 1 and dmin = 0.25; every nibble is 3.
TEST(QuantTest, DequantizeHandBuiltQ4_K) {
  uint8_t block[144] = {};
  const uint16_t d = fp32_to_fp16(1.0f), dmin = fp32_to_fp16(0.25f);
  std::memcpy(block, &d, 2);
  std::memcpy(block + 2, &dmin, 2);
  uint8_t* scales = block + 4;
  for (int j = 0; j < 8; ++j) {
    const int sc = j + 1 + (j >= 4 ? 16 : 0), m = j;
    if (j < 4) {
      scales[j] = static_cast<uint8_t>(sc);
      scales[j + 4] = static_cast<uint8_t>(m);
    } else {
      scales[j + 4] = static_cast<uint8_t>((sc & 0xF) | ((m & 0xF) << 4));
      scales[j - 4] |= static_cast<uint8_t>((sc >> 4) << 6);
      scales[j] |= static_cast<uint8_t>((m >> 4) << 6);
    }
  }
  std::memset(block + 16, 0x33, 128);
  float y[256];
  ASSERT_TRUE(dequantize_row(DType::Q4_K, block, y, 256).is_ok());
  for (int v = 0; v < 256; ++v) {
    const int j = v / 32;
    const float want =
        static_cast<float>(j + 1 + (j >= 4 ? 16 : 0)) * 3 - 0.25f * static_cast<float>(j);
    ASSERT_EQ(y[v], want) << "value " << v;
  }
}

// Blocks may sit at any byte offset (Q4_0 blocks are 18 bytes): results must not depend on the
// alignment of either buffer (and UBSan must stay quiet).
TEST(QuantTest, UnalignedBuffers) {
  const std::vector<float> x = gaussian(512, 42);
  for (DType t : quantizable_types()) {
    const uint64_t rb = row_bytes(t, 512);
    std::vector<uint8_t> aligned(rb), shifted(rb + 1);
    ASSERT_TRUE(quantize_row(t, x.data(), aligned.data(), 512).is_ok());
    ASSERT_TRUE(quantize_row(t, x.data(), shifted.data() + 1, 512).is_ok());
    EXPECT_EQ(0, std::memcmp(aligned.data(), shifted.data() + 1, rb)) << dtype_name(t);
    std::vector<float> y0(512), y1(513);
    ASSERT_TRUE(dequantize_row(t, aligned.data(), y0.data(), 512).is_ok());
    ASSERT_TRUE(dequantize_row(t, shifted.data() + 1, y1.data() + 1, 512).is_ok());
    EXPECT_EQ(0, std::memcmp(y0.data(), y1.data() + 1, 512 * sizeof(float))) << dtype_name(t);
  }
}

// Quantizing a row in one call or block by block gives the same bytes.
TEST(QuantTest, RowsAreBlockwise) {
  const std::vector<float> x = gaussian(1024, 5);
  for (DType t : quantizable_types()) {
    const int64_t be = dtype_info(t).block_elems == 1 ? 256 : dtype_info(t).block_elems;
    const uint64_t rb = row_bytes(t, 1024), chunk = row_bytes(t, be);
    std::vector<uint8_t> whole(rb), parts(rb);
    ASSERT_TRUE(quantize_row(t, x.data(), whole.data(), 1024).is_ok());
    for (int64_t i = 0; i < 1024 / be; ++i) {
      ASSERT_TRUE(quantize_row(t, x.data() + i * be, parts.data() + i * chunk, be).is_ok());
    }
    EXPECT_EQ(whole, parts) << dtype_name(t);
  }
}

TEST(QuantTest, EmptyRowIsOk) {
  for (DType t : quantizable_types()) {
    EXPECT_TRUE(quantize_row(t, nullptr, nullptr, 0).is_ok()) << dtype_name(t);
    EXPECT_TRUE(dequantize_row(t, nullptr, nullptr, 0).is_ok()) << dtype_name(t);
  }
}

TEST(QuantTest, BadLengthIsAnError) {
  std::vector<float> x(512, 1.0f);
  std::vector<uint8_t> q(4096);
  const struct {
    DType type;
    int64_t n;
  } cases[] = {{DType::Q4_0, 31},  {DType::Q8_0, 48},  {DType::Q4_K, 128}, {DType::Q6_K, 300},
               {DType::IQ4_NL, 1}, {DType::MXFP4, 33}, {DType::F16, -1}};
  for (const auto& c : cases) {
    const Status qs = quantize_row(c.type, x.data(), q.data(), c.n);
    ASSERT_FALSE(qs.is_ok()) << dtype_name(c.type) << " n=" << c.n;
    EXPECT_NE(qs.message().find(std::string(dtype_name(c.type))), std::string::npos)
        << qs.message();
    const Status ds = dequantize_row(c.type, q.data(), x.data(), c.n);
    ASSERT_FALSE(ds.is_ok()) << dtype_name(c.type) << " n=" << c.n;
    EXPECT_NE(ds.message().find(std::string(dtype_name(c.type))), std::string::npos)
        << ds.message();
  }
}

TEST(QuantTest, UnsupportedTypeIsAnError) {
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> q(4096);
  for (DType t : {DType::IQ2_XXS, DType::Q8_K, DType::TQ2_0, DType::I8}) {
    const Status qs = quantize_row(t, x.data(), q.data(), 256);
    ASSERT_FALSE(qs.is_ok());
    EXPECT_NE(qs.message().find(std::string(dtype_name(t))), std::string::npos) << qs.message();
    const Status ds = dequantize_row(t, q.data(), x.data(), 256);
    ASSERT_FALSE(ds.is_ok());
    EXPECT_NE(ds.message().find(std::string(dtype_name(t))), std::string::npos) << ds.message();
  }
  // An id outside the enum (a corrupt file) is an error too, not a crash.
  const Status s = dequantize_row(static_cast<DType>(1000), q.data(), x.data(), 256);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("1000"), std::string::npos) << s.message();
}

TEST(QuantTest, NullBufferIsAnError) {
  std::vector<float> x(32, 1.0f);
  EXPECT_FALSE(quantize_row(DType::Q8_0, x.data(), nullptr, 32).is_ok());
  EXPECT_FALSE(dequantize_row(DType::Q8_0, nullptr, x.data(), 32).is_ok());
}

// Non-finite input must not be undefined behaviour (UBSan runs in CI); the bytes are unspecified.
TEST(QuantTest, NonFiniteInputDoesNotCrash) {
  std::vector<float> x = gaussian(512, 3);
  x[5] = std::numeric_limits<float>::infinity();
  x[300] = std::numeric_limits<float>::quiet_NaN();
  for (DType t : quantizable_types()) {
    std::vector<uint8_t> q(row_bytes(t, 512));
    std::vector<float> y(512);
    EXPECT_TRUE(quantize_row(t, x.data(), q.data(), 512).is_ok()) << dtype_name(t);
    EXPECT_TRUE(dequantize_row(t, q.data(), y.data(), 512).is_ok()) << dtype_name(t);
  }
}

}  // namespace
}  // namespace flint::quant
