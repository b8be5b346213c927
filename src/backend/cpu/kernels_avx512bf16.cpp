// BF16 weights on CPUs with AVX512_BF16 (Zen 4, Sapphire Rapids and later): vdpbf16ps multiplies
// 32 BF16 pairs and adds them into 16 float lanes in one instruction, twice the products of an
// FMA, so prompts run at twice the float kernels' compute ceiling. The activations are rounded to
// BF16 as for the float kernels and packed as BF16 pairs once per product (pack_bf16, the
// kBF16Pairs format), so the products are the float kernels'; only the order of the adds
// differs, which is why this is a family of its own (avx512bf16: avx512 for every other type,
// kernels_x86.inc).
//
// The dot order, the same for one token and for many so that a token's result does not depend on
// the batch: one 16-lane accumulator per (row, token); step s adds values [32 s, 32 s + 32) by
// one vdpbf16ps (lane j takes the pair 32 s + 2 j, + 1), a last step takes the values past the
// final multiple of 32 with the weights and activations beyond n_in read as zeros; the row's
// result is _mm512_reduce_add_ps of the lanes.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "backend/cpu/kernel_families.h"

namespace flint::cpu::avx512bf16 {
namespace {

constexpr int kStep = 32;  // values per vdpbf16ps

int64_t steps(int64_t n_in) { return (n_in + kStep - 1) / kStep; }

// Mask of the 16-bit elements of step s that lie inside a row of n values.
__mmask32 step_mask(int64_t n, int64_t s) {
  const int64_t left = n - s * kStep;
  return left >= kStep ? ~__mmask32{0} : static_cast<__mmask32>((1u << left) - 1);
}

// Step s of a BF16 weight row: 32 values, zeros past n.
inline __m512bh weights(const uint8_t* row, int64_t n, int64_t s) {
  const void* p = row + 2 * kStep * s;
  if ((s + 1) * kStep <= n) return (__m512bh)_mm512_loadu_si512(p);
  return (__m512bh)_mm512_maskz_loadu_epi16(step_mask(n, s), p);
}

// Step s of a float row as BF16 pairs (rounded to nearest even), zeros past n.
inline __m512bh pairs(const float* x, int64_t n, int64_t s) {
  const float* p = x + kStep * s;
  if ((s + 1) * kStep <= n) return _mm512_cvtne2ps_pbh(_mm512_loadu_ps(p + 16), _mm512_loadu_ps(p));
  const __mmask32 m = step_mask(n, s);
  const __m512 lo = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p);
  const __m512 hi = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), p + 16);
  return _mm512_cvtne2ps_pbh(hi, lo);
}

// Step s of a packed activation row.
inline __m512bh acts(const uint8_t* x, int64_t s) { return (__m512bh)_mm512_load_si512(x + 2 * kStep * s); }

// Decode: one row at a time against NT tokens. Weights stream once per token, asked for ahead:
// near into L1, far into L2. Four rows side by side (four chains in flight, the activations
// converted once for them) read 0.9x as fast from DRAM:
// 12.0-12.7 against 12.3-13.1 t/s on llama3-1b BF16 when the memory reads ~35 GB/s, 15.9-16.9
// against 17.1-18.7 at ~65 (alternated; llama.cpp 12.0-12.5 and 17.0).
constexpr int kPrefetchNear = 1024, kPrefetchFar = 12288;

template <int NT>
void row_one(const GemmArgs& a, int64_t r) {
  const int64_t n = a.n_in, ns = steps(n);
  const uint8_t* w = a.w + static_cast<uint64_t>(r) * a.w_row_bytes;
  const uint8_t* x[NT];
  for (int t = 0; t < NT; ++t) x[t] = a.x + static_cast<uint64_t>(t) * a.x_row_bytes;
  __m512 acc[NT];
  for (__m512& v : acc) v = _mm512_setzero_ps();
  for (int64_t s = 0; s < ns; ++s) {
    const uint8_t* p = w + 2 * kStep * s;
    _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchFar), _MM_HINT_T1);
    _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchNear), _MM_HINT_T0);
    const __m512bh wv = weights(w, n, s);
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_dpbf16_ps(acc[t], wv, acts(x[t], s));
  }
  for (int t = 0; t < NT; ++t) a.y[t * a.y_stride + r] = _mm512_reduce_add_ps(acc[t]);
}

template <int NT>
void decode(const GemmArgs& a) {
  for (int64_t r = a.r0; r < a.r1; ++r) row_one<NT>(a, r);
}

// Prompts: register tiles of R rows by T tokens: each step loads R weight vectors and T
// activation vectors for R * T vdpbf16ps (24 accumulators and 4 weight vectors of 32 registers).
// Order: tokens in blocks of about kBlockBytes of activations (the weights are read once per
// block: 1 MiB blocks against 384 KiB, 8192-wide rows on one thread: 131 -> 160 GFLOP/s); rows
// in runs of about kRunBytes of weights, which stay in L2 while every tile of the block meets
// them; a tile of tokens against each row tile of the run in turn, so its activations stay in
// L1; rows longer than kSpanSteps steps in spans of that many (six tokens' span fits L1), the
// accumulators kept in scratch between spans. The packed rows are one step longer than their
// values, or rows 4 KiB apart would share an L1 set: in-process on Zen 4, 2 threads, 512 tokens
// (best of 3), 2048 x 2048 277 -> 350 GFLOP/s, 2048 -> 8192 282 -> 342, 8192 -> 2048 248-268 ->
// 275-305 against row tiles outer with no padding and no spans.
constexpr int kTileRows = 4, kTileToks = 6;
constexpr int64_t kSpanSteps = 64;  // 2048 values: 6 tokens' span is 24 KiB
// A run: about kRunBytes of weights, at most kRunRows rows (their accumulators wait in scratch
// between spans).
constexpr int64_t kRunRows = 64;
constexpr int64_t kRunBytes = 256 * 1024;
constexpr int64_t kBlockBytes = 1024 * 1024, kBlockToks = 60;
static_assert(kRunRows * kTileToks * 16 * sizeof(float) <= kBf16SavedBytes, "the scratch gemm_scratch_bytes gives");

