// Globals, tests and methods. Filters are in filters.cpp.
#include "tokenizer/jinja/builtins.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/text.h"

namespace flint::jinja::builtins {

namespace {

const Value* arg(const Args& args, size_t i) { return i < args.size() ? &args[i] : nullptr; }

// ---- globals ---------------------------------------------------------------------------------

// namespace(mapping or [[key, value], ...], **kwargs)
Result<Value> namespace_fn(Interpreter& interp, const EnvPtr&, Args& args) {
  Args positional = args;
  std::shared_ptr<Dict> entries = std::make_shared<Dict>();
  Value kwargs;
  if (!positional.empty() && positional.back().is_kwargs()) {
    kwargs = positional.back();
    positional.pop_back();
  }
  if (positional.size() > 1) {
    return error("namespace expected at most 1 argument, got {}", positional.size());
  }
  if (positional.size() == 1) {
    const Value& source = positional[0];
    if (source.is_dict()) {
      for (const auto& [key, value] : source.dict().entries()) entries->set(key, value);
    } else if (source.is_list()) {
      for (const Value& pair : source.items()) {
        std::vector<Value> kv;
        if (pair.is_list()) {
          kv = pair.items();
        } else if (pair.is_string()) {
          for (char32_t cp : text::code_points(pair.str())) {
            std::string ch;
            text::append_utf8(ch, cp);
            kv.push_back(Value::new_string(std::move(ch)));
          }
        }
        if (kv.size() != 2) {
          return error("namespace expected an object or an iterable of [key, value] pairs");
        }
        if (!kv[0].is_string()) return error("namespace keys must be strings");
        entries->set(kv[0].str(), kv[1]);
      }
    } else {
      return error("'{}' object is not iterable", source.type_name());
    }
  }
  if (!kwargs.is_undefined()) {
    for (const auto& [key, value] : kwargs.dict().entries()) entries->set(key, value);
  }
  return interp.new_namespace(std::move(entries));
}

Result<Value> raise_exception_fn(Interpreter& interp, const EnvPtr&, Args& args) {
  std::string message;
  if (!args.empty() && !args[0].is_undefined()) {
    FLINT_ASSIGN_OR_RETURN(message, raw_string(args[0]));
  }
  return interp.raise(message);
}

// range(stop) / range(start, stop[, step]), like Python's.
Result<Value> range_fn(Interpreter& interp, const EnvPtr&, Args& args) {
  std::vector<double> n;
  for (size_t i = 0; i < args.size() && i < 3; ++i) {
    if (!args[i].is_number()) return error("range() arguments must be numbers, got {}", args[i].type_name());
    n.push_back(args[i].number());
  }
  if (n.empty()) return error("range() expects at least 1 argument");
  double start = n.size() == 1 ? 0 : n[0];
  double stop = n.size() == 1 ? n[0] : n[1];
  double step = n.size() == 3 ? n[2] : 1;
  if (step == 0) return error("range() step must not be zero");
  double count = std::ceil((stop - start) / step);
  if (count > static_cast<double>(interp.options().max_loop_iterations)) {
    return error("range() of {} items is larger than the loop limit", text::js_number(count));
  }
  std::vector<Value> items;
  for (double i = start; step > 0 ? i < stop : i > stop; i += step) {
    items.push_back(std::trunc(i) == i ? Value::new_int(i) : Value::new_float(i));
  }
  return Value::new_list(std::move(items));
}

// strftime_now(format): %Y %m %d %b %B %H %M %% of the local time; other sequences stay as is.
Result<Value> strftime_now_fn(Interpreter& interp, const EnvPtr&, Args& args) {
  if (args.empty() || !args[0].is_string()) return error("strftime_now() expects a format string");
  std::tm now{};
  if (interp.options().now) {
    now = *interp.options().now;
  } else {
    std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    localtime_r(&t, &now);
  }
  static const char* const kMonths[] = {"January", "February", "March",     "April",
                                        "May",     "June",     "July",      "August",
                                        "September", "October", "November", "December"};
  int month = std::clamp(now.tm_mon, 0, 11);
  const std::string& format = args[0].str();
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    char next = i + 1 < format.size() ? format[i + 1] : '\0';
    if (format[i] != '%' || std::string_view("YmdbBHM%").find(next) == std::string_view::npos ||
        next == '\0') {
      out += format[i];
      continue;
    }
    ++i;
    switch (next) {
      case 'Y': out += std::to_string(now.tm_year + 1900); break;
      case 'm': out += fmt::format("{:02d}", now.tm_mon + 1); break;
      case 'd': out += fmt::format("{:02d}", now.tm_mday); break;
      case 'b': out += std::string(kMonths[month]).substr(0, 3); break;
      case 'B': out += kMonths[month]; break;
      case 'H': out += fmt::format("{:02d}", now.tm_hour); break;
      case 'M': out += fmt::format("{:02d}", now.tm_min); break;
      default: out += '%'; break;
    }
  }
  return Value::new_string(std::move(out));
}

// ---- tests -----------------------------------------------------------------------------------

using TestFn = Result<bool> (*)(const Value& v, const Value* argument);

Result<bool> parity(const Value& v, const char* name, bool odd) {
  if (!v.is(Type::kInt)) return error("cannot {} on {}", name, v.type_name());
  return (std::fmod(v.number(), 2) != 0) == odd;
}

Result<bool> case_test(const Value& v, bool upper) {
  if (!v.is_string()) return false;
  FLINT_ASSIGN_OR_RETURN(std::string converted, upper ? text::to_upper(v.str()) : text::to_lower(v.str()));
  return converted == v.str();
}

Result<bool> equal_test(const Value& v, const Value* argument) {
  if (!argument) return error("the equalto test needs a value to compare with");
  return strict_equals(v, *argument);
}

const std::map<std::string, TestFn, std::less<>>& tests() {
  static const std::map<std::string, TestFn, std::less<>> kTests = {
      {"boolean", [](const Value& v, const Value*) -> Result<bool> { return v.is(Type::kBool); }},
      {"callable", [](const Value& v, const Value*) -> Result<bool> { return v.is(Type::kFunction); }},
      {"odd", [](const Value& v, const Value*) { return parity(v, "odd", true); }},
      {"even", [](const Value& v, const Value*) { return parity(v, "even", false); }},
      {"false", [](const Value& v, const Value*) -> Result<bool> { return v.is(Type::kBool) && !v.boolean(); }},
      {"true", [](const Value& v, const Value*) -> Result<bool> { return v.is(Type::kBool) && v.boolean(); }},
      {"none", [](const Value& v, const Value*) -> Result<bool> { return v.is_none(); }},
      {"string", [](const Value& v, const Value*) -> Result<bool> { return v.is_string(); }},
      {"number", [](const Value& v, const Value*) -> Result<bool> { return v.is_number(); }},
      {"integer", [](const Value& v, const Value*) -> Result<bool> { return v.is(Type::kInt); }},
      // As in the reference: a tuple is not "iterable", a dict is not either.
      {"iterable", [](const Value& v, const Value*) -> Result<bool> {
         return (v.is_list() && !v.list().tuple) || v.is_string();
       }},
      {"mapping", [](const Value& v, const Value*) -> Result<bool> { return v.is_dict(); }},
      {"sequence", [](const Value& v, const Value*) -> Result<bool> {
         return v.is_list() || v.is_dict() || v.is_string();
       }},
      {"lower", [](const Value& v, const Value*) { return case_test(v, false); }},
      {"upper", [](const Value& v, const Value*) { return case_test(v, true); }},
      {"defined", [](const Value& v, const Value*) -> Result<bool> { return !v.is_undefined(); }},
      {"undefined", [](const Value& v, const Value*) -> Result<bool> { return v.is_undefined(); }},
      {"equalto", equal_test},
      {"eq", equal_test},
  };
  return kTests;
}

// ---- string methods --------------------------------------------------------------------------

using Method = Result<Value> (*)(const Value& self, Args& args);

Result<Value> str_upper(const Value& self, Args&) {
  FLINT_ASSIGN_OR_RETURN(std::string s, text::to_upper(self.str()));
  return Value::new_string(std::move(s));
}
Result<Value> str_lower(const Value& self, Args&) {
  FLINT_ASSIGN_OR_RETURN(std::string s, text::to_lower(self.str()));
  return Value::new_string(std::move(s));
}
// Like the reference, strip/lstrip/rstrip ignore their argument and strip whitespace.
Result<Value> str_strip(const Value& self, Args&) { return Value::new_string(std::string(text::trim(self.str()))); }
Result<Value> str_lstrip(const Value& self, Args&) {
  return Value::new_string(std::string(text::trim_start(self.str())));
}
Result<Value> str_rstrip(const Value& self, Args&) {
  return Value::new_string(std::string(text::trim_end(self.str())));
}

// value.replace(/\b\w/g, upper): only the first \w of each ASCII word is changed.
Result<Value> str_title(const Value& self, Args&) {
  std::string s = self.str();
  for (size_t i = 0; i < s.size(); ++i) {
    if (text::is_word(s[i]) && (i == 0 || !text::is_word(s[i - 1])) && s[i] >= 'a' && s[i] <= 'z') {
      s[i] = static_cast<char>(s[i] - 32);
    }
  }
  return Value::new_string(std::move(s));
}

// charAt(0).toUpperCase() + slice(1): the rest keeps its case.
Result<Value> str_capitalize(const Value& self, Args&) {
  const std::string& s = self.str();
  if (s.empty()) return self;
  size_t len = 0;
  char32_t first = text::decode(s, 0, &len);
  if (first > 0xFFFF) return self;  // charAt(0) is half of a surrogate pair: unchanged
  FLINT_ASSIGN_OR_RETURN(std::string head, text::to_upper(s.substr(0, len)));
  return Value::new_string(head + s.substr(len));
}

Result<Value> affix_test(const Value& self, Args& args, bool prefix) {
  const char* name = prefix ? "startswith" : "endswith";
  auto matches = [&](const std::string& p) {
    return prefix ? std::string_view(self.str()).starts_with(p) : std::string_view(self.str()).ends_with(p);
  };
  if (args.empty()) return error("{}() requires at least one argument", name);
  const Value& pattern = args[0];
  if (pattern.is_string()) return Value::new_bool(matches(pattern.str()));
  if (pattern.is_list()) {
    for (const Value& item : pattern.items()) {
      if (!item.is_string()) return error("{}() tuple elements must be strings", name);
      if (matches(item.str())) return Value::new_bool(true);
    }
    return Value::new_bool(false);
  }
  return error("{}() argument must be a string or tuple of strings", name);
}
Result<Value> str_startswith(const Value& self, Args& args) { return affix_test(self, args, true); }
Result<Value> str_endswith(const Value& self, Args& args) { return affix_test(self, args, false); }

// Python's str.split(sep=None, maxsplit=-1).
Result<Value> str_split(const Value& self, Args& args) {
  Value sep = arg(args, 0) ? args[0] : Value::none();
  if (!sep.is_string() && !sep.is_none()) return error("sep argument must be a string or null");
  Value maxsplit_value = arg(args, 1) ? args[1] : Value::new_int(-1);
  if (!maxsplit_value.is(Type::kInt)) return error("maxsplit argument must be a number");
  double maxsplit = maxsplit_value.number();
  std::vector<std::string> parts;
  if (sep.is_none()) {
    std::string_view rest = text::trim_start(self.str());
    size_t i = 0;
    while (i < rest.size()) {
      while (size_t n = text::space_at(rest, i)) i += n;
      if (i >= rest.size()) break;
      size_t start = i;
      while (i < rest.size() && text::space_at(rest, i) == 0) ++i;
      if (maxsplit != -1 && static_cast<double>(parts.size()) >= maxsplit) {
        parts.emplace_back(rest.substr(start));
        break;
      }
      parts.emplace_back(rest.substr(start, i - start));
    }
  } else {
    const std::string& s = self.str();
    const std::string& separator = sep.str();
    if (separator.empty()) return error("empty separator");
    size_t start = 0;
    while (true) {
      size_t found = s.find(separator, start);
      if (found == std::string::npos) break;
      parts.push_back(s.substr(start, found - start));
      start = found + separator.size();
    }
    parts.push_back(s.substr(start));
    if (maxsplit != -1 && static_cast<double>(parts.size()) > maxsplit) {
      double k = maxsplit < 0 ? std::max(static_cast<double>(parts.size()) + maxsplit, 0.0) : maxsplit;
      std::string tail;
      for (size_t j = static_cast<size_t>(k); j < parts.size(); ++j) {
        if (j > static_cast<size_t>(k)) tail += separator;
        tail += parts[j];
      }
      parts.resize(static_cast<size_t>(k));
      parts.push_back(std::move(tail));
    }
  }
  std::vector<Value> items;
  for (std::string& part : parts) items.push_back(Value::new_string(std::move(part)));
  return Value::new_list(std::move(items));
}

// Python's str.replace(old, new, count=-1).
Result<Value> str_replace(const Value& self, Args& args) {
  if (args.size() < 2) return error("replace() requires at least two arguments");
  if (!args[0].is_string() || !args[1].is_string()) return error("replace() arguments must be strings");
  Value count = Value::none();
  if (args.size() > 2) {
    if (args[2].is_kwargs()) {
      const Value* c = args[2].dict().find("count");
      count = c ? *c : Value::none();
    } else {
      count = args[2];
    }
  }
  if (!count.is(Type::kInt) && !count.is_none()) {
    return error("replace() count argument must be a number or null");
  }
  const std::string& s = self.str();
  const std::string& from = args[0].str();
  const std::string& to = args[1].str();
  if (count.is(Type::kInt) && count.number() == 0) return self;
  double remaining = count.is_none() || count.number() < 0 ? INFINITY : count.number();
  std::string out;
  if (from.empty()) {
    std::vector<size_t> offsets = text::code_point_offsets(s);
    for (size_t k = 0; k < offsets.size(); ++k) {
      if (remaining > 0) {
        out += to;
        --remaining;
      }
      if (k + 1 < offsets.size()) out.append(s, offsets[k], offsets[k + 1] - offsets[k]);
    }
  } else {
    size_t start = 0;
    while (remaining > 0) {
      size_t found = s.find(from, start);
      if (found == std::string::npos) break;
      out.append(s, start, found - start);
      out += to;
      start = found + from.size();
      --remaining;
    }
    out.append(s, start);
  }
  return Value::new_string(std::move(out));
}

const std::map<std::string, Method, std::less<>>& string_methods() {
  static const std::map<std::string, Method, std::less<>> kMethods = {
      {"upper", str_upper},   {"lower", str_lower},           {"strip", str_strip},
      {"title", str_title},   {"capitalize", str_capitalize}, {"rstrip", str_rstrip},
      {"lstrip", str_lstrip}, {"startswith", str_startswith}, {"endswith", str_endswith},
      {"split", str_split},   {"replace", str_replace},
  };
  return kMethods;
}

// ---- dict methods ----------------------------------------------------------------------------

Result<Value> dict_get(const Value& self, Args& args) {
  if (args.empty()) return error("Object key must be a string: got undefined");
  if (!args[0].is_string()) return error("Object key must be a string: got {}", args[0].type_name());
  if (const Value* v = self.dict().find(args[0].str())) return *v;
  return args.size() > 1 ? args[1] : Value::none();
}

Value pair(const std::string& key, const Value& value) {
  return Value::new_list({Value::new_string(key), value});
}

Result<Value> dict_items(const Value& self, Args&) {
  std::vector<Value> items;
  for (const auto& [key, value] : self.dict().entries()) items.push_back(pair(key, value));
  return Value::new_list(std::move(items));
}
Result<Value> dict_keys(const Value& self, Args&) {
  std::vector<Value> items;
  for (const auto& entry : self.dict().entries()) items.push_back(Value::new_string(entry.first));
  return Value::new_list(std::move(items));
}
Result<Value> dict_values(const Value& self, Args&) {
  std::vector<Value> items;
  for (const auto& entry : self.dict().entries()) items.push_back(entry.second);
  return Value::new_list(std::move(items));
}

// dictsort(case_sensitive=false, by='key', reverse=false)
Result<Value> dict_dictsort(const Value& self, Args& args) {
  std::shared_ptr<Dict> none = std::make_shared<Dict>();
  const Dict* kwargs = none.get();
  Args positional;
  for (const Value& a : args) {
    if (a.is_kwargs()) {
      kwargs = &a.dict();
    } else {
      positional.push_back(a);
    }
  }
  auto option = [&](size_t i, const char* name, Value fallback) {
    if (i < positional.size()) return positional[i];
    const Value* v = kwargs->find(name);
    return v ? *v : fallback;
  };
  Value case_sensitive = option(0, "case_sensitive", Value::new_bool(false));
  if (!case_sensitive.is(Type::kBool)) return error("case_sensitive must be a boolean");
  Value by = option(1, "by", Value::new_string("key"));
  if (!by.is_string()) return error("by must be a string");
  if (by.str() != "key" && by.str() != "value") return error("by must be either 'key' or 'value'");
  Value reverse = option(2, "reverse", Value::new_bool(false));
  if (!reverse.is(Type::kBool)) return error("reverse must be a boolean");
  std::vector<Value> items;
  for (const auto& [key, value] : self.dict().entries()) items.push_back(pair(key, value));
  size_t index = by.str() == "key" ? 0 : 1;
  Status failure;
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    if (!failure.is_ok()) return false;
    Result<int> c = compare_values(a.items()[index], b.items()[index], case_sensitive.boolean());
    if (!c.is_ok()) {
      failure = c.status();
      return false;
    }
    return (reverse.boolean() ? -*c : *c) < 0;
  });
  FLINT_RETURN_IF_ERROR(failure);
  return Value::new_list(std::move(items));
}

