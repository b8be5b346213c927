// Causal self-attention over a paged KV cache.
//
// The cache is a pool of fixed-size blocks; a sequence owns a block table mapping its position p
// to block table[p / block_size], slot p % block_size. One layer's keys of a block are
// [n_head_kv][head_dim][block_size] (by column: value i of every slot's key side by side, so the
// scores of consecutive positions are the lanes of one vector) and its values
// [n_head_kv][block_size][head_dim] (by row, as the weighted sum reads them), values_offset bytes
// after the keys, stored as F16 or F32: a block's keys are contiguous, and so are its values, so
// attention streams them. The runtime keeps a layer's keys of every block in one region and its
// values in another (values_offset = the keys region), so a run of blocks handed out in order is
// one run of keys and one of values.
#pragma once

#include <cstdint>
#include <span>

#include "backend/cpu/kernels.h"
#include "core/dtype.h"
#include "core/thread_pool.h"

namespace flint::cpu {

// What shapes this attention's speed, for `flint probe`'s cache identity (planner/probe.h): a
// probe cached by a build whose attention differs from this is measured again.
inline constexpr const char* kAttentionKernels =
    "keys by column, a layer's keys and values each in one run, a kernel call per run of blocks, "
    "a deep cache asked for as a stream, chunks folded in groups of 8, softmax four rows at once";

struct PagedKvLayer {
  DType type = DType::F16;      // F16 or F32
  uint8_t* base = nullptr;      // this layer's K in block 0
  uint64_t block_stride = 0;    // bytes from one block's keys to the next's
  uint64_t values_offset = 0;   // bytes from a block's keys to its values (at least the keys' bytes)
  int32_t block_size = 16;      // tokens per block
  int32_t kv_dim = 0;           // n_head_kv * head_dim
  int32_t head_dim = 0;

  uint64_t element_bytes() const { return type == DType::F16 ? 2 : 4; }
  uint64_t row_bytes() const { return static_cast<uint64_t>(head_dim) * element_bytes(); }
  uint64_t column_bytes() const { return static_cast<uint64_t>(block_size) * element_bytes(); }
  // One block's keys of every KV head: the least values_offset can be.
  uint64_t keys_bytes() const { return static_cast<uint64_t>(block_size) * kv_dim * element_bytes(); }
  // KV head h's keys [head_dim][block_size] of a block.
  uint8_t* keys(int32_t block, int32_t h) const {
    return base + block * block_stride + static_cast<uint64_t>(h) * block_size * row_bytes();
  }
  // KV head h's values [block_size][head_dim] of a block.
  uint8_t* values(int32_t block, int32_t h) const {
    return keys(block, h) + values_offset;
  }
};

// Stores k, v: [n, kv_dim] for positions pos0 .. pos0 + n - 1 of the sequence.
void kv_store(const PagedKvLayer& kv, std::span<const int32_t> block_table, int32_t pos0, int64_t n,
              const float* k, const float* v);

struct AttentionShape {
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;
  float scale = 1.0f;  // 1 / sqrt(head_dim)
};

// out: [n, n_head * head_dim] = softmax(q k^T * scale, causal) v for the sequence's n tokens at
// positions pos0 .. pos0 + n - 1, whose keys/values (and all earlier ones) are in the cache.
// Query head h reads KV head h / (n_head / n_head_kv).
// The first form uses the best kernel family for this CPU.
void attention(ThreadPool& pool, const PagedKvLayer& kv, std::span<const int32_t> block_table,
               const float* q, int32_t pos0, int64_t n, const AttentionShape& shape, float* out);
void attention(ThreadPool& pool, const KernelSet& kernels, const PagedKvLayer& kv,
               std::span<const int32_t> block_table, const float* q, int32_t pos0, int64_t n,
               const AttentionShape& shape, float* out);

// The most scratch one attention call allocates (partial results per chunk of positions, and
// each worker's scores) is at most fixed + per_position * n_ctx.
struct AttentionScratch {
  uint64_t fixed = 0;
  uint64_t per_position = 0;
};
AttentionScratch attention_scratch_bytes(const AttentionShape& shape, int32_t block_size, int n_threads);

}  // namespace flint::cpu
