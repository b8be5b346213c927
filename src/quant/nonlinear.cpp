// 4-bit formats whose levels are a fixed non-uniform codebook: IQ4_NL and MXFP4.
// Both use 32-value blocks with nibbles packed as in Q4_0 (value j low, value j + 16 high).
#include <bit>
#include <cmath>

#include "core/half.h"
#include "quant/blocks.h"
#include "quant/kernels.h"

namespace flint::quant {
namespace {

constexpr int kHalf = kQK / 2;

// IQ4_NL's codebook: denser near zero, where weights concentrate (ggml's kvalues_iq4nl).
constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

// E2M1 (fp4) values times 2, indexed by the 4-bit code: sign bit 3, then 0, .5, 1, 1.5, 2, 3, 4, 6.
constexpr int8_t kFP4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// Index of the codebook entry nearest to v in an increasing codebook (the upper one on a tie).
int nearest_in_codebook(const int8_t* values, float v) {
  constexpr int n = 16;
  if (v <= values[0]) return 0;
  if (v >= values[n - 1]) return n - 1;
  int lo = 0, hi = n - 1;  // values[lo] <= v < values[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (v < values[mid]) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return v - values[hi - 1] < values[hi] - v ? hi - 1 : hi;
}

// The E8M0 exponent e as the float 2^(e - 128): half the block scale, because kFP4Values are
// doubled. e = 0 and 1 give float subnormals.
float e8m0_to_fp32_half(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  return std::bit_cast<float>(bits);
}

constexpr float kGroupMaxEps = 1e-15f;

// IQ4_NL block scale search (ggml's quantize_row_iq4_nl_impl for one 32-value block, no
// importance weights, 7 tries each side, as llama-quantize runs it). Weights are x^2. Starting
// from d = max / -127 (the extreme on the codebook's end), tries inverse scales
// (k - 127) / max for k in [-7, 7] and keeps the least-squares d of the best assignment; the
// levels are then re-picked for the final d.
void quantize_iq4_nl_block(const float* x, BlockIQ4_NL* out) {
  constexpr int kTries = 7;
  const int8_t* values = kIQ4NLValues;
  float weight[kQK];
  for (int j = 0; j < kQK; ++j) weight[j] = x[j] * x[j];

  float amax = 0, max = 0;
  for (int j = 0; j < kQK; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }

  // Weighted correlation sums of x with its nearest codebook levels for inverse scale id.
  auto fit = [&](float id, float* sumqx, float* sumq2) {
    *sumqx = 0;
    *sumq2 = 0;
    for (int j = 0; j < kQK; ++j) {
      const float q = values[nearest_in_codebook(values, id * x[j])];
      *sumqx += weight[j] * q * x[j];
      *sumq2 += weight[j] * q * q;
    }
  };

  float d = 0;
  if (!(amax < kGroupMaxEps)) {
    d = -max / values[0];
    float sumqx, sumq2;
    fit(1 / d, &sumqx, &sumq2);
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int t = -kTries; t <= kTries; ++t) {
      fit(static_cast<float>(t + values[0]) / max, &sumqx, &sumq2);
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
  }

  out->d = fp32_to_fp16(d);
  const float id = d != 0 ? 1 / d : 0;
  for (int j = 0; j < kHalf; ++j) {
    const int q0 = nearest_in_codebook(values, id * x[j]);
    const int q1 = nearest_in_codebook(values, id * x[j + kHalf]);
    out->qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

// First index with the least |kFP4Values[i] * e - v| (index 0 wins ties between +0 and -0).
int nearest_fp4(float v, float e) {
  int best_index = 0;
  float best_err = std::fabs(kFP4Values[0] * e - v);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(kFP4Values[i] * e - v);
    if (err < best_err) {
      best_index = i;
      best_err = err;
    }
  }
  return best_index;
}

}  // namespace

void quantize_iq4_nl(const float* src, void* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    BlockIQ4_NL b{};
    quantize_iq4_nl_block(src + i * kQK, &b);
    store_block(dst, i, b);
  }
}

void dequantize_iq4_nl(const void* src, float* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const BlockIQ4_NL b = load_block<BlockIQ4_NL>(src, i);
    const float d = fp16_to_fp32(b.d);
    float* y = dst + i * kQK;
    for (int j = 0; j < kHalf; ++j) {
      y[j] = d * kIQ4NLValues[b.qs[j] & 0xF];
      y[j + kHalf] = d * kIQ4NLValues[b.qs[j] >> 4];
    }
  }
}

// MXFP4: the shared exponent puts the block's absmax in the fp4 range's top binade
// (e = floor(log2(absmax)) - 2 + 127, so absmax / 2^(e-127) lies in [4, 8), near the largest fp4
// value 6); each value then takes the nearest fp4 level.
void quantize_mxfp4(const float* src, void* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const float* x = src + i * kQK;
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
    }
    BlockMXFP4 b{};
    // The clamp only matters for absmax below 2^-125 or infinite, which ggml leaves undefined.
    b.e =
        amax > 0.0f
            ? static_cast<uint8_t>(truncate_clamped(std::floor(std::log2(amax)) - 2 + 127, 0, 255))
            : 0;
    const float d = e8m0_to_fp32_half(b.e);
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = nearest_fp4(x[j], d);
      const int q1 = nearest_fp4(x[j + kHalf], d);
      b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
    store_block(dst, i, b);
  }
}

void dequantize_mxfp4(const void* src, float* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const BlockMXFP4 b = load_block<BlockMXFP4>(src, i);
    const float d = e8m0_to_fp32_half(b.e);
    float* y = dst + i * kQK;
    for (int j = 0; j < kHalf; ++j) {
      y[j] = static_cast<float>(kFP4Values[b.qs[j] & 0xF]) * d;
      y[j + kHalf] = static_cast<float>(kFP4Values[b.qs[j] >> 4]) * d;
    }
  }
}

}  // namespace flint::quant
