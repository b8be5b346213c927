// The data the CPU matmul kernels work on: activation rows quantized the way llama.cpp's CPU
// backend quantizes them, and weight blocks decoded into "panels" that one dot-product routine per
// family handles, whatever the file's block format.
//
// Plain structs only (no functions): every kernel family (scalar, AVX2, NEON) shares them.
#pragma once

#include <cstdint>

namespace flint::cpu {

// --- Activations -----------------------------------------------------------------------------

// Q8_K (the K-quants' partner): 256 values, q = min(127, round(-127 / m * x)) with m the value of
// largest magnitude (sign kept), d = 1 / (-127 / m) in float32; bsums[g] = sum of q[16g .. 16g+15].
struct ActQ8K {
  int8_t q[256];
  int16_t bsums[16];
  float d;
  float pad_[7];
};
static_assert(sizeof(ActQ8K) == 320);

// Q8_0 / Q8_1 (the 32-value formats' partner): q = round(x * 127 / amax); d = amax / 127 rounded
// to F16 (as llama.cpp stores it), qsum = sum of q, s = d * qsum with d unrounded, rounded to F16
// (Q8_1's s, which Q4_1 and Q5_1 use for their min).
struct ActQ8B {
  int8_t q[32];
  float d;
  int32_t qsum;
  float s;
  float pad_;
};
static_assert(sizeof(ActQ8B) == 48);

// Which activation format a weight type multiplies with. kBF16: floats rounded to BF16, kept as
// float32; kBF16Pairs: the same values packed as BF16 pairs for vdpbf16ps (the avx512bf16
// family's), rows of whole 32-value steps and one more (zeros past the row's values), so that
// rows are never 4 KiB apart.
enum class ActFormat { kF32, kF16, kBF16, kBF16Pairs, kQ8B, kQ8K };

// --- Decoded weights -------------------------------------------------------------------------

// One K-quant super-block of one row (256 weights), as
//   w[i] = d * sc[i / 16] * u[i] - dcorr * corr[i / 16]
// so that  dot(w, x) = d_x * (d * sum_g sc[g] * sum_{i in g} u[i] q[i] - dcorr * sum_g corr[g] * bsums[g])
// with u in [0, 127] (unsigned levels: the offset of Q3_K / Q6_K moves into corr).
struct KPanel {
  uint8_t u[256];
  int16_t sc[16];
  int16_t corr[16];
  float d;
  float dcorr;
};

// Up to 8 blocks of 32 weights of one row (the legacy formats, IQ4_NL, MXFP4), as
//   w[i] = d[b] * (q[i] - off) + m[b]                 (b = i / 32)
// q holds unsigned levels (Q4_0/Q4_1/Q5_0/Q5_1, off 8/0/16/0) or signed values (Q8_0, IQ4_NL,
// MXFP4: off 0, m 0), so that per block
//   dot = d[b] * d_x * (sum q x_q - off * qsum) + m[b] * s.
struct LPanel {
  int8_t q[256];
  float d[8];
  float m[8];
  int32_t off;
  int32_t n_blocks;  // 1..8 (a row's last panel may be short)
};

// Up to 256 weights of a float-typed row (F32, F16, BF16), as float32.
struct FPanel {
  float w[256];
  int32_t n;
};

}  // namespace flint::cpu
