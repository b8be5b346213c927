// Fused AVX-512 attention kernels for the query heads of one KV group: the AVX-512 family's
// counterparts of kernels_avx2_attention.cpp, 16 floats per vector. Scores: sixteen cached rows
// are converted once into scratch, each head's query stays in registers while the sixteen rows'
// dot products are formed, and the sixteen sums are reduced together into one vector (lane j =
// row j). Values: up to four heads times 64 values of d are accumulated in registers over a run
// of rows. Both ask for the caller's next rows (AttnRows::next) while they work. On a Zen 4
// (512-bit operations at half rate) these are no faster than the AVX2 ones from cache; they
// issue fewer instructions, which a core with two 512-bit FMA units should turn into speed (not
// measured yet).
#define FLINT_X86_NS avx512
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "backend/cpu/avx2_util.h"

namespace flint::cpu::avx512 {
namespace {

template <bool kF16>
inline __m512 load_row16(const uint8_t* p) {
  if constexpr (kF16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  } else {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(p));
  }
}

// Lane r of the result: the sum of a[r]'s sixteen lanes.
inline __m512 hsum16(const __m512* a) {
  __m512 u[8], v[4];
  for (int k = 0; k < 8; ++k) {  // per 128-bit lane: a[2k] and a[2k+1] down to two sums each
    u[k] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * k], a[2 * k + 1]), _mm512_unpackhi_ps(a[2 * k], a[2 * k + 1]));
  }
  for (int k = 0; k < 4; ++k) {  // per 128-bit lane: rows 4k..4k+3, one sum each
    const __m512d x = _mm512_castps_pd(u[2 * k]), y = _mm512_castps_pd(u[2 * k + 1]);
    v[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
  }
  // 128-bit lane k of the result: rows 4k..4k+3 summed over v[k]'s four lanes.
  constexpr int kEven = _MM_SHUFFLE(2, 0, 2, 0), kOdd = _MM_SHUFFLE(3, 1, 3, 1);
  const __m512 w0 = _mm512_add_ps(_mm512_shuffle_f32x4(v[0], v[1], kEven), _mm512_shuffle_f32x4(v[0], v[1], kOdd));
  const __m512 w1 = _mm512_add_ps(_mm512_shuffle_f32x4(v[2], v[3], kEven), _mm512_shuffle_f32x4(v[2], v[3], kOdd));
  return _mm512_add_ps(_mm512_shuffle_f32x4(w0, w1, kEven), _mm512_shuffle_f32x4(w0, w1, kOdd));
}

