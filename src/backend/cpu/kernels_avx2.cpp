// The AVX2 kernel family (with FMA and F16C), built with those flags and run only where CPUID
// reports them. Integer dot products use vpmaddubsw (unsigned weight levels x signed activations,
// pairs summed in int16: at most 2 * 127 * 127, no saturation) then vpmaddwd against the
// sub-block scales, so a super-block's integer sum is exact before its one float multiply.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "backend/cpu/avx2_util.h"
#include "backend/cpu/kernel_families.h"

namespace flint::cpu::avx2 {
namespace {

// v: the K-quant and float products; even / odd: the 32-value blocks by the parity of their
// index in the row (two add chains, the same order as the fused kernels in
// kernels_avx2_direct.cpp, so a row's result does not depend on which path ran it).
struct Acc {
  __m256 v;
  __m256 even, odd;
  float s;
};
inline Acc acc_zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), 0.0f}; }

inline float acc_total(const Acc& a) { return hsum(_mm256_add_ps(a.v, _mm256_add_ps(a.even, a.odd))) + a.s; }
inline float h2f(uint16_t h) { return _cvtsh_ss(h); }
inline uint16_t f2h(float f) { return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }

// Byte pairs (2c, 2c + 1) of a 128-bit lane broadcast over the lane: picks 16-bit element c.
inline __m256i pick16(__m256i v, int c) {
  const __m256i ctl = _mm256_set1_epi16(static_cast<int16_t>((2 * c) | ((2 * c + 1) << 8)));
  return _mm256_shuffle_epi8(v, ctl);
}

inline void dot_k(const KPanel& p, const uint8_t* act, Acc& acc) {
  const auto& a = *reinterpret_cast<const ActQ8K*>(act);
  // sc[0..7] in both lanes, and sc[8..15]; chunk c (32 values = groups 2c, 2c + 1) takes group 2c's
  // scale in the low lane and 2c + 1's in the high lane.
  const __m128i sc_lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p.sc));
  const __m128i sc_hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p.sc + 8));
  const __m256i s0 = _mm256_set_m128i(_mm_srli_si128(sc_lo, 2), sc_lo);  // lanes: sc[2c] | sc[2c+1]
  const __m256i s1 = _mm256_set_m128i(_mm_srli_si128(sc_hi, 2), sc_hi);
  __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 8
  for (int c = 0; c < 8; ++c) {
    const __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.u + 32 * c));
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q + 32 * c));
    const __m256i prod = _mm256_maddubs_epi16(u, x);                  // [16] int16 pair sums
    const __m256i sc = pick16(c < 4 ? s0 : s1, 2 * (c & 3));         // sc[2c] | sc[2c + 1]
    isum = _mm256_add_epi32(isum, _mm256_madd_epi16(prod, sc));
  }
  const __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.corr)),
                                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums)));
  acc.v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(p.d * a.d), acc.v);
  acc.v = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(corr), _mm256_set1_ps(p.dcorr * a.d), acc.v);
}

template <bool kSigned>
inline void dot_l(const LPanel& p, const uint8_t* act, Acc& acc) {
  const auto* a = reinterpret_cast<const ActQ8B*>(act);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int b = 0; b < p.n_blocks; ++b) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.q + 32 * b));
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].q));
    __m256i prod;
    if constexpr (kSigned) {  // |q| * (x with q's sign): the unsigned operand stays <= 127
      prod = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q));
    } else {
      prod = _mm256_maddubs_epi16(q, x);
    }
    const __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(prod, ones));
    const float dd = p.d[b] * a[b].d;
    __m256& chain = (b & 1) ? acc.odd : acc.even;  // panels hold 8 blocks: b's parity is the row's
    chain = _mm256_fmadd_ps(s, _mm256_set1_ps(dd), chain);
    if constexpr (!kSigned) acc.s += dd * static_cast<float>(-p.off * a[b].qsum) + p.m[b] * a[b].s;
  }
}

