#include "core/page_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace flint {

Result<PageMemory> PageMemory::allocate(uint64_t bytes) {
  if (bytes == 0) return error("cannot allocate an empty memory region");
  PageMemory m;
  void* p = ::mmap(nullptr, static_cast<size_t>(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return error("cannot allocate {} bytes: {}", bytes, std::strerror(errno));
  m.data_ = static_cast<uint8_t*>(p);
  m.size_ = static_cast<size_t>(bytes);
#ifdef MADV_HUGEPAGE
  // Advice only: where transparent huge pages are off (or the region is too small) the mapping
  // stays on 4 KiB pages and works the same.
  (void)::madvise(p, m.size_, MADV_HUGEPAGE);
#endif
  return m;
}

PageMemory::PageMemory(PageMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PageMemory& PageMemory::operator=(PageMemory&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

PageMemory::~PageMemory() { release(); }

void PageMemory::release() {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace flint
