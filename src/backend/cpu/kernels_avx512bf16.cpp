// BF16 weights on CPUs with AVX512_BF16 (Zen 4, Sapphire Rapids and later): vdpbf16ps multiplies
// 32 BF16 pairs and adds them into 16 float lanes in one instruction, twice the products of an
// FMA, so prompts run at twice the float kernels' compute ceiling. The activations are the F32
// rows round_bf16 made (already BF16 values), so the products are those of the float kernels;
// only the order of the adds differs, which is why this is a family of its own (avx512bf16:
// avx512 for every other type, kernels_x86.inc).
//
// The dot order, the same for one token and for many so that a token's result does not depend on
// the batch: one 16-lane accumulator per (row, token); step s adds values [32 s, 32 s + 32) by
// one vdpbf16ps (lane j takes the pair 32 s + 2 j, + 1), a last step takes the values past the
// final multiple of 32 with the weights and activations beyond n_in read as zeros; the row's
// result is _mm512_reduce_add_ps of the lanes.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

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

// Step s of an activation row (floats that are BF16 values) as BF16 pairs, zeros past n.
inline __m512bh acts(const float* x, int64_t n, int64_t s) {
  const float* p = x + kStep * s;
  if ((s + 1) * kStep <= n) return _mm512_cvtne2ps_pbh(_mm512_loadu_ps(p + 16), _mm512_loadu_ps(p));
  const __mmask32 m = step_mask(n, s);
  const __m512 lo = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p);
  const __m512 hi = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), p + 16);
  return _mm512_cvtne2ps_pbh(hi, lo);
}

// The first cache-line boundary at or after p: a vector load that straddles two lines costs two
// (aligned, the packed activations: 306-310 -> 317-321 GFLOP/s in-process, 2048 x 2048 x 512).
uint8_t* align_line(uint8_t* p) { return p + (64 - reinterpret_cast<uintptr_t>(p) % 64) % 64; }

// Decode: one row at a time against NT tokens whose activation rows are floats. Weights stream
// once per token, asked for ahead: near into L1, far into L2. Four rows side by side (four
// chains in flight, the activations converted once for them) read 0.9x as fast from DRAM:
// 12.0-12.7 against 12.3-13.1 t/s on llama3-1b BF16 when the memory reads ~35 GB/s, 15.9-16.9
// against 17.1-18.7 at ~65 (alternated; llama.cpp 12.0-12.5 and 17.0).
constexpr int kPrefetchNear = 1024, kPrefetchFar = 12288;

template <int NT>
void row_one(const GemmArgs& a, int64_t r) {
  const int64_t n = a.n_in, ns = steps(n);
  const uint8_t* w = a.w + static_cast<uint64_t>(r) * a.w_row_bytes;
  const float* x[NT];
  for (int t = 0; t < NT; ++t) x[t] = reinterpret_cast<const float*>(a.x + static_cast<uint64_t>(t) * a.x_row_bytes);
  __m512 acc[NT];
  for (__m512& v : acc) v = _mm512_setzero_ps();
  for (int64_t s = 0; s < ns; ++s) {
    const uint8_t* p = w + 2 * kStep * s;
    _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchFar), _MM_HINT_T1);
    _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchNear), _MM_HINT_T0);
    const __m512bh wv = weights(w, n, s);
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_dpbf16_ps(acc[t], wv, acts(x[t], n, s));
  }
  for (int t = 0; t < NT; ++t) a.y[t * a.y_stride + r] = _mm512_reduce_add_ps(acc[t]);
}

template <int NT>
void decode(const GemmArgs& a) {
  for (int64_t r = a.r0; r < a.r1; ++r) row_one<NT>(a, r);
}

// Prompts: the activations of up to bf16_pack_tokens(n_in) tokens packed as BF16 pairs in the
// thread's scratch (rows of steps(n_in) * 32 values, zeros past n_in, plus one step so that rows
// are not 4 KiB apart: the rows a tile reads side by side would share an L1 set), then register
// tiles of R rows by T tokens: each step loads R weight vectors and T activation vectors for
// R * T vdpbf16ps (24 accumulators and 4 weight vectors of 32 registers).
// Order: rows in runs of about kRunBytes of weights, which stay in L2 while every tile of the
// block's tokens meets them; a tile of tokens against each row tile of the run in turn, so its
// activations stay in L1; rows longer than kSpanSteps steps in spans of that many (six tokens'
// span fits L1), the accumulators kept in scratch between spans. In-process on Zen 4, 2 threads,
// 512 tokens (best of 3): 2048 x 2048 277 -> 350 GFLOP/s, 2048 -> 8192 282 -> 342, 8192 -> 2048
// 248-268 -> 275-305 against row tiles outer with no padding and no spans.
constexpr int kTileRows = 4, kTileToks = 6;
constexpr int64_t kSpanSteps = 64;  // 2048 values: 6 tokens' span is 24 KiB
// A run: about kRunBytes of weights, at most kRunRows rows (their accumulators wait in scratch
// between spans).
constexpr int64_t kRunRows = 64;
constexpr int64_t kRunBytes = 256 * 1024;

