// The legacy 32-value block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0.
//
// Quantization is ggml's deterministic reference (quantize_row_*_ref): one scale (and for the
// _1 types one offset) from the block's extremes, then round each value to the nearest level.
// Values are split in halves: value j and value j + 16 share a byte (low, high nibble).
#include <cfloat>
#include <cmath>

#include "core/half.h"
#include "quant/blocks.h"
#include "quant/kernels.h"

namespace flint::quant {
namespace {

constexpr int kHalf = kQK / 2;

// The value with the largest magnitude, sign kept (the first one on ties).
float signed_absmax(const float* x) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, float* min_out, float* max_out) {
  float min = FLT_MAX;
  float max = -FLT_MAX;
  for (int j = 0; j < kQK; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  *min_out = min;
  *max_out = max;
}

// The fifth bits of 32 five-bit values packed into Q5's qh (bit j = value j).
void store_high_bits(const uint8_t* q, uint8_t qh[4]) {
  uint32_t bits = 0;
  for (int j = 0; j < kQK; ++j) bits |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  std::memcpy(qh, &bits, sizeof(bits));
}

uint32_t load_high_bits(const uint8_t qh[4]) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof(bits));
  return bits;
}

}  // namespace

// Q4_0: the signed extreme maps to level 0 (d = max / -8), so the full range [-8, 7] is used on
// the side of the extreme; levels are round-half-up of x / d + 8, capped at 15.
void quantize_q4_0(const float* src, void* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const float* x = src + i * kQK;
    const float d = signed_absmax(x) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_0 b{};
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = truncate_clamped(x[j] * id + 8.5f, 0, 15);
      const int q1 = truncate_clamped(x[j + kHalf] * id + 8.5f, 0, 15);
      b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
    store_block(dst, i, b);
  }
}

void dequantize_q4_0(const void* src, float* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const BlockQ4_0 b = load_block<BlockQ4_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    float* y = dst + i * kQK;
    for (int j = 0; j < kHalf; ++j) {
      y[j] = static_cast<float>((b.qs[j] & 0x0F) - 8) * d;
      y[j + kHalf] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
    }
  }
}

// Q4_1: 16 levels spanning [min, max]: d = (max - min) / 15, m = min.
void quantize_q4_1(const float* src, void* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const float* x = src + i * kQK;
    float min, max;
    min_max(x, &min, &max);
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_1 b{};
    b.d = fp32_to_fp16(d);
    b.m = fp32_to_fp16(min);
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = truncate_clamped((x[j] - min) * id + 0.5f, 0, 15);
      const int q1 = truncate_clamped((x[j + kHalf] - min) * id + 0.5f, 0, 15);
      b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
    store_block(dst, i, b);
  }
}

void dequantize_q4_1(const void* src, float* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const BlockQ4_1 b = load_block<BlockQ4_1>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float m = fp16_to_fp32(b.m);
    float* y = dst + i * kQK;
    for (int j = 0; j < kHalf; ++j) {
      y[j] = static_cast<float>(b.qs[j] & 0x0F) * d + m;
      y[j + kHalf] = static_cast<float>(b.qs[j] >> 4) * d + m;
    }
  }
}

// Q5_0: as Q4_0 with 32 levels: d = max / -16, levels round-half-up of x / d + 16, capped at 31.
void quantize_q5_0(const float* src, void* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const float* x = src + i * kQK;
    const float d = signed_absmax(x) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[kQK];
    for (int j = 0; j < kQK; ++j)
      q[j] = static_cast<uint8_t>(truncate_clamped(x[j] * id + 16.5f, 0, 31));
    BlockQ5_0 b{};
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < kHalf; ++j)
      b.qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + kHalf] & 0x0F) << 4));
    store_high_bits(q, b.qh);
    store_block(dst, i, b);
  }
}

void dequantize_q5_0(const void* src, float* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const BlockQ5_0 b = load_block<BlockQ5_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    const uint32_t qh = load_high_bits(b.qh);
    float* y = dst + i * kQK;
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = (b.qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
      const int q1 = (b.qs[j] >> 4) | static_cast<int>(((qh >> (j + kHalf)) & 1) << 4);
      y[j] = static_cast<float>(q0 - 16) * d;
      y[j + kHalf] = static_cast<float>(q1 - 16) * d;
    }
  }
}

// Q5_1: 32 levels spanning [min, max]: d = (max - min) / 31, m = min.
void quantize_q5_1(const float* src, void* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const float* x = src + i * kQK;
    float min, max;
    min_max(x, &min, &max);
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[kQK];
    for (int j = 0; j < kQK; ++j)
      q[j] = static_cast<uint8_t>(truncate_clamped((x[j] - min) * id + 0.5f, 0, 31));
    BlockQ5_1 b{};
    b.d = fp32_to_fp16(d);
    b.m = fp32_to_fp16(min);
    for (int j = 0; j < kHalf; ++j)
      b.qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + kHalf] & 0x0F) << 4));
    store_high_bits(q, b.qh);
    store_block(dst, i, b);
  }
}

void dequantize_q5_1(const void* src, float* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const BlockQ5_1 b = load_block<BlockQ5_1>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float m = fp16_to_fp32(b.m);
    const uint32_t qh = load_high_bits(b.qh);
    float* y = dst + i * kQK;
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = (b.qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
      const int q1 = (b.qs[j] >> 4) | static_cast<int>(((qh >> (j + kHalf)) & 1) << 4);
      y[j] = static_cast<float>(q0) * d + m;
      y[j + kHalf] = static_cast<float>(q1) * d + m;
    }
  }
}

// Q8_0: symmetric, d = absmax / 127, levels round-half-away-from-zero of x / d.
void quantize_q8_0(const float* src, void* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const float* x = src + i * kQK;
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      const float a = std::fabs(x[j]);
      amax = amax > a ? amax : a;
    }
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 b{};
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j)
      b.qs[j] = static_cast<int8_t>(truncate_clamped(std::round(x[j] * id), -128, 127));
    store_block(dst, i, b);
  }
}

void dequantize_q8_0(const void* src, float* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const BlockQ8_0 b = load_block<BlockQ8_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    float* y = dst + i * kQK;
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
  }
}

}  // namespace flint::quant
