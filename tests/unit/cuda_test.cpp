// CUDA dequantization: the GPU kernels give bit-for-bit the floats of the scalar reference
// (quant::dequantize_row). Tests that need a GPU skip when there is none.
#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cuda/dequantize.h"
#include "backend/cuda/runtime.h"
#include "core/dtype.h"
#include "quant/quant.h"

namespace flint::cuda {
namespace {

#define FLINT_REQUIRE_GPU()                                   \
  do {                                                        \
    if (::flint::cuda::device_count() == 0) {                 \
      GTEST_SKIP() << "no CUDA device: skipping";             \
    }                                                         \
  } while (0)

// Rows with a spread of magnitudes per block (so block scales differ), some all-zero blocks,
// and a few exact extremes.
std::vector<float> random_values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> log_scale(-6.0f, 3.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t b = 0; b < n / 32; ++b) {
    const float scale = std::exp2(log_scale(rng));
    const bool zero = b % 17 == 5;
    for (int j = 0; j < 32; ++j) v[static_cast<size_t>(b * 32 + j)] = zero ? 0.0f : scale * normal(rng);
  }
  if (n >= 64) {
    v[40] = 1e4f;
    v[41] = -1e4f;
  }
  return v;
}

// Quantizes `n` random values to `type` on the host, dequantizes on the GPU and on the host.
void expect_gpu_matches_reference(DType type, int64_t n, uint32_t seed) {
  SCOPED_TRACE(std::string(dtype_name(type)) + " n=" + std::to_string(n));
  const std::vector<float> values = random_values(n, seed);
  const uint64_t bytes = *dtype_row_bytes(type, static_cast<uint64_t>(n));
  std::vector<uint8_t> q(bytes);
  ASSERT_TRUE(quant::quantize_row(type, values.data(), q.data(), n).is_ok());
  std::vector<float> want(static_cast<size_t>(n));
  ASSERT_TRUE(quant::dequantize_row(type, q.data(), want.data(), n).is_ok());

  Result<Stream> stream = Stream::create();
  ASSERT_TRUE(stream.is_ok()) << stream.status().message();
  Result<DeviceBuffer> src = DeviceBuffer::allocate(bytes);
  ASSERT_TRUE(src.is_ok()) << src.status().message();
  Result<DeviceBuffer> dst = DeviceBuffer::allocate(static_cast<size_t>(n) * sizeof(float));
  ASSERT_TRUE(dst.is_ok()) << dst.status().message();
  ASSERT_TRUE(src->upload(q.data(), bytes, *stream).is_ok());
  // Poison the output so a value the kernel never writes cannot pass by accident.
  std::vector<float> got(static_cast<size_t>(n), std::bit_cast<float>(0x7fc01234u));
  ASSERT_TRUE(dst->upload(got.data(), got.size() * sizeof(float), *stream).is_ok());
  Status s = dequantize(type, src->data(), static_cast<float*>(dst->data()), n, *stream);
  ASSERT_TRUE(s.is_ok()) << s.message();
  ASSERT_TRUE(dst->download(got.data(), got.size() * sizeof(float), *stream).is_ok());
  s = stream->synchronize();
  ASSERT_TRUE(s.is_ok()) << s.message();

  int mismatches = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(want[i])) {
      if (++mismatches <= 5) {
        ADD_FAILURE() << "value " << i << ": GPU " << got[i] << " vs reference " << want[i];
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(CudaDequantGpu, KernelsExistForQ8_0AndQ4_0Only) {
  // No GPU needed: this is what the host code promises.
  EXPECT_TRUE(can_dequantize(DType::Q8_0));
  EXPECT_TRUE(can_dequantize(DType::Q4_0));
  EXPECT_FALSE(can_dequantize(DType::Q4_K));
  EXPECT_FALSE(can_dequantize(DType::F16));
  EXPECT_FALSE(can_dequantize(DType::F32));
}

TEST(CudaDequantGpu, Q8_0MatchesTheReferenceBitForBit) {
  FLINT_REQUIRE_GPU();
  expect_gpu_matches_reference(DType::Q8_0, 32, 1);
  expect_gpu_matches_reference(DType::Q8_0, 32 * 37, 2);        // not a whole thread block
  expect_gpu_matches_reference(DType::Q8_0, 4096 * 64 + 32, 3);  // many blocks
}

TEST(CudaDequantGpu, Q4_0MatchesTheReferenceBitForBit) {
  FLINT_REQUIRE_GPU();
  expect_gpu_matches_reference(DType::Q4_0, 32, 4);
  expect_gpu_matches_reference(DType::Q4_0, 32 * 37, 5);
  expect_gpu_matches_reference(DType::Q4_0, 4096 * 64 + 32, 6);
}

TEST(CudaDequantGpu, BadCountsAndTypesAreErrors) {
  FLINT_REQUIRE_GPU();
  Result<Stream> stream = Stream::create();
  ASSERT_TRUE(stream.is_ok()) << stream.status().message();
  Result<DeviceBuffer> src = DeviceBuffer::allocate(1024);
  Result<DeviceBuffer> dst = DeviceBuffer::allocate(1024 * sizeof(float));
  ASSERT_TRUE(src.is_ok() && dst.is_ok());
  float* out = static_cast<float*>(dst->data());

  for (DType type : {DType::Q8_0, DType::Q4_0}) {
    SCOPED_TRACE(dtype_name(type));
    for (int64_t n : {int64_t{33}, int64_t{31}, int64_t{-32}}) {
      const Status s = dequantize(type, src->data(), out, n, *stream);
      EXPECT_FALSE(s.is_ok()) << "n = " << n;
      EXPECT_NE(s.message().find(std::to_string(n)), std::string::npos) << s.message();
    }
    EXPECT_TRUE(dequantize(type, src->data(), out, 0, *stream).is_ok());  // nothing to do
  }
  for (DType type : {DType::Q4_K, DType::F16, DType::Q5_0}) {
    const Status s = dequantize(type, src->data(), out, 256, *stream);
    EXPECT_FALSE(s.is_ok()) << dtype_name(type);
    EXPECT_NE(s.message().find(std::string(dtype_name(type))), std::string::npos) << s.message();
  }
  const Status s = stream->synchronize();
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(CudaDequantGpu, DeviceBufferChecksSizes) {
  FLINT_REQUIRE_GPU();
  Result<Stream> stream = Stream::create();
  ASSERT_TRUE(stream.is_ok()) << stream.status().message();
  Result<DeviceBuffer> buf = DeviceBuffer::allocate(64);
  ASSERT_TRUE(buf.is_ok()) << buf.status().message();
  EXPECT_EQ(buf->size(), 64u);
  std::vector<uint8_t> host(128, 7);
  EXPECT_FALSE(buf->upload(host.data(), 128, *stream).is_ok());
  EXPECT_FALSE(buf->download(host.data(), 128, *stream).is_ok());
  EXPECT_TRUE(buf->upload(host.data(), 64, *stream).is_ok());
  std::vector<uint8_t> back(64, 0);
  EXPECT_TRUE(buf->download(back.data(), 64, *stream).is_ok());
  EXPECT_TRUE(stream->synchronize().is_ok());
  EXPECT_EQ(back, std::vector<uint8_t>(64, 7));
}

}  // namespace
}  // namespace flint::cuda
