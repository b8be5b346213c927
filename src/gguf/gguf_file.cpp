#include "gguf/gguf_file.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <numeric>
#include <utility>

namespace flint::gguf {

namespace {
constexpr int kMaxArrayNesting = 8;  // real files nest at most once; deeper is corruption
}  // namespace

// Reads the header with a bounds-checked cursor. Every error carries the file name and the byte
// offset where the bad field starts.
class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  Status parse(GgufFile& out, const OpenOptions& options);

 private:
  uint64_t remaining() const { return bytes_.size() - pos_; }

  template <typename... Args>
  Status fail_at(uint64_t offset, fmt::format_string<Args...> format, Args&&... args) const {
    return Status::error(fmt::format("{}: byte {}: {}", name_, offset,
                                     fmt::format(format, std::forward<Args>(args)...)));
  }

  Status need(uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      return fail_at(pos_, "{} needs {} bytes but the file ends at byte {} (truncated file?)", what,
                     n, bytes_.size());
    }
    return Status::ok();
  }

  template <typename T>
  Result<T> read(std::string_view what) {
    FLINT_RETURN_IF_ERROR(need(sizeof(T), what));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  Result<std::string> read_string(std::string_view what) {
    const uint64_t at = pos_;
    FLINT_ASSIGN_OR_RETURN(const uint64_t len, read<uint64_t>(what));
    if (len > remaining()) {
      return fail_at(at, "{} claims {} bytes but only {} remain in the file", what, len, remaining());
    }
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
    pos_ += len;
    return s;
  }

  Result<Value> read_value(ValueType type, const std::string& key, int depth);
  Result<Value> read_array(const std::string& key, int depth);
  Status read_tensor_info(GgufFile& out, uint64_t index);
  Status check_tensor_data(GgufFile& out, const OpenOptions& options);

  std::span<const uint8_t> bytes_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

Result<Value> Parser::read_value(ValueType type, const std::string& key, int depth) {
  const std::string what = fmt::format("value of '{}'", key);
  switch (type) {
    case ValueType::STRING: {
      FLINT_ASSIGN_OR_RETURN(std::string s, read_string(what));
      return Value::string(std::move(s));
    }
    case ValueType::ARRAY:
      return read_array(key, depth + 1);
    default: {
      FLINT_RETURN_IF_ERROR(need(value_type_size(type), what));
      const uint8_t* p = bytes_.data() + pos_;
      if (type == ValueType::BOOL && *p > 1) {
        return fail_at(pos_, "bool value of '{}' is {}, expected 0 or 1", key, *p);
      }
      pos_ += value_type_size(type);
      return Value::scalar_from_bytes(type, p);
    }
  }
  return Value();
}

Result<Value> Parser::read_array(const std::string& key, int depth) {
  const uint64_t at = pos_;
  if (depth > kMaxArrayNesting) {
    return fail_at(at, "array value of '{}' is nested more than {} deep", key, kMaxArrayNesting);
  }
  FLINT_ASSIGN_OR_RETURN(const uint32_t elem_id, read<uint32_t>("array element type"));
  if (!is_valid_value_type(elem_id)) {
    return fail_at(at, "array value of '{}' has element type {}, expected 0..12", key, elem_id);
  }
  const auto elem = static_cast<ValueType>(elem_id);
  FLINT_ASSIGN_OR_RETURN(const uint64_t count, read<uint64_t>("array length"));
  // Each element takes at least this many bytes, which bounds a plausible count before any
  // allocation (a corrupt count must not make us reserve terabytes).
  const uint64_t min_elem_bytes =
      elem == ValueType::STRING ? 8 : elem == ValueType::ARRAY ? 12 : value_type_size(elem);
  if (count > remaining() / min_elem_bytes) {
    return fail_at(at, "array value of '{}' claims {} elements of {} but only {} bytes remain", key,
                   count, value_type_name(elem), remaining());
  }
  if (elem == ValueType::STRING) {
    std::vector<std::string> items;
    items.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      FLINT_ASSIGN_OR_RETURN(std::string s,
                             read_string(fmt::format("element {} of '{}'", i, key)));
      items.push_back(std::move(s));
    }
    return Value::string_array(std::move(items));
  }
  if (elem == ValueType::ARRAY) {
    std::vector<Value> items;
    items.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      FLINT_ASSIGN_OR_RETURN(Value v, read_array(key, depth + 1));
      items.push_back(std::move(v));
    }
    return Value::nested_array(elem, std::move(items));
  }
  const uint64_t n_bytes = count * value_type_size(elem);  // bounded by remaining() above
  std::vector<uint8_t> raw(bytes_.data() + pos_, bytes_.data() + pos_ + n_bytes);
  if (elem == ValueType::BOOL) {
    for (uint64_t i = 0; i < count; ++i) {
      if (raw[i] > 1) return fail_at(pos_ + i, "bool element {} of '{}' is {}", i, key, raw[i]);
    }
  }
  pos_ += n_bytes;
  return Value::numeric_array(elem, count, std::move(raw));
}

