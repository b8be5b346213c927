// The syntax tree of a chat template: one Node type tagged by kind (the table below says which
// fields each kind uses). Mirrors @huggingface/jinja's AST so evaluation can follow it 1:1.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/jinja/lexer.h"

namespace flint::jinja {

struct Node;
using NodePtr = std::unique_ptr<Node>;
using NodeList = std::vector<NodePtr>;

enum class NodeKind : uint8_t {
  // Statements (appear in bodies).
  kText,         // text: the literal text
  kComment,      // (nothing)
  kOutput,       // {{ a }}
  kIf,           // if a: body else alt (an elif is an If alone in alt)
  kFor,          // for a (Identifier or Tuple) in b: body; alt is the {% else %} block
  kSet,          // set a = b (b null: block set, body)
  kMacro,        // macro text(items = parameters): body
  kCallBlock,    // call(items = caller parameters, has_args) a (a Call): body
  kFilterBlock,  // filter a (Identifier or Call): body
  kBreak,
  kContinue,
  // Expressions.
  kInteger,         // number
  kFloat,           // number
  kString,          // text
  kIdentifier,      // text
  kList,            // items
  kTuple,           // items
  kDict,            // items = key0, value0, key1, value1, ...
  kMember,          // a[b] (flag: computed) or a.b; b may be a Slice
  kSlice,           // a:b:c, each may be null
  kCall,            // a(items)
  kUnary,           // text (not, -, +) a
  kBinary,          // a text b (operators: or and in "not in" == != < > <= >= + - ~ * / // % **)
  kFilter,          // a | b (b: Identifier or Call; anything else fails when evaluated)
  kTest,            // a is [not (flag)] text
  kSelect,          // a if b (no else: undefined when b is false)
  kTernary,         // b if a else c
  kKeywordArg,      // text = a
  kSpread,          // *a
  kKeywordSpread,   // **a
};

struct Node {
  NodeKind kind;
  Pos pos;
  std::string text;
  double number = 0;
  bool flag = false;
  NodePtr a, b, c;
  NodeList items;
  NodeList body, alt;

  Node(NodeKind k, Pos p) : kind(k), pos(p) {}
};

inline NodePtr make_node(NodeKind kind, Pos pos) { return std::make_unique<Node>(kind, pos); }

}  // namespace flint::jinja
