// Tokens -> syntax tree, with @huggingface/jinja 0.5.11's grammar and operator precedence
// (lowest first): if-else, or, and, not, comparison/in, + - ~, * / // %, **, is-tests, filters,
// unary sign, call/member, primary. Supported statements: if/elif/else, for/else (with a
// trailing `if` filter), set (also block set), macro, call, filter, break, continue; anything
// else ({% include %}, {% raw %}, ...) is a syntax error naming the statement and its position.
#pragma once

#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace flint::jinja {

// end: the position just past the template, for "unexpected end of template" errors.
Result<NodeList> parse(const std::vector<Token>& tokens, Pos end);

}  // namespace flint::jinja
