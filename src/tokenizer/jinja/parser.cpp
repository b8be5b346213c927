#include "tokenizer/jinja/parser.h"

#include <cstdlib>
#include <initializer_list>
#include <set>
#include <utility>

namespace flint::jinja {

namespace {

// Nesting deeper than this (brackets, not-chains, blocks) is refused: it would only serve to
// exhaust the stack of a recursive-descent parser and interpreter.
constexpr int kMaxNesting = 64;

using T = TokenType;

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, Pos end) : t_(tokens), end_(end) {}

  Result<NodeList> run() {
    NodeList program;
    while (i_ < t_.size()) {
      FLINT_ASSIGN_OR_RETURN(NodePtr node, parse_any());
      program.push_back(std::move(node));
    }
    return program;
  }

 private:
  // RAII nesting counter.
  struct Nest {
    explicit Nest(int* depth) : depth_(depth) { ++*depth_; }
    ~Nest() { --*depth_; }
    int* depth_;
  };

  bool eof(size_t ahead = 0) const { return i_ + ahead >= t_.size(); }
  Pos here() const { return eof() ? end_ : t_[i_].pos; }
  std::string found() const { return eof() ? "the end of the template" : describe(t_[i_]); }
  bool is(T type, size_t ahead = 0) const { return !eof(ahead) && t_[i_ + ahead].type == type; }
  bool is_identifier(std::string_view name, size_t ahead = 0) const {
    return is(T::kIdentifier, ahead) && t_[i_ + ahead].value == name;
  }
  bool is_statement(std::initializer_list<std::string_view> names) const {
    if (!is(T::kOpenStatement) || !is(T::kIdentifier, 1)) return false;
    for (std::string_view name : names) {
      if (t_[i_ + 1].value == name) return true;
    }
    return false;
  }
  Status unexpected(std::string_view expected) const {
    return syntax_error(here(), "expected {}, found {}", expected, found());
  }
  Status expect(T type, std::string_view expected) {
    if (!is(type)) return unexpected(expected);
    ++i_;
    return Status::ok();
  }
  Status expect_identifier(std::string_view name) {
    if (!is_identifier(name)) return unexpected(fmt::format("'{}'", name));
    ++i_;
    return Status::ok();
  }
  Status check_depth() const {
    if (depth_ > kMaxNesting) {
      return syntax_error(here(), "template nesting is deeper than {} levels", kMaxNesting);
    }
    return Status::ok();
  }

  // Statements up to one of `until` (not consumed); the end of the template is an unclosed block.
  Status parse_body(std::initializer_list<std::string_view> until, const Token& opener,
                    NodeList* body) {
    while (!is_statement(until)) {
      if (eof()) {
        return syntax_error(opener.pos, "unclosed {{% {} %}} block: expected {{% {} %}} before the end "
                            "of the template", opener.value, *until.begin());
      }
      FLINT_ASSIGN_OR_RETURN(NodePtr node, parse_any());
      body->push_back(std::move(node));
    }
    return Status::ok();
  }
  Status expect_end(std::string_view end_name) {
    FLINT_RETURN_IF_ERROR(expect(T::kOpenStatement, fmt::format("{{% {} %}}", end_name)));
    FLINT_RETURN_IF_ERROR(expect_identifier(end_name));
    return expect(T::kCloseStatement, "'%}'");
  }

  Result<NodePtr> parse_any();
  Result<NodePtr> parse_statement();
  Result<NodePtr> parse_set(const Token& keyword);
  Result<NodePtr> parse_if(const Token& keyword);
  Result<NodePtr> parse_macro(const Token& keyword);
  Result<NodePtr> parse_for(const Token& keyword);
  Result<NodePtr> parse_call_block(const Token& keyword);
  Result<NodePtr> parse_filter_block(const Token& keyword);