template <int R, int T>
void tile(const GemmArgs& a, int64_t r, const uint8_t* xp, int64_t t0, int64_t s0, int64_t s1, float* saved) {
  const int64_t n = a.n_in, ns = steps(n), full = n / kStep;
  const uint8_t* w[R];
  for (int i = 0; i < R; ++i) w[i] = a.w + static_cast<uint64_t>(r + i) * a.w_row_bytes;
  __m512 acc[R][T];
  for (int i = 0; i < R; ++i) {
    for (int t = 0; t < T; ++t) {
      acc[i][t] = s0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(saved + 16 * (kTileToks * i + t));
    }
  }
  auto step = [&](int64_t s, auto load_w) {
    __m512bh wv[R];
    for (int i = 0; i < R; ++i) wv[i] = load_w(i, s);
    for (int t = 0; t < T; ++t) {
      const __m512bh xv = acts(xp + t * a.x_row_bytes, s);
      for (int i = 0; i < R; ++i) acc[i][t] = _mm512_dpbf16_ps(acc[i][t], wv[i], xv);
    }
  };
  const int64_t s_full = std::min(s1, full);
  for (int64_t s = s0; s < s_full; ++s) {
    step(s, [&](int i, int64_t k) { return (__m512bh)_mm512_loadu_si512(w[i] + 2 * kStep * k); });
  }
  if (s_full < s1) step(s_full, [&](int i, int64_t k) { return weights(w[i], n, k); });
  for (int i = 0; i < R; ++i) {
    for (int t = 0; t < T; ++t) {
      if (s1 == ns) {
        a.y[(t0 + t) * a.y_stride + r + i] = _mm512_reduce_add_ps(acc[i][t]);
      } else {
        _mm512_storeu_ps(saved + 16 * (kTileToks * i + t), acc[i][t]);
      }
    }
  }
}

// Tokens [t0, t0 + T) against rows [r0, r1), steps [s0, s1).
template <int T>
void tokens_rows(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t s0, int64_t s1, float* saved) {
  constexpr int64_t kSavedRow = 16 * kTileToks;  // floats saved per row
  const uint8_t* xp = a.x + static_cast<uint64_t>(t0) * a.x_row_bytes;
  int64_t r = r0;
  for (; r + kTileRows <= r1; r += kTileRows) tile<kTileRows, T>(a, r, xp, t0, s0, s1, saved + (r - r0) * kSavedRow);
  for (; r < r1; ++r) tile<1, T>(a, r, xp, t0, s0, s1, saved + (r - r0) * kSavedRow);
}

// Tokens [t0, t0 + T) against a run of rows, span by span.
template <int T>
void tokens_run(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, float* saved) {
  const int64_t ns = steps(a.n_in);
  for (int64_t s0 = 0; s0 < ns; s0 += kSpanSteps) {
    tokens_rows<T>(a, r0, r1, t0, s0, std::min(ns, s0 + kSpanSteps), saved);
  }
}

void prompt(const GemmArgs& a) {
  const int64_t tokens = kBlockBytes / static_cast<int64_t>(a.x_row_bytes);
  const int64_t block = std::clamp<int64_t>(tokens, kTileToks, kBlockToks) / kTileToks * kTileToks;
  const int64_t fit = kRunBytes / static_cast<int64_t>(a.w_row_bytes) / kTileRows * kTileRows;
  const int64_t run = std::clamp<int64_t>(fit, kTileRows, kRunRows);
  auto* saved = reinterpret_cast<float*>(a.scratch);
  for (int64_t t0 = 0; t0 < a.n_tok; t0 += block) {
    const int64_t t1 = std::min(a.n_tok, t0 + block);
    for (int64_t r0 = a.r0; r0 < a.r1; r0 += run) {
      const int64_t r1 = std::min(a.r1, r0 + run);
      int64_t t = t0;
      for (; t + kTileToks <= t1; t += kTileToks) tokens_run<kTileToks>(a, r0, r1, t, saved);
      switch (t1 - t) {
        case 5: tokens_run<5>(a, r0, r1, t, saved); break;
        case 4: tokens_run<4>(a, r0, r1, t, saved); break;
        case 3: tokens_run<3>(a, r0, r1, t, saved); break;
        case 2: tokens_run<2>(a, r0, r1, t, saved); break;
        case 1: tokens_run<1>(a, r0, r1, t, saved); break;
        default: break;
      }
    }
  }
}

}  // namespace

void pack_bf16(const float* x, uint8_t* out, int64_t n) {
  const int64_t ns = steps(n);
  for (int64_t s = 0; s < ns; ++s) _mm512_storeu_si512(out + 2 * kStep * s, (__m512i)pairs(x, n, s));
  _mm512_storeu_si512(out + 2 * kStep * ns, _mm512_setzero_si512());  // the row's last step
}

bool gemm_bf16(const GemmArgs& a) {
  if (a.type != DType::BF16) return false;
  switch (a.n_tok) {
    case 1: decode<1>(a); return true;
    case 2: decode<2>(a); return true;
    case 3: decode<3>(a); return true;
    case 4: decode<4>(a); return true;
    default: prompt(a); return true;
  }
}

}  // namespace flint::cpu::avx512bf16