inline void dot_f(const FPanel& p, const uint8_t* act, Acc& acc) {
  const auto* x = reinterpret_cast<const float*>(act);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
         s3 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 32 <= p.n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(p.w + i), _mm256_loadu_ps(x + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(p.w + i + 8), _mm256_loadu_ps(x + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(p.w + i + 16), _mm256_loadu_ps(x + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(p.w + i + 24), _mm256_loadu_ps(x + i + 24), s3);
  }
  for (; i + 8 <= p.n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(p.w + i), _mm256_loadu_ps(x + i), s0);
  acc.v = _mm256_add_ps(acc.v, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < p.n; ++i) acc.s += p.w[i] * x[i];
}

// Four tokens against one panel, for the row-tile path: the levels and the chunk scales are
// loaded and built once for the four. Same integer sums and float order as dot_k / dot_l / dot_f.
inline void dot_k4(const KPanel& p, const uint8_t* const* x, Acc* acc) {
  const ActQ8K* a[4];
  for (int j = 0; j < 4; ++j) a[j] = reinterpret_cast<const ActQ8K*>(x[j]);
  const __m128i sc_lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p.sc));
  const __m128i sc_hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p.sc + 8));
  const __m256i s0 = _mm256_set_m128i(_mm_srli_si128(sc_lo, 2), sc_lo);
  const __m256i s1 = _mm256_set_m128i(_mm_srli_si128(sc_hi, 2), sc_hi);
  __m256i isum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
#pragma GCC unroll 8
  for (int c = 0; c < 8; ++c) {
    const __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.u + 32 * c));
    const __m256i sc = pick16(c < 4 ? s0 : s1, 2 * (c & 3));
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[j]->q + 32 * c));
      isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(_mm256_maddubs_epi16(u, xv), sc));
    }
  }
  const __m256i corr = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.corr));
  for (int j = 0; j < 4; ++j) {
    const __m256i csum = _mm256_madd_epi16(corr, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[j]->bsums)));
    acc[j].v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[j]), _mm256_set1_ps(p.d * a[j]->d), acc[j].v);
    acc[j].v = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(csum), _mm256_set1_ps(p.dcorr * a[j]->d), acc[j].v);
  }
}

template <bool kSigned>
inline void dot_l4(const LPanel& p, const uint8_t* const* x, Acc* acc) {
  const ActQ8B* a[4];
  for (int j = 0; j < 4; ++j) a[j] = reinterpret_cast<const ActQ8B*>(x[j]);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int b = 0; b < p.n_blocks; ++b) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.q + 32 * b));
    const __m256i aq = kSigned ? _mm256_sign_epi8(q, q) : q;
    for (int j = 0; j < 4; ++j) {
      __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[j][b].q));
      if constexpr (kSigned) xv = _mm256_sign_epi8(xv, q);
      const __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(aq, xv), ones));
      const float dd = p.d[b] * a[j][b].d;
      __m256& chain = (b & 1) ? acc[j].odd : acc[j].even;
      chain = _mm256_fmadd_ps(s, _mm256_set1_ps(dd), chain);
      if constexpr (!kSigned) acc[j].s += dd * static_cast<float>(-p.off * a[j][b].qsum) + p.m[b] * a[j][b].s;
    }
  }
}

inline void dot_f4(const FPanel& p, const uint8_t* const* x, Acc* acc) {
  const float* xs[4];
  for (int j = 0; j < 4; ++j) xs[j] = reinterpret_cast<const float*>(x[j]);
  // dot_f's order per token: four lanes of 8 over each 32 values, summed at the end.
  __m256 s[4][4];
  for (int j = 0; j < 4; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = _mm256_setzero_ps();
  int i = 0;
  for (; i + 32 <= p.n; i += 32) {
    for (int l = 0; l < 4; ++l) {
      const __m256 w = _mm256_loadu_ps(p.w + i + 8 * l);
      for (int j = 0; j < 4; ++j) s[j][l] = _mm256_fmadd_ps(w, _mm256_loadu_ps(xs[j] + i + 8 * l), s[j][l]);
    }
  }
  const int i32 = i;
  for (int j = 0; j < 4; ++j) {
    int k = i32;
    for (; k + 8 <= p.n; k += 8) s[j][0] = _mm256_fmadd_ps(_mm256_loadu_ps(p.w + k), _mm256_loadu_ps(xs[j] + k), s[j][0]);
    acc[j].v = _mm256_add_ps(acc[j].v, _mm256_add_ps(_mm256_add_ps(s[j][0], s[j][1]), _mm256_add_ps(s[j][2], s[j][3])));
    for (; k < p.n; ++k) acc[j].s += p.w[k] * xs[j][k];
  }
}

// 8 bytes -> 16 int16, each byte twice (one per 16-value group of a 32-value sub-block).
inline void store_dup16(const uint32_t v[2], int16_t* out) {
  const __m128i b = _mm_set_epi32(0, 0, static_cast<int>(v[1]), static_cast<int>(v[0]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(b, b)));
}

inline void decode_q4_k_avx2(const uint8_t* b, int, KPanel& p) {
  p.d = load_h(b);
  p.dcorr = load_h(b + 2);
  uint32_t sc[2], m[2];
  k4_scales(b + 4, sc, m);
  store_dup16(sc, p.sc);
  store_dup16(m, p.corr);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (int c = 0; c < 4; ++c) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16 + 32 * c));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.u + 64 * c), _mm256_and_si256(q, low4));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.u + 64 * c + 32),
                        _mm256_and_si256(_mm256_srli_epi16(q, 4), low4));
  }
}

