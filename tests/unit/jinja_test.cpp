// flint::jinja: byte-identical renders against @huggingface/jinja 0.5.11 for real chat templates
// (tests/data/chat/expected.json, from tools/reference/render-chat.mjs), and unit tests of the
// individual constructs.
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/jinja/template.h"

namespace {

using flint::jinja::RenderOptions;
using flint::jinja::Template;
using json = nlohmann::ordered_json;

std::string data_path(const std::string& relative) {
  return std::string(FLINT_TEST_DATA) + "/chat/" + relative;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RenderOptions fixed_time() {
  RenderOptions options;
  std::tm now{};
  now.tm_year = 2025 - 1900;
  now.tm_mon = 2;
  now.tm_mday = 14;
  now.tm_hour = 10;
  now.tm_min = 30;
  options.now = now;
  return options;
}

// Renders and expects success; the error message otherwise.
std::string render(const std::string& source, const json& context = json::object(),
                   const RenderOptions& options = fixed_time()) {
  auto tmpl = Template::parse(source);
  if (!tmpl.is_ok()) return "PARSE ERROR: " + tmpl.status().message();
  auto out = tmpl->render(context, options);
  if (!out.is_ok()) return "RENDER ERROR: " + out.status().message();
  return *out;
}

// Expects parsing or rendering to fail and returns the message.
std::string failure(const std::string& source, const json& context = json::object(),
                    const RenderOptions& options = fixed_time()) {
  auto tmpl = Template::parse(source);
  if (!tmpl.is_ok()) return tmpl.status().message();
  auto out = tmpl->render(context, options);
  if (out.is_ok()) return "UNEXPECTED SUCCESS: " + *out;
  return out.status().message();
}

// ---- the reference renders -------------------------------------------------------------------

TEST(JinjaReference, AllCasesMatchHuggingFaceJinja) {
  json spec = json::parse(read_text(data_path("conversations.json")));
  json expected = json::parse(read_text(data_path("expected.json")))["cases"];
  const json& now = spec["now"];
  RenderOptions options;
  std::tm tm{};
  tm.tm_year = now["year"].get<int>() - 1900;
  tm.tm_mon = now["month"].get<int>() - 1;
  tm.tm_mday = now["day"].get<int>();
  tm.tm_hour = now["hour"].get<int>();
  tm.tm_min = now["minute"].get<int>();
  options.now = tm;

  size_t cases = 0, matched = 0;
  for (const json& t : spec["templates"]) {
    auto tmpl = Template::parse(read_text(data_path(t["file"].get<std::string>())));
    ASSERT_TRUE(tmpl.is_ok()) << t["file"] << ": " << tmpl.status().message();
    for (const json& conversation : spec["conversations"]) {
      for (bool gen : {false, true}) {
        json context = conversation["context"];
        context["add_generation_prompt"] = gen;
        for (const auto& [key, value] : t["tokens"].items()) context[key] = value;
        std::string name = t["name"].get<std::string>() + "/" +
                           conversation["name"].get<std::string>() + (gen ? "/gen" : "/nogen");
        ASSERT_TRUE(expected.contains(name)) << name << " missing: rerun render-chat.mjs";
        const json& want = expected[name];
        ++cases;
        auto got = tmpl->render(context, options);
        if (want.contains("output")) {
          const std::string& w = want["output"].get_ref<const std::string&>();
          if (!got.is_ok()) {
            ADD_FAILURE() << name << ": expected a render, got error: " << got.status().message();
            continue;
          }
          if (*got != w) {
            size_t at = 0;
            while (at < w.size() && at < got->size() && w[at] == (*got)[at]) ++at;
            ADD_FAILURE() << name << ": renders differ at byte " << at << "\n--- expected from "
                          << w.substr(at, 80) << "\n--- got from " << got->substr(at, 80);
            continue;
          }
        } else {
          const std::string& w = want["error"].get_ref<const std::string&>();
          if (got.is_ok()) {
            ADD_FAILURE() << name << ": expected error \"" << w << "\", rendered:\n" << *got;
            continue;
          }
          const std::string& message = got.status().message();
          // flint prefixes the position: "chat template ... at line L, column C: <message>".
          if (message.size() < w.size() + 2 || message.compare(message.size() - w.size(), w.size(), w) != 0) {
            ADD_FAILURE() << name << ": expected an error ending in \"" << w << "\", got \"" << message << "\"";
            continue;
          }
        }
        ++matched;
      }
    }
  }
  EXPECT_EQ(cases, expected.size()) << "expected.json has cases this test did not run";
  EXPECT_EQ(matched, cases);
  std::printf("[ jinja    ] %zu of %zu template x conversation cases match @huggingface/jinja\n", matched, cases);
}

TEST(JinjaReference, RaiseExceptionCarriesTheMessageAndPosition) {
  std::string source = read_text(data_path("templates/mixtral-8x7b-instruct-v0.1.jinja"));
  json context = {{"messages", json::array({{{"role", "user"}, {"content", "a"}},
                                             {{"role", "user"}, {"content", "b"}}})},
                  {"bos_token", "<s>"},
                  {"eos_token", "</s>"}};
  EXPECT_EQ(failure(source, context),
            "chat template raised an exception at line 1, column 110: Conversation roles must "
            "alternate user/assistant/user/assistant/...");
}

// ---- text, whitespace control, comments ------------------------------------------------------

TEST(Jinja, TextAndExpressions) {
  EXPECT_EQ(render("Hello {{ name }}!", {{"name", "world"}}), "Hello world!");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none is none }}"), "a1true");
  EXPECT_EQ(render("{{ true }} {{ false }} {{ none }}{{ missing }}."), "true false .");
  EXPECT_EQ(render("{{ \"tab\\there\" }}|{{ 'it\\'s' }}|{{ '\\u00e9\\x41' }}"), "tab\there|it's|éA");
  EXPECT_EQ(render("{{ 'a' 'b' }}"), "ab");  // adjacent literals concatenate
  EXPECT_EQ(render("one trailing newline is dropped\n\n"), "one trailing newline is dropped\n");
}

