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
  attention(pool, best_kernels(), kv, block_table, q, pos0, n, s, out);
}

void attention(ThreadPool& pool, const KernelSet& ks, const PagedKvLayer& kv,
               std::span<const int32_t> block_table, const float* q, int32_t pos0, int64_t n,
               const AttentionShape& s, float* out) {
  const int32_t group = s.n_head / s.n_head_kv;
  const int64_t q_stride = static_cast<int64_t>(s.n_head) * s.head_dim;
  const uint64_t eb = kv.element_bytes(), row_stride = static_cast<uint64_t>(kv.kv_dim) * eb;
  const bool f16 = kv.type == DType::F16;
  const auto dot_rows = f16 ? ks.dot_rows_f16 : ks.dot_rows_f32;
  const auto axpy = f16 ? ks.axpy_f16 : ks.axpy_f32;
  // One task per (token, KV head): the scores of its `group` query heads over positions 0 .. pos,
  // then the weighted values. Each cached block is read once for all heads of the group.
  pool.parallel_for(n * s.n_head_kv, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;  // [group][pos + 1]
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / s.n_head_kv;
      const int32_t g = static_cast<int32_t>(task % s.n_head_kv);
      const int32_t pos = pos0 + static_cast<int32_t>(t);
      const int64_t n_pos = pos + 1;
      const uint64_t kv_offset = static_cast<uint64_t>(g) * s.head_dim * eb;
      const float* qg = q + t * q_stride + static_cast<int64_t>(g) * group * s.head_dim;  // [group][head_dim]
      float* og = out + t * q_stride + static_cast<int64_t>(g) * group * s.head_dim;
      scores.resize(static_cast<size_t>(group * n_pos));
      for (int64_t j0 = 0; j0 < n_pos; j0 += kv.block_size) {
        const int32_t block = block_table[static_cast<size_t>(j0 / kv.block_size)];
        const int64_t nb = std::min<int64_t>(kv.block_size, n_pos - j0);
        const uint8_t* k0 = kv.k_row(block, 0) + kv_offset;
        for (int32_t h = 0; h < group; ++h) {
          dot_rows(qg + h * s.head_dim, k0, row_stride, nb, s.head_dim, s.scale,
                   scores.data() + h * n_pos + j0);
        }
      }
      std::fill(og, og + group * s.head_dim, 0.0f);
      for (int32_t h = 0; h < group; ++h) {
        float* sh = scores.data() + h * n_pos;
        const float mx = *std::max_element(sh, sh + n_pos);
        const float inv = 1.0f / ks.exp_shift(sh, n_pos, mx);
        for (int64_t j = 0; j < n_pos; ++j) sh[j] *= inv;
      }
      for (int64_t j0 = 0; j0 < n_pos; j0 += kv.block_size) {
        const int32_t block = block_table[static_cast<size_t>(j0 / kv.block_size)];
        const int64_t nb = std::min<int64_t>(kv.block_size, n_pos - j0);
        const uint8_t* v0 = kv.v_row(block, 0) + kv_offset;
        for (int64_t j = 0; j < nb; ++j) {
          for (int32_t h = 0; h < group; ++h) {
            axpy(scores[static_cast<size_t>(h * n_pos + j0 + j)], v0 + j * row_stride, s.head_dim,
                 og + h * s.head_dim);
          }
        }
      }
    }
  });
}

}  // namespace flint::cpu
