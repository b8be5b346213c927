// The K-quants: 256-value super-blocks whose sub-block scales (and mins) are themselves
// quantized against one or two fp16 super-block scales. Layouts are described in blocks.h.
//
// Quantization is ggml's reference without importance weights (quantize_row_q*_K_ref): fit each
// sub-block (kquant_search.h), quantize the sub-block scales, then re-round every value against
// the scales as they will be decoded (fp16 super-scale times integer sub-scale), so the levels
// match what dequantization reproduces.
#include <algorithm>
#include <cmath>

#include "core/half.h"
#include "quant/blocks.h"
#include "quant/kernels.h"
#include "quant/kquant_search.h"

namespace flint::quant {
namespace {

constexpr float kGroupMaxEps = 1e-15f;

// Q4_K / Q5_K scale packing: 8 six-bit (scale, min) pairs in 12 bytes. Pairs 0-3 sit in the low
// 6 bits of bytes 0-3 (scale) and 4-7 (min); pairs 4-7 keep their low 4 bits in bytes 8-11
// (scale low nibble, min high nibble) and their top 2 bits in the top 2 bits of bytes 0-3
// (scale) and 4-7 (min).
void unpack_scale_min_k4(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Inverse of unpack_scale_min_k4 for pair j; pairs must be stored in increasing j.
void pack_scale_min_k4(int j, uint8_t scale, uint8_t min, uint8_t* q) {
  if (j < 4) {
    q[j] = scale;
    q[j + 4] = min;
  } else {
    q[j + 4] = static_cast<uint8_t>((scale & 0xF) | ((min & 0xF) << 4));
    q[j - 4] = static_cast<uint8_t>(q[j - 4] | ((scale >> 4) << 6));
    q[j] = static_cast<uint8_t>(q[j] | ((min >> 4) << 6));
  }
}

// Q3_K's 6-bit scale j from its 12-byte packing (see BlockQ3_K), still biased by 32.
int unpack_scale_q3(int j, const uint8_t* scales) {
  const int low = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}

// 2-bit levels of 256 values into 64 bytes: per 128 values, byte l holds l, l+32, l+64, l+96.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                           (L[j + l + 96] << 6));
    }
  }
}

// Q4_K / Q5_K sub-block fit: weights emphasize large values over a floor of the sub-block's RMS.
void fit_sub_blocks_32(const float* x, int nmax, float rmin, int nstep, uint8_t* L, float* scales,
                       float* mins) {
  float weights[32];
  for (int j = 0; j < kQK_K / 32; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] =
        search_scale_min(32, nmax, xs, weights, L + 32 * j, &mins[j], rmin, 0.1f, nstep, false);
  }
}

// Q4_K / Q5_K: quantizes the 8 sub-block scales and mins to 6 bits against d = max / 63, then
// re-rounds the values to levels in [0, nmax] against the decoded scales. Fills d, dmin, scales.
void quantize_scales_k4(const float* x, int nmax, uint8_t* L, const float* scales,
                        const float* mins, uint16_t* d_out, uint16_t* dmin_out, uint8_t* packed) {
  float max_scale = 0;  // scales are positive: the min absorbs the offset
  float max_min = 0;
  for (int j = 0; j < kQK_K / 32; ++j) {
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < kQK_K / 32; ++j) {
    // As uint8_t first (a negative level wraps high), then capped: ggml's exact behaviour.
    const auto ls = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    const auto lm = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
    pack_scale_min_k4(j, ls, lm, packed);
  }
  *d_out = fp32_to_fp16(max_scale / 63.f);
  *dmin_out = fp32_to_fp16(max_min / 63.f);

  for (int j = 0; j < kQK_K / 32; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, packed, &sc, &m);
    const float d = fp16_to_fp32(*d_out) * sc;
    if (d == 0.0f) continue;  // keep the search's levels
    const float dm = fp16_to_fp32(*dmin_out) * m;
    for (int i = 0; i < 32; ++i) {
      L[32 * j + i] =
          static_cast<uint8_t>(std::clamp(nearest_int((x[32 * j + i] + dm) / d), 0, nmax));
    }
  }
}

}  // namespace

// --- Q2_K: x = d * sc * q - dmin * m, 16 sub-blocks of 16, q in [0, 3] ---

void quantize_q2_k(const float* src, void* dst, int64_t nblocks) {
  constexpr float kMaxScale = 15.f;  // 4-bit sub-block scales and mins
  for (int64_t i = 0; i < nblocks; ++i) {
    const float* x = src + i * kQK_K;
    uint8_t L[kQK_K];
    float scales[16], mins[16], weights[16];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] =
          search_scale_min(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, true);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }

    BlockQ2_K b{};
    if (max_scale > 0) {
      const float iscale = kMaxScale / max_scale;
      for (int j = 0; j < 16; ++j)
        b.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
      b.d = fp32_to_fp16(max_scale / kMaxScale);
    } else {
      b.d = fp32_to_fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = kMaxScale / max_min;
      for (int j = 0; j < 16; ++j) {
        b.scales[j] = static_cast<uint8_t>(b.scales[j] | (nearest_int(iscale * mins[j]) << 4));
      }
      b.dmin = fp32_to_fp16(max_min / kMaxScale);
    } else {
      b.dmin = fp32_to_fp16(0.f);
    }

    for (int j = 0; j < 16; ++j) {
      const float d = fp16_to_fp32(b.d) * (b.scales[j] & 0xF);
      if (d == 0.0f) continue;
      const float dm = fp16_to_fp32(b.dmin) * (b.scales[j] >> 4);
      for (int l = 0; l < 16; ++l) {
        L[16 * j + l] =
            static_cast<uint8_t>(std::clamp(nearest_int((x[16 * j + l] + dm) / d), 0, 3));
      }
    }
    pack_2bit(L, b.qs);
    store_block(dst, i, b);
  }
}

