// The AArch64 kernel family: NEON with the DotProd extension (SDOT: 4 int8 products summed into
// each int32 lane) and half-precision conversions; DGX Spark, RTX Spark and Apple cores all have
// both. Built with -march=armv8.2-a+dotprod+fp16 and run only where the auxiliary vector reports
// them. Weight levels are at most 127, so the unsigned panels multiply as signed bytes.
#include <arm_neon.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "backend/cpu/kernel_families.h"

namespace flint::cpu::neon {
namespace {

struct Acc {
  float32x4_t v;
  float s;
};
inline Acc acc_zero() { return {vdupq_n_f32(0.0f), 0.0f}; }
inline float acc_total(const Acc& a) { return vaddvq_f32(a.v) + a.s; }
inline float h2f(uint16_t h) {
  __fp16 f;
  memcpy(&f, &h, 2);
  return static_cast<float>(f);
}
inline uint16_t f2h(float x) {
  const __fp16 f = static_cast<__fp16>(x);  // round to nearest even
  uint16_t h;
  memcpy(&h, &f, 2);
  return h;
}

inline void dot_k(const KPanel& p, const uint8_t* act, Acc& acc) {
  const auto& a = *reinterpret_cast<const ActQ8K*>(act);
  int32x4_t isum = vdupq_n_s32(0);
  for (int g = 0; g < 16; ++g) {
    const int8x16_t u = vreinterpretq_s8_u8(vld1q_u8(p.u + 16 * g));
    const int8x16_t x = vld1q_s8(a.q + 16 * g);
    isum = vmlaq_n_s32(isum, vdotq_s32(vdupq_n_s32(0), u, x), p.sc[g]);
  }
  int32x4_t corr = vmull_s16(vld1_s16(p.corr), vld1_s16(a.bsums));
  corr = vmlal_s16(corr, vld1_s16(p.corr + 4), vld1_s16(a.bsums + 4));
  corr = vmlal_s16(corr, vld1_s16(p.corr + 8), vld1_s16(a.bsums + 8));
  corr = vmlal_s16(corr, vld1_s16(p.corr + 12), vld1_s16(a.bsums + 12));
  acc.v = vfmaq_n_f32(acc.v, vcvtq_f32_s32(isum), p.d * a.d);
  acc.v = vfmsq_n_f32(acc.v, vcvtq_f32_s32(corr), p.dcorr * a.d);
}

template <bool kSigned>
inline void dot_l(const LPanel& p, const uint8_t* act, Acc& acc) {
  const auto* a = reinterpret_cast<const ActQ8B*>(act);
  for (int b = 0; b < p.n_blocks; ++b) {
    int32x4_t s = vdotq_s32(vdupq_n_s32(0), vld1q_s8(p.q + 32 * b), vld1q_s8(a[b].q));
    s = vdotq_s32(s, vld1q_s8(p.q + 32 * b + 16), vld1q_s8(a[b].q + 16));
    const float dd = p.d[b] * a[b].d;
    acc.v = vfmaq_n_f32(acc.v, vcvtq_f32_s32(s), dd);
    if constexpr (!kSigned) acc.s += dd * static_cast<float>(-p.off * a[b].qsum) + p.m[b] * a[b].s;
  }
}

inline void dot_f(const FPanel& p, const uint8_t* act, Acc& acc) {
  const auto* x = reinterpret_cast<const float*>(act);
  float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0), s2 = vdupq_n_f32(0), s3 = vdupq_n_f32(0);
  int i = 0;
  for (; i + 16 <= p.n; i += 16) {
    s0 = vfmaq_f32(s0, vld1q_f32(p.w + i), vld1q_f32(x + i));
    s1 = vfmaq_f32(s1, vld1q_f32(p.w + i + 4), vld1q_f32(x + i + 4));
    s2 = vfmaq_f32(s2, vld1q_f32(p.w + i + 8), vld1q_f32(x + i + 8));
    s3 = vfmaq_f32(s3, vld1q_f32(p.w + i + 12), vld1q_f32(x + i + 12));
  }
  for (; i + 4 <= p.n; i += 4) s0 = vfmaq_f32(s0, vld1q_f32(p.w + i), vld1q_f32(x + i));
  acc.v = vaddq_f32(acc.v, vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
  for (; i < p.n; ++i) acc.s = __builtin_fmaf(p.w[i], x[i], acc.s);  // one rounding on every path
}

inline bool direct_gemm(const GemmArgs&) { return false; }

#include "backend/cpu/kernels_impl.inc"

void quantize_q8k(const float* x, ActQ8K* out, int64_t n) { quantize_q8k_portable(x, out, n); }
void quantize_q8b(const float* x, ActQ8B* out, int64_t n) { quantize_q8b_portable(x, out, n); }

void round_f16(const float* x, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(out + i, vcvt_f32_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  for (; i < n; ++i) out[i] = h2f(f2h(x[i]));
}

void round_bf16(const float* x, float* out, int64_t n) { round_bf16_portable(x, out, n); }

bool gemm(const GemmArgs& a) { return gemm_dispatch(a); }

inline float32x4_t load4_f16(const uint8_t* p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
}

// Four consecutive keys of a column (kernels_attention_keys.inc); the last block's tail is
// copied out first, so nothing past the keys written is read.
struct KeyLanes {
  using V = float32x4_t;
  static constexpr int kN = 4;
  static constexpr int kSlices = 1;  // not measured with 2
  static V zero() { return vdupq_n_f32(0); }
  template <bool kF16>
  static V load(const uint8_t* p) {
    if constexpr (kF16) {
      return load4_f16(p);
    } else {
      return vld1q_f32(reinterpret_cast<const float*>(p));
    }
  }
  template <bool kF16>
  static V load_part(const uint8_t* p, int m) {
    constexpr size_t kEb = kF16 ? 2 : 4;
    alignas(16) uint8_t part[4 * kEb] = {};
    memcpy(part, p, static_cast<size_t>(m) * kEb);
    return load<kF16>(part);
  }
  static V fma(float q, V k, V acc) { return vfmaq_n_f32(acc, k, q); }
  static void store(float* out, V even, V odd, float scale, int m) {
    const V s = vmulq_n_f32(vaddq_f32(even, odd), scale);
    if (m == kN) {
      vst1q_f32(out, s);
    } else {
      float tmp[4];
      vst1q_f32(tmp, s);
      memcpy(out, tmp, static_cast<size_t>(m) * sizeof(float));
    }
  }
  [[gnu::always_inline]] static void prefetch(const uint8_t* p, uint64_t bytes, bool /*stream: not measured*/) {
    if (p == nullptr) return;
    for (uint64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 2);
  }
};

#include "backend/cpu/kernels_attention_keys.inc"

// exp(x) as in the AVX2 family: x = n ln2 + r, a degree-6 polynomial for e^r, 2^n by exponent.
inline float32x4_t exp4(float32x4_t x) {
  const float32x4_t lo = vdupq_n_f32(-87.0f);
  const uint32x4_t below = vcltq_f32(x, lo);
  x = vminq_f32(vmaxq_f32(x, lo), vdupq_n_f32(88.0f));
  const float32x4_t fx = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
  float32x4_t r = vfmsq_n_f32(x, fx, 0.693359375f);
  r = vfmsq_n_f32(r, fx, -2.12194440e-4f);
  float32x4_t y = vdupq_n_f32(1.9875691500e-4f);
  y = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), y, r);
  y = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), y, r);
  y = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), y, r);
  y = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), y, r);
  y = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), y, r);
  y = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), y, vmulq_f32(r, r));
  const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(fx), vdupq_n_s32(127)), 23);
  y = vmulq_f32(y, vreinterpretq_f32_s32(e));
  return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(y), below));
}