// scores_fused for a group of four heads (Llama 3, Qwen3, Mixtral's 4:1 grouped queries), without
// the scratch: four rows at a time are converted into registers and each converted vector meets
// the four heads' queries (16 accumulators, lane h * 4 + k of the reduced vector: head h, row
// k); four such vectors are regrouped by head with 128-bit shuffles. Each row's dot product is
// formed with the same multiply-adds in the same order and reduced by the same hsum16, so the
// same bits as scores_fused.
template <bool kF16>
void scores_group4(const AttnRows& r, const float* q, float scale, float* scores, int64_t ld) {
  constexpr uint64_t kEb = kF16 ? 2 : 4;
  const int32_t d = r.d;
  alignas(64) uint8_t zeros[kAttnMaxD * 4];  // stands in for the rows past the last
  if (r.n % 16 != 0) memset(zeros, 0, static_cast<size_t>(d) * kEb);  // full blocks never read it
  const __m512 sv = _mm512_set1_ps(scale);
  for (int64_t j0 = 0; j0 < r.n; j0 += 16) {
    const int64_t m = r.n - j0 < 16 ? r.n - j0 : 16;
    prefetch_bytes(r.next ? r.next + j0 * r.stride : nullptr, static_cast<uint64_t>(m) * r.stride);
    __m512 s[4];  // step t: rows 4t..4t+3, lane h * 4 + k
    for (int t = 0; t < 4; ++t) {
      const uint8_t* row[4];
      for (int k = 0; k < 4; ++k) row[k] = 4 * t + k < m ? r.data + (j0 + 4 * t + k) * r.stride : zeros;
      __m512 acc[16];
      for (__m512& a : acc) a = _mm512_setzero_ps();
      for (int32_t i = 0; i < d; i += 16) {
        __m512 v[4];
        for (int k = 0; k < 4; ++k) v[k] = load_row16<kF16>(row[k] + i * kEb);
#pragma GCC unroll 4
        for (int h = 0; h < 4; ++h) {
          const __m512 qv = _mm512_loadu_ps(q + static_cast<int64_t>(h) * d + i);
          for (int k = 0; k < 4; ++k) acc[4 * h + k] = _mm512_fmadd_ps(qv, v[k], acc[4 * h + k]);
        }
      }
      s[t] = hsum16(acc);
    }
    // head h: 128-bit block h of s[0], s[1], s[2], s[3]
    const __m512 t0 = _mm512_shuffle_f32x4(s[0], s[1], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 t1 = _mm512_shuffle_f32x4(s[0], s[1], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512 t2 = _mm512_shuffle_f32x4(s[2], s[3], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 t3 = _mm512_shuffle_f32x4(s[2], s[3], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512 heads[4] = {_mm512_shuffle_f32x4(t0, t2, _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(t0, t2, _MM_SHUFFLE(3, 1, 3, 1)),
                             _mm512_shuffle_f32x4(t1, t3, _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(t1, t3, _MM_SHUFFLE(3, 1, 3, 1))};
    const __mmask16 keep = static_cast<__mmask16>((1u << m) - 1);
    for (int h = 0; h < 4; ++h) _mm512_mask_storeu_ps(scores + h * ld + j0, keep, _mm512_mul_ps(heads[h], sv));
  }
}

template <bool kF16>
void scores_fused(const AttnRows& r, const float* q, float scale, float* scores, int64_t ld) {
  if (r.group == 4) return scores_group4<kF16>(r, q, scale, scores, ld);
  constexpr uint64_t kEb = kF16 ? 2 : 4;
  const int32_t d = r.d;
  // [d / 16][16 rows][16]: sixteen rows as float, zeros past the last; vector i of every row
  // side by side, so one pointer walks them all.
  alignas(64) float rows[16 * kAttnMaxD];
  const __m512 sv = _mm512_set1_ps(scale);
  for (int64_t j0 = 0; j0 < r.n; j0 += 16) {
    const int64_t m = r.n - j0 < 16 ? r.n - j0 : 16;
    prefetch_bytes(r.next ? r.next + j0 * r.stride : nullptr, static_cast<uint64_t>(m) * r.stride);
    for (int64_t k = 0; k < 16; ++k) {
      float* dst = rows + 16 * k;
      if (k < m) {
        const uint8_t* src = r.data + (j0 + k) * r.stride;
        for (int32_t i = 0; i < d; i += 16) _mm512_store_ps(dst + 16 * i, load_row16<kF16>(src + i * kEb));
      } else {
        for (int32_t i = 0; i < d; i += 16) _mm512_store_ps(dst + 16 * i, _mm512_setzero_ps());
      }
    }
    const __mmask16 keep = static_cast<__mmask16>((1u << m) - 1);
    for (int32_t h = 0; h < r.group; ++h) {
      const float* qh = q + static_cast<int64_t>(h) * d;
      __m512 acc[16];
      for (__m512& a : acc) a = _mm512_setzero_ps();
      for (int32_t i = 0; i < d; i += 16) {
        const __m512 qv = _mm512_loadu_ps(qh + i);
        const float* vi = rows + 16 * i;
#pragma GCC unroll 16
        for (int k = 0; k < 16; ++k) acc[k] = _mm512_fmadd_ps(qv, _mm512_load_ps(vi + 16 * k), acc[k]);
      }
      _mm512_mask_storeu_ps(scores + h * ld + j0, keep, _mm512_mul_ps(hsum16(acc), sv));
    }
  }
}

// H heads of the group (p: [H][ld], out: [H][d]) over S vectors of d starting at i0.
template <bool kF16, int H, int S>
void accum_block(const AttnRows& r, const float* p, int64_t ld, int32_t i0, float* out) {
  constexpr uint64_t kEb = kF16 ? 2 : 4;
  const int32_t d = r.d;
  __m512 acc[H][S];
  for (int h = 0; h < H; ++h) {
    for (int s = 0; s < S; ++s) acc[h][s] = _mm512_loadu_ps(out + h * d + i0 + 16 * s);
  }
  const uint8_t* row = r.data + i0 * kEb;
  const uint8_t* ahead = i0 == 0 ? r.next : nullptr;  // the later slices find the rows in cache
  for (int64_t j = 0; j < r.n; ++j, row += r.stride) {
    prefetch_bytes(ahead ? ahead + j * r.stride : nullptr, r.stride);
    __m512 v[S];
    for (int s = 0; s < S; ++s) v[s] = load_row16<kF16>(row + 16 * s * kEb);
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
      const __m512 w = _mm512_set1_ps(p[h * ld + j]);
      for (int s = 0; s < S; ++s) acc[h][s] = _mm512_fmadd_ps(w, v[s], acc[h][s]);
    }
  }
  for (int h = 0; h < H; ++h) {
    for (int s = 0; s < S; ++s) _mm512_storeu_ps(out + h * d + i0 + 16 * s, acc[h][s]);
  }
}

template <bool kF16, int H>
void accum_heads(const AttnRows& r, const float* p, int64_t ld, float* out) {
  int32_t i = 0;
  for (; i + 64 <= r.d; i += 64) accum_block<kF16, H, 4>(r, p, ld, i, out);
  switch ((r.d - i) / 16) {
    case 1: accum_block<kF16, H, 1>(r, p, ld, i, out); break;
    case 2: accum_block<kF16, H, 2>(r, p, ld, i, out); break;
    case 3: accum_block<kF16, H, 3>(r, p, ld, i, out); break;
    default: break;
  }
}

}  // namespace

#include "backend/cpu/kernels_x86_attention.inc"

}  // namespace flint::cpu::avx512
