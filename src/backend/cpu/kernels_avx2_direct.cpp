// AVX2 kernels for matrix-vector products (one to four tokens, i.e. decode): each weight block is
// unpacked in registers and multiplied with every token's activations at once, without going
// through a panel in memory. Decode streams the weights once per token, so these kernels only
// have to keep up with memory; the few-token loop reuses each unpacked block up to 4 times.
//
// Same arithmetic as the other x86 paths: exact integer sums per super-block (K-quants, added
// with fold_k like the prompt GEMM's lanes) or block (32-value formats, as the panel kernels in
// kernels_impl.inc), one float multiply-add each.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "backend/cpu/avx2_util.h"
#include "backend/cpu/kernels.h"

namespace flint::cpu::avx2 {
namespace {

template <int NT>
struct Rows {
  const uint8_t* x[NT];  // each token's activation row
  float* y[NT];          // each token's output row
};

// Weights stream from memory once per token: asking for them ahead keeps enough reads in flight
// while a block is being multiplied (the hardware prefetcher alone stops at page boundaries and
// runs out of distance). Two distances: into L2 far ahead (more misses can be outstanding there
// than in L1's fill buffers), and into L1 shortly before use.
constexpr int kPrefetchBytes = 1536;
constexpr int kPrefetchL2Bytes = 12288;
inline void prefetch_block(const uint8_t* b, int bytes) {
  for (int off = 0; off < bytes; off += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchL2Bytes + off), _MM_HINT_T1);
    _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchBytes + off), _MM_HINT_T0);
  }
}

// Broadcasts 16-bit element e of each 128-bit lane of v (e in 0..7) over that lane.
inline __m256i lane_bcast16(__m256i v, int e) {
  return _mm256_shuffle_epi8(v, _mm256_set1_epi16(static_cast<int16_t>((2 * e) | ((2 * e + 1) << 8))));
}

// The per-token part of a K-quant super-block: u[c] (32 unsigned levels) times the token's 32
// activations, pair-summed in int16, times the scales of its two 16-value groups (sc[c]: group 2c
// in the low lane, 2c + 1 in the high lane), summed in int32.
template <int NT>
inline void k_block(const __m256i* u, const __m256i* sc, const __m256i corr, float d, float dcorr,
                    const Rows<NT>& rows, int64_t sb, float* acc) {
  for (int t = 0; t < NT; ++t) {
    const auto* a = reinterpret_cast<const ActQ8K*>(rows.x[t]) + sb;
    __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a->q + 32 * c));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(u[c], x), sc[c]));
    }
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a->bsums));
    const __m256i csum = _mm256_madd_epi16(corr, bs);
    int32_t s, c;
    hsum2_epi32(isum, csum, &s, &c);
    acc[t] = fold_k(acc[t], s, c, d * a->d, dcorr * a->d);
  }
}

// Scale vectors for the 8 chunks from 16 int16 group scales (group g = values 16g .. 16g + 15).
inline void chunk_scales(__m256i sc16, __m256i* sc) {
  const __m256i lo = _mm256_permute2x128_si256(sc16, sc16, 0x00);  // groups 0-7 in both lanes
  const __m256i hi = _mm256_permute2x128_si256(sc16, sc16, 0x11);  // groups 8-15
  // chunk c: group 2c in the low lane, 2c + 1 in the high lane
  const __m256i ctl[4] = {
      _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3),
      _mm256_setr_epi8(4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7),
      _mm256_setr_epi8(8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11,
                       10, 11, 10, 11),
      _mm256_setr_epi8(12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 14, 15, 14, 15, 14, 15, 14, 15,
                       14, 15, 14, 15, 14, 15, 14, 15)};
  for (int c = 0; c < 4; ++c) {
    sc[c] = _mm256_shuffle_epi8(lo, ctl[c]);
    sc[c + 4] = _mm256_shuffle_epi8(hi, ctl[c]);
  }
}

// Q4_K / Q5_K: 8 scales and mins of 32-value sub-blocks; sub-block j is chunk j.
inline void k4_chunk_scales(const uint8_t* packed, __m256i* sc, __m256i* corr) {
  uint32_t s[2], m[2];
  k4_scales(packed, s, m);
  const __m128i s8 = _mm_set_epi32(0, 0, static_cast<int>(s[1]), static_cast<int>(s[0]));
  const __m128i m8 = _mm_set_epi32(0, 0, static_cast<int>(m[1]), static_cast<int>(m[0]));
  const __m256i s16 = _mm256_cvtepu8_epi16(s8);  // [8] scales as int16, then 8 zeros
  // Each sub-block's scale over its 32 values: both lanes of chunk j hold scale j.
  const __m256i sb = _mm256_permute2x128_si256(s16, s16, 0x00);
  for (int j = 0; j < 8; ++j) sc[j] = lane_bcast16(sb, j);
  // mins per 16-value group (each sub-block's min twice) against the activations' bsums
  *corr = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
}