  Result<NodePtr> parse_expression_sequence(bool primary);
  Result<NodePtr> parse_expression();
  Result<NodePtr> parse_or();
  Result<NodePtr> parse_and();
  Result<NodePtr> parse_not();
  Result<NodePtr> parse_comparison();
  Result<NodePtr> parse_additive();
  Result<NodePtr> parse_multiplicative();
  Result<NodePtr> parse_power();
  Result<NodePtr> parse_test();
  Result<NodePtr> parse_filter();
  Result<NodePtr> parse_unary_sign();
  Result<NodePtr> parse_call_member();
  Result<NodePtr> parse_call(NodePtr callee);
  Status parse_args(bool parameters, NodeList* args);
  Result<NodePtr> parse_member(NodePtr object);
  Result<NodePtr> parse_subscript(Pos pos);
  Result<NodePtr> parse_primary();

  // Binary left-associative loop: left (op right)*.
  template <typename Next, typename Match>
  Result<NodePtr> binary_loop(Next next, Match match) {
    FLINT_ASSIGN_OR_RETURN(NodePtr left, (this->*next)());
    while (match()) {
      const Token& op = t_[i_++];
      FLINT_ASSIGN_OR_RETURN(NodePtr right, (this->*next)());
      NodePtr node = make_node(NodeKind::kBinary, op.pos);
      node->text = op.value;
      node->a = std::move(left);
      node->b = std::move(right);
      left = std::move(node);
    }
    return left;
  }

  const std::vector<Token>& t_;
  Pos end_;
  size_t i_ = 0;
  int depth_ = 0;
};

Result<NodePtr> Parser::parse_any() {
  Nest nest(&depth_);
  FLINT_RETURN_IF_ERROR(check_depth());
  const Token& token = t_[i_];
  switch (token.type) {
    case T::kComment: {
      ++i_;
      return make_node(NodeKind::kComment, token.pos);
    }
    case T::kText: {
      ++i_;
      NodePtr node = make_node(NodeKind::kText, token.pos);
      node->text = token.value;
      return node;
    }
    case T::kOpenStatement:
      return parse_statement();
    case T::kOpenExpression: {
      ++i_;
      NodePtr node = make_node(NodeKind::kOutput, token.pos);
      FLINT_ASSIGN_OR_RETURN(node->a, parse_expression());
      FLINT_RETURN_IF_ERROR(expect(T::kCloseExpression, "'}}'"));
      return node;
    }
    default:
      return syntax_error(token.pos, "unexpected {}", describe(token));
  }
}

Result<NodePtr> Parser::parse_statement() {
  ++i_;  // {%
  if (!is(T::kIdentifier)) return unexpected("a statement name after '{%'");
  const Token& keyword = t_[i_++];
  const std::string& name = keyword.value;
  if (name == "set") return parse_set(keyword);
  if (name == "if") {
    FLINT_ASSIGN_OR_RETURN(NodePtr node, parse_if(keyword));
    FLINT_RETURN_IF_ERROR(expect_end("endif"));
    return node;
  }
  if (name == "macro") return parse_macro(keyword);
  if (name == "for") return parse_for(keyword);
  if (name == "call") return parse_call_block(keyword);
  if (name == "filter") return parse_filter_block(keyword);
  if (name == "break" || name == "continue") {
    FLINT_RETURN_IF_ERROR(expect(T::kCloseStatement, "'%}'"));
    return make_node(name == "break" ? NodeKind::kBreak : NodeKind::kContinue, keyword.pos);
  }
  static const std::set<std::string, std::less<>> kClosers = {
      "elif", "else", "endif", "endfor", "endmacro", "endset", "endcall", "endfilter"};
  if (kClosers.contains(name)) {
    return syntax_error(keyword.pos, "unexpected {{% {} %}} outside of its block", name);
  }
  return syntax_error(keyword.pos, "unsupported statement {{% {} %}}", name);
}

