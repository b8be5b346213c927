#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace flint {

Result<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error("cannot open {}: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return error("cannot stat {}: {}", path, std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return error("{} is not a regular file", path);
  }
  MappedFile file;
  file.path_ = path;
  file.size_ = static_cast<size_t>(st.st_size);
  if (file.size_ > 0) {
    void* p = ::mmap(nullptr, file.size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      return error("cannot map {} ({} bytes): {}", path, file.size_, std::strerror(e));
    }
    file.data_ = static_cast<const uint8_t*>(p);
#ifdef MADV_HUGEPAGE
    // Advice only: where the kernel's readahead honours it for files, pages read in cold come in
    // 2 MiB folios and are mapped with 2 MiB pages (see huge_page_bytes). The 6.18 kernel flint
    // was measured on gives a cold read 2 MiB folios with or without it, and decode was no
    // faster with it there (bench/pair, the binaries before and after, 2 runs each).
    (void)::madvise(p, file.size_, MADV_HUGEPAGE);
#endif
  }
  ::close(fd);  // the mapping keeps the file alive
  return file;
}

std::optional<uint64_t> MappedFile::huge_page_bytes() const {
  if (data_ == nullptr) return 0;
  std::ifstream in("/proc/self/smaps");
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  const auto begin = reinterpret_cast<uintptr_t>(data_);
  return smaps_pmd_bytes(text.str(), begin, begin + size_);
}

uint64_t smaps_pmd_bytes(std::string_view smaps, uintptr_t begin, uintptr_t end) {
  auto hex = [](std::string_view s, uintptr_t* v) {
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *v, 16);
    return ec == std::errc{} && ptr == s.data() + s.size() && !s.empty();
  };
  uint64_t total = 0;
  bool inside = false;  // the current mapping overlaps [begin, end)
  while (!smaps.empty()) {
    const size_t eol = smaps.find('\n');
    const std::string_view line = smaps.substr(0, eol);
    smaps.remove_prefix(eol == std::string_view::npos ? smaps.size() : eol + 1);
    // A mapping's header: "start-end perms offset dev inode [path]"
    const size_t dash = line.find('-'), space = line.find(' ');
    uintptr_t lo = 0, hi = 0;
    if (dash != std::string_view::npos && space != std::string_view::npos && dash < space &&
        hex(line.substr(0, dash), &lo) && hex(line.substr(dash + 1, space - dash - 1), &hi)) {
      inside = lo < end && hi > begin;  // (a mapping ends on a page boundary, past a file's end)
      continue;
    }
    constexpr std::string_view kKey = "FilePmdMapped:";
    if (inside && line.starts_with(kKey)) {
      std::string_view v = line.substr(kKey.size());
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      uint64_t kb = 0;
      if (std::from_chars(v.data(), v.data() + v.size(), kb).ec == std::errc{}) total += kb * 1024;
    }
  }
  return total;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      path_(std::move(other.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
  }
  return *this;
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace flint
