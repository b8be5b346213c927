// Evaluates a parsed chat template the way @huggingface/jinja 0.5.11's Interpreter does: the
// same scoping (a for loop opens a scope; if does not; macros see their caller's variables),
// the same operator semantics, the same quirks (a {% break %}/{% continue %} drops the output of
// the current iteration; the {% else %} of a for loop renders when no iteration completed).
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/value.h"

namespace flint::jinja {

struct RenderOptions {
  // The local time strftime_now() formats; unset: the system clock.
  std::optional<std::tm> now;
  // Guards against runaway templates.
  size_t max_output_bytes = size_t{64} << 20;  // also caps any single string value
  uint64_t max_loop_iterations = 10'000'000;   // for-loop iterations in one render, all loops
  int max_call_depth = 32;                     // nested macro / caller() calls
};

// A variable scope.
struct Env {
  std::unordered_map<std::string, Value> vars;
  EnvPtr parent;

  const Value* lookup(const std::string& name) const;
  void set(const std::string& name, Value value) { vars[name] = std::move(value); }
};
EnvPtr child_env(const EnvPtr& parent);

class Interpreter {
 public:
  explicit Interpreter(const RenderOptions& options) : options_(options) {}
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  Result<std::string> render(const NodeList& program, const nlohmann::ordered_json& context);

  // For builtins.
  const RenderOptions& options() const { return options_; }
  Result<Value> call(const Value& fn, Args& args, const EnvPtr& scope);
  // The error raise_exception(message) returns.
  Status raise(const std::string& message);
  // An error when a string of this size would exceed max_output_bytes.
  Status check_size(size_t bytes) const;
  // A new namespace() object. Namespaces are the only mutable values, so the only way to build
  // a reference cycle (ns.self = ns); the interpreter empties them all when it is done.
  Value new_namespace(std::shared_ptr<Dict> entries);

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Result<Flow> exec_block(const NodeList& body, const EnvPtr& env, std::string& out);
  Result<Flow> exec(const Node& node, const EnvPtr& env, std::string& out);
  Result<Flow> exec_impl(const Node& node, const EnvPtr& env, std::string& out);
  // Renders a macro / call / set / filter body into a new string.
  Result<std::string> render_block(const NodeList& body, const EnvPtr& env);
  Result<Flow> exec_for(const Node& node, const EnvPtr& env, std::string& out);
  Status exec_set(const Node& node, const EnvPtr& env);
  void define_macro(const Node& node, const EnvPtr& env);
  Result<Value> exec_call_block(const Node& node, const EnvPtr& env);
  Status bind_arguments(const std::string& display_name, const NodeList& params,
                        bool uses_kwargs, bool uses_varargs, Args args, const EnvPtr& scope);

  Result<Value> eval(const Node& node, const EnvPtr& env);
  Result<Value> eval_impl(const Node& node, const EnvPtr& env);
  Result<Value> eval_binary(const Node& node, const EnvPtr& env);
  Result<Value> eval_unary(const Node& node, const EnvPtr& env);
  Result<Value> eval_member(const Node& node, const EnvPtr& env);
  Result<Value> eval_slice(const Value& object, const Node& slice, const EnvPtr& env);
  Result<Value> eval_call(const Node& node, const EnvPtr& env);
  Status eval_arguments(const NodeList& args, const EnvPtr& env, Args* positional,
                        std::shared_ptr<Dict>* kwargs);
  Result<Value> apply_filter(const Value& operand, const Node& filter, const EnvPtr& env);

  // Adds "line L, column C" to the first error on its way out.
  Status locate(Pos pos, const Status& status);

  const RenderOptions& options_;
  std::vector<std::weak_ptr<Dict>> namespaces_;
  uint64_t iterations_ = 0;
  int call_depth_ = 0;
  int loop_depth_ = 0;  // for loops around the statement being run (0 inside a macro body)
  bool located_ = false;
  bool raised_ = false;
};

}  // namespace flint::jinja
