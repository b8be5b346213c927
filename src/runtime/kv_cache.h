// The paged KV cache: a pool of fixed-size blocks and per-sequence block tables.
//
// Memory layout of the pool: [n_layer][K, V][n_blocks][n_head_kv][block_size x head_dim] (K by
// column, V by row: backend/cpu/attention.h), F16 or F32: block b is block_size positions in
// every layer's part (see model::KvCacheView), and a layer's keys of all blocks are contiguous,
// and so are its values, so attention over a sequence whose blocks came in order reads one run
// of keys and one of values per layer. The pool is one anonymous mapping, on huge pages where
// the system gives them. A sequence grows a block at a time; finished sequences give their
// blocks back (in an order that hands them out ascending again).
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/page_memory.h"
#include "core/status.h"
#include "model/transformer.h"

namespace flint::runtime {

struct KvCacheConfig {
  DType type = DType::F16;
  int32_t n_layer = 0;
  int32_t kv_dim = 0;  // n_head_kv * head_dim
  int32_t head_dim = 0;
  int32_t block_size = 16;
  int32_t n_blocks = 0;
};

class KvCache {
 public:
  static uint64_t bytes_per_block(const KvCacheConfig& c);
  static Result<KvCache> create(const KvCacheConfig& config);

  const model::KvCacheView& view() const { return view_; }
  int32_t block_size() const { return config_.block_size; }
  int32_t free_blocks() const { return static_cast<int32_t>(free_.size()); }
  int32_t total_blocks() const { return config_.n_blocks; }

  // Grows `table` until it covers n_positions; false (table unchanged) when the pool is empty.
  bool reserve(std::vector<int32_t>& table, int32_t n_positions);
  void release(std::vector<int32_t>& table);

 private:
  KvCacheConfig config_;
  PageMemory memory_;
  std::vector<int32_t> free_;
  model::KvCacheView view_;
};

}  // namespace flint::runtime
