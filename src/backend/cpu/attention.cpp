#include "backend/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/half.h"

namespace flint::cpu {
namespace {

void store_row(DType type, uint8_t* dst, const float* src, int32_t n) {
  if (type == DType::F32) {
    std::copy(src, src + n, reinterpret_cast<float*>(dst));
  } else {
    auto* h = reinterpret_cast<uint16_t*>(dst);
    for (int32_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
  }
}

// dot(q, row) over head_dim values of a cached row (F16 or F32).
float dot_row(DType type, const uint8_t* row, const float* q, int32_t n) {
  float acc = 0.0f;
  if (type == DType::F32) {
    const auto* r = reinterpret_cast<const float*>(row);
    for (int32_t i = 0; i < n; ++i) acc += q[i] * r[i];
  } else {
    const auto* r = reinterpret_cast<const uint16_t*>(row);
    for (int32_t i = 0; i < n; ++i) acc += q[i] * fp16_to_fp32(r[i]);
  }
  return acc;
}

void axpy_row(DType type, const uint8_t* row, float a, float* y, int32_t n) {
  if (type == DType::F32) {
    const auto* r = reinterpret_cast<const float*>(row);
    for (int32_t i = 0; i < n; ++i) y[i] += a * r[i];
  } else {
    const auto* r = reinterpret_cast<const uint16_t*>(row);
    for (int32_t i = 0; i < n; ++i) y[i] += a * fp16_to_fp32(r[i]);
  }
}

}  // namespace

void kv_store(const PagedKvLayer& kv, std::span<const int32_t> block_table, int32_t pos0, int64_t n,
              const float* k, const float* v) {
  for (int64_t t = 0; t < n; ++t) {
    const int32_t pos = pos0 + static_cast<int32_t>(t);
    const int32_t block = block_table[static_cast<size_t>(pos / kv.block_size)];
    const int32_t slot = pos % kv.block_size;
    store_row(kv.type, kv.k_row(block, slot), k + t * kv.kv_dim, kv.kv_dim);
    store_row(kv.type, kv.v_row(block, slot), v + t * kv.kv_dim, kv.kv_dim);
  }
}

void attention(ThreadPool& pool, const PagedKvLayer& kv, std::span<const int32_t> block_table,
               const float* q, int32_t pos0, int64_t n, const AttentionShape& s, float* out) {
  const int32_t group = s.n_head / s.n_head_kv;
  const int64_t q_stride = static_cast<int64_t>(s.n_head) * s.head_dim;
  // One task per (token, head): its scores over positions 0 .. pos, then the weighted values.
  pool.parallel_for(n * s.n_head, 4, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / s.n_head;
      const int32_t h = static_cast<int32_t>(task % s.n_head);
      const int32_t pos = pos0 + static_cast<int32_t>(t);
      const int32_t kv_offset = (h / group) * s.head_dim;
      const float* qh = q + t * q_stride + static_cast<int64_t>(h) * s.head_dim;
      scores.resize(static_cast<size_t>(pos) + 1);
      for (int32_t j = 0; j <= pos; ++j) {
        const int32_t block = block_table[static_cast<size_t>(j / kv.block_size)];
        const uint8_t* krow = kv.k_row(block, j % kv.block_size) + kv_offset * kv.element_bytes();
        scores[static_cast<size_t>(j)] = dot_row(kv.type, krow, qh, s.head_dim) * s.scale;
      }
      const float mx = *std::max_element(scores.begin(), scores.end());
      double sum = 0.0;
      for (float& x : scores) {
        x = std::exp(x - mx);
        sum += x;
      }
      const float inv = static_cast<float>(1.0 / sum);
      float* oh = out + t * q_stride + static_cast<int64_t>(h) * s.head_dim;
      std::fill(oh, oh + s.head_dim, 0.0f);
      for (int32_t j = 0; j <= pos; ++j) {
        const int32_t block = block_table[static_cast<size_t>(j / kv.block_size)];
        const uint8_t* vrow = kv.v_row(block, j % kv.block_size) + kv_offset * kv.element_bytes();
        axpy_row(kv.type, vrow, scores[static_cast<size_t>(j)] * inv, oh, s.head_dim);
      }
    }
  });
}

}  // namespace flint::cpu