Result<NodePtr> Parser::parse_set(const Token& keyword) {
  NodePtr node = make_node(NodeKind::kSet, keyword.pos);
  FLINT_ASSIGN_OR_RETURN(node->a, parse_expression_sequence(false));
  if (is(T::kEquals)) {
    ++i_;
    FLINT_ASSIGN_OR_RETURN(node->b, parse_expression_sequence(false));
  } else {
    FLINT_RETURN_IF_ERROR(expect(T::kCloseStatement, "'=' or '%}'"));
    FLINT_RETURN_IF_ERROR(parse_body({"endset"}, keyword, &node->body));
    i_ += 2;  // {% endset
  }
  FLINT_RETURN_IF_ERROR(expect(T::kCloseStatement, "'%}'"));
  return node;
}

Result<NodePtr> Parser::parse_if(const Token& keyword) {
  NodePtr node = make_node(NodeKind::kIf, keyword.pos);
  FLINT_ASSIGN_OR_RETURN(node->a, parse_expression());
  FLINT_RETURN_IF_ERROR(expect(T::kCloseStatement, "'%}'"));
  FLINT_RETURN_IF_ERROR(parse_body({"endif", "elif", "else"}, keyword, &node->body));
  if (is_statement({"elif"})) {
    const Token& elif = t_[i_ + 1];
    i_ += 2;
    FLINT_ASSIGN_OR_RETURN(NodePtr nested, parse_if(elif));
    node->alt.push_back(std::move(nested));
  } else if (is_statement({"else"})) {
    i_ += 2;
    FLINT_RETURN_IF_ERROR(expect(T::kCloseStatement, "'%}'"));
    FLINT_RETURN_IF_ERROR(parse_body({"endif"}, keyword, &node->alt));
  }
  return node;
}

Result<NodePtr> Parser::parse_macro(const Token& keyword) {
  NodePtr node = make_node(NodeKind::kMacro, keyword.pos);
  if (!is(T::kIdentifier)) return unexpected("a macro name");
  node->text = t_[i_++].value;
  FLINT_RETURN_IF_ERROR(parse_args(true, &node->items));
  FLINT_RETURN_IF_ERROR(expect(T::kCloseStatement, "'%}'"));
  FLINT_RETURN_IF_ERROR(parse_body({"endmacro"}, keyword, &node->body));
  FLINT_RETURN_IF_ERROR(expect_end("endmacro"));
  return node;
}

Result<NodePtr> Parser::parse_for(const Token& keyword) {
  NodePtr node = make_node(NodeKind::kFor, keyword.pos);
  Pos target_pos = here();
  FLINT_ASSIGN_OR_RETURN(node->a, parse_expression_sequence(true));
  if (node->a->kind != NodeKind::kIdentifier && node->a->kind != NodeKind::kTuple) {
    return syntax_error(target_pos, "expected a name or names for the loop variable");
  }
  if (!is_identifier("in")) return unexpected("'in' after the loop variable");
  ++i_;
  FLINT_ASSIGN_OR_RETURN(node->b, parse_expression());
  if (is_identifier("recursive")) {
    return syntax_error(here(), "recursive for loops are not supported");
  }
  FLINT_RETURN_IF_ERROR(expect(T::kCloseStatement, "'%}'"));
  FLINT_RETURN_IF_ERROR(parse_body({"endfor", "else"}, keyword, &node->body));
  if (is_statement({"else"})) {
    i_ += 2;
    FLINT_RETURN_IF_ERROR(expect(T::kCloseStatement, "'%}'"));
    FLINT_RETURN_IF_ERROR(parse_body({"endfor"}, keyword, &node->alt));
  }
  FLINT_RETURN_IF_ERROR(expect_end("endfor"));
  return node;
}

