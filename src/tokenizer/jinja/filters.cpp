// Filters, dispatched like the reference's applyFilter: first by whether the filter has
// parentheses, then by the operand's type, each (form, type) pair with its own table.
#include <algorithm>
#include <cmath>
#include <map>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/text.h"

namespace flint::jinja::builtins {

namespace {

// ---- helpers ---------------------------------------------------------------------------------

// JavaScript truthiness of a value's underlying JS value (lists and dicts are always true).
bool js_truthy(const Value& v) {
  if (v.is_list() || v.is_attribute_container()) return true;
  return v.truthy();
}

// args[i] ?? kwargs[name] ?? fallback
Value option(const FilterArgs& args, size_t i, const char* name, Value fallback) {
  if (i < args.positional.size()) return args.positional[i];
  if (const Value* v = args.kwargs->find(name)) return *v;
  return fallback;
}

// "a.b.0": dict keys and list indices, undefined when a step is missing.
Value attribute_value(const Value& item, const std::string& path) {
  Value value = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (value.is_attribute_container()) {
      const Value* v = value.dict().find(part);
      value = v ? *v : Value();
    } else if (value.is_list()) {
      double index = text::parse_int(part);
      if (std::isnan(index) || index < 0 || index >= static_cast<double>(value.items().size())) {
        return Value();
      }
      value = value.items()[static_cast<size_t>(index)];
    } else {
      return Value();
    }
    if (dot == std::string::npos) return value;
    start = dot + 1;
  }
}

Result<Value> join_values(Interpreter& interp, const std::vector<Value>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    if (items[i].is_none() || items[i].is_undefined()) continue;  // Array.join prints them as ""
    FLINT_ASSIGN_OR_RETURN(std::string s, raw_string(items[i]));
    out += s;
    FLINT_RETURN_IF_ERROR(interp.check_size(out.size()));
  }
  return Value::new_string(std::move(out));
}

Result<Value> sorted(const std::vector<Value>& items, bool reverse, bool case_sensitive,
                     const Value& attribute) {
  std::vector<Value> out = items;
  std::string path;
  if (attribute.is_string()) path = attribute.str();
  if (attribute.is(Type::kInt)) path = text::js_number(attribute.number());
  auto key = [&](const Value& v) { return attribute.is_none() ? v : attribute_value(v, path); };
  Status failure;
  std::stable_sort(out.begin(), out.end(), [&](const Value& a, const Value& b) {
    if (!failure.is_ok()) return false;
    Result<int> c = compare_values(key(a), key(b), case_sensitive);
    if (!c.is_ok()) {
      failure = c.status();
      return false;
    }
    return (reverse ? -*c : *c) < 0;
  });
  FLINT_RETURN_IF_ERROR(failure);
  return Value::new_list(std::move(out));
}

// Lines after the first (with first, all) and non-empty ones (with blank, all) get the prefix.
Value indent_lines(const std::string& s, const std::string& prefix, bool first, bool blank) {
  std::string out;
  size_t start = 0, line = 0;
  while (true) {
    size_t nl = s.find('\n', start);
    std::string_view part = std::string_view(s).substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (line > 0) out += '\n';
    if ((first || line > 0) && (blank || !part.empty())) out += prefix;
    out += part;
    if (nl == std::string::npos) break;
    start = nl + 1;
    ++line;
  }
  return Value::new_string(std::move(out));
}

Result<Value> call_member(Interpreter& interp, const EnvPtr& env, const Value& fn, Args args) {
  return interp.call(fn, args, env);
}

// ---- `x | name` ------------------------------------------------------------------------------

using Simple = Result<Value> (*)(Interpreter&, const EnvPtr&, const Value& operand);

