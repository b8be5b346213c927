// GGUF metadata values: the thirteen value types of the format, arrays included.
//
// A Value owns its data. Scalars and numeric arrays keep their little-endian bytes exactly as the
// file stores them (so a value read and written back is byte-identical); typed accessors convert
// with a type check.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/status.h"

namespace flint::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

// "uint32", "string", ...; "unknown" for an id outside the format.
std::string_view value_type_name(ValueType type);
bool is_valid_value_type(uint32_t id);
// Size in bytes of one element of a fixed-size type; 0 for STRING and ARRAY.
uint32_t value_type_size(ValueType type);

class Value {
 public:
  Value() = default;

  // Scalars.
  static Value u8(uint8_t v) { return scalar(ValueType::UINT8, v); }
  static Value i8(int8_t v) { return scalar(ValueType::INT8, v); }
  static Value u16(uint16_t v) { return scalar(ValueType::UINT16, v); }
  static Value i16(int16_t v) { return scalar(ValueType::INT16, v); }
  static Value u32(uint32_t v) { return scalar(ValueType::UINT32, v); }
  static Value i32(int32_t v) { return scalar(ValueType::INT32, v); }
  static Value u64(uint64_t v) { return scalar(ValueType::UINT64, v); }
  static Value i64(int64_t v) { return scalar(ValueType::INT64, v); }
  static Value f32(float v) { return scalar(ValueType::FLOAT32, v); }
  static Value f64(double v) { return scalar(ValueType::FLOAT64, v); }
  static Value boolean(bool v) { return scalar(ValueType::BOOL, static_cast<uint8_t>(v ? 1 : 0)); }
  static Value string(std::string v);
  // A scalar of fixed-size `type` from its little-endian bytes (value_type_size(type) of them).
  static Value scalar_from_bytes(ValueType type, const uint8_t* bytes);

  // Arrays: numeric from raw little-endian bytes (count * size of elem), strings, or nested.
  static Value numeric_array(ValueType elem, uint64_t count, std::vector<uint8_t> raw);
  static Value string_array(std::vector<std::string> items);
  static Value nested_array(ValueType elem, std::vector<Value> items);
  template <typename T>
  static Value array_of(ValueType elem, const std::vector<T>& items) {
    std::vector<uint8_t> raw(items.size() * sizeof(T));
    if (!raw.empty()) std::memcpy(raw.data(), items.data(), raw.size());
    return numeric_array(elem, items.size(), std::move(raw));
  }

  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::ARRAY; }
  ValueType array_type() const { return elem_; }
  uint64_t array_size() const { return count_; }

  // Scalars, with conversion: any integer type converts to T when the value fits; floats
  // convert to float/double; BOOL to bool. A mismatch is an error naming both types.
  template <typename T>
  Result<T> as() const;
  const std::string& str() const { return str_; }  // STRING (empty otherwise)

  // Arrays.
  const std::vector<std::string>& strings() const { return strings_; }  // ARRAY of STRING
  const std::vector<Value>& nested() const { return nested_; }           // ARRAY of ARRAY
  const std::vector<uint8_t>& raw() const { return raw_; }  // scalar or numeric array bytes
  // Numeric array elements converted to T (same rules as as<T>() per element).
  template <typename T>
  Result<std::vector<T>> array_as() const;

  // A short rendering for display: scalars in full, arrays as "[n x type]" with a preview.
  std::string to_display_string(size_t max_items = 4) const;

  bool operator==(const Value& other) const = default;

 private:
  template <typename T>
  static Value scalar(ValueType type, T v) {
    Value out;
    out.type_ = type;
    out.raw_.resize(sizeof(T));
    std::memcpy(out.raw_.data(), &v, sizeof(T));
    return out;
  }
  // Element i of a numeric array (or the scalar when i == 0), as the widest type of its kind.
  struct Number {
    enum Kind { kUnsigned, kSigned, kFloat, kBool } kind;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
  };
  static Number number_at(ValueType type, const uint8_t* p);
  template <typename T>
  static Result<T> convert(const Number& n, ValueType from);

  ValueType type_ = ValueType::UINT8;
  ValueType elem_ = ValueType::UINT8;  // element type of an ARRAY
  uint64_t count_ = 0;                 // element count of an ARRAY
  std::string str_;
  std::vector<uint8_t> raw_;
  std::vector<std::string> strings_;
  std::vector<Value> nested_;
};

template <typename T>
Result<T> Value::convert(const Number& n, ValueType from) {
  const auto mismatch = [&] {
    return error("has type {}, which does not convert to the expected {}", value_type_name(from),
                 std::is_same_v<T, bool>          ? "bool"
                 : std::is_floating_point_v<T>    ? "float"
                 : std::is_signed_v<T>            ? "signed integer"
                                                  : "unsigned integer");
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (n.kind != Number::kBool) return mismatch();
    return n.u != 0;
  } else if constexpr (std::is_floating_point_v<T>) {
    if (n.kind != Number::kFloat) return mismatch();
    return static_cast<T>(n.f);
  } else {
    static_assert(std::is_integral_v<T>);
    if (n.kind == Number::kUnsigned) {
      if (n.u > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return error("value {} does not fit the expected integer type", n.u);
      }
      return static_cast<T>(n.u);
    }
    if (n.kind == Number::kSigned) {
      if constexpr (std::is_unsigned_v<T>) {
        if (n.i < 0 || static_cast<uint64_t>(n.i) > std::numeric_limits<T>::max()) {
          return error("value {} does not fit the expected unsigned type", n.i);
        }
      } else {
        if (n.i < std::numeric_limits<T>::min() || n.i > std::numeric_limits<T>::max()) {
          return error("value {} does not fit the expected integer type", n.i);
        }
      }
      return static_cast<T>(n.i);
    }
    return mismatch();
  }
}

template <typename T>
Result<T> Value::as() const {
  if (type_ == ValueType::STRING || type_ == ValueType::ARRAY) {
    return error("has type {}, expected a number", value_type_name(type_));
  }
  return convert<T>(number_at(type_, raw_.data()), type_);
}

template <typename T>
Result<std::vector<T>> Value::array_as() const {
  if (type_ != ValueType::ARRAY || elem_ == ValueType::STRING || elem_ == ValueType::ARRAY) {
    return error("has type {}, expected an array of numbers",
                 type_ == ValueType::ARRAY ? "array of " + std::string(value_type_name(elem_))
                                           : std::string(value_type_name(type_)));
  }
  std::vector<T> out;
  out.reserve(count_);
  const uint32_t size = value_type_size(elem_);
  for (uint64_t i = 0; i < count_; ++i) {
    Result<T> v = convert<T>(number_at(elem_, raw_.data() + i * size), elem_);
    if (!v) return v.status().with_context(fmt::format("element {}", i));
    out.push_back(*v);
  }
  return out;
}

}  // namespace flint::gguf