// x shifted left by k (right by -k) in 16-bit lanes, |k| <= 4.
inline __m256i shift_bits(__m256i x, int k) {
  switch (k) {
    case 4: return _mm256_slli_epi16(x, 4);
    case 3: return _mm256_slli_epi16(x, 3);
    case 2: return _mm256_slli_epi16(x, 2);
    case 1: return _mm256_slli_epi16(x, 1);
    case 0: return x;
    case -1: return _mm256_srli_epi16(x, 1);
    case -2: return _mm256_srli_epi16(x, 2);
    case -3: return _mm256_srli_epi16(x, 3);
    default: return _mm256_srli_epi16(x, 4);
  }
}

inline void decode_q5_k_avx2(const uint8_t* b, int, KPanel& p) {
  p.d = load_h(b);
  p.dcorr = load_h(b + 2);
  uint32_t sc[2], m[2];
  k4_scales(b + 4, sc, m);
  store_dup16(sc, p.sc);
  store_dup16(m, p.corr);
  const __m256i low4 = _mm256_set1_epi8(0x0F), bit = _mm256_set1_epi8(0x10);
  const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
  for (int c = 0; c < 4; ++c) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 48 + 32 * c));
    // bit 2c of qh[l] -> bit 4 of value 64c + l; bit 2c + 1 -> bit 4 of value 64c + 32 + l.
    // Shifts of at most 4 in 16-bit lanes: what crosses from the neighbouring byte misses bit 4.
    const __m256i h0 = _mm256_and_si256(shift_bits(qh, 4 - 2 * c), bit);
    const __m256i h1 = _mm256_and_si256(shift_bits(qh, 3 - 2 * c), bit);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.u + 64 * c), _mm256_or_si256(_mm256_and_si256(q, low4), h0));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.u + 64 * c + 32),
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4), h1));
  }
}

inline void decode_q6_k_avx2(const uint8_t* b, int, KPanel& p) {
  p.d = p.dcorr = load_h(b + 208);
  const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.sc), sc);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.corr), _mm256_slli_epi16(sc, 5));  // 32 * sc
  const __m256i low4 = _mm256_set1_epi8(0x0F), two = _mm256_set1_epi8(0x30);
  for (int h = 0; h < 2; ++h) {
    const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h));
    const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h + 32));
    const __m256i hh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h));
    uint8_t* u = p.u + 128 * h;
    // The top 2 bits of values l, l + 32, l + 64, l + 96 sit at bits 0, 2, 4, 6 of qh[l].
    const __m256i v0 = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(hh, 4), two));
    const __m256i v1 = _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_and_si256(_mm256_slli_epi16(hh, 2), two));
    const __m256i v2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(hh, two));
    const __m256i v3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                                       _mm256_and_si256(_mm256_srli_epi16(hh, 2), two));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(u), v0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 32), v1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 64), v2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 96), v3);
  }
}

// Q4_0 as signed values q - 8 (dot_l<true>), as the fused kernel multiplies them.
inline void decode_q4_0_avx2(const uint8_t* b, int n, LPanel& p) {
  p.n_blocks = n / 32;
  p.off = 0;
  const __m128i low4 = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
  for (int i = 0; i < p.n_blocks; ++i, b += 18) {
    p.d[i] = load_h(b);
    p.m[i] = 0.0f;
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p.q + 32 * i), _mm_sub_epi8(_mm_and_si128(q, low4), eight));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p.q + 32 * i + 16),
                     _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), low4), eight));
  }
}

inline void decode_q8_0_avx2(const uint8_t* b, int n, LPanel& p) {
  p.n_blocks = n / 32;
  p.off = 0;
  for (int i = 0; i < p.n_blocks; ++i, b += 34) {
    p.d[i] = load_h(b);
    p.m[i] = 0.0f;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.q + 32 * i),
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)));
  }
}