TEST(Jinja, WhitespaceControl) {
  EXPECT_EQ(render("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  EXPECT_EQ(render("a  {{- 'b' -}}  c"), "abc");
  // trim_blocks and lstrip_blocks are always on (as in transformers' apply_chat_template).
  EXPECT_EQ(render("<\n  {% if true %}\n  x\n  {% endif %}\n>"), "<\n  x\n>");
  EXPECT_EQ(render("{{ 'a' }}\n{{ 'b' }}"), "a\nb");  // no trimming after }}
  EXPECT_EQ(render("a {# a comment #}b {#- stripped -#} c"), "a bc");
  EXPECT_EQ(render("{% generation %}kept{% endgeneration %}"), "kept");
}

// ---- control flow ----------------------------------------------------------------------------

TEST(Jinja, IfElifElse) {
  const std::string t = "{% if x > 2 %}big{% elif x == 2 %}two{% else %}small{% endif %}";
  EXPECT_EQ(render(t, {{"x", 3}}), "big");
  EXPECT_EQ(render(t, {{"x", 2}}), "two");
  EXPECT_EQ(render(t, {{"x", 1}}), "small");
  EXPECT_EQ(render("{{ 'y' if a else 'n' }}{{ 'q' if false }}", {{"a", json::array()}}), "n");
}

TEST(Jinja, ForLoopVariables) {
  json ctx = {{"xs", {"a", "b", "c"}}};
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
                   "{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ x }};"
                   "{% endfor %}",
                   ctx),
            "1032truefalse3a;2121falsefalse3b;3210falsetrue3c;");
  EXPECT_EQ(render("{% for x in xs %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }} {% endfor %}", ctx),
            "<a>b a<b>c b<c> ");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in xs if x != 'b' %}{{ loop.index }}{{ x }}{% endfor %}", ctx), "1a2c");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}",
                   {{"d", {{"z", 1}, {"a", 2}}}}),
            "z=1;a=2;za");  // insertion order
  EXPECT_EQ(render("{% for a in [1,2] %}{% for b in [1,2] %}{{ loop.index }}{% endfor %}{{ loop.index }}|{% endfor %}"),
            "121|122|");
}

