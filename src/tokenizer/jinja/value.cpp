#include "tokenizer/jinja/value.h"

#include <algorithm>
#include <cmath>

#include "tokenizer/jinja/text.h"

namespace flint::jinja {

// ---- Dict ------------------------------------------------------------------------------------

const Value* Dict::find(std::string_view key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

void Dict::set(const std::string& key, Value value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(key, std::move(value));
}

bool Dict::erase(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(it->second));
  index_.clear();
  for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
  return true;
}

void Dict::clear() {
  entries_.clear();
  index_.clear();
}

// ---- Value -----------------------------------------------------------------------------------

Value Value::new_list(std::vector<Value> items, bool tuple) {
  auto l = std::make_shared<List>();
  l->items = std::move(items);
  l->tuple = tuple;
  return Value(Type::kList, std::move(l));
}

Value Value::new_function(std::string name, NativeFn fn) {
  return Value(Type::kFunction, std::make_shared<Function>(Function{std::move(name), std::move(fn)}));
}

const void* Value::identity() const {
  switch (type_) {
    case Type::kList: return &list();
    case Type::kDict:
    case Type::kNamespace: return &dict();
    case Type::kFunction: return &function();
    default: return nullptr;
  }
}

const char* Value::type_name() const {
  switch (type_) {
    case Type::kUndefined: return "UndefinedValue";
    case Type::kNone: return "NullValue";
    case Type::kBool: return "BooleanValue";
    case Type::kInt: return "IntegerValue";
    case Type::kFloat: return "FloatValue";
    case Type::kString: return "StringValue";
    case Type::kList: return list().tuple ? "TupleValue" : "ArrayValue";
    case Type::kDict: return dict().kwargs ? "KeywordArgumentsValue" : "ObjectValue";
    case Type::kNamespace: return "NamespaceValue";
    case Type::kFunction: return "FunctionValue";
  }
  return "?";
}

bool Value::truthy() const {
  switch (type_) {
    case Type::kUndefined:
    case Type::kNone: return false;
    case Type::kBool: return boolean();
    case Type::kInt:
    case Type::kFloat: return number() != 0 && !std::isnan(number());
    case Type::kString: return !str().empty();
    case Type::kList: return !items().empty();
    case Type::kDict: return dict().size() > 0;
    case Type::kNamespace:
    case Type::kFunction: return true;
  }
  return false;
}

Value make_dict(std::vector<std::pair<std::string, Value>> entries) {
  auto d = std::make_shared<Dict>();
  for (auto& [key, value] : entries) d->set(key, std::move(value));
  return Value::new_dict(std::move(d));
}

namespace {

// A canonical array index ("0", "17"; not "01", not 2^32 - 1 or more).
bool is_array_index(std::string_view key) {
  if (key.empty() || key.size() > 10) return false;
  if (key.size() > 1 && key[0] == '0') return false;
  double v = 0;
  for (char c : key) {
    if (!text::is_digit(c)) return false;
    v = v * 10 + (c - '0');
  }
  return v < 4294967295.0;
}

std::string float_string(double v) {
  if (v == 0 && std::signbit(v)) return "-0.0";
  if (std::isfinite(v) && std::fmod(v, 1.0) == 0 && std::fabs(v) < 1e21) {
    return fmt::format("{:.1f}", v);
  }
  return text::js_number(v);
}

// An approximation of String.prototype.localeCompare's root collation for sort_keys:
// punctuation < digits < letters, letters case-insensitively, then lowercase first.
int locale_compare(std::string_view a, std::string_view b) {
  auto rank = [](unsigned char c) {
    if (c >= '0' && c <= '9') return 1;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return 2;
    return 0;
  };
  auto lower = [](unsigned char c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; };
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (rank(x) != rank(y)) return rank(x) < rank(y) ? -1 : 1;
    if (lower(x) != lower(y)) return lower(x) < lower(y) ? -1 : 1;
  }
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return a[i] > b[i] ? -1 : 1;  // lowercase (larger code) first
  }
  return 0;
}

struct JsonWriter {
  const JsonOptions& options;
  bool undefined_as_null;
  std::string indent;  // empty: no indentation
  std::string item_sep, key_sep;