// The codebooks of IQ4_NL and MXFP4 (x2), as in kernels_impl.inc (which comes later in this file).
alignas(16) constexpr int8_t kIq4nlAvx2[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
alignas(16) constexpr int8_t kFp4x2Avx2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// Byte j of the result is 0xFF where bit j of the 32 bits at p is set, 0 elsewhere.
inline __m256i bits_to_bytes(const uint8_t* p) {
  uint32_t x;
  memcpy(&x, p, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(x)),
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

// 16 packed bytes -> 32 values: value j in the low nibble of byte j, value j + 16 in its high one.
inline __m256i nibbles32(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
}

inline void store32(int8_t* out, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), v); }

inline void decode_q4_1_avx2(const uint8_t* b, int n, LPanel& p) {  // d, m, qs[16]
  p.n_blocks = n / 32;
  p.off = 0;
  for (int i = 0; i < p.n_blocks; ++i, b += 20) {
    p.d[i] = load_h(b);
    p.m[i] = load_h(b + 2);
    store32(p.q + 32 * i, nibbles32(b + 4));
  }
}

inline void decode_q5_0_avx2(const uint8_t* b, int n, LPanel& p) {  // d, qh[4], qs[16]
  p.n_blocks = n / 32;
  p.off = 16;
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  for (int i = 0; i < p.n_blocks; ++i, b += 22) {
    p.d[i] = load_h(b);
    p.m[i] = 0.0f;
    store32(p.q + 32 * i, _mm256_or_si256(nibbles32(b + 6), _mm256_and_si256(bits_to_bytes(b + 2), bit4)));
  }
}

inline void decode_q5_1_avx2(const uint8_t* b, int n, LPanel& p) {  // d, m, qh[4], qs[16]
  p.n_blocks = n / 32;
  p.off = 0;
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  for (int i = 0; i < p.n_blocks; ++i, b += 24) {
    p.d[i] = load_h(b);
    p.m[i] = load_h(b + 2);
    store32(p.q + 32 * i, _mm256_or_si256(nibbles32(b + 8), _mm256_and_si256(bits_to_bytes(b + 4), bit4)));
  }
}

// A 16-entry int8 codebook indexed by the nibbles (IQ4_NL, MXFP4).
inline __m256i lookup16(const int8_t* table, __m256i idx) {
  const __m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table)));
  return _mm256_shuffle_epi8(t, idx);
}

inline void decode_iq4_nl_avx2(const uint8_t* b, int n, LPanel& p) {  // d, qs[16]
  p.n_blocks = n / 32;
  p.off = 0;
  for (int i = 0; i < p.n_blocks; ++i, b += 18) {
    p.d[i] = load_h(b);
    p.m[i] = 0.0f;
    store32(p.q + 32 * i, lookup16(kIq4nlAvx2, nibbles32(b + 2)));
  }
}

inline void decode_mxfp4_avx2(const uint8_t* b, int n, LPanel& p) {  // e, qs[16]
  p.n_blocks = n / 32;
  p.off = 0;
  for (int i = 0; i < p.n_blocks; ++i, b += 17) {
    const uint32_t bits = b[0] < 2 ? 0x00200000u << b[0] : static_cast<uint32_t>(b[0] - 1) << 23;
    memcpy(&p.d[i], &bits, 4);  // 2^(e - 128): half the scale, the codebook is doubled
    p.m[i] = 0.0f;
    store32(p.q + 32 * i, lookup16(kFp4x2Avx2, nibbles32(b + 1)));
  }
}

// Q3_K (110 bytes): hmask[32], qs[64], scales[12], d. u = low 2 bits + 4 * high bit.
inline void decode_q3_k_avx2(const uint8_t* b, int, KPanel& p) {
  const uint8_t* scales = b + 96;
  p.d = p.dcorr = load_h(b + 108);
  for (int g = 0; g < 16; ++g) {
    const int low = g < 8 ? scales[g] & 0xF : scales[g - 8] >> 4;
    const int high = (scales[8 + g % 4] >> (2 * (g / 4))) & 3;
    const int sc = (low | (high << 4)) - 32;
    p.sc[g] = static_cast<int16_t>(sc);
    p.corr[g] = static_cast<int16_t>(4 * sc);
  }
  const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
  const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  for (int h = 0; h < 2; ++h) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32 + 32 * h));
    for (int s = 0; s < 4; ++s) {
      // value 128h + 32s + l: bits 2s, 2s + 1 of qs[32h + l], high bit 4h + s of hmask[l]
      const __m128i shift_lo = _mm_cvtsi32_si128(2 * s), shift_hi = _mm_cvtsi32_si128(4 * h + s);
      const __m256i low = _mm256_and_si256(_mm256_srl_epi16(q, shift_lo), three);
      const __m256i high = _mm256_and_si256(_mm256_srl_epi16(hm, shift_hi), one);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.u + 128 * h + 32 * s),
                          _mm256_or_si256(low, _mm256_slli_epi16(high, 2)));
    }
  }
}

