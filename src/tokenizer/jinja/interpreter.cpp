#include "tokenizer/jinja/interpreter.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/text.h"

namespace flint::jinja {

const Value* Env::lookup(const std::string& name) const {
  for (const Env* env = this; env; env = env->parent.get()) {
    auto it = env->vars.find(name);
    if (it != env->vars.end()) return &it->second;
  }
  return nullptr;
}

EnvPtr child_env(const EnvPtr& parent) {
  auto env = std::make_shared<Env>();
  env->parent = parent;
  return env;
}

namespace {

// Which of the special names `kwargs` / `varargs` a macro body reads before declaring them: a
// macro only accepts extra keyword / positional arguments when it does (as in Jinja).
struct SpecialArgs {
  bool kwargs = false;
  bool varargs = false;
};

class SpecialArgScanner {
 public:
  SpecialArgs scan(const NodeList& params, const NodeList& body) {
    for (const NodePtr& p : params) declare(p->text);
    visit(body);
    return found_;
  }

 private:
  static bool special(const std::string& name) { return name == "kwargs" || name == "varargs"; }
  void declare(const std::string& name) {
    if (special(name)) declared_.insert(name);
  }
  void declare_target(const Node* target) {
    if (target->kind == NodeKind::kIdentifier) declare(target->text);
    if (target->kind == NodeKind::kTuple) {
      for (const NodePtr& item : target->items) declare_target(item.get());
    }
  }
  void declare_params(const NodeList& params) {
    for (const NodePtr& p : params) declare(p->text);
    for (const NodePtr& p : params) {
      if (p->kind == NodeKind::kKeywordArg) visit(p->a.get());
    }
  }
  void visit_filter(const Node* filter) {
    if (filter->kind == NodeKind::kCall) visit(filter->items);
  }
  void visit(const NodeList& nodes) {
    for (const NodePtr& n : nodes) visit(n.get());
  }
  void visit(const Node* n) {
    if (!n) return;
    switch (n->kind) {
      case NodeKind::kFor:
        declare_target(n->a.get());
        if (n->b->kind == NodeKind::kSelect) {  // Jinja visits a loop's condition last
          visit(n->b->a.get());
          visit(n->body);
          visit(n->alt);
          visit(n->b->b.get());
        } else {
          visit(n->b.get());
          visit(n->body);
          visit(n->alt);
        }
        return;
      case NodeKind::kSet:
        declare_target(n->a.get());
        visit(n->b.get());
        visit(n->body);
        return;
      case NodeKind::kMacro:
        declare_params(n->items);
        visit(n->body);
        return;
      case NodeKind::kCallBlock:
        visit(n->a.get());
        declare_params(n->items);
        visit(n->body);
        return;
      case NodeKind::kFilterBlock:
        visit(n->body);
        visit_filter(n->a.get());
        return;
      case NodeKind::kIdentifier:
        if (special(n->text) && !declared_.contains(n->text)) {
          (n->text == "kwargs" ? found_.kwargs : found_.varargs) = true;
        }
        return;
      case NodeKind::kMember:
        visit(n->a.get());
        if (n->flag) visit(n->b.get());
        return;
      case NodeKind::kFilter:
        visit(n->a.get());
        visit_filter(n->b.get());
        return;
      case NodeKind::kTest:
      case NodeKind::kKeywordArg:
        visit(n->a.get());
        return;
      case NodeKind::kSelect:
        visit(n->b.get());
        visit(n->a.get());
        return;
      default:
        visit(n->a.get());
        visit(n->b.get());
        visit(n->c.get());
        visit(n->items);
        visit(n->body);
        visit(n->alt);
        return;
    }
  }

  std::set<std::string> declared_;
  SpecialArgs found_;
};

// Temporarily sets an int (the loop depth) for a scope.
class ScopedInt {
 public:
  ScopedInt(int* target, int value) : target_(target), saved_(*target) { *target = value; }
  ~ScopedInt() { *target_ = saved_; }

