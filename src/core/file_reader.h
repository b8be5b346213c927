// FileReader: a file opened for reading at offsets (pread), owned (RAII). For bytes flint copies
// out of a file rather than maps: read this way they never become pages of the process's
// mapping, which would then hold them a second time.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/status.h"

namespace flint {

class FileReader {
 public:
  static Result<FileReader> open(const std::string& path);

  FileReader() = default;
  FileReader(FileReader&& other) noexcept;
  FileReader& operator=(FileReader&& other) noexcept;
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  ~FileReader();

  // Fills `out` with the file's bytes from `offset`; an error (naming the file and the range)
  // when the file ends first or the read fails. Safe to call from several threads at once.
  Status read_at(uint64_t offset, std::span<uint8_t> out) const;
  const std::string& path() const { return path_; }

 private:
  void close();
  int fd_ = -1;
  std::string path_;
};

}  // namespace flint
