#include "backend/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/activation.h"
#include "backend/cpu/repack.h"
#include "quant/quant.h"

namespace flint::cpu {

void rms_norm(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    // The squares in double (exact), summed over eight interleaved partial sums: one running sum
    // is a chain of dependent adds (4 cycles each), which made the norms ~2% of a qwen3-moe-mini
    // decode step. Rounding differs from a single sum by parts in 1e16, far below float's.
    double part[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      for (int j = 0; j < 8; ++j) part[j] += static_cast<double>(xr[i + j]) * xr[i + j];
    }
    for (; i < n; ++i) part[i % 8] += static_cast<double>(xr[i]) * xr[i];
    const double sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
    const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps);
    for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale * w[i];
  }
}

void matmul_reference(ThreadPool& pool, const WeightMatrix& w, const float* x_in, float* y,
                      int64_t n_tokens) {
  const int64_t k = w.n_in;
  // Sum granularity: the weight's block (32 or 256 values); plain float types in 32s.
  const int64_t block = std::max<int64_t>(32, dtype_info(w.type).block_elems);
  // The activations as llama.cpp's matmul sees them (rounded to the weight type's partner).
  std::vector<float> rounded;
  const float* x = x_in;
  if (rounds_activations(w.type)) {
    rounded.resize(static_cast<size_t>(n_tokens * k));
    for (int64_t t = 0; t < n_tokens; ++t) round_activations(w.type, x_in + t * k, rounded.data() + t * k, k);
    x = rounded.data();
  }
  // Output rows are split into chunks; each chunk dequantizes its rows once and uses them for
  // every token, so the weights are read once per call whatever the token count.
  const int64_t grain = std::max<int64_t>(1, std::min<int64_t>(64, w.n_out / (4 * pool.size()) + 1));
  pool.parallel_for(w.n_out, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(k));
    std::vector<uint8_t> packed(w.layout == Layout::kRows ? 0 : w.row_bytes);
    for (int64_t r = begin; r < end; ++r) {
      const float* wr;
      const uint8_t* bytes = file_row(w, r, packed.data());
      if (w.type == DType::F32) {
        wr = reinterpret_cast<const float*>(bytes);
      } else {
        Status s = quant::dequantize_row(w.type, bytes, row.data(), k);
        FLINT_CHECK(s.is_ok());  // types are checked when weights are bound
        wr = row.data();
      }
      for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xt = x + t * k;
        // Like ggml's quantized dot products: exact within a weight block (the products of
        // two block-scaled values sum exactly in double), one rounding per block, blocks summed
        // in float.
        float acc = 0.0f;
        for (int64_t b = 0; b < k; b += block) {
          double block_sum = 0.0;
          const int64_t e = std::min(k, b + block);
          for (int64_t i = b; i < e; ++i) block_sum += static_cast<double>(wr[i]) * xt[i];
          acc += static_cast<float>(block_sum);
        }
        y[t * w.n_out + r] = acc;
      }
    }
  });
}

Status get_rows(const WeightMatrix& w, std::span<const int32_t> ids, float* out) {
  std::vector<uint8_t> packed(w.layout == Layout::kRows ? 0 : w.row_bytes);
  for (size_t t = 0; t < ids.size(); ++t) {
    const int32_t id = ids[t];
    if (id < 0 || id >= w.n_out) {
      return error("token id {} at position {} is outside the vocabulary (0..{})", id, t, w.n_out - 1);
    }
    FLINT_RETURN_IF_ERROR(quant::dequantize_row(w.type, file_row(w, id, packed.data()), out + t * w.n_in, w.n_in));
  }
  return Status::ok();
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int32_t pos, const RopeParams& p) {
  const int half = p.n_rot / 2;
  // theta_i = pos * base^(-2i / n_rot) (divided by the frequency factor when present), built up
  // by repeated multiplication in float as ggml does, so positions agree to the last bit.
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
  float theta_i = static_cast<float>(pos);
  for (int i = 0; i < half; ++i, theta_i *= theta_scale) {
    const float theta = p.freq_scale * (p.freq_factors ? theta_i / p.freq_factors[i] : theta_i);
    const float c = std::cos(theta), s = std::sin(theta);
    for (int64_t h = 0; h < n_heads; ++h) {
      float* xh = x + h * head_dim;
      const int a = p.neox ? i : 2 * i;
      const int b = p.neox ? i + half : 2 * i + 1;
      const float x0 = xh[a], x1 = xh[b];
      xh[a] = x0 * c - x1 * s;
      xh[b] = x0 * s + x1 * c;
    }
  }
}

void silu_mul(ThreadPool& pool, float* gate, const float* up, int64_t n) {
  const KernelSet& ks = best_kernels();
  constexpr int64_t kChunk = 16384;
  if (n <= kChunk) {
    ks.silu_mul(gate, up, n);
    return;
  }
  pool.parallel_for((n + kChunk - 1) / kChunk, 1, [&](int64_t begin, int64_t end) {
    const int64_t lo = begin * kChunk, hi = std::min(n, end * kChunk);
    ks.silu_mul(gate + lo, up + lo, hi - lo);
  });
}

void softmax(float* x, int64_t n) {
  if (n == 0) return;
  const float mx = *std::max_element(x, x + n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace flint::cpu