Result<NodePtr> Parser::parse_call_block(const Token& keyword) {
  NodePtr node = make_node(NodeKind::kCallBlock, keyword.pos);
  if (is(T::kOpenParen)) {
    node->flag = true;
    FLINT_RETURN_IF_ERROR(parse_args(true, &node->items));
  }
  if (!is(T::kIdentifier)) return unexpected("the name of the macro to call");
  const Token& name = t_[i_++];
  NodePtr call = make_node(NodeKind::kCall, name.pos);
  call->a = make_node(NodeKind::kIdentifier, name.pos);
  call->a->text = name.value;
  FLINT_RETURN_IF_ERROR(parse_args(false, &call->items));
  node->a = std::move(call);
  FLINT_RETURN_IF_ERROR(expect(T::kCloseStatement, "'%}'"));
  FLINT_RETURN_IF_ERROR(parse_body({"endcall"}, keyword, &node->body));
  FLINT_RETURN_IF_ERROR(expect_end("endcall"));
  return node;
}

Result<NodePtr> Parser::parse_filter_block(const Token& keyword) {
  NodePtr node = make_node(NodeKind::kFilterBlock, keyword.pos);
  FLINT_ASSIGN_OR_RETURN(node->a, parse_primary());
  if (node->a->kind == NodeKind::kIdentifier && is(T::kOpenParen)) {
    FLINT_ASSIGN_OR_RETURN(node->a, parse_call(std::move(node->a)));
  }
  FLINT_RETURN_IF_ERROR(expect(T::kCloseStatement, "'%}'"));
  FLINT_RETURN_IF_ERROR(parse_body({"endfilter"}, keyword, &node->body));
  FLINT_RETURN_IF_ERROR(expect_end("endfilter"));
  return node;
}

Result<NodePtr> Parser::parse_expression_sequence(bool primary) {
  Pos pos = here();
  auto next = [&]() { return primary ? parse_primary() : parse_expression(); };
  FLINT_ASSIGN_OR_RETURN(NodePtr first, next());
  if (!is(T::kComma)) return first;
  NodePtr tuple = make_node(NodeKind::kTuple, pos);
  tuple->items.push_back(std::move(first));
  while (true) {
    ++i_;  // ,
    FLINT_ASSIGN_OR_RETURN(NodePtr item, next());
    tuple->items.push_back(std::move(item));
    if (!is(T::kComma)) break;
  }
  return tuple;
}

Result<NodePtr> Parser::parse_expression() {
  Nest nest(&depth_);
  FLINT_RETURN_IF_ERROR(check_depth());
  FLINT_ASSIGN_OR_RETURN(NodePtr value, parse_or());
  if (!is_identifier("if")) return value;
  Pos pos = t_[i_++].pos;
  FLINT_ASSIGN_OR_RETURN(NodePtr test, parse_or());
  if (is_identifier("else")) {
    ++i_;
    NodePtr node = make_node(NodeKind::kTernary, pos);
    node->a = std::move(test);
    node->b = std::move(value);
    FLINT_ASSIGN_OR_RETURN(node->c, parse_expression());
    return node;
  }
  NodePtr node = make_node(NodeKind::kSelect, pos);
  node->a = std::move(value);
  node->b = std::move(test);
  return node;
}

Result<NodePtr> Parser::parse_or() {
  return binary_loop(&Parser::parse_and, [&] { return is_identifier("or"); });
}

Result<NodePtr> Parser::parse_and() {
  return binary_loop(&Parser::parse_not, [&] { return is_identifier("and"); });
}

Result<NodePtr> Parser::parse_not() {
  NodePtr result;
  // Like the reference, `not a not b` keeps only the last negation.
  while (is_identifier("not")) {
    Nest nest(&depth_);
    FLINT_RETURN_IF_ERROR(check_depth());
    Pos pos = t_[i_++].pos;
    FLINT_ASSIGN_OR_RETURN(NodePtr arg, parse_not());
    result = make_node(NodeKind::kUnary, pos);
    result->text = "not";
    result->a = std::move(arg);
  }
  if (result) return result;
  return parse_comparison();
}