TEST(Jinja, BreakAndContinueFollowTheReference) {
  EXPECT_EQ(render("{% for x in [1,2,3] %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}"), "1");
  EXPECT_EQ(render("{% for x in [1,2,3] %}{% if x == 2 %}{% continue %}{% endif %}{{ x }}{% endfor %}"), "13");
  // @huggingface/jinja drops the output of an iteration that continues, and renders the else
  // block when no iteration ran to its end.
  EXPECT_EQ(render("{% for x in [1] %}A{% continue %}{% else %}E{% endfor %}"), "E");
  EXPECT_NE(failure("{% break %}").find("outside of a for loop"), std::string::npos);
}

TEST(Jinja, SetAndScopes) {
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a }}{{ b }}"), "12");
  EXPECT_EQ(render("{% set x %}in {{ 1 + 1 }}{% endset %}[{{ x }}]"), "[in 2]");
  // A for loop has its own scope; if does not.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [5] %}{% set x = i %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(render("{% if true %}{% set y = 2 %}{% endif %}{{ y }}"), "2");
  EXPECT_EQ(render("{% set messages = messages[1:] %}{{ messages|length }}", {{"messages", {1, 2, 3}}}), "2");
}

TEST(Jinja, Namespace) {
  EXPECT_EQ(render("{% set ns = namespace(n=0, found=false) %}{% for x in [1,2,3] %}"
                   "{% set ns.n = ns.n + x %}{% if x == 2 %}{% set ns.found = true %}{% endif %}"
                   "{% endfor %}{{ ns.n }} {{ ns.found }}"),
            "6 true");
  EXPECT_EQ(render("{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{{ ns.c is defined }}"), "12false");
  EXPECT_NE(failure("{% set d = {} %}{% set d.x = 1 %}").find("non-namespace"), std::string::npos);
}

TEST(Jinja, MacrosAndCall) {
  const std::string m = "{% macro tag(name, body='-') %}<{{ name }}>{{ body }}</{{ name }}>{% endmacro %}";
  EXPECT_EQ(render(m + "{{ tag('b') }}{{ tag('i', 'x') }}{{ tag(body='y', name='u') }}"),
            "<b>-</b><i>x</i><u>y</u>");
  EXPECT_EQ(render("{% macro f(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ f(1, 2, k=3) }}"),
            "1[2]{\"k\": 3}");
  EXPECT_NE(failure("{% macro f(a) %}{% endmacro %}{{ f(1, 2) }}").find("takes not more than 1 argument"),
            std::string::npos);
  EXPECT_EQ(render("{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}inside{% endcall %}"),
            "[inside]");
  EXPECT_EQ(render("{% macro m() %}{{ z }}{% endmacro %}{% set z = 5 %}{{ m() }}"), "5");
  EXPECT_EQ(render("{% filter upper %}abc{{ 1 }}{% endfilter %}"), "ABC1");
}

// ---- operators -------------------------------------------------------------------------------

TEST(Jinja, Arithmetic) {
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}"),
            "3 -4 1 -1 3.5 1024");  // % keeps the dividend's sign, as in JavaScript
  EXPECT_EQ(render("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 3 * 2.0 }} {{ 4 / 2 }} {{ -x }}", {{"x", 2}}),
            "7 9 6.0 2.0 -2");
  EXPECT_EQ(render("{{ 0.1 + 0.2 }} {{ 1 / 3 }} {{ 10 ** 21 }} {{ 2 ** -1 }}"),
            "0.30000000000000004 0.3333333333333333 1e+21 0.5");
  EXPECT_EQ(render("{{ f }} {{ i }} {{ f|string }} {{ 'x' ~ f }}", {{"f", 2.0}, {"i", 2.5}}),
            "2 2.5 2 x2");  // JSON 2.0 is the integer 2 (JSON.parse)
  EXPECT_EQ(render("{{ 3.0 }} {{ 'x' ~ 3.0 }} {{ 3.0|string }}"), "3.0 x3 3.0");
}

