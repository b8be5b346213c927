#include "gguf/gguf_writer.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace flint::gguf {

Result<GgufWriter> GgufWriter::create(const std::string& path) {
  GgufWriter w;
  w.path_ = path;
  w.partial_path_ = path + ".partial";
  w.file_.reset(std::fopen(w.partial_path_.c_str(), "wb"));
  if (!w.file_) return error("cannot create {}: {}", w.partial_path_, std::strerror(errno));
  return w;
}

GgufWriter::~GgufWriter() {
  if (file_ && !finished_) {
    file_.reset();
    std::error_code ec;
    std::filesystem::remove(partial_path_, ec);
  }
}

Status GgufWriter::add(std::string key, Value value) {
  if (header_written_) return error("{}: metadata '{}' added after the header", path_, key);
  if (key.empty()) return error("{}: empty metadata key", path_);
  if (!keys_.insert(key).second) return error("{}: metadata key '{}' added twice", path_, key);
  if (key == "general.alignment") {
    if (value.type() != ValueType::UINT32) {
      return error("{}: general.alignment must be uint32", path_);
    }
    const uint32_t a = *value.as<uint32_t>();
    if (a == 0 || (a & (a - 1)) != 0) return error("{}: alignment {} is not a power of two", path_, a);
    if (!tensors_.empty()) return error("{}: general.alignment set after tensors", path_);
    alignment_ = a;
  }
  kvs_.push_back({std::move(key), std::move(value)});
  return Status::ok();
}

Status GgufWriter::add_tensor(std::string name, DType type, std::vector<uint64_t> shape) {
  if (header_written_) return error("{}: tensor '{}' added after the header", path_, name);
  if (name.empty() || name.size() > kMaxTensorName) {
    return error("{}: tensor name '{}' must be 1..{} bytes", path_, name, kMaxTensorName);
  }
  for (const TensorInfo& t : tensors_) {
    if (t.name == name) return error("{}: tensor '{}' added twice", path_, name);
  }
  if (shape.empty() || shape.size() > kMaxDims) {
    return error("{}: tensor '{}' has {} dimensions, expected 1..{}", path_, name, shape.size(),
                 kMaxDims);
  }
  TensorInfo t;
  t.name = std::move(name);
  t.type = type;
  t.n_elements = 1;
  for (uint64_t d : shape) t.n_elements *= d;
  t.shape = std::move(shape);
  const std::optional<uint64_t> row = dtype_row_bytes(type, t.shape[0]);
  if (!row) {
    return error("{}: tensor '{}': rows of {} values are not a multiple of the {} block size {}",
                 path_, t.name, t.shape[0], dtype_name(type), dtype_info(type).block_elems);
  }
  t.n_bytes = *row * t.n_rows();
  t.offset = next_offset_;
  next_offset_ = align_up(t.offset + t.n_bytes, alignment_);
  tensors_.push_back(std::move(t));
  return Status::ok();
}

Status GgufWriter::add_all_from(const GgufFile& file) {
  for (const KeyValue& kv : file.metadata()) FLINT_RETURN_IF_ERROR(add(kv.key, kv.value));
  for (const TensorInfo& t : file.tensors()) FLINT_RETURN_IF_ERROR(add_tensor(t.name, t.type, t.shape));
  if (file.tensors().empty()) set_pad_tensorless_header(file.file_size() > file.header_size());
  return Status::ok();
}

Status GgufWriter::write_bytes(const void* data, size_t n) {
  if (n != 0 && std::fwrite(data, 1, n, file_.get()) != n) {
    return error("writing {}: {}", partial_path_, std::strerror(errno));
  }
  written_ += n;
  return Status::ok();
}

Status GgufWriter::write_string(const std::string& s) {
  const uint64_t len = s.size();
  FLINT_RETURN_IF_ERROR(write_bytes(&len, sizeof(len)));
  return write_bytes(s.data(), s.size());
}

Status GgufWriter::write_array_body(const Value& value) {
  const auto elem = static_cast<uint32_t>(value.array_type());
  const uint64_t count = value.array_size();
  FLINT_RETURN_IF_ERROR(write_bytes(&elem, sizeof(elem)));
  FLINT_RETURN_IF_ERROR(write_bytes(&count, sizeof(count)));
  if (value.array_type() == ValueType::STRING) {
    for (const std::string& s : value.strings()) FLINT_RETURN_IF_ERROR(write_string(s));
  } else if (value.array_type() == ValueType::ARRAY) {
    for (const Value& v : value.nested()) FLINT_RETURN_IF_ERROR(write_array_body(v));
  } else {
    FLINT_RETURN_IF_ERROR(write_bytes(value.raw().data(), value.raw().size()));
  }
  return Status::ok();
}

