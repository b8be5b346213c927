// Expression evaluation: the Interpreter's eval_* members (statements are in interpreter.cpp).
#include <algorithm>
#include <cmath>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/text.h"

namespace flint::jinja {

// ---- expressions -----------------------------------------------------------------------------

Result<Value> Interpreter::eval(const Node& node, const EnvPtr& env) {
  Result<Value> result = eval_impl(node, env);
  if (result.is_ok() && result->is_string()) {
    Status size = check_size(result->str().size());
    if (!size.is_ok()) return locate(node.pos, size);
  }
  if (!result.is_ok()) return locate(node.pos, result.status());
  return result;
}

Result<Value> Interpreter::eval_impl(const Node& node, const EnvPtr& env) {
  switch (node.kind) {
    case NodeKind::kInteger: return Value::new_int(node.number);
    case NodeKind::kFloat: return Value::new_float(node.number);
    case NodeKind::kString: return Value::new_string(node.text);
    case NodeKind::kIdentifier: {
      const Value* v = env->lookup(node.text);
      return v ? *v : Value();
    }
    case NodeKind::kList:
    case NodeKind::kTuple: {
      std::vector<Value> items;
      for (const NodePtr& item : node.items) {
        FLINT_ASSIGN_OR_RETURN(Value v, eval(*item, env));
        items.push_back(std::move(v));
      }
      return Value::new_list(std::move(items), node.kind == NodeKind::kTuple);
    }
    case NodeKind::kDict: {
      auto d = std::make_shared<Dict>();
      for (size_t i = 0; i + 1 < node.items.size(); i += 2) {
        FLINT_ASSIGN_OR_RETURN(Value key, eval(*node.items[i], env));
        if (!key.is_string()) return error("Object keys must be strings: got {}", key.type_name());
        FLINT_ASSIGN_OR_RETURN(Value value, eval(*node.items[i + 1], env));
        d->set(key.str(), std::move(value));
      }
      return Value::new_dict(std::move(d));
    }
    case NodeKind::kMember: return eval_member(node, env);
    case NodeKind::kCall: return eval_call(node, env);
    case NodeKind::kUnary: return eval_unary(node, env);
    case NodeKind::kBinary: return eval_binary(node, env);
    case NodeKind::kFilter: {
      FLINT_ASSIGN_OR_RETURN(Value operand, eval(*node.a, env));
      return apply_filter(operand, *node.b, env);
    }
    case NodeKind::kTest: {
      FLINT_ASSIGN_OR_RETURN(Value operand, eval(*node.a, env));
      std::optional<Result<bool>> result = builtins::test(node.text, operand);
      if (!result) return error("Unknown test: {}", node.text);
      FLINT_ASSIGN_OR_RETURN(bool b, std::move(*result));
      return Value::new_bool(node.flag ? !b : b);
    }
    case NodeKind::kSelect: {
      FLINT_ASSIGN_OR_RETURN(Value test, eval(*node.b, env));
      if (!test.truthy()) return Value();
      return eval(*node.a, env);
    }
    case NodeKind::kTernary: {
      FLINT_ASSIGN_OR_RETURN(Value test, eval(*node.a, env));
      return eval(test.truthy() ? *node.b : *node.c, env);
    }
    default:
      return error("unexpected syntax in an expression");
  }
}

Result<Value> Interpreter::eval_unary(const Node& node, const EnvPtr& env) {
  FLINT_ASSIGN_OR_RETURN(Value v, eval(*node.a, env));
  if (node.text == "not") return Value::new_bool(!v.truthy());
  if (v.is_number() || v.is(Type::kBool)) {
    double x = v.is(Type::kBool) ? (v.boolean() ? 1 : 0) : v.number();
    double result = node.text == "-" ? -x : x;
    return v.is(Type::kFloat) ? Value::new_float(result) : Value::new_int(result);
  }
  return error("Unknown operator \"{}\" for {}", node.text, v.type_name());
}

Result<Value> Interpreter::eval_binary(const Node& node, const EnvPtr& env) {
  const std::string& op = node.text;
  FLINT_ASSIGN_OR_RETURN(Value left, eval(*node.a, env));
  if (op == "and") return left.truthy() ? eval(*node.b, env) : Result<Value>(left);
  if (op == "or") return left.truthy() ? Result<Value>(left) : eval(*node.b, env);
  FLINT_ASSIGN_OR_RETURN(Value right, eval(*node.b, env));
  if (op == "==") return Value::new_bool(loose_equals(left, right));
  if (op == "!=") return Value::new_bool(!loose_equals(left, right));
  bool membership = op == "in" || op == "not in";

  if (left.is_undefined() || right.is_undefined()) {
    if (right.is_undefined() && membership) return Value::new_bool(op == "not in");
    return error("Cannot perform operation {} on undefined values", op);
  }
  if (left.is_none() || right.is_none()) return error("Cannot perform operation on null values");
  if (op == "~") {
    FLINT_ASSIGN_OR_RETURN(std::string a, raw_string(left));
    FLINT_ASSIGN_OR_RETURN(std::string b, raw_string(right));
    return Value::new_string(a + b);
  }
  auto numeric_like = [](const Value& v) { return v.is_number() || v.is(Type::kBool); };
  auto as_number = [](const Value& v) {
    return v.is(Type::kBool) ? (v.boolean() ? 1.0 : 0.0) : v.number();
  };
  if (op == "**" && numeric_like(left) && numeric_like(right)) {
    double a = as_number(left), b = as_number(right);
    if (a == 0 && b < 0) return error("0.0 cannot be raised to a negative power");
    double result = std::pow(a, b);
    if (!std::isfinite(result)) return error("Exponentiation result is not a finite real number");
    bool is_float = left.is(Type::kFloat) || right.is(Type::kFloat) || b < 0;
    return is_float ? Value::new_float(result) : Value::new_int(result);
  }
  if (left.is_number() && right.is_number()) {
    double a = left.number(), b = right.number();
    bool is_float = left.is(Type::kFloat) || right.is(Type::kFloat);
    auto number = [&](double v) { return is_float ? Value::new_float(v) : Value::new_int(v); };
    if (op == "+") return number(a + b);
    if (op == "-") return number(a - b);
    if (op == "*") return number(a * b);
    if (op == "/") return Value::new_float(a / b);
    if (op == "//") return number(std::floor(a / b));
    if (op == "%") return number(std::fmod(a, b));  // JavaScript's %: the sign of the dividend
    if (op == "<") return Value::new_bool(a < b);
    if (op == ">") return Value::new_bool(a > b);
    if (op == "<=") return Value::new_bool(a <= b);
    if (op == ">=") return Value::new_bool(a >= b);
  } else if (left.is_list() && right.is_list()) {
    if (op == "+") {
      std::vector<Value> items = left.items();
      items.insert(items.end(), right.items().begin(), right.items().end());
      return Value::new_list(std::move(items));
    }
  } else if (right.is_list() && membership) {
    bool found = std::any_of(right.items().begin(), right.items().end(),
                             [&](const Value& x) { return strict_equals(x, left); });
    return Value::new_bool(found == (op == "in"));
  }
  if ((left.is_string() || right.is_string()) && op == "+") {
    FLINT_ASSIGN_OR_RETURN(std::string a, raw_string(left));
    FLINT_ASSIGN_OR_RETURN(std::string b, raw_string(right));
    return Value::new_string(a + b);
  }
  if (left.is_string() && right.is_string() && membership) {
    bool found = right.str().find(left.str()) != std::string::npos;
    return Value::new_bool(found == (op == "in"));
  }
  if (left.is_string() && right.is_dict() && membership) {
    return Value::new_bool((right.dict().find(left.str()) != nullptr) == (op == "in"));
  }
  return error("Unknown operator \"{}\" between {} and {}", op, left.type_name(), right.type_name());
}

namespace {

// Array.prototype.at / String.prototype.at index: NaN is 0, negative counts from the end.
std::optional<size_t> at_index(double index, size_t size) {
  if (std::isnan(index)) index = 0;
  index = std::trunc(index);
  if (index < 0) index += static_cast<double>(size);
  if (index < 0 || index >= static_cast<double>(size)) return std::nullopt;
  return static_cast<size_t>(index);
}

}  // namespace

Result<Value> Interpreter::eval_member(const Node& node, const EnvPtr& env) {
  FLINT_ASSIGN_OR_RETURN(Value object, eval(*node.a, env));
  if (node.flag && node.b->kind == NodeKind::kSlice) return eval_slice(object, *node.b, env);
  Value property;
  if (node.flag) {
    FLINT_ASSIGN_OR_RETURN(property, eval(*node.b, env));
  } else if (node.b->kind == NodeKind::kInteger) {
    property = Value::new_int(node.b->number);
  } else {
    property = Value::new_string(node.b->text);
  }

  if (object.is_attribute_container()) {
    if (!property.is_string()) {
      return error("Cannot access property with non-string: got {}", property.type_name());
    }
    if (const Value* v = object.dict().find(property.str())) return *v;
    return object.is_dict() ? builtins::member(object, property.str()) : Value();
  }
  if (object.is_list() || object.is_string()) {
    if (property.is_string()) return builtins::member(object, property.str());
    if (!property.is(Type::kInt)) {
      return error("Cannot access property with non-string/non-number: got {}", property.type_name());
    }
    if (object.is_list()) {
      std::optional<size_t> i = at_index(property.number(), object.items().size());
      return i ? object.items()[*i] : Value();
    }
    // Strings index UTF-16 code units.
    const std::string& s = object.str();
    std::optional<size_t> unit = at_index(property.number(), text::utf16_length(s));
    if (!unit) return Value();
    size_t u = 0, n = 0;
    for (size_t i = 0; i < s.size(); i += n) {
      char32_t cp = text::decode(s, i, &n);
      size_t width = cp > 0xFFFF ? 2 : 1;
      if (*unit < u + width) {
        if (width == 2) return error("indexing into a character outside the BMP (half a surrogate pair)");
        return Value::new_string(s.substr(i, n));
      }
      u += width;
    }
    return Value();
  }
  if (!property.is_string()) {
    return error("Cannot access property with non-string: got {}", property.type_name());
  }
  return builtins::member(object, property.str());
}

Result<Value> Interpreter::eval_slice(const Value& object, const Node& slice, const EnvPtr& env) {
  if (!object.is_list() && !object.is_string()) return error("Slice object must be an array or string");
  std::optional<double> parts[3];
  const Node* nodes[3] = {slice.a.get(), slice.b.get(), slice.c.get()};
  const char* names[3] = {"start", "stop", "step"};
  for (int k = 0; k < 3; ++k) {
    if (!nodes[k]) continue;
    FLINT_ASSIGN_OR_RETURN(Value v, eval(*nodes[k], env));
    if (v.is_undefined()) continue;
    if (!v.is(Type::kInt)) return error("Slice {} must be numeric or undefined", names[k]);
    parts[k] = v.number();
  }
  std::vector<size_t> offsets;  // strings slice by code point
  size_t length = object.is_list() ? object.items().size() : 0;
  if (object.is_string()) {
    offsets = text::code_point_offsets(object.str());
    length = offsets.size() - 1;
  }
  const double len = static_cast<double>(length);
  double step = parts[2].value_or(1);
  std::vector<size_t> picked;
  if (!std::isnan(step) && step != 0) {
    double start, stop;
    if (step > 0) {
      start = parts[0].value_or(0);
      start = start < 0 ? std::max(len + start, 0.0) : std::min(start, len);
      stop = parts[1].value_or(len);
      stop = stop < 0 ? std::max(len + stop, 0.0) : std::min(stop, len);
    } else {
      start = parts[0].value_or(len - 1);
      start = start < 0 ? std::max(len + start, -1.0) : std::min(start, len - 1);
      stop = parts[1].value_or(-1);
      stop = stop < -1 ? std::max(len + stop, -1.0) : std::min(stop, len - 1);
    }
    double direction = step > 0 ? 1 : -1;
    for (double i = start; direction * i < direction * stop; i += step) {
      picked.push_back(static_cast<size_t>(i));
    }
  }
  if (object.is_list()) {
    std::vector<Value> items;
    for (size_t i : picked) items.push_back(object.items()[i]);
    return Value::new_list(std::move(items));
  }
  std::string out;
  for (size_t i : picked) out.append(object.str(), offsets[i], offsets[i + 1] - offsets[i]);
  return Value::new_string(std::move(out));
}

Status Interpreter::eval_arguments(const NodeList& args, const EnvPtr& env, Args* positional,
                                   std::shared_ptr<Dict>* kwargs) {
  *kwargs = std::make_shared<Dict>();
  // Positional arguments (with *spreads) are all evaluated before keyword arguments.
  for (const NodePtr& arg : args) {
    if (arg->kind == NodeKind::kSpread) {
      FLINT_ASSIGN_OR_RETURN(Value v, eval(*arg->a, env));
      if (!v.is_list()) return error("Cannot unpack non-iterable type: {}", v.type_name());
      positional->insert(positional->end(), v.items().begin(), v.items().end());
    } else if (arg->kind != NodeKind::kKeywordArg && arg->kind != NodeKind::kKeywordSpread) {
      FLINT_ASSIGN_OR_RETURN(Value v, eval(*arg, env));
      positional->push_back(std::move(v));
    }
  }
  auto add = [&](const std::string& key, Value value) -> Status {
    if ((*kwargs)->find(key)) return error("Got multiple values for keyword argument '{}'", key);
    (*kwargs)->set(key, std::move(value));
    return Status::ok();
  };
  for (const NodePtr& arg : args) {
    if (arg->kind == NodeKind::kKeywordArg) {
      FLINT_ASSIGN_OR_RETURN(Value v, eval(*arg->a, env));
      FLINT_RETURN_IF_ERROR(add(arg->text, std::move(v)));
    } else if (arg->kind == NodeKind::kKeywordSpread) {
      FLINT_ASSIGN_OR_RETURN(Value v, eval(*arg->a, env));
      if (!v.is_dict()) return error("Argument after ** must be a mapping, not {}", v.type_name());
      for (const auto& [key, value] : v.dict().entries()) FLINT_RETURN_IF_ERROR(add(key, value));
    }
  }
  return Status::ok();
}

Result<Value> Interpreter::eval_call(const Node& node, const EnvPtr& env) {
  Args args;
  std::shared_ptr<Dict> kwargs;
  FLINT_RETURN_IF_ERROR(eval_arguments(node.items, env, &args, &kwargs));
  if (kwargs->size() > 0) {
    kwargs->kwargs = true;
    args.push_back(Value::new_dict(std::move(kwargs)));
  }
  FLINT_ASSIGN_OR_RETURN(Value fn, eval(*node.a, env));
  return call(fn, args, env);
}

Result<Value> Interpreter::apply_filter(const Value& operand, const Node& filter, const EnvPtr& env) {
  if (filter.kind == NodeKind::kIdentifier) {
    return builtins::filter(*this, env, filter.text, operand, nullptr);
  }
  if (filter.kind == NodeKind::kCall && filter.a->kind == NodeKind::kIdentifier) {
    builtins::FilterArgs args;
    for (const NodePtr& arg : filter.items) {
      if (arg->kind != NodeKind::kString) args.all_string_literals = false;
    }
    FLINT_RETURN_IF_ERROR(eval_arguments(filter.items, env, &args.positional, &args.kwargs));
    return builtins::filter(*this, env, filter.a->text, operand, &args);
  }
  return error("unsupported filter expression");
}

}  // namespace flint::jinja