template <int R, int T>
void tile(const GemmArgs& a, int64_t r, const uint16_t* xp, int64_t x_stride, int64_t t0, int64_t s0, int64_t s1,
          float* saved) {
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
      const __m512bh xv = (__m512bh)_mm512_loadu_si512(xp + t * x_stride + kStep * s);
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

// T packed tokens (the first is token t0) against rows [r0, r1), steps [s0, s1).
template <int T>
void tokens_rows(const GemmArgs& a, int64_t r0, int64_t r1, const uint16_t* xp, int64_t x_stride, int64_t t0,
                 int64_t s0, int64_t s1, float* saved) {
  constexpr int64_t kSavedRow = 16 * kTileToks;  // floats saved per row
  int64_t r = r0;
  for (; r + kTileRows <= r1; r += kTileRows) {
    tile<kTileRows, T>(a, r, xp, x_stride, t0, s0, s1, saved + (r - r0) * kSavedRow);
  }
  for (; r < r1; ++r) tile<1, T>(a, r, xp, x_stride, t0, s0, s1, saved + (r - r0) * kSavedRow);
}

// T packed tokens against a run of rows, span by span.
template <int T>
void tokens_run(const GemmArgs& a, int64_t r0, int64_t r1, const uint16_t* xp, int64_t x_stride, int64_t t0,
                float* saved) {
  const int64_t ns = steps(a.n_in);
  for (int64_t s0 = 0; s0 < ns; s0 += kSpanSteps) {
    tokens_rows<T>(a, r0, r1, xp, x_stride, t0, s0, std::min(ns, s0 + kSpanSteps), saved);
  }
}

void prompt(const GemmArgs& a) {
  const int64_t n = a.n_in, stride = steps(n) * kStep + kStep;  // rows off 4 KiB multiples: L1 sets
  const int64_t block = bf16_pack_tokens(n);
  const int64_t fit = kRunBytes / static_cast<int64_t>(a.w_row_bytes) / kTileRows * kTileRows;
  const int64_t run = std::clamp<int64_t>(fit, kTileRows, kRunRows);
  uint8_t* scratch = align_line(a.scratch);
  auto* xp = reinterpret_cast<uint16_t*>(scratch);
  float* saved = reinterpret_cast<float*>(scratch + bf16_pack_bytes(n));
  for (int64_t t0 = 0; t0 < a.n_tok; t0 += block) {
    const int64_t tb = std::min(block, a.n_tok - t0);
    for (int64_t t = 0; t < tb; ++t) {
      const auto* x = reinterpret_cast<const float*>(a.x + static_cast<uint64_t>(t0 + t) * a.x_row_bytes);
      for (int64_t s = 0; s < steps(n); ++s) _mm512_storeu_si512(xp + t * stride + kStep * s, (__m512i)acts(x, n, s));
    }
    // a run's weights stay in L2 while every tile of the block's tokens meets them
    for (int64_t r0 = a.r0; r0 < a.r1; r0 += run) {
      const int64_t r1 = std::min(a.r1, r0 + run);
      int64_t t = 0;
      for (; t + kTileToks <= tb; t += kTileToks) {
        tokens_run<kTileToks>(a, r0, r1, xp + t * stride, stride, t0 + t, saved);
      }
      const uint16_t* rest = xp + t * stride;
      switch (tb - t) {
        case 5: tokens_run<5>(a, r0, r1, rest, stride, t0 + t, saved); break;
        case 4: tokens_run<4>(a, r0, r1, rest, stride, t0 + t, saved); break;
        case 3: tokens_run<3>(a, r0, r1, rest, stride, t0 + t, saved); break;
        case 2: tokens_run<2>(a, r0, r1, rest, stride, t0 + t, saved); break;
        case 1: tokens_run<1>(a, r0, r1, rest, stride, t0 + t, saved); break;
        default: break;
      }
    }
  }
}

}  // namespace

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
