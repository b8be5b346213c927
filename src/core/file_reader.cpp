#include "core/file_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace flint {

Result<FileReader> FileReader::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error("cannot open {}: {}", path, std::strerror(errno));
  FileReader r;
  r.fd_ = fd;
  r.path_ = path;
  return r;
}

FileReader::FileReader(FileReader&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

FileReader& FileReader::operator=(FileReader&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

FileReader::~FileReader() { close(); }

void FileReader::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status FileReader::read_at(uint64_t offset, std::span<uint8_t> out) const {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return error("cannot read {} bytes of {} at offset {}: {}", out.size(), path_, offset, std::strerror(errno));
    }
    if (n == 0) {
      return error("{} ends at offset {}, inside the {} bytes read from offset {}", path_, offset + done, out.size(), offset);
    }
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace flint
