#include "core/memory.h"

#include <fstream>
#include <sstream>

namespace flint {
namespace {

std::optional<uint64_t> read_number(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  if (!(in >> s) || s == "max") return std::nullopt;
  try {
    return std::stoull(s);
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

Result<MemoryInfo> query_memory() {
  std::ifstream in("/proc/meminfo");
  if (!in) return error("cannot read /proc/meminfo to check free memory");
  MemoryInfo m;
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb) {
    std::getline(in, unit);
    if (key == "MemTotal:") m.total = kb * 1024;
    if (key == "MemAvailable:") m.available = kb * 1024;
  }
  if (m.total == 0) return error("/proc/meminfo has no MemTotal");
  // cgroup v2, then v1.
  std::optional<uint64_t> limit = read_number("/sys/fs/cgroup/memory.max");
  std::optional<uint64_t> used = read_number("/sys/fs/cgroup/memory.current");
  if (!limit) {
    limit = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    used = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes");
  }
  if (limit && *limit < m.total) {
    m.cgroup_limit = limit;
    const uint64_t room = used && *used < *limit ? *limit - *used : 0;
    m.available = std::min(m.available, room);
  }
  return m;
}

}  // namespace flint
