#include "gguf/value.h"

#include <array>

#include <fmt/format.h>

namespace flint::gguf {

namespace {
struct TypeRow {
  std::string_view name;
  uint32_t size;
};
constexpr std::array<TypeRow, 13> kValueTypes = {{
    {"uint8", 1},
    {"int8", 1},
    {"uint16", 2},
    {"int16", 2},
    {"uint32", 4},
    {"int32", 4},
    {"float32", 4},
    {"bool", 1},
    {"string", 0},
    {"array", 0},
    {"uint64", 8},
    {"int64", 8},
    {"float64", 8},
}};
}  // namespace

bool is_valid_value_type(uint32_t id) { return id < kValueTypes.size(); }

std::string_view value_type_name(ValueType type) {
  const auto id = static_cast<uint32_t>(type);
  return is_valid_value_type(id) ? kValueTypes[id].name : "unknown";
}

uint32_t value_type_size(ValueType type) {
  const auto id = static_cast<uint32_t>(type);
  return is_valid_value_type(id) ? kValueTypes[id].size : 0;
}

Value Value::string(std::string v) {
  Value out;
  out.type_ = ValueType::STRING;
  out.str_ = std::move(v);
  return out;
}

Value Value::scalar_from_bytes(ValueType type, const uint8_t* bytes) {
  FLINT_CHECK(value_type_size(type) != 0);
  Value out;
  out.type_ = type;
  out.raw_.assign(bytes, bytes + value_type_size(type));
  return out;
}

Value Value::numeric_array(ValueType elem, uint64_t count, std::vector<uint8_t> raw) {
  FLINT_CHECK(value_type_size(elem) != 0 && raw.size() == count * value_type_size(elem));
  Value out;
  out.type_ = ValueType::ARRAY;
  out.elem_ = elem;
  out.count_ = count;
  out.raw_ = std::move(raw);
  return out;
}

Value Value::string_array(std::vector<std::string> items) {
  Value out;
  out.type_ = ValueType::ARRAY;
  out.elem_ = ValueType::STRING;
  out.count_ = items.size();
  out.strings_ = std::move(items);
  return out;
}

Value Value::nested_array(ValueType elem, std::vector<Value> items) {
  Value out;
  out.type_ = ValueType::ARRAY;
  out.elem_ = elem;
  out.count_ = items.size();
  out.nested_ = std::move(items);
  return out;
}

Value::Number Value::number_at(ValueType type, const uint8_t* p) {
  const auto load = [p]<typename T>(T) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
  };
  Number n{Number::kUnsigned};
  switch (type) {
    case ValueType::UINT8: n.u = load(uint8_t{}); break;
    case ValueType::UINT16: n.u = load(uint16_t{}); break;
    case ValueType::UINT32: n.u = load(uint32_t{}); break;
    case ValueType::UINT64: n.u = load(uint64_t{}); break;
    case ValueType::INT8: n = {Number::kSigned, 0, load(int8_t{})}; break;
    case ValueType::INT16: n = {Number::kSigned, 0, load(int16_t{})}; break;
    case ValueType::INT32: n = {Number::kSigned, 0, load(int32_t{})}; break;
    case ValueType::INT64: n = {Number::kSigned, 0, load(int64_t{})}; break;
    case ValueType::FLOAT32: n = {Number::kFloat, 0, 0, load(float{})}; break;
    case ValueType::FLOAT64: n = {Number::kFloat, 0, 0, load(double{})}; break;
    case ValueType::BOOL: n = {Number::kBool, load(uint8_t{})}; break;
    case ValueType::STRING:
    case ValueType::ARRAY: FLINT_CHECK(false && "not a number");
  }
  return n;
}

std::string Value::to_display_string(size_t max_items) const {
  const auto number = [](ValueType type, const uint8_t* p) {
    const Number n = number_at(type, p);
    switch (n.kind) {
      case Number::kUnsigned: return fmt::format("{}", n.u);
      case Number::kSigned: return fmt::format("{}", n.i);
      case Number::kFloat: return fmt::format("{}", n.f);
      case Number::kBool: return std::string(n.u ? "true" : "false");
    }
    return std::string();
  };
  if (type_ == ValueType::STRING) return fmt::format("\"{}\"", str_);
  if (type_ != ValueType::ARRAY) return number(type_, raw_.data());
  std::string out = fmt::format("[{} x {}]", count_, value_type_name(elem_));
  if (elem_ == ValueType::ARRAY) return out;
  out += " [";
  for (uint64_t i = 0; i < count_ && i < max_items; ++i) {
    if (i) out += ", ";
    out += elem_ == ValueType::STRING ? fmt::format("\"{}\"", strings_[i])
                                      : number(elem_, raw_.data() + i * value_type_size(elem_));
  }
  if (count_ > max_items) out += ", ...";
  return out + "]";
}

}  // namespace flint::gguf
