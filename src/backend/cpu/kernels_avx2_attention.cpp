// Fused AVX2 attention kernels for the query heads of one KV group. The one-row kernels converted
// each cached F16 row once per query head and reduced every (row, head) dot product on its own;
// here a row is converted once for all heads of the group (4 in Llama 3, 8 in Qwen3-30B-A3B),
// eight rows' dot products are reduced together, and the weighted sum of values keeps its
// accumulators in registers across a run of rows. Both ask for the caller's next rows
// (AttnRows::next) while they work.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "backend/cpu/avx2_util.h"

namespace flint::cpu::avx2 {
namespace {

template <bool kF16>
inline __m256 load_row8(const uint8_t* p) {
  if constexpr (kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  }
}

// Lane r of the result: the sum of a[r]'s eight lanes.
inline __m256 hsum8(const __m256* a) {
  const __m256 t0 = hadd_ps(a[0], a[1]), t1 = hadd_ps(a[2], a[3]);
  const __m256 t2 = hadd_ps(a[4], a[5]), t3 = hadd_ps(a[6], a[7]);
  const __m256 u0 = hadd_ps(t0, t1), u1 = hadd_ps(t2, t3);  // [r0..r3 | r0..r3] halves
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

template <bool kF16>
void scores_fused(const AttnRows& r, const float* q, float scale, float* scores, int64_t ld) {
  constexpr uint64_t kEb = kF16 ? 2 : 4;
  const int32_t d = r.d;
  alignas(32) float rows[8 * kAttnMaxD];  // [8][d]: eight rows as float, zeros past the last
  const __m256 sv = _mm256_set1_ps(scale);
  for (int64_t j0 = 0; j0 < r.n; j0 += 8) {
    const int64_t m = r.n - j0 < 8 ? r.n - j0 : 8;
    prefetch_bytes(r.next ? r.next + j0 * r.stride : nullptr, static_cast<uint64_t>(m) * r.stride);
    for (int64_t k = 0; k < 8; ++k) {
      float* dst = rows + k * d;
      if (k < m) {
        const uint8_t* src = r.data + (j0 + k) * r.stride;
        for (int32_t i = 0; i < d; i += 8) _mm256_store_ps(dst + i, load_row8<kF16>(src + i * kEb));
      } else {
        for (int32_t i = 0; i < d; i += 8) _mm256_store_ps(dst + i, _mm256_setzero_ps());
      }
    }
    for (int32_t h = 0; h < r.group; ++h) {
      const float* qh = q + static_cast<int64_t>(h) * d;
      __m256 acc[8];
      for (__m256& a : acc) a = _mm256_setzero_ps();
      for (int32_t i = 0; i < d; i += 8) {
        const __m256 qv = _mm256_loadu_ps(qh + i);
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k) acc[k] = _mm256_fmadd_ps(qv, _mm256_load_ps(rows + k * d + i), acc[k]);
      }
      const __m256 s = _mm256_mul_ps(hsum8(acc), sv);
      float* out = scores + h * ld + j0;
      if (m == 8) {
        _mm256_storeu_ps(out, s);
      } else {
        alignas(32) float tmp[8];
        _mm256_store_ps(tmp, s);
        std::memcpy(out, tmp, static_cast<size_t>(m) * sizeof(float));
      }
    }
  }
}

// H heads of the group (p: [H][ld], out: [H][d]), 16 values of d at a time.
template <bool kF16, int H>
void accum_heads(const AttnRows& r, const float* p, int64_t ld, float* out) {
  constexpr uint64_t kEb = kF16 ? 2 : 4;
  const int32_t d = r.d;
  for (int32_t i = 0; i < d; i += 16) {
    __m256 acc[H][2];
    for (int h = 0; h < H; ++h) {
      acc[h][0] = _mm256_loadu_ps(out + h * d + i);
      acc[h][1] = _mm256_loadu_ps(out + h * d + i + 8);
    }
    const uint8_t* row = r.data + i * kEb;
    const uint8_t* ahead = i == 0 ? r.next : nullptr;  // the later slices find the rows in cache
    for (int64_t j = 0; j < r.n; ++j, row += r.stride) {
      prefetch_bytes(ahead ? ahead + j * r.stride : nullptr, r.stride);
      const __m256 v0 = load_row8<kF16>(row), v1 = load_row8<kF16>(row + 8 * kEb);
#pragma GCC unroll 4
      for (int h = 0; h < H; ++h) {
        const __m256 w = _mm256_broadcast_ss(p + h * ld + j);
        acc[h][0] = _mm256_fmadd_ps(w, v0, acc[h][0]);
        acc[h][1] = _mm256_fmadd_ps(w, v1, acc[h][1]);
      }
    }
    for (int h = 0; h < H; ++h) {
      _mm256_storeu_ps(out + h * d + i, acc[h][0]);
      _mm256_storeu_ps(out + h * d + i + 8, acc[h][1]);
    }
  }
}

}  // namespace

#include "backend/cpu/kernels_x86_attention.inc"

}  // namespace flint::cpu::avx2