 private:
  int* target_;
  int saved_;
};

bool printable(const Value& v) { return !v.is_none() && !v.is_undefined(); }

}  // namespace

// ---- statements ------------------------------------------------------------------------------

Result<std::string> Interpreter::render(const NodeList& program, const nlohmann::ordered_json& context) {
  if (!context.is_object()) return error("the chat template context must be a JSON object");
  auto global = std::make_shared<Env>();
  builtins::install_globals(*global);
  for (const auto& [key, value] : context.items()) {
    // The reference refuses to redefine its globals (true, range, namespace, ...).
    if (builtins::is_global(key)) return error("Variable already declared: {}", key);
    global->set(key, from_json(value));
  }
  std::string out;
  FLINT_ASSIGN_OR_RETURN(Flow flow, exec_block(program, global, out));
  (void)flow;  // break/continue outside a loop fail where they are
  return out;
}

Interpreter::~Interpreter() {
  for (const std::weak_ptr<Dict>& ns : namespaces_) {
    if (std::shared_ptr<Dict> d = ns.lock()) d->clear();
  }
}

Value Interpreter::new_namespace(std::shared_ptr<Dict> entries) {
  namespaces_.push_back(entries);
  return Value::new_namespace(std::move(entries));
}

Status Interpreter::raise(const std::string& message) {
  raised_ = true;
  return Status::error(message);
}

Status Interpreter::check_size(size_t bytes) const {
  if (bytes > options_.max_output_bytes) {
    return error("the rendered text would exceed {} bytes", options_.max_output_bytes);
  }
  return Status::ok();
}

Status Interpreter::locate(Pos pos, const Status& status) {
  if (located_) return status;
  located_ = true;
  const char* what = raised_ ? "chat template raised an exception" : "chat template error";
  return Status::error(
      fmt::format("{} at line {}, column {}: {}", what, pos.line, pos.column, status.message()));
}

Result<Interpreter::Flow> Interpreter::exec_block(const NodeList& body, const EnvPtr& env, std::string& out) {
  size_t mark = out.size();
  for (const NodePtr& node : body) {
    FLINT_ASSIGN_OR_RETURN(Flow flow, exec(*node, env, out));
    if (flow != Flow::kNormal) {
      out.resize(mark);  // the reference drops a block's output when break/continue leaves it
      return flow;
    }
  }
  return Flow::kNormal;
}

Result<std::string> Interpreter::render_block(const NodeList& body, const EnvPtr& env) {
  ScopedInt no_loop(&loop_depth_, 0);  // break/continue cannot leave a macro or a block set
  std::string out;
  FLINT_ASSIGN_OR_RETURN(Flow flow, exec_block(body, env, out));
  (void)flow;
  return out;
}

Result<Interpreter::Flow> Interpreter::exec(const Node& node, const EnvPtr& env, std::string& out) {
  Result<Flow> result = exec_impl(node, env, out);
  if (!result.is_ok()) return locate(node.pos, result.status());
  return result;
}

Result<Interpreter::Flow> Interpreter::exec_impl(const Node& node, const EnvPtr& env, std::string& out) {
  switch (node.kind) {
    case NodeKind::kText:
      out += node.text;
      FLINT_RETURN_IF_ERROR(check_size(out.size()));
      return Flow::kNormal;
    case NodeKind::kComment:
      return Flow::kNormal;
    case NodeKind::kOutput: {
      FLINT_ASSIGN_OR_RETURN(Value v, eval(*node.a, env));
      if (printable(v)) {
        FLINT_ASSIGN_OR_RETURN(std::string s, to_output(v));
        out += s;
        FLINT_RETURN_IF_ERROR(check_size(out.size()));
      }
      return Flow::kNormal;
    }
    case NodeKind::kIf: {
      FLINT_ASSIGN_OR_RETURN(Value test, eval(*node.a, env));
      return exec_block(test.truthy() ? node.body : node.alt, env, out);
    }
    case NodeKind::kFor:
      return exec_for(node, env, out);
    case NodeKind::kSet:
      FLINT_RETURN_IF_ERROR(exec_set(node, env));
      return Flow::kNormal;
    case NodeKind::kMacro:
      define_macro(node, env);
      return Flow::kNormal;
    case NodeKind::kCallBlock:
    case NodeKind::kFilterBlock: {
      Value v;
      if (node.kind == NodeKind::kCallBlock) {
        FLINT_ASSIGN_OR_RETURN(v, exec_call_block(node, env));
      } else {
        FLINT_ASSIGN_OR_RETURN(std::string body, render_block(node.body, env));
        FLINT_ASSIGN_OR_RETURN(v, apply_filter(Value::new_string(std::move(body)), *node.a, env));
      }
      if (printable(v)) {
        FLINT_ASSIGN_OR_RETURN(std::string s, to_output(v));
        out += s;
        FLINT_RETURN_IF_ERROR(check_size(out.size()));
      }
      return Flow::kNormal;
    }
    case NodeKind::kBreak:
    case NodeKind::kContinue: {
      bool is_break = node.kind == NodeKind::kBreak;
      if (loop_depth_ == 0) {
        return error("{{% {} %}} outside of a for loop (or inside a macro or block set)",
                     is_break ? "break" : "continue");
      }
      return is_break ? Flow::kBreak : Flow::kContinue;
    }
    default:
      return error("unexpected expression in statement position");
  }
}

Result<Interpreter::Flow> Interpreter::exec_for(const Node& node, const EnvPtr& env, std::string& out) {
  EnvPtr scope = child_env(env);
  const Node* condition = nullptr;
  Value iterable;
  if (node.b->kind == NodeKind::kSelect) {  // for x in xs if cond
    FLINT_ASSIGN_OR_RETURN(iterable, eval(*node.b->a, scope));
    condition = node.b->b.get();
  } else {
    FLINT_ASSIGN_OR_RETURN(iterable, eval(*node.b, scope));
  }
  std::vector<Value> all;
  if (iterable.is_list()) {
    all = iterable.items();
  } else if (iterable.is_dict()) {
    for (const auto& entry : iterable.dict().entries()) all.push_back(Value::new_string(entry.first));
  } else {
    return error("Expected iterable or object type in for loop: got {}", iterable.type_name());
  }

  const Node& target = *node.a;
  auto assign = [&](const EnvPtr& e, const Value& current) -> Status {
    if (target.kind == NodeKind::kIdentifier) {
      e->set(target.text, current);
      return Status::ok();
    }
    for (size_t j = 0; j < target.items.size(); ++j) {
      if (target.items[j]->kind != NodeKind::kIdentifier) {
        return error("Cannot unpack to something that is not a name in a for loop");
      }
      e->set(target.items[j]->text, current.items()[j]);
    }
    return Status::ok();
  };

  std::vector<Value> items;
  for (const Value& current : all) {
    if (++iterations_ > options_.max_loop_iterations) {
      return error("more than {} loop iterations", options_.max_loop_iterations);
    }
    if (target.kind == NodeKind::kTuple) {
      if (!current.is_list() || current.list().tuple) {
        return error("Cannot unpack non-iterable type: {}", current.type_name());
      }
      if (current.items().size() != target.items.size()) {
        return error("Too {} items to unpack",
                     target.items.size() > current.items().size() ? "few" : "many");
      }
    }
    if (condition) {
      EnvPtr loop_scope = child_env(scope);
      FLINT_RETURN_IF_ERROR(assign(loop_scope, current));
      FLINT_ASSIGN_OR_RETURN(Value keep, eval(*condition, loop_scope));
      if (!keep.truthy()) continue;
    }
    items.push_back(current);
  }

  bool no_iteration = true;
  {
    ScopedInt in_loop(&loop_depth_, loop_depth_ + 1);
    const double n = static_cast<double>(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      if (++iterations_ > options_.max_loop_iterations) {
        return error("more than {} loop iterations", options_.max_loop_iterations);
      }
      const double k = static_cast<double>(i);
      scope->set("loop", make_dict({
                             {"index", Value::new_int(k + 1)},
                             {"index0", Value::new_int(k)},
                             {"revindex", Value::new_int(n - k)},
                             {"revindex0", Value::new_int(n - k - 1)},
                             {"first", Value::new_bool(i == 0)},
                             {"last", Value::new_bool(i + 1 == items.size())},
                             {"length", Value::new_int(n)},
                             {"previtem", i > 0 ? items[i - 1] : Value()},
                             {"nextitem", i + 1 < items.size() ? items[i + 1] : Value()},
                         }));
      FLINT_RETURN_IF_ERROR(assign(scope, items[i]));
      FLINT_ASSIGN_OR_RETURN(Flow flow, exec_block(node.body, scope, out));
      if (flow == Flow::kContinue) continue;  // (the reference then counts no iteration)
      if (flow == Flow::kBreak) break;
      no_iteration = false;
    }
  }
  // The {% else %} block renders when no iteration ran to its end; a break in it belongs to an
  // enclosing loop.
  if (no_iteration) return exec_block(node.alt, scope, out);
  return Flow::kNormal;
}

Status Interpreter::exec_set(const Node& node, const EnvPtr& env) {
  Value rhs;
  if (node.b) {
    FLINT_ASSIGN_OR_RETURN(rhs, eval(*node.b, env));
  } else {
    FLINT_ASSIGN_OR_RETURN(std::string body, render_block(node.body, env));
    rhs = Value::new_string(std::move(body));
  }
  const Node& target = *node.a;
  switch (target.kind) {
    case NodeKind::kIdentifier:
      env->set(target.text, std::move(rhs));
      return Status::ok();
    case NodeKind::kTuple: {
      if (!rhs.is_list()) return error("Cannot unpack non-iterable type in set: {}", rhs.type_name());
      if (rhs.items().size() != target.items.size()) {
        return error("Too {} items to unpack in set",
                     target.items.size() > rhs.items().size() ? "few" : "many");
      }
      for (size_t i = 0; i < target.items.size(); ++i) {
        if (target.items[i]->kind != NodeKind::kIdentifier) {
          return error("Cannot unpack to something that is not a name in set");
        }
        env->set(target.items[i]->text, rhs.items()[i]);
      }
      return Status::ok();
    }
    case NodeKind::kMember: {
      FLINT_ASSIGN_OR_RETURN(Value object, eval(*target.a, env));
      if (!object.is(Type::kNamespace)) return error("cannot assign attribute on non-namespace object");
      // Like the reference, ns[x] = ... assigns the attribute named "x".
      if (target.b->kind != NodeKind::kIdentifier) {
        return error("Cannot assign to member with non-identifier property");
      }
      object.dict().set(target.b->text, std::move(rhs));
      return Status::ok();
    }
    default:
      return error("cannot assign to this expression in {{% set %}}");
  }
}

Status Interpreter::bind_arguments(const std::string& display_name, const NodeList& params,
                                   bool uses_kwargs, bool uses_varargs, Args args,
                                   const EnvPtr& scope) {
  auto kwargs = std::make_shared<Dict>();
  if (!args.empty() && args.back().is_kwargs()) {
    *kwargs = args.back().dict();
    kwargs->kwargs = false;
    args.pop_back();
  }
  std::vector<std::pair<std::string, const Node*>> pending_defaults;
  for (size_t i = 0; i < params.size(); ++i) {
    const Node& param = *params[i];
    const Node* default_value = param.kind == NodeKind::kKeywordArg ? param.a.get() : nullptr;
    std::optional<Value> value;
    if (i < args.size()) value = args[i];
    if (!value) {
      if (const Value* kw = kwargs->find(param.text)) {
        value = *kw;
        kwargs->erase(param.text);
      }
    }
    if (!value && default_value) pending_defaults.emplace_back(param.text, default_value);
    scope->set(param.text, value.value_or(Value()));
  }
  if (uses_kwargs) {
    scope->set("kwargs", Value::new_dict(kwargs));
  } else if (kwargs->size() > 0) {
    return error("macro {} takes no keyword argument '{}'", display_name, kwargs->entries()[0].first);
  }
  if (uses_varargs) {
    std::vector<Value> rest;
    for (size_t i = params.size(); i < args.size(); ++i) rest.push_back(args[i]);
    scope->set("varargs", Value::new_list(std::move(rest)));
  } else if (args.size() > params.size()) {
    return error("macro {} takes not more than {} argument(s)", display_name, params.size());
  }
  for (const auto& [name, expr] : pending_defaults) {
    FLINT_ASSIGN_OR_RETURN(Value v, eval(*expr, scope));
    scope->set(name, std::move(v));
  }
  return Status::ok();
}

void Interpreter::define_macro(const Node& node, const EnvPtr& env) {
  SpecialArgs special = SpecialArgScanner().scan(node.items, node.body);
  const Node* macro = &node;
  env->set(node.text, Value::new_function(node.text, [macro, special](Interpreter& interp,
                                                                   const EnvPtr& scope,
                                                                   Args& args) -> Result<Value> {
    // The macro body runs in a scope under the CALLER's scope, as in the reference.
    EnvPtr macro_scope = child_env(scope);
    FLINT_RETURN_IF_ERROR(interp.bind_arguments("'" + macro->text + "'", macro->items,
                                                special.kwargs, special.varargs, args, macro_scope));
    FLINT_ASSIGN_OR_RETURN(std::string out, interp.render_block(macro->body, macro_scope));
    return Value::new_string(std::move(out));
  }));
}

Result<Value> Interpreter::exec_call_block(const Node& node, const EnvPtr& env) {
  SpecialArgs special = SpecialArgScanner().scan(node.items, node.body);
  const Node* block = &node;
  Value caller = Value::new_function("caller", [block, special, env](Interpreter& interp, const EnvPtr&,
                                                                 Args& args) -> Result<Value> {
    EnvPtr block_env = child_env(env);
    FLINT_RETURN_IF_ERROR(interp.bind_arguments("None", block->items, special.kwargs,
                                                special.varargs, args, block_env));
    FLINT_ASSIGN_OR_RETURN(std::string out, interp.render_block(block->body, block_env));
    return Value::new_string(std::move(out));
  });
  const Node& call = *node.a;
  Args args;
  std::shared_ptr<Dict> kwargs;
  FLINT_RETURN_IF_ERROR(eval_arguments(call.items, env, &args, &kwargs));
  kwargs->kwargs = true;
  args.push_back(Value::new_dict(std::move(kwargs)));
  FLINT_ASSIGN_OR_RETURN(Value fn, eval(*call.a, env));
  EnvPtr call_env = child_env(env);
  call_env->set("caller", std::move(caller));
  return this->call(fn, args, call_env);
}

Result<Value> Interpreter::call(const Value& fn, Args& args, const EnvPtr& scope) {
  if (!fn.is(Type::kFunction)) {
    return error("Cannot call something that is not a function: got {}", fn.type_name());
  }
  if (call_depth_ >= options_.max_call_depth) {
    return error("macro calls nested deeper than {} (runaway recursion?)", options_.max_call_depth);
  }
  ++call_depth_;
  Result<Value> result = fn.function().fn(*this, scope, args);
  --call_depth_;
  return result;
}

}  // namespace flint::jinja