TEST(Jinja, ComparisonsAndLogic) {
  EXPECT_EQ(render("{{ 1 < 2 }}{{ 2 <= 1 }}{{ 1 == 1.0 }}{{ 'a' != 'b' }}{{ '1' == 1 }}"), "truefalsetruetruetrue");
  EXPECT_EQ(render("{{ 1 and 'x' }}|{{ 0 or 'y' }}|{{ not [] }}|{{ [] or 'empty' }}"), "x|y|true|empty");
  EXPECT_EQ(render("{{ 2 in [1, 2] }}{{ 3 not in [1, 2] }}{{ 'ell' in 'hello' }}{{ 'k' in d }}{{ 'k' in nothing }}",
                   {{"d", {{"k", 1}}}}),
            "truetruetruetruefalse");
  EXPECT_EQ(render("{{ x is not none }}{{ y is none }}", {{"x", 1}, {"y", nullptr}}), "truetrue");
}

TEST(Jinja, LiteralsAndSlicing) {
  EXPECT_EQ(render("{{ [1, 'a', none, true] }}{{ {'k': [1.5]} }}"), "[1, \"a\", null, true]{\"k\": [1.5]}");
  json ctx = {{"xs", {1, 2, 3, 4}}, {"s", "héllo"}};
  EXPECT_EQ(render("{{ xs[::-1] }}{{ xs[1:3] }}{{ xs[:2] }}{{ xs[-2:] }}{{ xs[::2] }}{{ xs[-1] }}", ctx),
            "[4, 3, 2, 1][2, 3][1, 2][3, 4][1, 3]4");
  EXPECT_EQ(render("{{ s[::-1] }}|{{ s[1:3] }}|{{ s[1] }}|{{ s.length }}", ctx), "olléh|él|é|5");
}

// ---- filters, methods, tests -----------------------------------------------------------------

TEST(Jinja, StringFiltersAndMethods) {
  EXPECT_EQ(render("{{ '  a b  '|trim }}|{{ 'ab'|upper }}|{{ 'AB'|lower }}|{{ 'hello wOrld'|title }}|"
                   "{{ 'abc'|capitalize }}|{{ 'abc'|length }}"),
            "a b|AB|ab|Hello WOrld|Abc|3");
  EXPECT_EQ(render("{{ s.startswith('he') }}{{ s.endswith(('x', 'lo')) }}{{ s.split('l') }}"
                   "{{ ' a  b '.split() }}{{ 'a,b,c'.split(',', 1) }}",
                   {{"s", "hello"}}),
            "truetrue[\"he\", \"\", \"o\"][\"a\", \"b\"][\"a\", \"b,c\"]");
  EXPECT_EQ(render("[{{ ' x '.strip() }}][{{ ' x '.lstrip() }}][{{ ' x '.rstrip() }}]"), "[x][x ][ x]");
  EXPECT_EQ(render("{{ 'aXbX'.replace('X', '-') }} {{ 'aXbX'|replace('X', '-', 1) }}"), "a-b- a-bX");
  EXPECT_EQ(render("{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, true) }}"), "a\n  b\n\n  c|  a\n  b");
  EXPECT_EQ(render("{{ 'Ünïcödé'|upper }} {{ 'ΣΟΦΟΣ'|lower }}"), "ÜNÏCÖDÉ σοφος");
  EXPECT_EQ(render("{{ '42'|int + 1 }} {{ '2.5'|float }} {{ 'x'|int }} {{ 2.7|int }} {{ -3|abs }}"), "43 2.5 0 2 3");
}