const std::map<std::string, Simple, std::less<>> kListFilters = {
    {"list", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> { return v; }},
    // The reference returns a bare JavaScript undefined here, which fails wherever it is used.
    {"first", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       if (v.items().empty()) return error("first of an empty list");
       return v.items().front();
     }},
    {"last", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       if (v.items().empty()) return error("last of an empty list");
       return v.items().back();
     }},
    {"length", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       return Value::new_int(static_cast<double>(v.items().size()));
     }},
    {"reverse", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       return Value::new_list(std::vector<Value>(v.items().rbegin(), v.items().rend()));
     }},
    {"sort", [](Interpreter&, const EnvPtr&, const Value& v) {
       return sorted(v.items(), false, false, Value::none());
     }},
    {"join", [](Interpreter& interp, const EnvPtr&, const Value& v) {
       return join_values(interp, v.items(), "");
     }},
    {"string", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       FLINT_ASSIGN_OR_RETURN(std::string s, to_json(v, JsonOptions{}, false));
       return Value::new_string(std::move(s));
     }},
    {"unique", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       std::vector<Value> out;
       for (const Value& item : v.items()) {
         bool seen = std::any_of(out.begin(), out.end(), [&](const Value& o) {
           bool both_nan = item.is_number() && o.is_number() && std::isnan(item.number()) &&
                           std::isnan(o.number());
           return both_nan || strict_equals(item, o);
         });
         if (!seen) out.push_back(item);
       }
       return Value::new_list(std::move(out));
     }},
};

Result<Value> string_builtin(Interpreter& interp, const EnvPtr& env, const Value& v, std::string_view name) {
  Value m = member(v, name);
  if (m.is(Type::kFunction)) return call_member(interp, env, m, {});
  return m;
}

const std::map<std::string, Simple, std::less<>> kStringFilters = {
    {"length", [](Interpreter& i, const EnvPtr& e, const Value& v) { return string_builtin(i, e, v, "length"); }},
    {"upper", [](Interpreter& i, const EnvPtr& e, const Value& v) { return string_builtin(i, e, v, "upper"); }},
    {"lower", [](Interpreter& i, const EnvPtr& e, const Value& v) { return string_builtin(i, e, v, "lower"); }},
    {"title", [](Interpreter& i, const EnvPtr& e, const Value& v) { return string_builtin(i, e, v, "title"); }},
    {"capitalize", [](Interpreter& i, const EnvPtr& e, const Value& v) {
       return string_builtin(i, e, v, "capitalize");
     }},
    {"trim", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       return Value::new_string(std::string(text::trim(v.str())));
     }},
    {"indent", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       return indent_lines(v.str(), "    ", false, false);
     }},
    {"join", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> { return v; }},
    {"string", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> { return v; }},
    {"int", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       double n = text::parse_int(v.str());
       return Value::new_int(std::isnan(n) ? 0 : n);
     }},
    {"float", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       double n = text::parse_float(v.str());
       return Value::new_float(std::isnan(n) ? 0 : n);
     }},
};

const std::map<std::string, Simple, std::less<>> kNumberFilters = {
    {"abs", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       return v.is(Type::kInt) ? Value::new_int(std::fabs(v.number())) : Value::new_float(std::fabs(v.number()));
     }},
    {"int", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       return Value::new_int(std::floor(v.number()));
     }},
    {"float", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       return Value::new_float(v.number());
     }},
    {"string", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       FLINT_ASSIGN_OR_RETURN(std::string s, to_output(v));
       return Value::new_string(std::move(s));
     }},
};

const std::map<std::string, Simple, std::less<>> kDictFilters = {
    {"items", [](Interpreter& i, const EnvPtr& e, const Value& v) {
       return call_member(i, e, member(v, "items"), {});
     }},
    {"length", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       return Value::new_int(static_cast<double>(v.dict().size()));
     }},
};