Status GgufWriter::write_value(const Value& value) {
  const auto type = static_cast<uint32_t>(value.type());
  FLINT_RETURN_IF_ERROR(write_bytes(&type, sizeof(type)));
  if (value.type() == ValueType::STRING) return write_string(value.str());
  if (value.type() == ValueType::ARRAY) return write_array_body(value);
  return write_bytes(value.raw().data(), value.raw().size());
}

Status GgufWriter::pad_to_alignment() {
  static constexpr uint8_t kZeros[256] = {};
  uint64_t pad = align_up(written_, alignment_) - written_;
  while (pad > 0) {
    const size_t n = std::min<uint64_t>(pad, sizeof(kZeros));
    FLINT_RETURN_IF_ERROR(write_bytes(kZeros, n));
    pad -= n;
  }
  return Status::ok();
}

Status GgufWriter::write_header() {
  if (header_written_) return error("{}: header written twice", path_);
  header_written_ = true;
  const uint32_t magic = kMagic, version = 3;
  const uint64_t n_tensors = tensors_.size(), n_kv = kvs_.size();
  FLINT_RETURN_IF_ERROR(write_bytes(&magic, 4));
  FLINT_RETURN_IF_ERROR(write_bytes(&version, 4));
  FLINT_RETURN_IF_ERROR(write_bytes(&n_tensors, 8));
  FLINT_RETURN_IF_ERROR(write_bytes(&n_kv, 8));
  for (const KeyValue& kv : kvs_) {
    FLINT_RETURN_IF_ERROR(write_string(kv.key));
    FLINT_RETURN_IF_ERROR(write_value(kv.value));
  }
  for (const TensorInfo& t : tensors_) {
    FLINT_RETURN_IF_ERROR(write_string(t.name));
    const auto n_dims = static_cast<uint32_t>(t.shape.size());
    const auto type = static_cast<uint32_t>(t.type);
    FLINT_RETURN_IF_ERROR(write_bytes(&n_dims, 4));
    FLINT_RETURN_IF_ERROR(write_bytes(t.shape.data(), t.shape.size() * 8));
    FLINT_RETURN_IF_ERROR(write_bytes(&type, 4));
    FLINT_RETURN_IF_ERROR(write_bytes(&t.offset, 8));
  }
  if (tensors_.empty() && !pad_tensorless_header_) return Status::ok();
  return pad_to_alignment();
}

Status GgufWriter::write_tensor_data(std::span<const uint8_t> bytes) {
  if (!header_written_) return error("{}: tensor data written before the header", path_);
  while (!bytes.empty()) {
    if (current_ >= tensors_.size()) {
      return error("{}: {} bytes of tensor data beyond the last tensor", path_, bytes.size());
    }
    const TensorInfo& t = tensors_[current_];
    const uint64_t n = std::min<uint64_t>(bytes.size(), t.n_bytes - current_written_);
    FLINT_RETURN_IF_ERROR(write_bytes(bytes.data(), n));
    bytes = bytes.subspan(n);
    current_written_ += n;
    if (current_written_ == t.n_bytes) {
      FLINT_RETURN_IF_ERROR(pad_to_alignment());
      ++current_;
      current_written_ = 0;
    }
  }
  // Zero-byte tensors complete without data.
  while (current_ < tensors_.size() && tensors_[current_].n_bytes == 0) ++current_;
  return Status::ok();
}

Status GgufWriter::finish() {
  if (!header_written_) FLINT_RETURN_IF_ERROR(write_header());
  FLINT_RETURN_IF_ERROR(write_tensor_data({}));
  if (current_ != tensors_.size()) {
    return error("{}: tensor '{}' got {} of its {} bytes", path_, tensors_[current_].name,
                 current_written_, tensors_[current_].n_bytes);
  }
  return close_and_rename();
}

Status GgufWriter::finish_header_only() {
  if (!header_written_) FLINT_RETURN_IF_ERROR(write_header());
  return close_and_rename();
}

Status GgufWriter::close_and_rename() {
  if (std::fflush(file_.get()) != 0) return error("writing {}: {}", partial_path_, std::strerror(errno));
  file_.reset();
  std::error_code ec;
  std::filesystem::rename(partial_path_, path_, ec);
  if (ec) return error("cannot rename {} to {}: {}", partial_path_, path_, ec.message());
  finished_ = true;
  return Status::ok();
}

}  // namespace flint::gguf
