// The builtins of @huggingface/jinja 0.5.11, as tables: global functions, tests, the methods of
// strings/dicts/lists, and filters. Only what the reference implements exists here, with its
// error messages; anything else (e.g. the `round` filter, `list.append`, `is divisibleby(3)`) fails
// exactly where the reference fails, so a template either renders identically or is refused.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "tokenizer/jinja/value.h"

namespace flint::jinja {

struct Env;
class Interpreter;

namespace builtins {

// true/false/none (and True/False/None), namespace(), raise_exception(), range(), strftime_now().
void install_globals(Env& env);
bool is_global(std::string_view name);

bool has_test(std::string_view name);
// `x is name`; nullopt when there is no such test.
std::optional<Result<bool>> test(std::string_view name, const Value& operand,
                                 const Value* argument = nullptr);

// The builtin property or method `name` of a value ("abc".upper, d.items, xs.length), or
// undefined when it has none.
Value member(const Value& object, std::string_view name);

// The arguments of a filter written with parentheses, `x | name(...)`.
struct FilterArgs {
  Args positional;
  std::shared_ptr<Dict> kwargs;     // never null
  bool all_string_literals = true;  // every argument is a string literal (selectattr wants that)
};

// `operand | name` (args null) or `operand | name(args)`.
Result<Value> filter(Interpreter& interp, const EnvPtr& env, std::string_view name,
                     const Value& operand, const FilterArgs* args);

}  // namespace builtins
}  // namespace flint::jinja