const std::map<std::string, Simple, std::less<>> kBoolFilters = {
    {"bool", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> { return v; }},
    {"int", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       return Value::new_int(v.boolean() ? 1 : 0);
     }},
    {"float", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       return Value::new_float(v.boolean() ? 1 : 0);
     }},
    {"string", [](Interpreter&, const EnvPtr&, const Value& v) -> Result<Value> {
       return Value::new_string(v.boolean() ? "true" : "false");
     }},
};

Result<Value> simple_filter(Interpreter& interp, const EnvPtr& env, std::string_view name,
                            const Value& operand) {
  if (name == "safe") return operand;
  if (name == "tojson") {
    FLINT_ASSIGN_OR_RETURN(std::string s, to_json(operand, JsonOptions{}));
    return Value::new_string(std::move(s));
  }
  auto dispatch = [&](const std::map<std::string, Simple, std::less<>>& table,
                      const char* kind) -> Result<Value> {
    auto it = table.find(name);
    if (it == table.end()) return error("Unknown {} filter: {}", kind, name);
    return it->second(interp, env, operand);
  };
  switch (operand.type()) {
    case Type::kList: return dispatch(kListFilters, "ArrayValue");
    case Type::kString: return dispatch(kStringFilters, "StringValue");
    case Type::kInt:
    case Type::kFloat: return dispatch(kNumberFilters, "NumericValue");
    case Type::kBool: return dispatch(kBoolFilters, "BooleanValue");
    case Type::kDict: {
      if (kDictFilters.contains(name)) return dispatch(kDictFilters, "ObjectValue");
      Value m = member(operand, name);  // get, keys, values, dictsort
      if (m.is(Type::kFunction)) return call_member(interp, env, m, {});
      return error("Unknown ObjectValue filter: {}", name);
    }
    default: return error("Cannot apply filter \"{}\" to type: {}", name, operand.type_name());
  }
}

// ---- `x | name(...)` -------------------------------------------------------------------------

using WithArgs = Result<Value> (*)(Interpreter&, const EnvPtr&, std::string_view name,
                                   const Value& operand, const FilterArgs& args);

Result<Value> tojson_filter(Interpreter&, const EnvPtr&, std::string_view, const Value& operand,
                            const FilterArgs& args) {
  JsonOptions options;
  const Dict& kw = *args.kwargs;
  if (const Value* indent = kw.find("indent"); indent && !indent->is_none()) {
    if (!indent->is(Type::kInt)) return error("If set, indent must be a number");
    options.indent = indent->number();
  }
  if (const Value* ascii = kw.find("ensure_ascii")) {
    if (!ascii->is(Type::kBool)) return error("If set, ensure_ascii must be a boolean");
    options.ensure_ascii = ascii->boolean();
  }
  if (const Value* sort = kw.find("sort_keys")) {
    if (!sort->is(Type::kBool)) return error("If set, sort_keys must be a boolean");
    options.sort_keys = sort->boolean();
  }
  if (const Value* seps = kw.find("separators"); seps && !seps->is_none()) {
    if (!seps->is_list()) return error("If set, separators must be a tuple of two strings");
    const auto& items = seps->items();
    if (items.size() != 2 || !items[0].is_string() || !items[1].is_string()) {
      return error("separators must be a tuple of two strings");
    }
    options.separators = std::make_pair(items[0].str(), items[1].str());
  }
  FLINT_ASSIGN_OR_RETURN(std::string s, to_json(operand, options));
  return Value::new_string(std::move(s));
}

Result<Value> join_filter(Interpreter& interp, const EnvPtr&, std::string_view name,
                          const Value& operand, const FilterArgs& args) {
  std::vector<Value> items;
  if (operand.is_string()) {
    for (char32_t cp : text::code_points(operand.str())) {
      std::string ch;
      text::append_utf8(ch, cp);
      items.push_back(Value::new_string(std::move(ch)));
    }
  } else if (operand.is_list()) {
    items = operand.items();
  } else {
    return error("Cannot apply filter \"{}\" to type: {}", name, operand.type_name());
  }
  Value sep = option(args, 0, "separator", Value::new_string(""));
  if (!sep.is_string()) return error("separator must be a string");
  return join_values(interp, items, sep.str());
}