Status Parser::read_tensor_info(GgufFile& out, uint64_t index) {
  const uint64_t at = pos_;
  TensorInfo t;
  FLINT_ASSIGN_OR_RETURN(t.name, read_string(fmt::format("name of tensor {}", index)));
  if (t.name.empty() || t.name.size() > kMaxTensorName) {
    return fail_at(at, "tensor {} has a name of {} bytes, expected 1..{}", index, t.name.size(),
                   kMaxTensorName);
  }
  if (out.tensor_index_.contains(t.name)) {
    return fail_at(at, "tensor name '{}' appears twice", t.name);
  }
  const uint64_t dims_at = pos_;
  FLINT_ASSIGN_OR_RETURN(const uint32_t n_dims, read<uint32_t>("tensor dimension count"));
  if (n_dims == 0 || n_dims > kMaxDims) {
    return fail_at(dims_at, "tensor '{}' has {} dimensions, expected 1..{}", t.name, n_dims,
                   kMaxDims);
  }
  t.n_elements = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    FLINT_ASSIGN_OR_RETURN(const uint64_t dim, read<uint64_t>("tensor dimension"));
    // ggml keeps sizes as int64 and byte counts as size_t: stay well inside both.
    if (dim > static_cast<uint64_t>(INT64_MAX) ||
        (dim != 0 && t.n_elements > static_cast<uint64_t>(INT64_MAX) / dim)) {
      return fail_at(pos_ - 8, "tensor '{}' dimension {} is {}: the element count overflows",
                     t.name, d, dim);
    }
    t.shape.push_back(dim);
    t.n_elements *= dim;
  }
  const uint64_t type_at = pos_;
  FLINT_ASSIGN_OR_RETURN(const uint32_t type_id, read<uint32_t>("tensor type"));
  const std::optional<DTypeInfo> info = dtype_info(type_id);
  if (!info) {
    return fail_at(type_at, "tensor '{}' has unknown type id {}, expected a ggml type", t.name,
                   type_id);
  }
  t.type = info->type;
  if (t.shape[0] % info->block_elems != 0) {
    return fail_at(dims_at, "tensor '{}' of type {} has rows of {} values, not a multiple of its "
                   "block size {}", t.name, info->name, t.shape[0], info->block_elems);
  }
  // n_elements <= INT64_MAX and block_bytes <= 292, so this cannot overflow 64 bits... unless the
  // element count is huge; check explicitly.
  const uint64_t n_blocks = t.n_elements / info->block_elems;
  if (n_blocks > UINT64_MAX / info->block_bytes) {
    return fail_at(dims_at, "tensor '{}' byte size overflows", t.name);
  }
  t.n_bytes = n_blocks * info->block_bytes;
  const uint64_t offset_at = pos_;
  FLINT_ASSIGN_OR_RETURN(t.offset, read<uint64_t>("tensor data offset"));
  if (t.offset % out.alignment_ != 0) {
    return fail_at(offset_at, "tensor '{}' data offset {} is not a multiple of the alignment {}",
                   t.name, t.offset, out.alignment_);
  }
  out.tensor_index_.emplace(t.name, out.tensors_.size());
  out.tensors_.push_back(std::move(t));
  return Status::ok();
}

Status Parser::check_tensor_data(GgufFile& out, const OpenOptions& options) {
  const uint64_t size = bytes_.size();
  const uint64_t available = out.data_offset_ <= size ? size - out.data_offset_ : 0;
  out.has_all_data_ = true;
  for (const TensorInfo& t : out.tensors_) {
    if (t.offset > available || t.n_bytes > available - t.offset) {
      out.has_all_data_ = false;
      if (options.require_data) {
        const uint64_t start = out.data_offset_ + t.offset;
        return Status::error(fmt::format(
            "{}: tensor '{}' needs bytes {}..{} but the file has {} bytes (truncated file?)",
            name_, t.name, start, start + t.n_bytes, size));
      }
    }
  }
  // Tensor data must not overlap: sort by offset and compare neighbours.
  std::vector<size_t> order(out.tensors_.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return out.tensors_[a].offset < out.tensors_[b].offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorInfo& a = out.tensors_[order[i - 1]];
    const TensorInfo& b = out.tensors_[order[i]];
    if (a.n_bytes > b.offset - a.offset) {
      return Status::error(fmt::format(
          "{}: tensor data overlaps: '{}' spans data bytes {}..{} but '{}' starts at {}", name_,
          a.name, a.offset, a.offset + a.n_bytes, b.name, b.offset));
    }
  }
  return Status::ok();
}

