// The portable kernel family: plain C++ loops over the same panels and integer sums as the SIMD
// families (built for the baseline target; the compiler vectorizes what it can). It runs where no
// SIMD family applies and is what the SIMD families are tested against.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/kernel_families.h"
#include "core/half.h"

namespace flint::cpu::scalar {
namespace {

struct Acc {
  float sum;
};
inline Acc acc_zero() { return {0.0f}; }
inline float acc_total(const Acc& a) { return a.sum; }
inline float h2f(uint16_t h) { return fp16_to_fp32(h); }
inline uint16_t f2h(float f) { return fp32_to_fp16(f); }

inline void dot_k(const KPanel& p, const uint8_t* act, Acc& acc) {
  const auto& a = *reinterpret_cast<const ActQ8K*>(act);
  int32_t isum = 0, csum = 0;
  for (int g = 0; g < 16; ++g) {
    int32_t s = 0;
    for (int i = 16 * g; i < 16 * g + 16; ++i) s += static_cast<int32_t>(p.u[i]) * a.q[i];
    isum += s * p.sc[g];
    csum += static_cast<int32_t>(p.corr[g]) * a.bsums[g];
  }
  acc.sum += a.d * (p.d * static_cast<float>(isum) - p.dcorr * static_cast<float>(csum));
}

template <bool kSigned>
inline void dot_l(const LPanel& p, const uint8_t* act, Acc& acc) {
  const auto* a = reinterpret_cast<const ActQ8B*>(act);
  for (int b = 0; b < p.n_blocks; ++b) {
    int32_t s = 0;
    for (int i = 0; i < 32; ++i) s += static_cast<int32_t>(p.q[32 * b + i]) * a[b].q[i];
    acc.sum += p.d[b] * a[b].d * static_cast<float>(s - p.off * a[b].qsum) + p.m[b] * a[b].s;
  }
}

inline void dot_f(const FPanel& p, const uint8_t* act, Acc& acc) {
  const auto* x = reinterpret_cast<const float*>(act);
  float s = 0.0f;
  for (int i = 0; i < p.n; ++i) s += p.w[i] * x[i];
  acc.sum += s;
}

inline bool direct_gemm(const GemmArgs&) { return false; }

#include "backend/cpu/kernels_impl.inc"

void quantize_q8k(const float* x, ActQ8K* out, int64_t n) { quantize_q8k_portable(x, out, n); }
void quantize_q8b(const float* x, ActQ8B* out, int64_t n) { quantize_q8b_portable(x, out, n); }
void round_f16(const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = h2f(f2h(x[i]));
}
void round_bf16(const float* x, float* out, int64_t n) { round_bf16_portable(x, out, n); }
bool gemm(const GemmArgs& a) { return gemm_dispatch(a); }

// The KernelSet's order for a score: fused multiply-adds down the even and the odd i, then
// scale * (even + odd), so the vector families give these bits.
template <bool kF16>
void scores_by_column(const AttnKeys& k, const float* q, float scale, float* scores, int64_t ld) {
  constexpr uint64_t kEb = kF16 ? 2 : 4;
  auto value = [&](int32_t h, int64_t j, int32_t i) {
    const uint8_t* p = k.blocks[j / k.block_size] + (h / k.group) * k.head_bytes + i * k.stride +
                       static_cast<uint64_t>(j % k.block_size) * kEb;
    if constexpr (kF16) {
      return h2f(rd16(p));
    } else {
      float f;
      memcpy(&f, p, 4);
      return f;
    }
  };
  for (int32_t h = 0; h < k.heads * k.group; ++h) {
    const float* qh = q + static_cast<int64_t>(h) * k.d;
    for (int64_t j = 0; j < k.n; ++j) {
      float even = 0.0f, odd = 0.0f;
      int32_t i = 0;
      for (; i + 2 <= k.d; i += 2) {
        even = __builtin_fmaf(qh[i], value(h, j, i), even);
        odd = __builtin_fmaf(qh[i + 1], value(h, j, i + 1), odd);
      }
      if (i < k.d) even = __builtin_fmaf(qh[i], value(h, j, i), even);
      scores[h * ld + j] = (even + odd) * scale;
    }
  }
}
float exp_shift(float* x, int64_t n, float shift) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    sum += x[i];
  }
  return sum;
}
float row_max(const float* x, int64_t n) { return *std::max_element(x, x + n); }
void silu_mul(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}
void axpy_f16(float a, const uint8_t* row, int32_t d, float* out) {
  for (int32_t i = 0; i < d; ++i) out[i] += a * h2f(rd16(row + 2 * i));
}
void axpy_f32(float a, const uint8_t* row, int32_t d, float* out) {
  const auto* r = reinterpret_cast<const float*>(row);
  for (int32_t i = 0; i < d; ++i) out[i] += a * r[i];
}

uint64_t read_sum(const uint8_t* p, size_t n) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i < n; i += 32) {
    uint64_t w[4];
    memcpy(w, p + i, 32);
    s0 += w[0];
    s1 += w[1];
    s2 += w[2];
    s3 += w[3];
  }
  return s0 + s1 + s2 + s3;
}
void triad(float* a, const float* b, const float* c, float s, size_t n) {
  for (size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

}  // namespace

const KernelSet kKernels = {
    .isa = Isa::kScalar,
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

}  // namespace flint::cpu::scalar