Result<Value> number_filter(Interpreter&, const EnvPtr&, std::string_view name, const Value& operand,
                            const FilterArgs& args) {
  bool is_int = name == "int";
  Value fallback = option(args, 0, "default", is_int ? Value::new_int(0) : Value::new_float(0));
  if (operand.is_string()) {
    double n = is_int ? text::parse_int(operand.str()) : text::parse_float(operand.str());
    if (std::isnan(n)) return fallback;
    return is_int ? Value::new_int(n) : Value::new_float(n);
  }
  if (operand.is_number()) return operand;
  if (operand.is(Type::kBool)) {
    double n = operand.boolean() ? 1 : 0;
    return is_int ? Value::new_int(n) : Value::new_float(n);
  }
  return error("Cannot apply filter \"{}\" to type: {}", name, operand.type_name());
}

Result<Value> default_filter(Interpreter&, const EnvPtr&, std::string_view, const Value& operand,
                             const FilterArgs& args) {
  Value fallback = args.positional.empty() ? Value::new_string("") : args.positional[0];
  Value boolean = option(args, 1, "boolean", Value::new_bool(false));
  if (!boolean.is(Type::kBool)) return error("`default` filter flag must be a boolean");
  if (operand.is_undefined() || (boolean.boolean() && !operand.truthy())) return fallback;
  return operand;
}

const std::map<std::string, WithArgs, std::less<>> kAnyFilters = {
    {"tojson", tojson_filter}, {"join", join_filter},       {"int", number_filter},
    {"float", number_filter},  {"default", default_filter},
};

Result<Value> sort_filter(Interpreter&, const EnvPtr&, std::string_view, const Value& operand,
                          const FilterArgs& args) {
  Value reverse = option(args, 0, "reverse", Value::new_bool(false));
  if (!reverse.is(Type::kBool)) return error("reverse must be a boolean");
  Value case_sensitive = option(args, 1, "case_sensitive", Value::new_bool(false));
  if (!case_sensitive.is(Type::kBool)) return error("case_sensitive must be a boolean");
  Value attribute = option(args, 2, "attribute", Value::none());
  if (!attribute.is_string() && !attribute.is(Type::kInt) && !attribute.is_none()) {
    return error("attribute must be a string, integer, or null");
  }
  return sorted(operand.items(), reverse.boolean(), case_sensitive.boolean(), attribute);
}

// selectattr(attr[, test[, value]]) / rejectattr: all arguments must be string literals.
Result<Value> select_filter(Interpreter&, const EnvPtr&, std::string_view name, const Value& operand,
                            const FilterArgs& args) {
  bool select = name == "selectattr";
  for (const Value& item : operand.items()) {
    if (!item.is_attribute_container()) return error("`{}` can only be applied to array of objects", name);
  }
  if (!args.all_string_literals) return error("arguments of `{}` must be strings", name);
  if (args.positional.empty()) return error("`{}` needs the name of an attribute", name);
  const std::string& attr = args.positional[0].str();
  const std::string* test_name = args.positional.size() > 1 ? &args.positional[1].str() : nullptr;
  const Value* value = args.positional.size() > 2 ? &args.positional[2] : nullptr;
  if (test_name && !has_test(*test_name)) return error("Unknown test: {}", *test_name);
  std::vector<Value> out;
  for (const Value& item : operand.items()) {
    const Value* a = item.dict().find(attr);
    bool result = false;
    if (a && test_name) {
      std::optional<Result<bool>> r = test(*test_name, *a, value);
      if (!r->is_ok()) return r->status();
      result = **r;
    } else if (a) {
      result = a->truthy();
    }
    if (result == select) out.push_back(item);
  }
  return Value::new_list(std::move(out));
}