Result<NodePtr> Parser::parse_comparison() {
  FLINT_ASSIGN_OR_RETURN(NodePtr left, parse_additive());
  while (true) {
    Pos pos = here();
    std::string op;
    if (is_identifier("not") && is_identifier("in", 1)) {
      op = "not in";
      i_ += 2;
    } else if (is_identifier("in") || is(T::kComparisonBinaryOperator)) {
      op = t_[i_++].value;
    } else {
      break;
    }
    FLINT_ASSIGN_OR_RETURN(NodePtr right, parse_additive());
    NodePtr node = make_node(NodeKind::kBinary, pos);
    node->text = std::move(op);
    node->a = std::move(left);
    node->b = std::move(right);
    left = std::move(node);
  }
  return left;
}

Result<NodePtr> Parser::parse_additive() {
  return binary_loop(&Parser::parse_multiplicative,
                     [&] { return is(T::kAdditiveBinaryOperator); });
}

Result<NodePtr> Parser::parse_multiplicative() {
  return binary_loop(&Parser::parse_power, [&] { return is(T::kMultiplicativeBinaryOperator); });
}

Result<NodePtr> Parser::parse_power() {
  return binary_loop(&Parser::parse_test, [&] { return is(T::kExponentiationBinaryOperator); });
}

Result<NodePtr> Parser::parse_test() {
  FLINT_ASSIGN_OR_RETURN(NodePtr operand, parse_filter());
  while (is_identifier("is")) {
    ++i_;
    bool negate = is_identifier("not");
    if (negate) ++i_;
    if (!is(T::kIdentifier)) return unexpected("the name of a test after 'is'");
    const Token& name = t_[i_++];
    if (is(T::kOpenParen) || is(T::kOpenSquareBracket) || is(T::kNumericLiteral) ||
        is(T::kStringLiteral)) {
      return syntax_error(name.pos, "tests with arguments ('is {} ...') are not supported",
                          name.value);
    }
    NodePtr node = make_node(NodeKind::kTest, name.pos);
    node->text = name.value;
    node->flag = negate;
    node->a = std::move(operand);
    operand = std::move(node);
  }
  return operand;
}

Result<NodePtr> Parser::parse_filter() {
  FLINT_ASSIGN_OR_RETURN(NodePtr operand, parse_unary_sign());
  while (is(T::kPipe)) {
    ++i_;
    if (!is(T::kIdentifier)) return unexpected("a filter name after '|'");
    const Token& name = t_[i_++];
    NodePtr filter = make_node(NodeKind::kIdentifier, name.pos);
    filter->text = name.value;
    if (is(T::kOpenParen)) {
      FLINT_ASSIGN_OR_RETURN(filter, parse_call(std::move(filter)));
    }
    NodePtr node = make_node(NodeKind::kFilter, name.pos);
    node->a = std::move(operand);
    node->b = std::move(filter);
    operand = std::move(node);
  }
  return operand;
}

Result<NodePtr> Parser::parse_unary_sign() {
  if ((is(T::kUnaryOperator) || is(T::kAdditiveBinaryOperator)) &&
      (t_[i_].value == "-" || t_[i_].value == "+")) {
    Nest nest(&depth_);
    FLINT_RETURN_IF_ERROR(check_depth());
    const Token& op = t_[i_++];
    NodePtr node = make_node(NodeKind::kUnary, op.pos);
    node->text = op.value;
    FLINT_ASSIGN_OR_RETURN(node->a, parse_unary_sign());
    return node;
  }
  return parse_call_member();
}

Result<NodePtr> Parser::parse_call_member() {
  FLINT_ASSIGN_OR_RETURN(NodePtr primary, parse_primary());
  FLINT_ASSIGN_OR_RETURN(NodePtr member, parse_member(std::move(primary)));
  if (is(T::kOpenParen)) return parse_call(std::move(member));
  return member;
}