template <int NT>
void q4_k(const GemmArgs& a, const Rows<NT>& rows) {
  const int64_t nsb = a.n_in / 256;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (int64_t r = a.r0; r < a.r1; ++r) {
    const uint8_t* b = a.w + static_cast<uint64_t>(r) * a.w_row_bytes;
    float acc[NT] = {};
    for (int64_t sb = 0; sb < nsb; ++sb, b += 144) {
      prefetch_block(b, 144);
      __m256i sc[8], corr, u[8];
      k4_chunk_scales(b + 4, sc, &corr);
      for (int c = 0; c < 4; ++c) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16 + 32 * c));
        u[2 * c] = _mm256_and_si256(q, low4);
        u[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      }
      k_block<NT>(u, sc, corr, load_h(b), load_h(b + 2), rows, sb, acc);
    }
    for (int t = 0; t < NT; ++t) rows.y[t][r] = acc[t];
  }
}

template <int NT>
void q5_k(const GemmArgs& a, const Rows<NT>& rows) {
  const int64_t nsb = a.n_in / 256;
  const __m256i low4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
  for (int64_t r = a.r0; r < a.r1; ++r) {
    const uint8_t* b = a.w + static_cast<uint64_t>(r) * a.w_row_bytes;
    float acc[NT] = {};
    for (int64_t sb = 0; sb < nsb; ++sb, b += 176) {
      prefetch_block(b, 176);
      __m256i sc[8], corr, u[8];
      k4_chunk_scales(b + 4, sc, &corr);
      // The fifth bit of value 64c + l is bit 2c of qh[l], of 64c + 32 + l bit 2c + 1: shift
      // qh right by one bit per chunk and read bits 0 and 1.
      __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
      for (int c = 0; c < 4; ++c) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 48 + 32 * c));
        u[2 * c] = _mm256_or_si256(_mm256_and_si256(q, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bit4));
        u[2 * c + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4),
                                       _mm256_and_si256(_mm256_slli_epi16(qh, 3), bit4));
        qh = _mm256_srli_epi16(qh, 2);
      }
      k_block<NT>(u, sc, corr, load_h(b), load_h(b + 2), rows, sb, acc);
    }
    for (int t = 0; t < NT; ++t) rows.y[t][r] = acc[t];
  }
}

template <int NT>
void q6_k(const GemmArgs& a, const Rows<NT>& rows) {
  const int64_t nsb = a.n_in / 256;
  const __m256i low4 = _mm256_set1_epi8(0x0F), top2 = _mm256_set1_epi8(0x30);
  for (int64_t r = a.r0; r < a.r1; ++r) {
    const uint8_t* b = a.w + static_cast<uint64_t>(r) * a.w_row_bytes;
    float acc[NT] = {};
    for (int64_t sb = 0; sb < nsb; ++sb, b += 210) {
      prefetch_block(b, 210);
      // w = d * sc * (q - 32): levels q, and 32 * sc * bsums as the correction (folded into dcorr)
      const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192)));
      __m256i sc[8], u[8];
      chunk_scales(sc16, sc);
      for (int h = 0; h < 2; ++h) {
        const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h));
        const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h + 32));
        const __m256i hh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h));
        // top 2 bits of values l, l + 32, l + 64, l + 96 at bits 0, 2, 4, 6 of qh[l]
        u[4 * h] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(hh, 4), top2));
        u[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_and_si256(_mm256_slli_epi16(hh, 2), top2));
        u[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(hh, top2));
        u[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                                       _mm256_and_si256(_mm256_srli_epi16(hh, 2), top2));
      }
      const float d = load_h(b + 208);
      k_block<NT>(u, sc, sc16, d, 32.0f * d, rows, sb, acc);
    }
    for (int t = 0; t < NT; ++t) rows.y[t][r] = acc[t];
  }
}

// The activation scales of blocks [0, n) (n <= 8) in lanes 0..n-1, zeros above.
inline __m256 act_scales8(const ActQ8B* a, int n) {
  if (n == 8) return _mm256_setr_ps(a[0].d, a[1].d, a[2].d, a[3].d, a[4].d, a[5].d, a[6].d, a[7].d);
  alignas(32) float d[8] = {};
  for (int b = 0; b < n; ++b) d[b] = a[b].d;
  return _mm256_load_ps(d);
}

