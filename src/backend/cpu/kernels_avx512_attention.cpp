// Fused AVX-512 attention kernels for the query heads of a run of blocks' KV heads: the AVX-512
// family's counterparts of kernels_avx2_attention.cpp, 16 floats per vector. Scores: sixteen keys
// per vector, down their columns, two blocks per pass (kernels_attention_keys.inc). Values: up to
// four heads times 64 values of d are accumulated in registers over every block of the run. Both
// ask for the caller's next blocks (AttnBlocks::next) while they work.
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

// Sixteen consecutive keys of a column (kernels_attention_keys.inc); the last block's tail by
// masked loads, which read nothing past the keys written.
struct KeyLanes {
  using V = __m512;
  static constexpr int kN = 16;
  static constexpr int kSlices = 2;
  static V zero() { return _mm512_setzero_ps(); }
  template <bool kF16>
  static V load(const uint8_t* p) {
    return load_row16<kF16>(p);
  }
  template <bool kF16>
  static V load_part(const uint8_t* p, int m) {
    const auto mask = static_cast<__mmask16>((1u << m) - 1);
    if constexpr (kF16) {
      return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, p));
    } else {
      return _mm512_maskz_loadu_ps(mask, p);
    }
  }
  static V fma(float q, V k, V acc) { return _mm512_fmadd_ps(_mm512_set1_ps(q), k, acc); }
  static void store(float* out, V even, V odd, float scale, int m) {
    const V s = _mm512_mul_ps(_mm512_add_ps(even, odd), _mm512_set1_ps(scale));
    _mm512_mask_storeu_ps(out, static_cast<__mmask16>((1u << m) - 1), s);
  }
  [[gnu::always_inline]] static void prefetch(const uint8_t* p, uint64_t bytes, bool stream) {
    prefetch_ahead(p, bytes, stream);
  }
};

// H heads of KV head g's group (p: [H][ld], out: [H][d]) over S vectors of d starting at i0,
// every block of the run in turn with the accumulators in registers.
template <bool kF16, int H, int S>
void accum_block(const AttnRows& r, int32_t g, bool ask, const float* p, int64_t ld, int32_t i0, float* out) {
  constexpr uint64_t kEb = kF16 ? 2 : 4;
  const int32_t d = r.d;
  // Every loop over H and S unrolled, so the accumulators stay in registers (GCC had kept some
  // on the stack otherwise, a third of a call's time).
  __m512 acc[H][S];
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h) {
#pragma GCC unroll 4
    for (int s = 0; s < S; ++s) acc[h][s] = _mm512_loadu_ps(out + h * d + i0 + 16 * s);
  }
  const int64_t n_blocks = r.n_blocks();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* row = r.blocks[b] + g * r.head_bytes + i0 * kEb;
    const uint8_t* ahead = ask ? r.ahead(b, g) : nullptr;
    const float* pb = p + b * r.block_size;
    const int64_t rows = r.rows_in(b);
    for (int64_t j = 0; j < rows; ++j, row += r.stride) {
      if (ahead != nullptr) KeyLanes::prefetch(ahead + j * r.stride, r.stride, r.stream);
      __m512 v[S];
#pragma GCC unroll 4
      for (int s = 0; s < S; ++s) v[s] = load_row16<kF16>(row + 16 * s * kEb);
#pragma GCC unroll 4
      for (int h = 0; h < H; ++h) {
        const __m512 w = _mm512_set1_ps(pb[h * ld + j]);
#pragma GCC unroll 4
        for (int s = 0; s < S; ++s) acc[h][s] = _mm512_fmadd_ps(w, v[s], acc[h][s]);
      }
    }
  }
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h) {
#pragma GCC unroll 4
    for (int s = 0; s < S; ++s) _mm512_storeu_ps(out + h * d + i0 + 16 * s, acc[h][s]);
  }
}

// Slices of 64 values of d, then the rest 16 at a time; the first slice asks for r.next (the
// later ones find the rows in cache).
template <bool kF16, int H>
void accum_heads(const AttnRows& r, int32_t g, bool ask, const float* p, int64_t ld, float* out) {
  int32_t i = 0;
  for (; i + 64 <= r.d; i += 64) accum_block<kF16, H, 4>(r, g, ask && i == 0, p, ld, i, out);
  ask = ask && i == 0;
  switch ((r.d - i) / 16) {
    case 1: accum_block<kF16, H, 1>(r, g, ask, p, ld, i, out); break;
    case 2: accum_block<kF16, H, 2>(r, g, ask, p, ld, i, out); break;
    case 3: accum_block<kF16, H, 3>(r, g, ask, p, ld, i, out); break;
    default: break;
  }
}

}  // namespace

#include "backend/cpu/kernels_x86_attention.inc"

}  // namespace flint::cpu::avx512
