// Small AVX2 helpers shared by the x86 kernel files (internal to backend/cpu; include only from
// files built with -mavx2 -mfma -mf16c or more). The inline helpers live in the including
// family's namespace (FLINT_X86_NS, avx2 unless set), so a copy built with AVX-512 flags is
// never the one an AVX2-only CPU runs.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "backend/cpu/kernels.h"

#ifndef FLINT_X86_NS
#define FLINT_X86_NS avx2
#endif

namespace flint::cpu::FLINT_X86_NS {

// Asks for the cache lines of [p, p + bytes) into L2 (no-op for nullptr). Into L1 (T0) the
// attention kernels' requests waited on each other: at depth 4096 they read 13.8 GB/s with T0,
// 18-22 GB/s with T1 (Zen 4, 2 threads). Always inlined: GCC takes a function that only
// prefetches for one without side effects and drops the calls to it (it did to a wrapper).
[[gnu::always_inline]] inline void prefetch_bytes(const uint8_t* p, uint64_t bytes) {
  if (p == nullptr) return;
  for (uint64_t off = 0; off < bytes; off += 64) _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T1);
}

// Asks for the cache lines of [p, p + bytes) as a stream that is read once (prefetchnta): a
// decode step's weights, which no later step finds in any cache anyway (the model is larger
// than the last level). Into L2 (T1), each line later left L2 for the L3 and pushed out what a
// step does reuse there (norm weights, activations, the KV cache at short depth): on the Zen 5
// here, with the interleaved kernels' requests NTA instead of T1, a decode step ran 4-13%
// faster (qwen3-moe-mini 1.08x, llama3-1b Q4_K_M 1.13x, Q8_0 1.10x, Q4_0 1.04x; the same
// tokens alternated in one process, 20 rounds). A line asked for this way may not be in L2
// when a second pass wants it: only for bytes the kernel reads once, and soon.
[[gnu::always_inline]] inline void prefetch_stream(const uint8_t* p, uint64_t bytes) {
  for (uint64_t off = 0; off < bytes; off += 64) _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_NTA);
}

// prefetch_stream where the bytes are read once (stream), else prefetch_bytes.
[[gnu::always_inline]] inline void prefetch_ahead(const uint8_t* p, uint64_t bytes, bool stream) {
  if (stream) {
    prefetch_stream(p, bytes);
  } else {
    prefetch_bytes(p, bytes);
  }
}

inline float hsum(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

// a * b + c rounded once. The float kernels' one-by-one tails use it so that every path (panel,
// four-token panel, fused decode) rounds them alike: left as `acc += w * x`, the compiler
// contracted some of them into an FMA and not others, and a row's result then depended on how
// many tokens shared the call.
inline float fma1(float a, float b, float c) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}

// The IEEE half at p (any alignment) as a float.
inline float load_h(const uint8_t* p) {
  uint16_t h;
  memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// Q4_K / Q5_K's 12 bytes of 6-bit (scale, min) pairs as 8 scales and 8 mins, one byte each
// (sc[0] holds pairs 0-3, sc[1] pairs 4-7). Pairs 0-3: low 6 bits of bytes 0-3 (scales) and 4-7
// (mins). Pairs 4-7: low 4 bits in bytes 8-11 (scale low nibble, min high nibble), top 2 bits in
// the top 2 bits of bytes 0-3 / 4-7.
inline void k4_scales(const uint8_t* q, uint32_t sc[2], uint32_t m[2]) {
  uint32_t w[3];
  memcpy(w, q, 12);
  sc[0] = w[0] & 0x3f3f3f3fu;
  m[0] = w[1] & 0x3f3f3f3fu;
  sc[1] = (w[2] & 0x0f0f0f0fu) | (((w[0] >> 6) & 0x03030303u) << 4);
  m[1] = ((w[2] >> 4) & 0x0f0f0f0fu) | (((w[1] >> 6) & 0x03030303u) << 4);
}

// One K-quant super-block's share of an output, the way every x86 path adds it: the block's
// exact integer sums s (levels times scales times activations) and c (corrections times the
// activations' group sums) go into acc as acc + s * dd, then - c * dc, each product fused with
// its add. The prompt GEMM does the same per vector lane, so a token's result is the same bits
// however many tokens share the call.
inline float fold_k(float acc, int32_t s, int32_t c, float dd, float dc) {
  const __m128 z = _mm_setzero_ps();
  __m128 r = _mm_fmadd_ss(_mm_cvtsi32_ss(z, s), _mm_set_ss(dd), _mm_set_ss(acc));
  r = _mm_fnmadd_ss(_mm_cvtsi32_ss(z, c), _mm_set_ss(dc), r);
  return _mm_cvtss_f32(r);
}

// _mm256_hadd_epi32 / _mm256_hadd_ps (per 128-bit lane: a0+a1 a2+a3 b0+b1 b2+b3) as two
// shuffles and an add: the hadd instructions cost about 3 cycles each on Zen 4, a shuffle half a
// cycle. The same sums of the same pairs, so the same bits.
inline __m256 hadd_ps(__m256 a, __m256 b) {
  return _mm256_add_ps(_mm256_shuffle_ps(a, b, 0x88), _mm256_shuffle_ps(a, b, 0xDD));
}
inline __m256i hadd_epi32(__m256i a, __m256i b) {
  const __m256 fa = _mm256_castsi256_ps(a), fb = _mm256_castsi256_ps(b);
  return _mm256_add_epi32(_mm256_castps_si256(_mm256_shuffle_ps(fa, fb, 0x88)),
                          _mm256_castps_si256(_mm256_shuffle_ps(fa, fb, 0xDD)));
}

// The sum of v's eight int32 lanes.
inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// The sums of a's and of b's eight int32 lanes (exact: they fit, and integer order is free).
inline void hsum2_epi32(__m256i a, __m256i b, int32_t* sa, int32_t* sb) {
  const __m256i h = hadd_epi32(a, b);  // a01 a23 b01 b23 | a45 a67 b45 b67
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));  // A . B .
  *sa = _mm_cvtsi128_si32(s);
  *sb = _mm_extract_epi32(s, 2);
}