void silu_mul(float* gate, const float* up, int64_t n) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t g = vld1q_f32(gate + i);
    vst1q_f32(gate + i, vmulq_f32(vdivq_f32(g, vaddq_f32(one, exp4(vnegq_f32(g)))), vld1q_f32(up + i)));
  }
  if (i < n) {  // the tail through the same polynomial, so every element rounds alike
    float g[4] = {}, u[4] = {};
    for (int64_t j = i; j < n; ++j) {
      g[j - i] = gate[j];
      u[j - i] = up[j];
    }
    const float32x4_t gv = vld1q_f32(g);
    float out[4];
    vst1q_f32(out, vmulq_f32(vdivq_f32(gv, vaddq_f32(one, exp4(vnegq_f32(gv)))), vld1q_f32(u)));
    for (int64_t j = i; j < n; ++j) gate[j] = out[j - i];
  }
}

float exp_shift(float* x, int64_t n, float shift) {
  float32x4_t sum = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), vdupq_n_f32(shift)));
    vst1q_f32(x + i, e);
    sum = vaddq_f32(sum, e);
  }
  float s = vaddvq_f32(sum);
  if (i < n) {
    float tail[4] = {};
    for (int64_t j = i; j < n; ++j) tail[j - i] = x[j] - shift;
    float out[4];
    vst1q_f32(out, exp4(vld1q_f32(tail)));
    for (int64_t j = i; j < n; ++j) {
      x[j] = out[j - i];
      s += x[j];
    }
  }
  return s;
}

