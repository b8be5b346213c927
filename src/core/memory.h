// What memory this machine can give: MemAvailable, and any cgroup limit (containers). Unified-
// memory machines freeze instead of swapping, so flint checks this before allocating.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"

namespace flint {

struct MemoryInfo {
  uint64_t total = 0;      // MemTotal
  uint64_t available = 0;  // MemAvailable, lowered to the cgroup's room when that is smaller
  std::optional<uint64_t> cgroup_limit;
};

Result<MemoryInfo> query_memory();

}  // namespace flint