Status Parser::parse(GgufFile& out, const OpenOptions& options) {
  FLINT_ASSIGN_OR_RETURN(const uint32_t magic, read<uint32_t>("magic"));
  if (magic != kMagic) {
    return fail_at(0, "not a GGUF file: magic is {:#010x}, expected {:#010x} (\"GGUF\")", magic,
                   kMagic);
  }
  FLINT_ASSIGN_OR_RETURN(out.version_, read<uint32_t>("version"));
  if (out.version_ != 2 && out.version_ != 3) {
    return fail_at(4, "GGUF version {} is not supported, expected 2 or 3", out.version_);
  }
  FLINT_ASSIGN_OR_RETURN(const uint64_t n_tensors, read<uint64_t>("tensor count"));
  FLINT_ASSIGN_OR_RETURN(const uint64_t n_kv, read<uint64_t>("metadata count"));
  // Smallest records: a key/value is 8 (key length) + 4 (type) + 1; a tensor info 8 + 4 + 8 + 4 + 8.
  if (n_kv > remaining() / 13) {
    return fail_at(16, "metadata count {} cannot fit in the {} bytes that remain", n_kv,
                   remaining());
  }
  out.kvs_.reserve(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t at = pos_;
    FLINT_ASSIGN_OR_RETURN(std::string key, read_string(fmt::format("key of metadata entry {}", i)));
    if (key.empty()) return fail_at(at, "metadata entry {} has an empty key", i);
    if (out.kv_index_.contains(key)) return fail_at(at, "metadata key '{}' appears twice", key);
    const uint64_t type_at = pos_;
    FLINT_ASSIGN_OR_RETURN(const uint32_t type_id, read<uint32_t>("metadata value type"));
    if (!is_valid_value_type(type_id)) {
      return fail_at(type_at, "metadata key '{}' has value type {}, expected 0..12", key, type_id);
    }
    FLINT_ASSIGN_OR_RETURN(Value value, read_value(static_cast<ValueType>(type_id), key, 0));
    out.kv_index_.emplace(key, out.kvs_.size());
    out.kvs_.push_back({std::move(key), std::move(value)});
  }
  if (const Value* a = out.find("general.alignment")) {
    if (a->type() != ValueType::UINT32) {
      return Status::error(fmt::format("{}: metadata key 'general.alignment' has type {}, expected "
                                       "uint32", name_, value_type_name(a->type())));
    }
    const uint32_t alignment = *a->as<uint32_t>();
    if (alignment == 0 || !std::has_single_bit(alignment)) {
      return Status::error(fmt::format(
          "{}: general.alignment is {}, expected a power of two", name_, alignment));
    }
    out.alignment_ = alignment;
  }
  if (n_tensors > remaining() / 32) {
    return fail_at(pos_, "tensor count {} cannot fit in the {} bytes that remain", n_tensors,
                   remaining());
  }
  out.tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) FLINT_RETURN_IF_ERROR(read_tensor_info(out, i));
  out.header_size_ = pos_;
  out.data_offset_ = align_up(pos_, out.alignment_);  // pos_ <= file size, no overflow
  return check_tensor_data(out, options);
}

Result<GgufFile> GgufFile::parse(std::span<const uint8_t> bytes, std::string name,
                                 OpenOptions options) {
  GgufFile out;
  out.bytes_ = bytes;
  out.name_ = std::move(name);
  Parser parser(bytes, out.name_);
  FLINT_RETURN_IF_ERROR(parser.parse(out, options));
  return out;
}

Result<GgufFile> GgufFile::open(const std::string& path, OpenOptions options) {
  FLINT_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
  const std::span<const uint8_t> bytes = file.bytes();
  FLINT_ASSIGN_OR_RETURN(GgufFile out, parse(bytes, path, options));
  out.file_ = std::move(file);  // the mapping's address does not change on move
  return out;
}

const Value* GgufFile::find(std::string_view key) const {
  const auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

Result<std::string> GgufFile::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return error("{}: metadata key '{}' is missing", name_, key);
  if (v->type() != ValueType::STRING) {
    return error("{}: metadata key '{}' has type {}, expected string", name_, key,
                 value_type_name(v->type()));
  }
  return v->str();
}

Result<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return error("{}: metadata key '{}' is missing", name_, key);
  if (!v->is_array() || v->array_type() != ValueType::STRING) {
    return error("{}: metadata key '{}' has type {}, expected an array of strings", name_, key,
                 v->is_array() ? "array of " + std::string(value_type_name(v->array_type()))
                               : std::string(value_type_name(v->type())));
  }
  return v->strings();
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> GgufFile::tensor_data(const TensorInfo& t) const {
  const uint64_t size = bytes_.size();
  if (data_offset_ > size || t.offset > size - data_offset_ ||
      t.n_bytes > size - data_offset_ - t.offset) {
    return {};
  }
  return bytes_.subspan(data_offset_ + t.offset, t.n_bytes);
}

}  // namespace flint::gguf