float row_max(const float* x, int64_t n) {
  int64_t i = 0;
  float m = x[0];
  if (n >= 4) {
    float32x4_t a = vld1q_f32(x), b = a;
    for (i = 4; i + 8 <= n; i += 8) {
      a = vmaxq_f32(a, vld1q_f32(x + i));
      b = vmaxq_f32(b, vld1q_f32(x + i + 4));
    }
    for (; i + 4 <= n; i += 4) a = vmaxq_f32(a, vld1q_f32(x + i));
    m = vmaxvq_f32(vmaxq_f32(a, b));
  }
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

void axpy_f16(float a, const uint8_t* row, int32_t d, float* out) {
  int32_t i = 0;
  for (; i + 4 <= d; i += 4) vst1q_f32(out + i, vfmaq_n_f32(vld1q_f32(out + i), load4_f16(row + 2 * i), a));
  for (; i < d; ++i) out[i] += a * h2f(rd16(row + 2 * i));
}

void axpy_f32(float a, const uint8_t* row, int32_t d, float* out) {
  const auto* r = reinterpret_cast<const float*>(row);
  int32_t i = 0;
  for (; i + 4 <= d; i += 4) vst1q_f32(out + i, vfmaq_n_f32(vld1q_f32(out + i), vld1q_f32(r + i), a));
  for (; i < d; ++i) out[i] += a * r[i];
}

uint64_t read_sum(const uint8_t* p, size_t n) {
  uint64x2_t s0 = vdupq_n_u64(0), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i < n; i += 64) {
    s0 = vaddq_u64(s0, vld1q_u64(reinterpret_cast<const uint64_t*>(p + i)));
    s1 = vaddq_u64(s1, vld1q_u64(reinterpret_cast<const uint64_t*>(p + i + 16)));
    s2 = vaddq_u64(s2, vld1q_u64(reinterpret_cast<const uint64_t*>(p + i + 32)));
    s3 = vaddq_u64(s3, vld1q_u64(reinterpret_cast<const uint64_t*>(p + i + 48)));
  }
  return vaddvq_u64(vaddq_u64(vaddq_u64(s0, s1), vaddq_u64(s2, s3)));
}

void triad(float* a, const float* b, const float* c, float s, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(a + i, vfmaq_n_f32(vld1q_f32(b + i), vld1q_f32(c + i), s));
  for (; i < n; ++i) a[i] = b[i] + s * c[i];
}

}  // namespace

const KernelSet kKernels = {
    .isa = Isa::kNeonDot,
    .quantize_q8k = quantize_q8k,
    .quantize_q8b = quantize_q8b,
    .round_f16 = round_f16,
    .round_bf16 = round_bf16,
    .pack_bf16 = nullptr,  // BF16 weights take kBF16
    .gemm = gemm,
    .gemm_rows16 = nullptr,
    .group_scores_f16 = scores_by_column<true>,
    .group_scores_f32 = scores_by_column<false>,
    .group_accum_f16 = group_accum_by_row<axpy_f16>,
    .group_accum_f32 = group_accum_by_row<axpy_f32>,
    .exp_shift = exp_shift,
    .softmax_rows = softmax_rows_each<row_max, exp_shift>,
    .silu_mul = silu_mul,
    .read_sum = read_sum,
    .triad = triad,
};

}  // namespace flint::cpu::neon