  Status write(const Value& v, int depth, std::string& out) {
    // Only a namespace assigned into itself nests this deep; the reference overflows its stack.
    if (depth > 512) return error("cannot convert to JSON: the value is nested too deeply (cyclic?)");
    switch (v.type()) {
      case Type::kUndefined: out += undefined_as_null ? "null" : "undefined"; return Status::ok();
      case Type::kNone: out += "null"; return Status::ok();
      case Type::kBool: out += v.boolean() ? "true" : "false"; return Status::ok();
      case Type::kInt:
      case Type::kFloat:
        out += std::isfinite(v.number()) ? text::js_number(v.number()) : "null";
        return Status::ok();
      case Type::kString: out += text::json_quote(v.str(), options.ensure_ascii); return Status::ok();
      case Type::kFunction: return error("Cannot convert to JSON: {}", v.type_name());
      default: break;
    }
    // The reference has no JSON form for tuples and keyword-argument dicts either.
    if ((v.is_list() && v.list().tuple) || v.is_kwargs()) {
      return error("Cannot convert to JSON: {}", v.type_name());
    }
    std::string base_pad = "\n";
    for (int i = 0; i < depth; ++i) base_pad += indent;
    std::string child_pad = base_pad + indent;
    if (v.is_list()) {
      const auto& items = v.items();
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += item_sep;
        if (!indent.empty()) out += child_pad;
        FLINT_RETURN_IF_ERROR(write(items[i], depth + 1, out));
      }
      if (!indent.empty() && !items.empty()) out += base_pad;
      out += ']';
      return Status::ok();
    }
    std::vector<const std::pair<std::string, Value>*> entries;
    for (const auto& entry : v.dict().entries()) entries.push_back(&entry);
    if (options.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(), [](const auto* x, const auto* y) {
        return locale_compare(x->first, y->first) < 0;
      });
    }
    out += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) out += item_sep;
      if (!indent.empty()) out += child_pad;
      out += text::json_quote(entries[i]->first, options.ensure_ascii);
      out += key_sep;
      FLINT_RETURN_IF_ERROR(write(entries[i]->second, depth + 1, out));
    }
    if (!indent.empty() && !entries.empty()) out += base_pad;
    out += '}';
    return Status::ok();
  }
};

// Loose equality works on primitives; objects convert the way JavaScript's ToPrimitive does.
struct Primitive {
  enum Kind { kNullish, kBool, kNumber, kString };
  Primitive(Kind k, double n = 0, std::string s = {}) : kind(k), number(n), str(std::move(s)) {}
  Kind kind;
  double number;
  std::string str;
};

std::optional<Primitive> to_primitive(const Value& v) {
  switch (v.type()) {
    case Type::kUndefined:
    case Type::kNone: return Primitive{Primitive::kNullish};
    case Type::kBool: return Primitive{Primitive::kBool, v.boolean() ? 1.0 : 0.0};
    case Type::kInt:
    case Type::kFloat: return Primitive{Primitive::kNumber, v.number()};
    case Type::kString: return Primitive{Primitive::kString, 0, v.str()};
    case Type::kFunction: return std::nullopt;
    default: {
      Result<std::string> s = raw_string(v);
      if (!s.is_ok()) return std::nullopt;
      return Primitive{Primitive::kString, 0, *s};
    }
  }
}

bool primitive_loose_equals(const Primitive& a, const Primitive& b) {
  if (a.kind == Primitive::kNullish || b.kind == Primitive::kNullish) return a.kind == b.kind;
  if (a.kind == Primitive::kString && b.kind == Primitive::kString) return a.str == b.str;
  auto as_number = [](const Primitive& p) {
    return p.kind == Primitive::kString ? text::string_to_number(p.str) : p.number;
  };
  return as_number(a) == as_number(b);
}

}  // namespace

Value from_json(const nlohmann::ordered_json& json) {
  using J = nlohmann::ordered_json::value_t;
  switch (json.type()) {
    case J::null: return Value::none();
    case J::boolean: return Value::new_bool(json.get<bool>());
    case J::number_integer: return Value::new_int(static_cast<double>(json.get<int64_t>()));
    case J::number_unsigned: return Value::new_int(static_cast<double>(json.get<uint64_t>()));
    case J::number_float: {
      double v = json.get<double>();
      bool integral = std::isfinite(v) && std::trunc(v) == v;
      return integral ? Value::new_int(v) : Value::new_float(v);
    }
    case J::string: return Value::new_string(json.get<std::string>());
    case J::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(from_json(item));
      return Value::new_list(std::move(items));
    }
    case J::object: {
      auto d = std::make_shared<Dict>();
      std::vector<std::pair<double, std::string>> indices;
      for (const auto& [key, value] : json.items()) {
        if (is_array_index(key)) indices.emplace_back(std::stod(key), key);
      }
      std::sort(indices.begin(), indices.end());
      for (const auto& [number, key] : indices) d->set(key, from_json(json.at(key)));
      for (const auto& [key, value] : json.items()) {
        if (!is_array_index(key)) d->set(key, from_json(value));
      }
      return Value::new_dict(std::move(d));
    }
    default: return Value();
  }
}