Result<Value> map_filter(Interpreter&, const EnvPtr&, std::string_view, const Value& operand,
                         const FilterArgs& args) {
  const Value* attr = args.kwargs->find("attribute");
  if (!attr) return error("`map` expressions without `attribute` set are not currently supported.");
  if (!attr->is_string()) return error("attribute must be a string");
  const Value* fallback = args.kwargs->find("default");
  std::vector<Value> out;
  for (const Value& item : operand.items()) {
    if (!item.is_attribute_container()) return error("items in map must be an object");
    Value v = attribute_value(item, attr->str());
    out.push_back(v.is_undefined() && fallback ? *fallback : v);
  }
  return Value::new_list(std::move(out));
}

const std::map<std::string, WithArgs, std::less<>> kListArgFilters = {
    {"sort", sort_filter},
    {"selectattr", select_filter},
    {"rejectattr", select_filter},
    {"map", map_filter},
};

Result<Value> indent_filter(Interpreter&, const EnvPtr&, std::string_view, const Value& operand,
                            const FilterArgs& args) {
  Value width = option(args, 0, "width", Value::new_int(4));
  if (!width.is(Type::kInt)) return error("width must be a number");
  Value first = option(args, 1, "first", Value::new_bool(false));
  Value blank = option(args, 2, "blank", Value::new_bool(false));
  double w = width.number();
  if (w < 0) return error("Invalid count value: {}", text::js_number(w));  // " ".repeat(-1)
  return indent_lines(operand.str(), std::string(static_cast<size_t>(std::min(w, 1e6)), ' '),
                      js_truthy(first), js_truthy(blank));
}

Result<Value> replace_filter(Interpreter& interp, const EnvPtr& env, std::string_view,
                             const Value& operand, const FilterArgs& args) {
  Args call_args = args.positional;
  auto kwargs = std::make_shared<Dict>(*args.kwargs);
  kwargs->kwargs = true;
  call_args.push_back(Value::new_dict(std::move(kwargs)));
  return interp.call(member(operand, "replace"), call_args, env);
}

const std::map<std::string, WithArgs, std::less<>> kStringArgFilters = {
    {"indent", indent_filter},
    {"replace", replace_filter},
};

Result<Value> filter_with_args(Interpreter& interp, const EnvPtr& env, std::string_view name,
                               const Value& operand, const FilterArgs& args) {
  if (auto it = kAnyFilters.find(name); it != kAnyFilters.end()) {
    return it->second(interp, env, name, operand, args);
  }
  auto dispatch = [&](const std::map<std::string, WithArgs, std::less<>>& table,
                      const char* kind) -> Result<Value> {
    auto it = table.find(name);
    if (it == table.end()) return error("Unknown {} filter: {}", kind, name);
    return it->second(interp, env, name, operand, args);
  };
  switch (operand.type()) {
    case Type::kList: return dispatch(kListArgFilters, "ArrayValue");
    case Type::kString: return dispatch(kStringArgFilters, "StringValue");
    case Type::kDict: {
      Value m = member(operand, name);
      if (!m.is(Type::kFunction)) return error("Unknown ObjectValue filter: {}", name);
      Args call_args = args.positional;
      if (args.kwargs->size() > 0) {
        auto kwargs = std::make_shared<Dict>(*args.kwargs);
        kwargs->kwargs = true;
        call_args.push_back(Value::new_dict(std::move(kwargs)));
      }
      return interp.call(m, call_args, env);
    }
    default: return error("Cannot apply filter \"{}\" to type: {}", name, operand.type_name());
  }
}

}  // namespace

Result<Value> filter(Interpreter& interp, const EnvPtr& env, std::string_view name,
                     const Value& operand, const FilterArgs* args) {
  if (!args) return simple_filter(interp, env, name, operand);
  return filter_with_args(interp, env, name, operand, *args);
}

}  // namespace flint::jinja::builtins