TEST(Jinja, ListAndDictFilters) {
  json ctx = {{"xs", {3, 1, 2, 1}},
              {"users", {{{"name", "b"}, {"admin", true}}, {{"name", "a"}, {"admin", false}}}},
              {"d", {{"b", 1}, {"a", 2}}}};
  EXPECT_EQ(render("{{ xs|length }} {{ xs|first }} {{ xs|last }} {{ xs|sort }} {{ xs|unique }} {{ xs|reverse }}", ctx),
            "4 3 1 [1, 1, 2, 3] [3, 1, 2] [1, 2, 1, 3]");
  EXPECT_EQ(render("{{ xs|join(', ') }}|{{ xs|join }}|{{ xs|list }}", ctx), "3, 1, 2, 1|3121|[3, 1, 2, 1]");
  EXPECT_EQ(render("{{ users|selectattr('admin')|map(attribute='name')|list }}"
                   "{{ users|rejectattr('name', 'equalto', 'b')|map(attribute='name')|join }}"
                   "{{ users|sort(attribute='name')|map(attribute='name')|join }}",
                   ctx),
            "[\"b\"]aab");
  EXPECT_EQ(render("{{ d|items }} {{ d.items()|list }} {{ d.keys() }} {{ d.values() }} {{ d|length }} {{ d|dictsort }}", ctx),
            "[[\"b\", 1], [\"a\", 2]] [[\"b\", 1], [\"a\", 2]] [\"b\", \"a\"] [1, 2] 2 [[\"a\", 2], [\"b\", 1]]");
  EXPECT_EQ(render("{{ d.get('a') }} {{ d.get('zz') is none }} {{ d.get('zz', 7) }} {{ d.zz }}|{{ d['a'] }}", ctx),
            "2 true 7 |2");
  EXPECT_EQ(render("{{ x|default('dflt') }} {{ ''|default('e', true) }} {{ 0|default(5) }}"), "dflt e 0");
}

TEST(Jinja, ToJson) {
  json ctx = {{"v", {{"b", {1, 2.5, nullptr, true}}, {"a", "é\"\n"}, {"2", 0}}}};
  // Python json.dumps separators, non-ASCII kept, array-index keys first (JSON.parse order).
  EXPECT_EQ(render("{{ v|tojson }}", ctx), "{\"2\": 0, \"b\": [1, 2.5, null, true], \"a\": \"é\\\"\\n\"}");
  EXPECT_EQ(render("{{ v|tojson(indent=2) }}", ctx),
            "{\n  \"2\": 0,\n  \"b\": [\n    1,\n    2.5,\n    null,\n    true\n  ],\n  \"a\": \"é\\\"\\n\"\n}");
  EXPECT_EQ(render("{{ 'é😀'|tojson(ensure_ascii=true) }}{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}"
                   "{{ [1, {}]|tojson(separators=(',', ':')) }}{{ []|tojson(indent=4) }}"),
            "\"\\u00e9\\ud83d\\ude00\"{\"a\": 2, \"b\": 1}[1,{}][]");
}

TEST(Jinja, Tests) {
  json ctx = {{"n", nullptr}, {"s", "x"}, {"d", json::object()}, {"l", json::array()}, {"i", 3}, {"b", true}};
  EXPECT_EQ(render("{{ n is none }}{{ s is string }}{{ d is mapping }}{{ l is iterable }}{{ s is iterable }}"
                   "{{ l is sequence }}{{ i is number }}{{ b is boolean }}{{ b is true }}{{ b is false }}"
                   "{{ i is odd }}{{ i is even }}{{ q is defined }}{{ q is undefined }}{{ 'ab' is lower }}",
                   ctx),
            "truetruetruetruetruetruetruetruetruefalsetruefalsefalsetruetrue");
}