// Q2_K (84 bytes): scales[16] (scale | min << 4), qs[64], d, dmin.
inline void decode_q2_k_avx2(const uint8_t* b, int, KPanel& p) {
  p.d = load_h(b + 80);
  p.dcorr = load_h(b + 82);
  const __m256i sm = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.sc), _mm256_and_si256(sm, _mm256_set1_epi16(0xF)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.corr), _mm256_srli_epi16(sm, 4));
  const __m256i three = _mm256_set1_epi8(3);
  for (int h = 0; h < 2; ++h) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16 + 32 * h));
    for (int s = 0; s < 4; ++s) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p.u + 128 * h + 32 * s),
                          _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * s)), three));
    }
  }
}

inline void decode_f16_avx2(const uint8_t* b, int n, FPanel& p) {
  p.n = n;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(p.w + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 * i))));
  }
  for (; i < n; ++i) p.w[i] = load_h(b + 2 * i);
}

inline void decode_bf16_avx2(const uint8_t* b, int n, FPanel& p) {
  p.n = n;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 * i)));
    _mm256_storeu_ps(p.w + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
  }
  for (; i < n; ++i) {
    uint16_t h;
    memcpy(&h, b + 2 * i, 2);
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    memcpy(&p.w[i], &u, 4);
  }
}

inline bool direct_gemm(const GemmArgs& a) { return direct_gemm_fused(a); }

#define FLINT_DOT4_K dot_k4
#define FLINT_DOT4_L dot_l4<false>
#define FLINT_DOT4_LS dot_l4<true>
#define FLINT_DOT4_F dot_f4
#define FLINT_DOT4_Q4_0 dot_l4<true>
#define FLINT_DECODE_Q4_K decode_q4_k_avx2
#define FLINT_DECODE_Q5_K decode_q5_k_avx2
#define FLINT_DECODE_Q6_K decode_q6_k_avx2
#define FLINT_DECODE_Q4_0 decode_q4_0_avx2
#define FLINT_SIGNED_Q4_0 true
#define FLINT_DECODE_Q8_0 decode_q8_0_avx2
#define FLINT_DECODE_Q4_1 decode_q4_1_avx2
#define FLINT_DECODE_Q5_0 decode_q5_0_avx2
#define FLINT_DECODE_Q5_1 decode_q5_1_avx2
#define FLINT_DECODE_IQ4_NL decode_iq4_nl_avx2
#define FLINT_DECODE_MXFP4 decode_mxfp4_avx2
#define FLINT_DECODE_Q3_K decode_q3_k_avx2
#define FLINT_DECODE_Q2_K decode_q2_k_avx2
#define FLINT_DECODE_F16 decode_f16_avx2
#define FLINT_DECODE_BF16 decode_bf16_avx2
#include "backend/cpu/kernels_impl.inc"

void quantize_q8k(const float* x, ActQ8K* out, int64_t n) { quantize_q8k_portable(x, out, n); }
void quantize_q8b(const float* x, ActQ8B* out, int64_t n) { quantize_q8b_portable(x, out, n); }

void round_f16(const float* x, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) out[i] = h2f(f2h(x[i]));
}

void round_bf16(const float* x, float* out, int64_t n) { round_bf16_portable(x, out, n); }

bool gemm(const GemmArgs& a) { return gemm_dispatch(a); }

inline __m256 load8_f16(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

void dot_rows_f16(const float* q, const uint8_t* rows, uint64_t stride, int64_t n, int32_t d,
                  float scale, float* scores) {
  for (int64_t j = 0; j < n; ++j) {
    const uint8_t* r = rows + j * stride;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int32_t i = 0;
    for (; i + 16 <= d; i += 16) {
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8_f16(r + 2 * i), s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), load8_f16(r + 2 * i + 16), s1);
    }
    for (; i + 8 <= d; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8_f16(r + 2 * i), s0);
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; i < d; ++i) s += q[i] * h2f(rd16(r + 2 * i));
    scores[j] = s * scale;
  }
}

