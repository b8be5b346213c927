// flint's chat-template engine: renders a model's tokenizer.chat_template (Jinja) from C++.
//
// The reference is @huggingface/jinja 0.5.11 (what transformers.js uses; its Template always
// applies trim_blocks and lstrip_blocks, like transformers' apply_chat_template). A template
// renders byte-identically to it, or fails with an error naming the construct and its line and
// column: unsupported syntax ({% include %}, tests with arguments, ...) at parse time, and
// unsupported filters or methods (`round`, `list.append`, ...) when they run, exactly where the
// reference fails. raise_exception("msg") fails the render with an error carrying msg.
//
//   FLINT_ASSIGN_OR_RETURN(auto tmpl, flint::jinja::Template::parse(source));
//   FLINT_ASSIGN_OR_RETURN(std::string prompt, tmpl.render({{"messages", messages},
//                                                            {"add_generation_prompt", true},
//                                                            {"bos_token", "<s>"}}));
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/jinja/interpreter.h"

namespace flint::jinja {

class Template {
 public:
  // Syntax errors read "chat template syntax error at line L, column C: ...".
  static Result<Template> parse(std::string_view source);

  // context: the template's variables (messages, tools, add_generation_prompt, bos_token, ...),
  // dicts in insertion order. Errors read "chat template error at line L, column C: ..." or, for
  // raise_exception(msg), "chat template raised an exception at line L, column C: msg".
  Result<std::string> render(const nlohmann::ordered_json& context,
                             const RenderOptions& options = {}) const;

 private:
  explicit Template(std::shared_ptr<const NodeList> program) : program_(std::move(program)) {}
  std::shared_ptr<const NodeList> program_;
};

}  // namespace flint::jinja
