// The dynamic value of the template language, with @huggingface/jinja's runtime semantics:
// numbers are doubles (an "integer" is a double flagged as such, like IntegerValue), lists and
// dicts are shared by reference (so `a == b` on two dicts is identity, as in JavaScript), and
// dicts keep insertion order (tojson and items() iterate in that order).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <map>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace flint::jinja {

class Value;
struct List;
class Dict;
struct Function;
class Interpreter;
struct Env;
using EnvPtr = std::shared_ptr<Env>;
using Args = std::vector<Value>;

// A callable: a builtin, a bound method, a macro or a call block's caller().
// scope is the caller's environment (macros resolve free names there, as in the reference).
using NativeFn = std::function<Result<Value>(Interpreter&, const EnvPtr& scope, Args& args)>;

enum class Type : uint8_t {
  kUndefined,
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kList,
  kDict,
  kNamespace,
  kFunction,
};

class Value {
 public:
  Value() = default;  // undefined
  static Value none() { return Value(Type::kNone, {}); }
  static Value new_bool(bool b) { return Value(Type::kBool, b); }
  static Value new_int(double v) { return Value(Type::kInt, v); }
  static Value new_float(double v) { return Value(Type::kFloat, v); }
  static Value new_string(std::string s) {
    return Value(Type::kString, std::make_shared<const std::string>(std::move(s)));
  }
  static Value new_list(std::vector<Value> items, bool tuple = false);
  static Value new_dict(std::shared_ptr<Dict> d) { return Value(Type::kDict, std::move(d)); }
  static Value new_namespace(std::shared_ptr<Dict> d) { return Value(Type::kNamespace, std::move(d)); }
  static Value new_function(std::string name, NativeFn fn);

  Type type() const { return type_; }
  bool is(Type t) const { return type_ == t; }
  bool is_undefined() const { return type_ == Type::kUndefined; }
  bool is_none() const { return type_ == Type::kNone; }
  bool is_number() const { return type_ == Type::kInt || type_ == Type::kFloat; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_list() const { return type_ == Type::kList; }  // lists and tuples
  bool is_dict() const { return type_ == Type::kDict; }  // dicts and keyword arguments
  bool is_attribute_container() const { return is_dict() || type_ == Type::kNamespace; }
  bool is_kwargs() const;  // a dict of keyword arguments

  bool boolean() const { return std::get<bool>(data_); }
  double number() const { return std::get<double>(data_); }
  const std::string& str() const { return *std::get<StringPtr>(data_); }
  List& list() const { return *std::get<std::shared_ptr<List>>(data_); }
  const std::vector<Value>& items() const;  // a list's items
  Dict& dict() const { return *std::get<std::shared_ptr<Dict>>(data_); }
  const Function& function() const { return *std::get<std::shared_ptr<Function>>(data_); }
  // The shared object behind a list, dict, namespace or function (nullptr for the others).
  const void* identity() const;

  // The reference's type names ("IntegerValue", "TupleValue", ...), used in error messages.
  const char* type_name() const;
  // Python truthiness as the reference implements it (namespaces and functions are true).
  bool truthy() const;

 private:
  using StringPtr = std::shared_ptr<const std::string>;
  using Data = std::variant<std::monostate, bool, double, StringPtr, std::shared_ptr<List>,
                            std::shared_ptr<Dict>, std::shared_ptr<Function>>;
  Value(Type type, Data data) : type_(type), data_(std::move(data)) {}

  Type type_ = Type::kUndefined;
  Data data_;
};

struct List {
  std::vector<Value> items;
  bool tuple = false;  // a TupleValue: `(a, b)` or `a, b`
};

// An insertion-ordered string-keyed map (a JavaScript Map).
class Dict {
 public:
  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value value);
  bool erase(std::string_view key);
  void clear();
  size_t size() const { return entries_.size(); }
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }

  bool kwargs = false;  // a KeywordArgumentsValue: the keyword arguments of a call

 private:
  std::vector<std::pair<std::string, Value>> entries_;
  std::map<std::string, size_t, std::less<>> index_;
};

struct Function {
  std::string name;
  NativeFn fn;
};

inline const std::vector<Value>& Value::items() const { return list().items; }
inline bool Value::is_kwargs() const { return is_dict() && dict().kwargs; }

Value make_dict(std::vector<std::pair<std::string, Value>> entries);

// A JSON value as the reference sees it after JSON.parse: integral numbers are integers, and
// object keys that are array indices ("0", "1", ...) come first in ascending order, as in any
// JavaScript object.
Value from_json(const nlohmann::ordered_json& json);

// ---- conversions, with the reference's exact text -------------------------------------------

// How a value prints in {{ }} (RuntimeValue.toString()): 3.0 for a float 3, true/false, lists
// and dicts as JSON, "null"/"undefined" inside lists.
Result<std::string> to_output(const Value& v);
// JavaScript String(value.value), what `~`, `+` and join use: 3 for a float 3, a list joined with
// commas, "[object Map]" for a dict.
Result<std::string> raw_string(const Value& v);

struct JsonOptions {
  std::optional<double> indent;
  bool ensure_ascii = false;
  bool sort_keys = false;
  std::optional<std::pair<std::string, std::string>> separators;  // item, key
};
// The reference's tojson: Python json.dumps-like separators (", ", ": "; "," when indenting),
// non-ASCII kept as is, empty containers as [] and {}. undefined_as_null false prints
// "undefined" (the string filter and printing do that).
Result<std::string> to_json(const Value& v, const JsonOptions& options, bool undefined_as_null = true);

// `==` (JavaScript loose equality of the underlying values) and `in`'s strict equality.
bool loose_equals(const Value& a, const Value& b);
bool strict_equals(const Value& a, const Value& b);
// The reference's compareRuntimeValues for sort/dictsort: -1, 0 or 1; an error for mixed types.
Result<int> compare_values(const Value& a, const Value& b, bool case_sensitive);

}  // namespace flint::jinja