Result<NodePtr> Parser::parse_call(NodePtr callee) {
  NodePtr call = make_node(NodeKind::kCall, callee->pos);
  call->a = std::move(callee);
  FLINT_RETURN_IF_ERROR(parse_args(false, &call->items));
  FLINT_ASSIGN_OR_RETURN(NodePtr expr, parse_member(std::move(call)));
  if (is(T::kOpenParen)) return parse_call(std::move(expr));
  return expr;
}

Status Parser::parse_args(bool parameters, NodeList* args) {
  FLINT_RETURN_IF_ERROR(expect(T::kOpenParen, "'('"));
  std::set<std::string, std::less<>> names;
  bool saw_keyword = false, saw_spread = false;
  while (!is(T::kCloseParen)) {
    if (eof()) return unexpected("')'");
    Pos pos = here();
    bool keyword_spread = is(T::kExponentiationBinaryOperator);
    bool spread = is(T::kMultiplicativeBinaryOperator) && t_[i_].value == "*";
    if (parameters && (keyword_spread || spread)) {
      return syntax_error(pos, "argument unpacking is not allowed in parameter declarations");
    }
    if (keyword_spread) {
      ++i_;
      NodePtr node = make_node(NodeKind::kKeywordSpread, pos);
      FLINT_ASSIGN_OR_RETURN(node->a, parse_expression());
      args->push_back(std::move(node));
      if (is(T::kComma)) ++i_;
      if (!is(T::kCloseParen)) return unexpected("')' after the final **argument");
      break;
    }
    NodePtr arg;
    if (spread) {
      if (saw_spread) return syntax_error(pos, "only one *argument unpacking is allowed");
      saw_spread = true;
      ++i_;
      arg = make_node(NodeKind::kSpread, pos);
      FLINT_ASSIGN_OR_RETURN(arg->a, parse_expression());
    } else {
      FLINT_ASSIGN_OR_RETURN(arg, parse_expression());
      if (is(T::kEquals)) {
        ++i_;
        if (arg->kind != NodeKind::kIdentifier) {
          return syntax_error(pos, "expected a name for the {}",
                              parameters ? "parameter" : "keyword argument");
        }
        NodePtr kw = make_node(NodeKind::kKeywordArg, pos);
        kw->text = arg->text;
        FLINT_ASSIGN_OR_RETURN(kw->a, parse_expression());
        arg = std::move(kw);
      }
      if (parameters) {
        if (arg->kind != NodeKind::kIdentifier && arg->kind != NodeKind::kKeywordArg) {
          return syntax_error(pos, "expected a name for the parameter");
        }
        if (!names.insert(arg->text).second) {
          return syntax_error(pos, "duplicate parameter name: {}", arg->text);
        }
      }
      if (arg->kind == NodeKind::kKeywordArg) {
        saw_keyword = true;
      } else if (saw_keyword) {
        return syntax_error(pos, "{}", parameters ? "non-default argument follows default argument"
                                                  : "positional argument follows keyword argument");
      } else if (saw_spread) {
        return syntax_error(pos, "positional argument follows *argument unpacking");
      }
    }
    args->push_back(std::move(arg));
    if (is(T::kComma)) ++i_;
  }
  ++i_;  // )
  return Status::ok();
}

Result<NodePtr> Parser::parse_subscript(Pos pos) {
  // [i], [a:b], [a:b:c], [:b], [::-1] ...; an omitted part is a null child.
  NodeList parts;
  bool is_slice = false;
  while (!is(T::kCloseSquareBracket)) {
    if (eof()) return unexpected("']'");
    if (is(T::kColon)) {
      parts.push_back(nullptr);
      ++i_;
      is_slice = true;
    } else {
      FLINT_ASSIGN_OR_RETURN(NodePtr part, parse_expression());
      parts.push_back(std::move(part));
      if (is(T::kColon)) {
        ++i_;
        is_slice = true;
      }
    }
  }
  if (parts.empty()) return syntax_error(pos, "expected an index or a slice inside '[]'");
  if (!is_slice) return std::move(parts[0]);
  if (parts.size() > 3) return syntax_error(pos, "a slice has at most 3 parts");
  NodePtr slice = make_node(NodeKind::kSlice, pos);
  parts.resize(3);
  slice->a = std::move(parts[0]);
  slice->b = std::move(parts[1]);
  slice->c = std::move(parts[2]);
  return slice;
}

