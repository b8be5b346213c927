// Per-format scalar kernels behind quant.h's dispatch (internal to src/quant).
//
// Each kernel handles `nblocks` whole blocks; the caller (quant.cpp) has validated the type and
// the length. Source and destination bytes may be unaligned. The arithmetic follows ggml's
// reference code operation by operation (same float/int conversions, same evaluation order, no
// fused multiply-add; src/quant is built with -ffp-contract=off), which is what makes the results
// bit-exact.
#pragma once

#include <cstdint>
#include <cstring>

namespace flint::quant {

// Rounds to the nearest integer, ties to even, by adding 1.5 * 2^23: the float's addition
// rounding puts round(v) in the low mantissa bits. Only meaningful for |v| < 2^22, which every
// caller guarantees for finite input; never undefined behaviour (NaN or huge v give garbage).
// ggml's quantizers use exactly this, and std::nearbyint would differ for |v| >= 2^22.
inline int nearest_int(float v) {
  const float biased = v + 12582912.f;
  int32_t bits;
  std::memcpy(&bits, &biased, sizeof(bits));
  return (bits & 0x007fffff) - 0x00400000;
}

// static_cast<int>(v) (truncation toward zero) clamped to [lo, hi], with NaN mapped to lo.
// For in-range v this is what ggml's (int8_t)/(uint8_t) casts compute; the clamp only defines
// the result for inputs (NaN, infinities) where a plain cast would be undefined behaviour.
inline int truncate_clamped(float v, int lo, int hi) {
  if (!(v > static_cast<float>(lo))) return lo;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

// --- plain floats (quant.cpp) ---
void dequantize_f16(const void* src, float* dst, int64_t n);
void quantize_f16(const float* src, void* dst, int64_t n);
void dequantize_bf16(const void* src, float* dst, int64_t n);
void quantize_bf16(const float* src, void* dst, int64_t n);

// --- legacy 32-value blocks (legacy.cpp) ---
void dequantize_q4_0(const void* src, float* dst, int64_t nblocks);
void quantize_q4_0(const float* src, void* dst, int64_t nblocks);
void dequantize_q4_1(const void* src, float* dst, int64_t nblocks);
void quantize_q4_1(const float* src, void* dst, int64_t nblocks);
void dequantize_q5_0(const void* src, float* dst, int64_t nblocks);
void quantize_q5_0(const float* src, void* dst, int64_t nblocks);
void dequantize_q5_1(const void* src, float* dst, int64_t nblocks);
void quantize_q5_1(const float* src, void* dst, int64_t nblocks);
void dequantize_q8_0(const void* src, float* dst, int64_t nblocks);
void quantize_q8_0(const float* src, void* dst, int64_t nblocks);

// --- K-quants, 256-value super-blocks (kquants.cpp) ---
void dequantize_q2_k(const void* src, float* dst, int64_t nblocks);
void quantize_q2_k(const float* src, void* dst, int64_t nblocks);
void dequantize_q3_k(const void* src, float* dst, int64_t nblocks);
void quantize_q3_k(const float* src, void* dst, int64_t nblocks);
void dequantize_q4_k(const void* src, float* dst, int64_t nblocks);
void quantize_q4_k(const float* src, void* dst, int64_t nblocks);
void dequantize_q5_k(const void* src, float* dst, int64_t nblocks);
void quantize_q5_k(const float* src, void* dst, int64_t nblocks);
void dequantize_q6_k(const void* src, float* dst, int64_t nblocks);
void quantize_q6_k(const float* src, void* dst, int64_t nblocks);

// --- non-linear 4-bit codebooks (nonlinear.cpp) ---
void dequantize_iq4_nl(const void* src, float* dst, int64_t nblocks);
void quantize_iq4_nl(const float* src, void* dst, int64_t nblocks);
void dequantize_mxfp4(const void* src, float* dst, int64_t nblocks);
void quantize_mxfp4(const float* src, void* dst, int64_t nblocks);

}  // namespace flint::quant