void dequantize_q2_k(const void* src, float* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const BlockQ2_K b = load_block<BlockQ2_K>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float min = fp16_to_fp32(b.dmin);
    float* y = dst + i * kQK_K;
    for (int v = 0; v < kQK_K; ++v) {
      // v = 128 * half + 32 * shift + l: 2-bit field `shift` of byte l of the half's 32 bytes.
      const int half = v / 128, shift = (v / 32) % 4, l = v % 32;
      const uint8_t sc = b.scales[v / 16];
      const float dl = d * static_cast<float>(sc & 0xF);
      const float ml = min * static_cast<float>(sc >> 4);
      const int q = (b.qs[32 * half + l] >> (2 * shift)) & 3;
      y[v] = dl * static_cast<float>(q) - ml;
    }
  }
}

// --- Q3_K: x = d * (sc - 32) * (q - 4), 16 sub-blocks of 16, q in [0, 7] ---

void quantize_q3_k(const float* src, void* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const float* x = src + i * kQK_K;
    int8_t L[kQK_K];
    float scales[16];
    float max_scale = 0, amax = 0;  // the scale of largest magnitude, with its sign
    for (int j = 0; j < 16; ++j) {
      scales[j] = refine_scale_symmetric(16, 4, x + 16 * j, L + 16 * j);
      if (std::fabs(scales[j]) > amax) {
        amax = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }

    BlockQ3_K b{};
    if (max_scale != 0) {
      // 6-bit signed sub-scales in [-32, 31]; the extreme maps to -32.
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; ++j) {
        const int l =
            std::clamp(static_cast<int>(static_cast<int8_t>(nearest_int(iscale * scales[j]))), -32,
                       31) +
            32;
        if (j < 8) {
          b.scales[j] = static_cast<uint8_t>(l & 0xF);
        } else {
          b.scales[j - 8] = static_cast<uint8_t>(b.scales[j - 8] | ((l & 0xF) << 4));
        }
        b.scales[8 + j % 4] =
            static_cast<uint8_t>(b.scales[8 + j % 4] | ((l >> 4) << (2 * (j / 4))));
      }
      b.d = fp32_to_fp16(1 / iscale);
    } else {
      b.d = fp32_to_fp16(0.f);
    }

    for (int j = 0; j < 16; ++j) {
      const int sc = static_cast<int8_t>(unpack_scale_q3(j, b.scales)) - 32;
      const float d = fp16_to_fp32(b.d) * static_cast<float>(sc);
      if (d == 0.0f) continue;
      for (int l = 0; l < 16; ++l) {
        L[16 * j + l] = static_cast<int8_t>(std::clamp(nearest_int(x[16 * j + l] / d), -4, 3) + 4);
      }
    }

    // Third bit of value v goes to bit v / 32 of hmask[v % 32]; the low 2 bits as in Q2_K.
    uint8_t low[kQK_K];
    for (int v = 0; v < kQK_K; ++v) {
      if (L[v] > 3) b.hmask[v % 32] = static_cast<uint8_t>(b.hmask[v % 32] | (1 << (v / 32)));
      low[v] = static_cast<uint8_t>(L[v] & 3);
    }
    pack_2bit(low, b.qs);
    store_block(dst, i, b);
  }
}

void dequantize_q3_k(const void* src, float* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const BlockQ3_K b = load_block<BlockQ3_K>(src, i);
    const float d_all = fp16_to_fp32(b.d);
    float* y = dst + i * kQK_K;
    for (int v = 0; v < kQK_K; ++v) {
      const int half = v / 128, shift = (v / 32) % 4, l = v % 32;
      const float dl = d_all * static_cast<float>(unpack_scale_q3(v / 16, b.scales) - 32);
      const int low = (b.qs[32 * half + l] >> (2 * shift)) & 3;
      const int high_set = (b.hmask[l] >> (v / 32)) & 1;
      y[v] = dl * static_cast<float>(low - (high_set ? 0 : 4));
    }
  }
}

// --- Q4_K: x = d * sc * q - dmin * m, 8 sub-blocks of 32, q in [0, 15] ---