void dot_rows_f32(const float* q, const uint8_t* rows, uint64_t stride, int64_t n, int32_t d,
                  float scale, float* scores) {
  for (int64_t j = 0; j < n; ++j) {
    const auto* r = reinterpret_cast<const float*>(rows + j * stride);
    __m256 s0 = _mm256_setzero_ps();
    int32_t i = 0;
    for (; i + 8 <= d; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(r + i), s0);
    float s = hsum(s0);
    for (; i < d; ++i) s += q[i] * r[i];
    scores[j] = s * scale;
  }
}

// exp(x) for x <= 88 (Cephes' expf: x = n ln2 + r, |r| <= ln2 / 2, a degree-6 polynomial for
// e^r, then 2^n through the exponent bits); within 2 ulp, and 0 below -87.
inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.0f);
  const __m256 below = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_max_ps(x, lo);
  x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
  return _mm256_andnot_ps(below, y);
}

float exp_shift(float* x, int64_t n, float shift) {
  const __m256 sv = _mm256_set1_ps(shift);
  __m256 sum = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sv));
    _mm256_storeu_ps(x + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  float s = hsum(sum);
  if (i < n) {  // the tail through the same polynomial, so every element rounds alike
    float tail[8] = {};
    for (int64_t j = i; j < n; ++j) tail[j - i] = x[j] - shift;
    float out[8];
    _mm256_storeu_ps(out, exp8(_mm256_loadu_ps(tail)));
    for (int64_t j = i; j < n; ++j) {
      x[j] = out[j - i];
      s += x[j];
    }
  }
  return s;
}

void axpy_f16(float a, const uint8_t* row, int32_t d, float* out) {
  const __m256 av = _mm256_set1_ps(a);
  int32_t i = 0;
  for (; i + 8 <= d; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(av, load8_f16(row + 2 * i), _mm256_loadu_ps(out + i)));
  }
  for (; i < d; ++i) out[i] += a * h2f(rd16(row + 2 * i));
}

void axpy_f32(float a, const uint8_t* row, int32_t d, float* out) {
  const auto* r = reinterpret_cast<const float*>(row);
  const __m256 av = _mm256_set1_ps(a);
  int32_t i = 0;
  for (; i + 8 <= d; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(r + i), _mm256_loadu_ps(out + i)));
  }
  for (; i < d; ++i) out[i] += a * r[i];
}

template <bool kF16>
void group_scores(const AttnRows& r, const float* q, float scale, float* scores, int64_t ld) {
  if (!group_scores_fused(r, kF16, q, scale, scores, ld)) {
    group_scores_by_row<kF16 ? dot_rows_f16 : dot_rows_f32>(r, q, scale, scores, ld);
  }
}

template <bool kF16>
void group_accum(const AttnRows& r, const float* p, int64_t ld, float* out) {
  if (!group_accum_fused(r, kF16, p, ld, out)) group_accum_by_row<kF16 ? axpy_f16 : axpy_f32>(r, p, ld, out);
}

uint64_t read_sum(const uint8_t* p, size_t n) {
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i < n; i += 128) {
    s0 = _mm256_add_epi64(s0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    s1 = _mm256_add_epi64(s1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    s2 = _mm256_add_epi64(s2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    s3 = _mm256_add_epi64(s3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
  alignas(32) uint64_t w[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(w), s);
  return w[0] + w[1] + w[2] + w[3];
}

void triad(float* a, const float* b, const float* c, float s, size_t n) {
  const __m256 sv = _mm256_set1_ps(s);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(a + i, _mm256_fmadd_ps(sv, _mm256_loadu_ps(c + i), _mm256_loadu_ps(b + i)));
  for (; i < n; ++i) a[i] = b[i] + s * c[i];
}

}  // namespace

const KernelSet kKernels = {
    .isa = Isa::kAvx2,
    .quantize_q8k = quantize_q8k,
    .quantize_q8b = quantize_q8b,
    .round_f16 = round_f16,
    .round_bf16 = round_bf16,
    .gemm = gemm,
    .group_scores_f16 = group_scores<true>,
    .group_scores_f32 = group_scores<false>,
    .group_accum_f16 = group_accum<true>,
    .group_accum_f32 = group_accum<false>,
    .exp_shift = exp_shift,
    .read_sum = read_sum,
    .triad = triad,
};

}  // namespace flint::cpu::avx2