// The IEEE half scales at p, p + stride, ... (8 of them) as floats.
inline __m256 half_scales8(const uint8_t* p, int stride) {
  auto h = [&](int j) {
    uint16_t v;
    memcpy(&v, p + j * stride, 2);
    return static_cast<short>(v);
  };
  return _mm256_cvtph_ps(_mm_setr_epi16(h(0), h(1), h(2), h(3), h(4), h(5), h(6), h(7)));
}

// n <= 8 consecutive 32-value blocks of one row, signed values w[b] with scales dw (zero above n),
// against every token: block b's exact dot goes into lane b of acc[t] (chain b % 8, as dot_l and
// the prompt GEMM add them), + dot * (d * d_x). |w| * (x with w's sign) keeps maddubs' unsigned
// operand at most 128 (no int16 overflow: 2 * 128 * 127 < 32768).
template <int NT>
inline void signed_blocks8(const __m256i* w, __m256 dw, int n, const Rows<NT>& rows, int64_t blk, __m256* acc) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i aw[8];
  for (int b = 0; b < n; ++b) aw[b] = _mm256_sign_epi8(w[b], w[b]);
  for (int t = 0; t < NT; ++t) {
    const auto* a = reinterpret_cast<const ActQ8B*>(rows.x[t]) + blk;
    __m256i dots[8];
    for (int b = 0; b < 8; ++b) {
      if (b < n) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].q));
        dots[b] = _mm256_madd_epi16(_mm256_maddubs_epi16(aw[b], _mm256_sign_epi8(x, w[b])), ones);
      } else {
        dots[b] = _mm256_setzero_si256();
      }
    }
    const __m256 dd = _mm256_mul_ps(dw, act_scales8(a, n));
    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce8_epi32(dots)), dd, acc[t]);
  }
}

// Rows of 32-value blocks of `bytes` bytes whose scale is the half at the block's start and whose
// signed values Values(block) gives: 8 blocks at a time, then the rest.
template <int NT, int kBytes, __m256i (*Values)(const uint8_t*)>
void signed_rows(const GemmArgs& a, const Rows<NT>& rows) {
  const int64_t nb = a.n_in / 32;
  for (int64_t r = a.r0; r < a.r1; ++r) {
    const uint8_t* b = a.w + static_cast<uint64_t>(r) * a.w_row_bytes;
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= nb; i += 8, b += 8 * kBytes) {
      prefetch_block(b, 8 * kBytes);
      __m256i w[8];
      for (int j = 0; j < 8; ++j) w[j] = Values(b + j * kBytes);
      signed_blocks8<NT>(w, half_scales8(b, kBytes), 8, rows, i, acc);
    }
    if (i < nb) {
      const int n = static_cast<int>(nb - i);
      __m256i w[8];
      alignas(32) float dw[8] = {};
      for (int j = 0; j < n; ++j) {
        w[j] = Values(b + j * kBytes);
        dw[j] = load_h(b + j * kBytes);
      }
      signed_blocks8<NT>(w, _mm256_load_ps(dw), n, rows, i, acc);
    }
    for (int t = 0; t < NT; ++t) rows.y[t][r] = hsum(acc[t]);
  }
}

inline __m256i q8_0_values(const uint8_t* b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)); }

inline __m256i q4_0_values(const uint8_t* b) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
  // values 0-15 in the low nibbles, 16-31 in the high ones; w = q - 8
  return _mm256_sub_epi8(_mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F)),
                         _mm256_set1_epi8(8));
}

template <int NT>
bool run(const GemmArgs& a) {
  Rows<NT> rows;
  for (int t = 0; t < NT; ++t) {
    rows.x[t] = a.x + t * a.x_row_bytes;
    rows.y[t] = a.y + t * a.y_stride;
  }
  switch (a.type) {
    case DType::Q4_K: q4_k<NT>(a, rows); return true;
    case DType::Q5_K: q5_k<NT>(a, rows); return true;
    case DType::Q6_K: q6_k<NT>(a, rows); return true;
    case DType::Q8_0: signed_rows<NT, 34, q8_0_values>(a, rows); return true;
    case DType::Q4_0: signed_rows<NT, 18, q4_0_values>(a, rows); return true;
    default: return false;
  }
}

}  // namespace

bool direct_gemm_fused(const GemmArgs& a) {
  switch (a.n_tok) {
    case 1: return run<1>(a);
    case 2: return run<2>(a);
    case 3: return run<3>(a);
    case 4: return run<4>(a);
    default: return false;
  }
}

}  // namespace flint::cpu::avx2