Result<std::string> to_output(const Value& v) {
  switch (v.type()) {
    case Type::kUndefined: return std::string("undefined");
    case Type::kNone: return std::string("null");
    case Type::kBool: return std::string(v.boolean() ? "true" : "false");
    case Type::kInt: return text::js_number(v.number());
    case Type::kFloat: return float_string(v.number());
    case Type::kString: return v.str();
    case Type::kFunction: return error("cannot print a function ({})", v.function().name);
    default: return to_json(v, JsonOptions{}, false);
  }
}

Result<std::string> raw_string(const Value& v) {
  switch (v.type()) {
    case Type::kInt:
    case Type::kFloat: return text::js_number(v.number());
    case Type::kList: {
      std::string out;
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (i > 0) out += ',';
        FLINT_ASSIGN_OR_RETURN(std::string item, to_output(v.items()[i]));
        out += item;
      }
      return out;
    }
    case Type::kDict:
    case Type::kNamespace: return std::string("[object Map]");
    default: return to_output(v);
  }
}

Result<std::string> to_json(const Value& v, const JsonOptions& options, bool undefined_as_null) {
  JsonWriter writer{options, undefined_as_null, "", ", ", ": "};
  if (options.indent && *options.indent != 0 && !std::isnan(*options.indent)) {
    if (*options.indent < 0) return error("Invalid count value: {}", text::js_number(*options.indent));
    writer.indent.assign(static_cast<size_t>(std::min(*options.indent, 1e6)), ' ');
    writer.item_sep.assign(1, ',');
  }
  if (options.separators) {
    writer.item_sep = options.separators->first;
    writer.key_sep = options.separators->second;
  }
  std::string out;
  FLINT_RETURN_IF_ERROR(writer.write(v, 0, out));
  return out;
}

bool loose_equals(const Value& a, const Value& b) {
  const void* ia = a.identity();
  const void* ib = b.identity();
  if (ia && ib) return ia == ib;
  std::optional<Primitive> pa = to_primitive(a), pb = to_primitive(b);
  if (!pa || !pb) return false;
  return primitive_loose_equals(*pa, *pb);
}

bool strict_equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.number() == b.number();
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Type::kUndefined:
    case Type::kNone: return true;
    case Type::kBool: return a.boolean() == b.boolean();
    case Type::kString: return a.str() == b.str();
    default: return a.identity() == b.identity();
  }
}

Result<int> compare_values(const Value& a, const Value& b, bool case_sensitive) {
  if (a.is_none() && b.is_none()) return 0;
  if (a.is_none() || b.is_none()) return error("Cannot compare {} with {}", a.type_name(), b.type_name());
  if (a.is_undefined() && b.is_undefined()) return 0;
  if (a.is_undefined() || b.is_undefined()) {
    return error("Cannot compare {} with {}", a.type_name(), b.type_name());
  }
  auto numeric = [](const Value& v) { return v.is_number() || v.is(Type::kBool); };
  auto as_number = [](const Value& v) {
    return v.is(Type::kBool) ? (v.boolean() ? 1.0 : 0.0) : v.number();
  };
  if (numeric(a) && numeric(b)) {
    double x = as_number(a), y = as_number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (std::string_view(a.type_name()) != b.type_name()) {
    return error("Cannot compare different types: {} and {}", a.type_name(), b.type_name());
  }
  if (!a.is_string()) return error("Cannot compare type: {}", a.type_name());
  std::string x = a.str(), y = b.str();
  if (!case_sensitive) {
    FLINT_ASSIGN_OR_RETURN(x, text::to_lower(x));
    FLINT_ASSIGN_OR_RETURN(y, text::to_lower(y));
  }
  return x < y ? -1 : x > y ? 1 : 0;
}

}  // namespace flint::jinja