const std::map<std::string, Method, std::less<>>& dict_methods() {
  static const std::map<std::string, Method, std::less<>> kMethods = {
      {"get", dict_get},       {"items", dict_items},       {"keys", dict_keys},
      {"values", dict_values}, {"dictsort", dict_dictsort},
  };
  return kMethods;
}

Value bind(const Value& self, std::string_view name, Method method) {
  return Value::new_function(std::string(name), [self, method](Interpreter&, const EnvPtr&, Args& args) {
    return method(self, args);
  });
}

}  // namespace

void install_globals(Env& env) {
  env.set("false", Value::new_bool(false));
  env.set("true", Value::new_bool(true));
  env.set("none", Value::none());
  env.set("False", Value::new_bool(false));
  env.set("True", Value::new_bool(true));
  env.set("None", Value::none());
  env.set("namespace", Value::new_function("namespace", namespace_fn));
  env.set("raise_exception", Value::new_function("raise_exception", raise_exception_fn));
  env.set("range", Value::new_function("range", range_fn));
  env.set("strftime_now", Value::new_function("strftime_now", strftime_now_fn));
}

bool is_global(std::string_view name) {
  static const char* const kNames[] = {"false", "true", "none", "False", "True", "None",
                                       "namespace", "raise_exception", "range", "strftime_now"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

bool has_test(std::string_view name) { return tests().contains(name); }

std::optional<Result<bool>> test(std::string_view name, const Value& operand, const Value* argument) {
  auto it = tests().find(name);
  if (it == tests().end()) return std::nullopt;
  return it->second(operand, argument);
}

Value member(const Value& object, std::string_view name) {
  if (object.is_string()) {
    if (name == "length") return Value::new_int(static_cast<double>(text::utf16_length(object.str())));
    auto it = string_methods().find(name);
    if (it != string_methods().end()) return bind(object, name, it->second);
  } else if (object.is_list()) {
    if (name == "length") return Value::new_int(static_cast<double>(object.items().size()));
  } else if (object.is_dict()) {
    auto it = dict_methods().find(name);
    if (it != dict_methods().end()) return bind(object, name, it->second);
  }
  return Value();
}

}  // namespace flint::jinja::builtins
