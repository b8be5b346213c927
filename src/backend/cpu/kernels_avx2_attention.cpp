// Fused AVX2 attention kernels for the query heads of a run of blocks' KV heads, group by group
// (4 per KV head in Llama 3, 8 in Qwen3-30B-A3B). Scores: eight keys per vector, down their
// columns, each key's value converted once for all heads of the group
// (kernels_attention_keys.inc).
// Values: the weighted sum keeps its accumulators in registers across every block of the run.
// Both ask for the caller's next blocks (AttnBlocks::next) while they work.
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

// Eight consecutive keys of a column (kernels_attention_keys.inc); the last block's tail is
// copied out first, so nothing past the keys written is read.
struct KeyLanes {
  using V = __m256;
  static constexpr int kN = 8;
  static constexpr int kSlices = 1;  // two would take 20 of its 16 registers for four heads
  static V zero() { return _mm256_setzero_ps(); }
  template <bool kF16>
  static V load(const uint8_t* p) {
    return load_row8<kF16>(p);
  }
  template <bool kF16>
  static V load_part(const uint8_t* p, int m) {
    constexpr size_t kEb = kF16 ? 2 : 4;
    alignas(32) uint8_t part[8 * kEb] = {};
    std::memcpy(part, p, static_cast<size_t>(m) * kEb);
    return load_row8<kF16>(part);
  }
  static V fma(float q, V k, V acc) { return _mm256_fmadd_ps(_mm256_set1_ps(q), k, acc); }
  static void store(float* out, V even, V odd, float scale, int m) {
    const V s = _mm256_mul_ps(_mm256_add_ps(even, odd), _mm256_set1_ps(scale));
    if (m == kN) {
      _mm256_storeu_ps(out, s);
    } else {
      alignas(32) float tmp[8];
      _mm256_store_ps(tmp, s);
      std::memcpy(out, tmp, static_cast<size_t>(m) * sizeof(float));
    }
  }
  [[gnu::always_inline]] static void prefetch(const uint8_t* p, uint64_t bytes, bool /*stream: not measured*/) {
    prefetch_bytes(p, bytes);
  }
};

// H heads of KV head g's group (p: [H][ld], out: [H][d]), 16 values of d at a time over every
// block of the run, the accumulators in registers.
template <bool kF16, int H>
void accum_heads(const AttnRows& r, int32_t g, bool ask, const float* p, int64_t ld, float* out) {
  constexpr uint64_t kEb = kF16 ? 2 : 4;
  const int32_t d = r.d;
  const int64_t n_blocks = r.n_blocks();
  for (int32_t i = 0; i < d; i += 16) {
    __m256 acc[H][2];
    for (int h = 0; h < H; ++h) {
      acc[h][0] = _mm256_loadu_ps(out + h * d + i);
      acc[h][1] = _mm256_loadu_ps(out + h * d + i + 8);
    }
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* row = r.blocks[b] + g * r.head_bytes + i * kEb;
      const uint8_t* ahead = ask && i == 0 ? r.ahead(b, g) : nullptr;  // the later slices find the rows in cache
      const float* pb = p + b * r.block_size;
      const int64_t rows = r.rows_in(b);
      for (int64_t j = 0; j < rows; ++j, row += r.stride) {
        prefetch_bytes(ahead ? ahead + j * r.stride : nullptr, r.stride);
        const __m256 v0 = load_row8<kF16>(row), v1 = load_row8<kF16>(row + 8 * kEb);
#pragma GCC unroll 4
        for (int h = 0; h < H; ++h) {
          const __m256 w = _mm256_broadcast_ss(pb + h * ld + j);
          acc[h][0] = _mm256_fmadd_ps(w, v0, acc[h][0]);
          acc[h][1] = _mm256_fmadd_ps(w, v1, acc[h][1]);
        }
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
