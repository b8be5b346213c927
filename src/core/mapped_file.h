// MappedFile: a read-only memory mapping of a whole file, owned (RAII).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace flint {

class MappedFile {
 public:
  // Maps `path` read-only. An empty file maps to an empty span (no mapping is made).
  static Result<MappedFile> open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Bytes of the mapping the kernel maps with 2 MiB pages (Linux: FilePmdMapped in
  // /proc/self/smaps), or nullopt where that cannot be read. It depends on how the file came
  // into the page cache: read in cold, it is cached in 2 MiB folios and mapped with 2 MiB pages;
  // written (downloaded, copied, generated) and still cached, mostly in 4 KiB ones. A decode step
  // of a MoE file reads its routed experts 2-6% faster from the former.
  std::optional<uint64_t> huge_page_bytes() const;

 private:
  void release();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// The FilePmdMapped bytes of the mappings in `smaps` (the text of /proc/<pid>/smaps) that
// overlap [begin, end).
uint64_t smaps_pmd_bytes(std::string_view smaps, uintptr_t begin, uintptr_t end);

}  // namespace flint
