// GgufWriter: writes a GGUF v3 file that llama.cpp reads, streaming tensor data.
//
// Use: add() metadata and add_tensor() declarations in the order they should appear, then
// write_header(), then write_tensor_data() with each tensor's bytes in declaration order (in as
// many pieces as convenient), then finish(). Only the header and one piece of tensor data are
// ever in memory. The file is written as PATH.partial and renamed to PATH by finish(), so an
// interrupted write never leaves a file that looks complete.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "gguf/gguf_file.h"
#include "gguf/value.h"

namespace flint::gguf {

class GgufWriter {
 public:
  static Result<GgufWriter> create(const std::string& path);
  GgufWriter(GgufWriter&&) noexcept = default;
  GgufWriter& operator=(GgufWriter&&) noexcept = default;
  ~GgufWriter();  // removes PATH.partial unless finish() succeeded

  // Metadata, in file order. general.alignment (uint32) sets the data alignment.
  Status add(std::string key, Value value);
  // Declares a tensor; its offset follows the previous one, aligned.
  Status add_tensor(std::string name, DType type, std::vector<uint64_t> shape);
  // Copies metadata and tensor declarations from an existing file (same order).
  Status add_all_from(const GgufFile& file);

  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  // Whether the header is padded to the alignment when the file has no tensors (older
  // tensor-less files, such as llama.cpp's vocab files, end right after the metadata).
  void set_pad_tensorless_header(bool pad) { pad_tensorless_header_ = pad; }

  Status write_header();
  // Appends bytes of the current tensor; a tensor is complete when all its n_bytes arrived.
  Status write_tensor_data(std::span<const uint8_t> bytes);
  Status finish();
  // Writes the header only and keeps the file as it is: what a partial download of the model
  // looks like (readers open it with require_data = false). For planning and tests.
  Status finish_header_only();

  uint64_t bytes_written() const { return written_; }

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  GgufWriter() = default;
  Status write_bytes(const void* data, size_t n);
  Status write_value(const Value& value);
  Status write_array_body(const Value& value);
  Status write_string(const std::string& s);
  Status pad_to_alignment();
  Status close_and_rename();  // flush, close, PATH.partial -> PATH

  std::string path_;
  std::string partial_path_;
  std::unique_ptr<std::FILE, FileCloser> file_;
  std::vector<KeyValue> kvs_;
  std::unordered_set<std::string> keys_;
  std::vector<TensorInfo> tensors_;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t next_offset_ = 0;
  bool pad_tensorless_header_ = true;
  bool header_written_ = false;
  bool finished_ = false;
  size_t current_ = 0;           // tensor being written
  uint64_t current_written_ = 0;  // bytes of it so far
  uint64_t written_ = 0;
};

}  // namespace flint::gguf