Result<NodePtr> Parser::parse_member(NodePtr object) {
  while (is(T::kDot) || is(T::kOpenSquareBracket)) {
    bool computed = is(T::kOpenSquareBracket);
    Pos pos = t_[i_++].pos;
    NodePtr node = make_node(NodeKind::kMember, pos);
    node->flag = computed;
    node->a = std::move(object);
    if (computed) {
      FLINT_ASSIGN_OR_RETURN(node->b, parse_subscript(pos));
      FLINT_RETURN_IF_ERROR(expect(T::kCloseSquareBracket, "']'"));
    } else {
      node->pos = here();
      FLINT_ASSIGN_OR_RETURN(node->b, parse_primary());
      if (node->b->kind != NodeKind::kIdentifier && node->b->kind != NodeKind::kInteger) {
        return syntax_error(node->b->pos, "expected a name or an integer after '.'");
      }
    }
    object = std::move(node);
  }
  return object;
}

Result<NodePtr> Parser::parse_primary() {
  if (eof()) return unexpected("an expression");
  const Token& token = t_[i_++];
  switch (token.type) {
    case T::kNumericLiteral: {
      bool is_float = token.value.find('.') != std::string::npos;
      NodePtr node = make_node(is_float ? NodeKind::kFloat : NodeKind::kInteger, token.pos);
      node->number = std::strtod(token.value.c_str(), nullptr);
      return node;
    }
    case T::kStringLiteral: {
      NodePtr node = make_node(NodeKind::kString, token.pos);
      node->text = token.value;
      while (is(T::kStringLiteral)) node->text += t_[i_++].value;  // 'a' 'b' == 'ab'
      return node;
    }
    case T::kIdentifier: {
      NodePtr node = make_node(NodeKind::kIdentifier, token.pos);
      node->text = token.value;
      return node;
    }
    case T::kOpenParen: {
      FLINT_ASSIGN_OR_RETURN(NodePtr inner, parse_expression_sequence(false));
      FLINT_RETURN_IF_ERROR(expect(T::kCloseParen, "')'"));
      return inner;
    }
    case T::kOpenSquareBracket: {
      NodePtr node = make_node(NodeKind::kList, token.pos);
      while (!is(T::kCloseSquareBracket)) {
        if (eof()) return unexpected("']'");
        FLINT_ASSIGN_OR_RETURN(NodePtr item, parse_expression());
        node->items.push_back(std::move(item));
        if (is(T::kComma)) ++i_;
      }
      ++i_;
      return node;
    }
    case T::kOpenCurlyBracket: {
      NodePtr node = make_node(NodeKind::kDict, token.pos);
      while (!is(T::kCloseCurlyBracket)) {
        if (eof()) return unexpected("'}'");
        FLINT_ASSIGN_OR_RETURN(NodePtr key, parse_expression());
        FLINT_RETURN_IF_ERROR(expect(T::kColon, "':' between a key and its value"));
        FLINT_ASSIGN_OR_RETURN(NodePtr value, parse_expression());
        node->items.push_back(std::move(key));
        node->items.push_back(std::move(value));
        if (is(T::kComma)) ++i_;
      }
      ++i_;
      return node;
    }
    default:
      --i_;
      return unexpected("an expression");
  }
}

}  // namespace

Result<NodeList> parse(const std::vector<Token>& tokens, Pos end) {
  Parser parser(tokens, end);
  return parser.run();
}

}  // namespace flint::jinja
