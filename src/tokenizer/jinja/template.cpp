#include "tokenizer/jinja/template.h"

#include <exception>
#include <new>

#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/parser.h"

namespace flint::jinja {

namespace {

Pos end_position(std::string_view source) {
  Pos pos{1, 1};
  for (char c : source) {
    if (c == '\n') {
      ++pos.line;
      pos.column = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++pos.column;
    }
  }
  return pos;
}

}  // namespace

Result<Template> Template::parse(std::string_view source) {
  try {
    FLINT_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(source));
    FLINT_ASSIGN_OR_RETURN(NodeList program, jinja::parse(tokens, end_position(source)));
    return Template(std::make_shared<const NodeList>(std::move(program)));
  } catch (const std::bad_alloc&) {
    return error("chat template: out of memory while parsing");
  } catch (const std::exception& e) {
    return error("chat template: {}", e.what());
  }
}

Result<std::string> Template::render(const nlohmann::ordered_json& context,
                                     const RenderOptions& options) const {
  try {
    Interpreter interpreter(options);
    return interpreter.render(*program_, context);
  } catch (const std::bad_alloc&) {
    return error("chat template: out of memory while rendering");
  } catch (const std::exception& e) {
    return error("chat template: {}", e.what());
  }
}

}  // namespace flint::jinja