TEST(Jinja, StrftimeNowUsesTheGivenTime) {
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y, %B %m %H:%M %% %Q') }}"), "14 Mar 2025, March 03 10:30 % %Q");
  EXPECT_EQ(render("{{ range(3) }}{{ range(1, 6, 2) }}"), "[0, 1, 2][1, 3, 5]");
}

// ---- errors ----------------------------------------------------------------------------------

TEST(JinjaErrors, UnsupportedSyntaxNamesTheConstructAndPosition) {
  EXPECT_EQ(failure("line 1\n  {% include 'other.jinja' %}"),
            "chat template syntax error at line 2, column 6: unsupported statement {% include %}");
  EXPECT_EQ(failure("{% if x %}\n  never closed"),
            "chat template syntax error at line 1, column 4: unclosed {% if %} block: expected "
            "{% endif %} before the end of the template");
  EXPECT_EQ(failure("{{ 1 is divisibleby(3) }}"),
            "chat template syntax error at line 1, column 9: tests with arguments ('is divisibleby "
            "...') are not supported");
  EXPECT_EQ(failure("{% for x in xs recursive %}{% endfor %}"),
            "chat template syntax error at line 1, column 16: recursive for loops are not supported");
  EXPECT_EQ(failure("{{ 'abc }}"), "chat template syntax error at line 1, column 11: unexpected end of template");
  EXPECT_EQ(failure("{% endfor %}"),
            "chat template syntax error at line 1, column 4: unexpected {% endfor %} outside of its block");
  EXPECT_EQ(failure("{{ a b }}"), "chat template syntax error at line 1, column 6: expected '}}', found 'b'");
}

TEST(JinjaErrors, RuntimeErrorsNameTheirPosition) {
  EXPECT_EQ(failure("ok\n{{ 'x'|frobnicate }}"),
            "chat template error at line 2, column 8: Unknown StringValue filter: frobnicate");
  EXPECT_EQ(failure("{{ [1]|round }}"), "chat template error at line 1, column 8: Unknown ArrayValue filter: round");
  EXPECT_EQ(failure("{% set xs = [] %}{{ xs.append(1) }}"),
            "chat template error at line 1, column 24: Cannot call something that is not a function: "
            "got UndefinedValue");
  EXPECT_EQ(failure("{{ x is frobnicated }}"), "chat template error at line 1, column 9: Unknown test: frobnicated");
  EXPECT_EQ(failure("{{ 'a' + missing }}"),
            "chat template error at line 1, column 8: Cannot perform operation + on undefined values");
  EXPECT_EQ(failure("{{ raise_exception('Only user and assistant roles are supported!') }}"),
            "chat template raised an exception at line 1, column 4: Only user and assistant roles are supported!");
  EXPECT_EQ(failure("{{ x }}", {{"range", 1}}), "Variable already declared: range");
}

TEST(JinjaErrors, RunawayTemplatesAreStopped) {
  EXPECT_NE(failure("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("nested deeper than"),
            std::string::npos);
  RenderOptions small = fixed_time();
  small.max_loop_iterations = 1000;
  EXPECT_NE(failure("{% for a in range(100) %}{% for b in range(100) %}{% endfor %}{% endfor %}", json::object(), small)
                .find("more than 1000 loop iterations"),
            std::string::npos);
  small.max_output_bytes = 100;
  EXPECT_NE(failure("{% for a in range(50) %}{{ 'abc' }}{% endfor %}", json::object(), small).find("exceed 100 bytes"),
            std::string::npos);
  EXPECT_NE(failure("{% set ns = namespace(s='ab') %}{% for i in range(10) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
                    json::object(), small)
                .find("exceed 100 bytes"),
            std::string::npos);
  std::string deep(500, '(');
  EXPECT_NE(failure("{{ " + deep + "1" + std::string(500, ')') + " }}").find("nesting is deeper than"),
            std::string::npos);
}

TEST(JinjaErrors, NonObjectContextIsAnError) {
  EXPECT_NE(failure("x", json::array()).find("must be a JSON object"), std::string::npos);
}

}  // namespace