// Lane j of the result: the sum of v[j]'s eight int32 lanes (exact, as above). The 32-value
// formats' blocks go into eight chains this way, block b into chain b % 8 (lane b % 8 of one
// vector, or one vector per chain in the prompt GEMM), and an output is their sum in hsum's
// order: ((c0 + c4) + (c2 + c6)) + ((c1 + c5) + (c3 + c7)).
inline __m256i reduce8_epi32(const __m256i* v) {
  const __m256i a = hadd_epi32(v[0], v[1]);  // v0: 01 23, v1: 01 23 | v0: 45 67, v1: 45 67
  const __m256i b = hadd_epi32(v[2], v[3]);
  const __m256i c = hadd_epi32(v[4], v[5]);
  const __m256i d = hadd_epi32(v[6], v[7]);
  const __m256i ab = hadd_epi32(a, b);  // v0..v3: 0-3 | v0..v3: 4-7
  const __m256i cd = hadd_epi32(c, d);
  return _mm256_add_epi32(_mm256_permute2x128_si256(ab, cd, 0x20), _mm256_permute2x128_si256(ab, cd, 0x31));
}

// --- The 32-value formats' blocks in registers (layouts: quant/blocks.h) ----------------------

// The codebooks of IQ4_NL and MXFP4 (x2), as in kernels_impl.inc.
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

// A 16-entry int8 codebook indexed by the nibbles (IQ4_NL, MXFP4).
inline __m256i lookup16(const int8_t* table, __m256i idx) {
  const __m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table)));
  return _mm256_shuffle_epi8(t, idx);
}

// Q5_0 / Q5_1's 5-bit levels: the nibbles at qs, bit 4 from the 32 bits at qh.
inline __m256i levels5(const uint8_t* qh, const uint8_t* qs) {
  return _mm256_or_si256(nibbles32(qs), _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10)));
}

// An MXFP4 block's scale byte e (E8M0) as 2^(e - 128): half the scale, the codebook is doubled.
inline float mxfp4_scale(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

// --- The float types' rows (F32, F16, BF16) --------------------------------------------------

// How a float type's weights load: 8 at p as floats (16 with AVX-512), or one.
struct F32Weights {
  static constexpr int kBytes = 4;
  static __m256 load8(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
#ifdef __AVX512F__
  static __m512 load16(const uint8_t* p) { return _mm512_loadu_ps(p); }
#endif
  static float load1(const uint8_t* p) {
    float f;
    memcpy(&f, p, 4);
    return f;
  }
};
struct F16Weights {
  static constexpr int kBytes = 2;
  static __m256 load8(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
#ifdef __AVX512F__
  static __m512 load16(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
#endif
  static float load1(const uint8_t* p) { return load_h(p); }
};
struct BF16Weights {
  static constexpr int kBytes = 2;
  static __m256 load8(const uint8_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
#ifdef __AVX512F__
  static __m512 load16(const uint8_t* p) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
#endif
  static float load1(const uint8_t* p) {
    uint16_t h;
    memcpy(&h, p, 2);
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
};

// The float types' dot order, shared by the decode kernels (float_rows) and the prompt GEMM
// (kernels_x86_fgemm.inc) so that a token's result is the same bits alone or in a batch, and by
// both x86 families: one 16-lane chain over each 16 values of the row (value 16k + l in lane l;
// AVX2 holds it as two 8-lane halves, lo = lanes 0-7 and hi = lanes 8-15, AVX-512 as one
// register), the last n % 16 values one by one (fma1) into s; the result is hsum(lo + hi) + s.
// One chain per (row, token) lets the prompt GEMM keep 24 of them in registers (four 8-lane
// chains, the order before, took two zmm each). float_dot_finish does the part after the chain,
// from value i (the last multiple of 16) on.
template <class W>
inline float float_dot_finish(__m256 lo, __m256 hi, const uint8_t* w, const float* x, int i, int n) {
  float s = 0.0f;
  for (; i < n; ++i) s = fma1(W::load1(w + i * W::kBytes), x[i], s);
  return hsum(_mm256_add_ps(lo, hi)) + s;
}

// Fused matrix-vector kernels for 1..4 tokens (kernels_x86_direct.inc, one build per family);
// false when `a.type` or the token count has none.
bool direct_gemm_fused(const GemmArgs& a);
// The same for weights in Layout::kRows16 (repack.h): Q4_0, Q8_0, Q4_K and Q6_K with AVX-512
// VNNI; false elsewhere.
bool direct_gemm_rows16(const GemmArgs& a);

// Attention for the query heads of a run of blocks' KV heads over F16 (f16) or F32 keys and
// values, as KernelSet::group_scores_* / group_accum_* (kernels_avx2_attention.cpp,
// kernels_avx512_attention.cpp: one per family). group_accum_fused is false when the head size
// has no fused kernel (d not a multiple of 16).
void group_scores_columns(const AttnKeys& keys, bool f16, const float* q, float scale, float* scores, int64_t ld);
bool group_accum_fused(const AttnRows& rows, bool f16, const float* p, int64_t ld, float* out);

}  // namespace flint::cpu::FLINT_X86_NS
