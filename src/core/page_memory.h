// PageMemory: an anonymous, zero-filled memory mapping, owned (RAII), for the large buffers that
// are read in long runs (the KV cache). The kernel is asked for transparent huge pages: a decode
// step at depth reads every cached position of every layer, and with 4 KiB pages each of those
// reads crosses pages the TLB no longer holds.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace flint {

class PageMemory {
 public:
  // Maps `bytes` (> 0) of zeroed memory; an error names the size when the system refuses.
  static Result<PageMemory> allocate(uint64_t bytes);

  PageMemory() = default;
  PageMemory(PageMemory&& other) noexcept;
  PageMemory& operator=(PageMemory&& other) noexcept;
  PageMemory(const PageMemory&) = delete;
  PageMemory& operator=(const PageMemory&) = delete;
  ~PageMemory();

  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace flint
