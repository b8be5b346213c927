#include "runtime/kv_cache.h"

#include <utility>

namespace flint::runtime {

uint64_t KvCache::bytes_per_block(const KvCacheConfig& c) {
  const uint64_t element = c.type == DType::F16 ? 2 : 4;
  return static_cast<uint64_t>(c.n_layer) * 2 * c.block_size * c.kv_dim * element;
}

Result<KvCache> KvCache::create(const KvCacheConfig& config) {
  if (config.type != DType::F16 && config.type != DType::F32) {
    return error("KV cache type {} is not supported (f16 or f32)", dtype_name(config.type));
  }
  if (config.n_blocks <= 0 || config.block_size <= 0 || config.kv_dim <= 0 || config.n_layer <= 0) {
    return error("empty KV cache ({} blocks)", config.n_blocks);
  }
  if (config.head_dim <= 0 || config.kv_dim % config.head_dim != 0) {
    return error("KV cache: kv_dim {} is not a multiple of head_dim {}", config.kv_dim, config.head_dim);
  }
  KvCache c;
  c.config_ = config;
  const uint64_t block = bytes_per_block(config);
  const uint64_t total = block * static_cast<uint64_t>(config.n_blocks);
  auto memory = PageMemory::allocate(total);
  if (!memory) return memory.status().with_context("KV cache");
  c.memory_ = std::move(*memory);
  // Layer-major, and in a layer the keys of every block, then the values of every block: a
  // sequence's positions (blocks handed out in order) are one long run of keys and one of values
  // per layer, which a decode step's attention reads in order (keys then values, chunk by chunk).
  const uint64_t layer_keys = block / static_cast<uint64_t>(config.n_layer) / 2;
  const uint64_t keys_region = layer_keys * static_cast<uint64_t>(config.n_blocks);
  c.view_ = {.type = config.type, .base = c.memory_.data(), .block_stride = layer_keys,
             .layer_stride = 2 * keys_region, .values_offset = keys_region,
             .block_size = config.block_size, .kv_dim = config.kv_dim, .head_dim = config.head_dim};
  for (int32_t b = config.n_blocks - 1; b >= 0; --b) c.free_.push_back(b);
  return c;
}

bool KvCache::reserve(std::vector<int32_t>& table, int32_t n_positions) {
  const auto needed = static_cast<size_t>((n_positions + config_.block_size - 1) / config_.block_size);
  if (needed <= table.size()) return true;
  if (needed - table.size() > free_.size()) return false;
  while (table.size() < needed) {
    table.push_back(free_.back());
    free_.pop_back();
  }
  return true;
}

void KvCache::release(std::vector<int32_t>& table) {
  // Last block first, so the next table takes them back in the same order: a sequence's blocks
  // then lie in ascending order, and a chunk of them is one run read forwards (handed back in
  // reverse, attention at depth 4096 read the runs backwards, ~4% slower).
  for (auto b = table.rbegin(); b != table.rend(); ++b) free_.push_back(*b);
  table.clear();
}

}  // namespace flint::runtime
