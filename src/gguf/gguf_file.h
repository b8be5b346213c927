// GgufFile: a GGUF v2/v3 file, memory-mapped and validated, with zero-copy tensor data.
//
// Layout (all little-endian):
//   "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv x (string key, u32 value type, value)
//   n_tensors x (string name, u32 n_dims, n_dims x u64 dim, u32 ggml type, u64 offset)
//   padding to general.alignment (default 32)
//   data section: each tensor at its offset (relative to the section start), aligned
// A string is a u64 byte length followed by the bytes (no terminator).
//
// open() checks every count, length and offset against the file size before using it, with
// overflow-safe arithmetic, so a truncated or corrupt file gives an error naming the file, the
// byte offset and what was expected, never an out-of-bounds read.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "core/status.h"
#include "gguf/value.h"

namespace flint::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr uint32_t kMaxDims = 4;         // ggml's GGML_MAX_DIMS
inline constexpr size_t kMaxTensorName = 63;    // ggml's GGML_MAX_NAME - 1 (the terminator)

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  DType type = DType::F32;
  // ggml order: shape[0] is the row length (contiguous), shape[1] the number of rows, ...
  std::vector<uint64_t> shape;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  uint64_t n_rows() const { return shape.empty() ? 0 : n_elements / shape[0]; }
};

struct OpenOptions {
  // When false, tensor data may lie beyond the end of the file (a header-only or partial
  // download): the header is still fully validated, tensor_data() returns empty spans.
  bool require_data = true;
};

class GgufFile {
 public:
  static Result<GgufFile> open(const std::string& path, OpenOptions options = {});
  // Parses bytes owned by the caller (they must outlive the GgufFile). `name` is for messages.
  static Result<GgufFile> parse(std::span<const uint8_t> bytes, std::string name,
                                OpenOptions options = {});

  const std::string& path() const { return name_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute start of the data section
  uint64_t header_size() const { return header_size_; }  // bytes up to the end of tensor infos
  uint64_t file_size() const { return bytes_.size(); }
  // Bytes of the file's mapping in 2 MiB pages (MappedFile::huge_page_bytes; 0 when parsed from
  // caller-owned bytes).
  std::optional<uint64_t> huge_page_bytes() const { return file_.huge_page_bytes(); }
  // Opened from a file (open()), not parsed from the caller's bytes: path() can be read.
  bool from_file() const { return file_.size() > 0; }
  bool has_all_data() const { return has_all_data_; }

  const std::vector<KeyValue>& metadata() const { return kvs_; }
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed metadata: an error names the file, the key, its type and the expected type.
  template <typename T>
  Result<T> get(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return error("{}: metadata key '{}' is missing", name_, key);
    Result<T> out = v->as<T>();
    if (!out) return out.status().with_context(fmt::format("{}: metadata key '{}'", name_, key));
    return out;
  }
  // Like get(), but a missing key gives `fallback` (a mistyped key is still an error).
  template <typename T>
  Result<T> get_or(std::string_view key, T fallback) const {
    return has(key) ? get<T>(key) : Result<T>(fallback);
  }
  Result<std::string> get_string(std::string_view key) const;
  Result<std::vector<std::string>> get_string_array(std::string_view key) const;
  template <typename T>
  Result<std::vector<T>> get_array(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return error("{}: metadata key '{}' is missing", name_, key);
    Result<std::vector<T>> out = v->array_as<T>();
    if (!out) return out.status().with_context(fmt::format("{}: metadata key '{}'", name_, key));
    return out;
  }

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  // The tensor's bytes inside the mapping (zero-copy); empty when the file lacks them.
  std::span<const uint8_t> tensor_data(const TensorInfo& tensor) const;

 private:
  friend class Parser;
  MappedFile file_;  // empty when parsed from caller-owned bytes
  std::span<const uint8_t> bytes_;
  std::string name_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  uint64_t header_size_ = 0;
  bool has_all_data_ = false;
  std::vector<KeyValue> kvs_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

// Overflow-safe helpers shared by the reader and writer.
inline uint64_t align_up(uint64_t x, uint64_t alignment) {
  return (x + alignment - 1) / alignment * alignment;
}

}  // namespace flint::gguf