void quantize_q4_k(const float* src, void* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const float* x = src + i * kQK_K;
    uint8_t L[kQK_K];
    float scales[8], mins[8];
    fit_sub_blocks_32(x, 15, -1.f, 20, L, scales, mins);
    BlockQ4_K b{};
    quantize_scales_k4(x, 15, L, scales, mins, &b.d, &b.dmin, b.scales);
    for (int p = 0; p < 4; ++p) {
      for (int l = 0; l < 32; ++l)
        b.qs[32 * p + l] = static_cast<uint8_t>(L[64 * p + l] | (L[64 * p + 32 + l] << 4));
    }
    store_block(dst, i, b);
  }
}

void dequantize_q4_k(const void* src, float* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const BlockQ4_K b = load_block<BlockQ4_K>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float min = fp16_to_fp32(b.dmin);
    float* y = dst + i * kQK_K;
    for (int p = 0; p < 4; ++p) {  // 64 values: sub-blocks 2p (low nibbles) and 2p + 1 (high)
      uint8_t sc, m;
      unpack_scale_min_k4(2 * p, b.scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      unpack_scale_min_k4(2 * p + 1, b.scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      const uint8_t* q = b.qs + 32 * p;
      for (int l = 0; l < 32; ++l) y[64 * p + l] = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) y[64 * p + 32 + l] = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

// --- Q5_K: as Q4_K with q in [0, 31] ---

void quantize_q5_k(const float* src, void* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const float* x = src + i * kQK_K;
    uint8_t L[kQK_K];
    float scales[8], mins[8];
    fit_sub_blocks_32(x, 31, -0.5f, 15, L, scales, mins);
    BlockQ5_K b{};
    quantize_scales_k4(x, 31, L, scales, mins, &b.d, &b.dmin, b.scales);
    for (int p = 0; p < 4; ++p) {
      for (int l = 0; l < 32; ++l) {
        const int lo = L[64 * p + l], hi = L[64 * p + 32 + l];
        b.qs[32 * p + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        b.qh[l] =
            static_cast<uint8_t>(b.qh[l] | ((lo >> 4) << (2 * p)) | ((hi >> 4) << (2 * p + 1)));
      }
    }
    store_block(dst, i, b);
  }
}

void dequantize_q5_k(const void* src, float* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const BlockQ5_K b = load_block<BlockQ5_K>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float min = fp16_to_fp32(b.dmin);
    float* y = dst + i * kQK_K;
    for (int p = 0; p < 4; ++p) {
      uint8_t sc, m;
      unpack_scale_min_k4(2 * p, b.scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      unpack_scale_min_k4(2 * p + 1, b.scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      const uint8_t* q = b.qs + 32 * p;
      for (int l = 0; l < 32; ++l) {
        const int v = (q[l] & 0xF) + (((b.qh[l] >> (2 * p)) & 1) << 4);
        y[64 * p + l] = d1 * static_cast<float>(v) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        const int v = (q[l] >> 4) + (((b.qh[l] >> (2 * p + 1)) & 1) << 4);
        y[64 * p + 32 + l] = d2 * static_cast<float>(v) - m2;
      }
    }
  }
}

// --- Q6_K: x = d * sc * (q - 32), 16 sub-blocks of 16, q in [0, 63], sc signed 8-bit ---

void quantize_q6_k(const float* src, void* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const float* x = src + i * kQK_K;
    int8_t L[kQK_K];
    float scales[16];
    float max_scale = 0, max_abs_scale = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = search_scale_symmetric(16, 32, x + 16 * j, L + 16 * j);
      if (std::fabs(scales[j]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }

    BlockQ6_K b{};  // an all-zero super-block stays all zero bytes (d = 0)
    if (!(max_abs_scale < kGroupMaxEps)) {
      const float iscale = -128.f / max_scale;
      b.d = fp32_to_fp16(1 / iscale);
      for (int j = 0; j < 16; ++j)
        b.scales[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
      for (int j = 0; j < 16; ++j) {
        const float d = fp16_to_fp32(b.d) * static_cast<float>(b.scales[j]);
        if (d == 0.0f) continue;
        for (int l = 0; l < 16; ++l) {
          L[16 * j + l] =
              static_cast<int8_t>(std::clamp(nearest_int(x[16 * j + l] / d), -32, 31) + 32);
        }
      }
      for (int h = 0; h < 2; ++h) {
        const int8_t* Lh = L + 128 * h;
        for (int l = 0; l < 32; ++l) {
          b.ql[64 * h + l] = static_cast<uint8_t>((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
          b.ql[64 * h + l + 32] =
              static_cast<uint8_t>((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
          b.qh[32 * h + l] =
              static_cast<uint8_t>((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) |
                                   ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
        }
      }
    }
    store_block(dst, i, b);
  }
}

void dequantize_q6_k(const void* src, float* dst, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i) {
    const BlockQ6_K b = load_block<BlockQ6_K>(src, i);
    const float d = fp16_to_fp32(b.d);
    float* y = dst + i * kQK_K;
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = b.ql + 64 * h;
      const uint8_t* qh = b.qh + 32 * h;
      const int8_t* sc = b.scales + 8 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[128 * h + l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        y[128 * h + l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[128 * h + l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[128 * h + l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace flint::quant
