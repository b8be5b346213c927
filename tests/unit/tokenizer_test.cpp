// Tokenizer tests: llama.cpp's tokenizer test files for the 7 fixture vocabularies (ids must be
// identical), the tiny models' prompt, round trips, the streaming decoder, special tokens,
// errors, and vocabularies built here (so part of the suite runs without the fixtures).
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "support/fixtures.h"
#include "tokenizer/unicode.h"

namespace flint::tokenizer {
namespace {

using gguf::Value;
using gguf::ValueType;

// --- helpers -------------------------------------------------------------------------------------

// Vocabularies are loaded once per test binary (the BPE ones take a moment).
const Tokenizer& fixture_tokenizer(const std::string& name) {
  static std::map<std::string, Tokenizer> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    Result<gguf::GgufFile> file = gguf::GgufFile::open(test::vocab_gguf(name));
    if (!file) throw std::runtime_error(file.status().message());
    Result<Tokenizer> tok = Tokenizer::from_gguf(*file);
    if (!tok) throw std::runtime_error(tok.status().message());
    it = cache.emplace(name, std::move(tok).value()).first;
  }
  return it->second;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// llama.cpp's test-tokenizer-0 files: strings separated by "\n__ggml_vocab_test__\n" (which
// also ends the file), and one line of ids per string.
struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<VocabCase> read_vocab_cases(const std::string& name) {
  const std::string base = *test::fixtures_dir() + "/vocab/" + name + ".gguf";
  const std::string inp = read_text(base + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<VocabCase> cases;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t at = inp.find(sep, pos);
    if (at == std::string::npos) break;
    cases.push_back({inp.substr(pos, at - pos), {}});
    pos = at + sep.size();
  }
  std::istringstream out(read_text(base + ".out"));
  std::string line;
  for (VocabCase& c : cases) {
    if (!std::getline(out, line)) {
      ADD_FAILURE() << name << ".out has fewer lines than strings";
      break;
    }
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
  }
  return cases;
}

std::vector<int32_t> encode_ok(const Tokenizer& tok, std::string_view text,
                               EncodeOptions options = {}) {
  Result<std::vector<int32_t>> ids = tok.encode(text, options);
  EXPECT_TRUE(ids.is_ok()) << ids.status().message();
  return ids.is_ok() ? *ids : std::vector<int32_t>{};
}

// Streams `ids` through a StreamingDecoder; checks each output is valid UTF-8 when asked.
std::string stream_decode(const Tokenizer& tok, const std::vector<int32_t>& ids,
                          DecodeOptions options, bool expect_valid_utf8) {
  StreamingDecoder decoder(tok, options);
  std::string all;
  for (int32_t id : ids) {
    const std::string part = decoder.push(id);
    if (expect_valid_utf8) {
      EXPECT_TRUE(detail::is_valid_utf8(part)) << "push(" << id << ") gave broken UTF-8";
    }
    all += part;
  }
  const std::string rest = decoder.finish();
  if (expect_valid_utf8) {
    EXPECT_TRUE(detail::is_valid_utf8(rest));
  }
  return all + rest;
}

std::string ids_string(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

const char* const kVocabNames[] = {
    "ggml-vocab-llama-spm",    "ggml-vocab-phi-3",     "ggml-vocab-gpt-2", "ggml-vocab-falcon",
    "ggml-vocab-deepseek-llm", "ggml-vocab-llama-bpe", "ggml-vocab-qwen2"};

// --- llama.cpp's test-tokenizer-0 cases ----------------------------------------------------------

class VocabFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(VocabFixture, EncodesLikeLlamaCpp) {
  FLINT_REQUIRE_FIXTURES();
  const std::string name = GetParam();
  const Tokenizer& tok = fixture_tokenizer(name);
  const std::vector<VocabCase> cases = read_vocab_cases(name);
  ASSERT_GE(cases.size(), 40u);
  int passed = 0;
  for (const VocabCase& c : cases) {
    const std::vector<int32_t> ids = encode_ok(tok, c.text);
    if (ids == c.ids) {
      ++passed;
    } else {
      ADD_FAILURE() << name << ": " << ::testing::PrintToString(c.text)
                    << "\n  flint:    " << ids_string(ids) << "\n  llama.cpp:" << ids_string(c.ids);
    }
  }
  EXPECT_EQ(passed, static_cast<int>(cases.size()));
  std::printf("%s: %d/%zu strings tokenize identically\n", name.c_str(), passed, cases.size());
}

// decode(encode(s)) == s. Byte-level BPE is lossless (without llama_detokenize's clean-up rules);
// SentencePiece loses nothing either: encode's space prefix is what decode removes.
TEST_P(VocabFixture, RoundTripsAndStreams) {
  FLINT_REQUIRE_FIXTURES();
  const std::string name = GetParam();
  const Tokenizer& tok = fixture_tokenizer(name);
  for (const VocabCase& c : read_vocab_cases(name)) {
    const std::vector<int32_t> ids = encode_ok(tok, c.text);
    EXPECT_EQ(tok.decode(ids), c.text) << name;
    // The streaming decoder gives decode()'s text, in valid UTF-8 pieces, with either setting.
    const DecodeOptions detokenize{.clean_up_spaces = true};  // llama_detokenize
    EXPECT_EQ(stream_decode(tok, ids, {}, true), c.text) << name;
    EXPECT_EQ(stream_decode(tok, ids, detokenize, true), tok.decode(ids, detokenize)) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, VocabFixture, ::testing::ValuesIn(kVocabNames),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string s = info.param + std::string("ggml-vocab-").size();
                           for (char& c : s) {
                             if (c == '-') c = '_';
                           }
                           return s;
                         });

// --- the tiny models' 512-token SentencePiece vocabulary
// -------------------------------------------

TEST(Tokenizer, TinyModelPromptMatchesLlamaCpp) {
  FLINT_REQUIRE_FIXTURES();
  const std::string dir = *test::fixtures_dir() + "/models";
  Result<gguf::GgufFile> file = gguf::GgufFile::open(dir + "/llama-tiny-F32.gguf");
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  Result<Tokenizer> tok = Tokenizer::from_gguf(*file);
  ASSERT_TRUE(tok.is_ok()) << tok.status().message();
  EXPECT_EQ(tok->n_vocab(), 512);

  const std::string prompt = read_text(dir + "/P1.txt");
  const std::vector<uint8_t> raw = test::read_file(dir + "/refs/llama-tiny-F32.P1.tokens.i32");
  std::vector<int32_t> want(raw.size() / 4);
  std::memcpy(want.data(), raw.data(), want.size() * 4);
  ASSERT_EQ(want.size(), 121u);

  const std::vector<int32_t> ids =
      encode_ok(*tok, prompt, {.add_special = true, .parse_special = false});
  EXPECT_EQ(ids, want) << "flint:" << ids_string(ids) << "\nllama.cpp:" << ids_string(want);
  EXPECT_EQ(ids.front(), 1);

  // llama_detokenize: the space prefix is dropped only from the first token, so without BOS the
  // prompt comes back exactly; with BOS first, the BOS takes that role and " The" keeps its space.
  const std::vector<int32_t> body(want.begin() + 1, want.end());
  EXPECT_EQ(tok->decode(body), prompt);
  EXPECT_EQ(tok->decode(want), "<s> " + prompt);
  EXPECT_EQ(tok->decode(want, {.remove_special = true}), " " + prompt);
  EXPECT_EQ(tok->decode(want, {.unparse_special = false}), " " + prompt);
  EXPECT_EQ(stream_decode(*tok, want, {}, true), tok->decode(want));
  EXPECT_EQ(stream_decode(*tok, body, {}, true), prompt);

  // The U+2581 quirk: "▁x" is not a piece for this x, and "▁" alone is not a token either, so a
  // space before it becomes the three byte tokens of U+2581, which decode to U+2581 itself.
  const std::vector<int32_t> quirk = encode_ok(*tok, "a ?");
  ASSERT_GE(quirk.size(), 3u);
  const std::string back = tok->decode(quirk);
  EXPECT_EQ(back, "a\xE2\x96\x81?");
}

// --- special tokens
// --------------------------------------------------------------------------------

TEST(Tokenizer, ParseSpecialOnLlama3) {
  FLINT_REQUIRE_FIXTURES();
  const Tokenizer& tok = fixture_tokenizer("ggml-vocab-llama-bpe");
  const std::string text = "<|begin_of_text|>hello<|eot_id|>";
  const std::vector<int32_t> on = encode_ok(tok, text, {.parse_special = true});
  ASSERT_GE(on.size(), 3u);
  EXPECT_EQ(on.front(), 128000);
  EXPECT_EQ(on.back(), 128009);
  EXPECT_EQ(std::vector<int32_t>(on.begin() + 1, on.end() - 1), encode_ok(tok, "hello"));
  EXPECT_EQ(tok.decode(on), text);
  EXPECT_EQ(tok.decode(on, {.unparse_special = false}), "hello");

  // Off: the same characters are plain text.
  const std::vector<int32_t> off = encode_ok(tok, text);
  for (int32_t id : off) EXPECT_LT(id, 128000);
  EXPECT_GT(off.size(), on.size());
  EXPECT_EQ(tok.decode(off), text);

  EXPECT_TRUE(tok.is_end_of_generation(128009));  // <|eot_id|>
  EXPECT_TRUE(tok.is_end_of_generation(128001));  // <|end_of_text|> (EOS)
  EXPECT_FALSE(tok.is_end_of_generation(128000));
  EXPECT_EQ(tok.type(128009), TokenType::kControl);
  EXPECT_EQ(tok.eot(), 128009);
}

TEST(Tokenizer, AddSpecialFollowsTheVocabulary) {
  FLINT_REQUIRE_FIXTURES();
  const Tokenizer& llama3 = fixture_tokenizer("ggml-vocab-llama-bpe");
  EXPECT_TRUE(llama3.add_bos());
  std::vector<int32_t> ids = encode_ok(llama3, "Hello", {.add_special = true});
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 128000);
  EXPECT_EQ(std::vector<int32_t>(ids.begin() + 1, ids.end()), encode_ok(llama3, "Hello"));
  EXPECT_EQ(llama3.decode(ids, {.remove_special = true}), "Hello");

  const Tokenizer& qwen = fixture_tokenizer("ggml-vocab-qwen2");
  EXPECT_FALSE(qwen.add_bos());
  EXPECT_EQ(encode_ok(qwen, "Hello", {.add_special = true}), encode_ok(qwen, "Hello"));
  EXPECT_TRUE(qwen.is_end_of_generation(151645));  // <|im_end|>
  EXPECT_TRUE(qwen.is_end_of_generation(151643));  // <|endoftext|>
  // <|im_start|> ... <|im_end|> with parse_special.
  const std::vector<int32_t> chat =
      encode_ok(qwen, "<|im_start|>user\nhi<|im_end|>", {.parse_special = true});
  ASSERT_GE(chat.size(), 3u);
  EXPECT_EQ(chat.front(), 151644);
  EXPECT_EQ(chat.back(), 151645);

  // The others, as the fixtures README lists them.
  for (const char* name : {"ggml-vocab-llama-spm", "ggml-vocab-phi-3", "ggml-vocab-deepseek-llm"}) {
    const Tokenizer& tok = fixture_tokenizer(name);
    EXPECT_TRUE(tok.add_bos()) << name;
    EXPECT_FALSE(tok.add_eos()) << name;
    const std::vector<int32_t> with = encode_ok(tok, "Hi", {.add_special = true});
    ASSERT_FALSE(with.empty());
    EXPECT_EQ(with.front(), *tok.bos()) << name;
  }
  for (const char* name : {"ggml-vocab-gpt-2", "ggml-vocab-falcon"}) {
    const Tokenizer& tok = fixture_tokenizer(name);
    EXPECT_FALSE(tok.add_bos()) << name;
    EXPECT_EQ(encode_ok(tok, "Hi", {.add_special = true}), encode_ok(tok, "Hi")) << name;
  }
}

TEST(Tokenizer, UserDefinedTokensAreMatchedWithoutParseSpecial) {
  FLINT_REQUIRE_FIXTURES();
  // DeepSeek LLM has USER_DEFINED single-character tokens such as "ö" (100003).
  const Tokenizer& tok = fixture_tokenizer("ggml-vocab-deepseek-llm");
  ASSERT_EQ(tok.type(100003), TokenType::kUserDefined);
  ASSERT_EQ(tok.text(100003), "ö");
  const std::vector<int32_t> ids = encode_ok(tok, "schön");
  EXPECT_NE(std::find(ids.begin(), ids.end(), 100003), ids.end()) << ids_string(ids);
  EXPECT_EQ(tok.decode(ids), "schön");
  // Control text stays text without parse_special.
  const std::vector<int32_t> bos_text = encode_ok(tok, tok.text(100000));
  EXPECT_EQ(std::find(bos_text.begin(), bos_text.end(), 100000), bos_text.end());
}

TEST(Tokenizer, Phi3SpecialTokensSwallowTheWhitespaceAfterThem) {
  FLINT_REQUIRE_FIXTURES();
  // llama.cpp gives Phi-3's special tokens the rstrip attribute (by model name); the text after
  // a special token gets SentencePiece's space prefix again.
  const Tokenizer& tok = fixture_tokenizer("ggml-vocab-phi-3");
  const int32_t user = *tok.find("<|user|>");
  std::vector<int32_t> want = {user};
  for (int32_t id : encode_ok(tok, "Hi")) want.push_back(id);
  EXPECT_EQ(encode_ok(tok, "<|user|>\n  Hi", {.parse_special = true}), want);
  // Without parse_special the control token is text, and nothing is stripped.
  EXPECT_EQ(tok.decode(encode_ok(tok, "<|user|>\n  Hi")), "<|user|>\n  Hi");
}

TEST(Tokenizer, CleanUpSpacesAsLlamaCpp) {
  FLINT_REQUIRE_FIXTURES();
  const Tokenizer& gpt2 = fixture_tokenizer("ggml-vocab-gpt-2");
  EXPECT_TRUE(gpt2.clean_spaces());
  const std::string text = "Hello , world ! It 's a ' quote ' , isn 't it ?";
  const std::vector<int32_t> ids = encode_ok(gpt2, text);
  EXPECT_EQ(gpt2.decode(ids), text);
  const DecodeOptions detokenize{.clean_up_spaces = true};
  EXPECT_EQ(gpt2.decode(ids, detokenize), "Hello, world! It's a'quote ', isn 't it?");
  EXPECT_EQ(stream_decode(gpt2, ids, detokenize, true), gpt2.decode(ids, detokenize));
  // Qwen2 and DeepSeek vocabularies do not clean up.
  EXPECT_FALSE(fixture_tokenizer("ggml-vocab-qwen2").clean_spaces());
}

// --- streaming
// -------------------------------------------------------------------------------------

TEST(Tokenizer, StreamingNeverSplitsACharacter) {
  FLINT_REQUIRE_FIXTURES();
  const std::string text =
      "Emoji 🦙🚀😶‍🌫️ and CJK 我想在apple工作 and Khmer កាន់តែ, "
      "done.";
  for (const char* name : kVocabNames) {
    const Tokenizer& tok = fixture_tokenizer(name);
    const std::vector<int32_t> ids = encode_ok(tok, text);
    EXPECT_EQ(stream_decode(tok, ids, {}, true), tok.decode(ids)) << name;
    EXPECT_EQ(tok.decode(ids), text) << name;
    const DecodeOptions detokenize{.clean_up_spaces = true};
    EXPECT_EQ(stream_decode(tok, ids, detokenize, true), tok.decode(ids, detokenize)) << name;
  }
  // Byte tokens: an SPM emoji is four <0xXX> tokens; nothing comes out before the last one.
  const Tokenizer& spm = fixture_tokenizer("ggml-vocab-llama-spm");
  const std::vector<int32_t> ids = encode_ok(spm, "🦙");
  StreamingDecoder decoder(spm);
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string part = decoder.push(ids[i]);
    if (i + 1 < ids.size()) {
      EXPECT_TRUE(detail::is_valid_utf8(part));
      EXPECT_EQ(part.find("\xF0"), std::string::npos) << "a partial character came out";
    }
    out += part;
  }
  out += decoder.finish();
  EXPECT_EQ(out, "🦙");
}

TEST(Tokenizer, StreamingMatchesDecodeOnRandomSequences) {
  FLINT_REQUIRE_FIXTURES();
  std::mt19937 rng(7);
  for (const char* name : kVocabNames) {
    const Tokenizer& tok = fixture_tokenizer(name);
    // Random ids from a pool rich in spaces, punctuation, apostrophes and specials, so that the
    // clean-up rules, EOS handling and partial characters all come up.
    std::vector<int32_t> pool;
    for (const char* s :
         {" ", "'", "s", " '", "re", ".", ",", "?", " ?", "!", "t", "ll", "  ", "é", "🦙", "x"}) {
      for (int32_t id : encode_ok(tok, s)) pool.push_back(id);
    }
    pool.push_back(*tok.eos());
    if (tok.bos()) pool.push_back(*tok.bos());
    for (int round = 0; round < 300; ++round) {
      std::vector<int32_t> ids(rng() % 12);
      for (int32_t& id : ids)
        id = rng() % 4 == 0 ? static_cast<int32_t>(rng() % tok.n_vocab())
                            : pool[rng() % pool.size()];
      for (const DecodeOptions options :
           {DecodeOptions{}, DecodeOptions{.clean_up_spaces = true},
            DecodeOptions{.remove_special = true, .clean_up_spaces = true},
            DecodeOptions{.unparse_special = false, .clean_up_spaces = true},
            DecodeOptions{.remove_special = true, .unparse_special = false}}) {
        EXPECT_EQ(stream_decode(tok, ids, options, false), tok.decode(ids, options))
            << name << ids_string(ids);
      }
    }
  }
}

// --- errors
// ----------------------------------------------------------------------------------------

std::string write_vocab(const std::string& file_name, const std::vector<gguf::KeyValue>& kvs) {
  const std::string path = test::tmp_dir() + "/" + file_name;
  Result<gguf::GgufWriter> w = gguf::GgufWriter::create(path);
  EXPECT_TRUE(w.is_ok()) << w.status().message();
  EXPECT_TRUE(w->add("general.architecture", Value::string("llama")).is_ok());
  for (const gguf::KeyValue& kv : kvs) EXPECT_TRUE(w->add(kv.key, kv.value).is_ok()) << kv.key;
  EXPECT_TRUE(w->finish().is_ok());
  return path;
}

Result<Tokenizer> load_path(const std::string& path) {
  Result<gguf::GgufFile> file = gguf::GgufFile::open(path);
  if (!file) return file.status();
  return Tokenizer::from_gguf(*file);
}

std::string load_error(const std::vector<gguf::KeyValue>& kvs) {
  static int counter = 0;
  Result<Tokenizer> tok =
      load_path(write_vocab("bad-vocab-" + std::to_string(counter++) + ".gguf", kvs));
  EXPECT_FALSE(tok.is_ok());
  return tok.is_ok() ? std::string() : tok.status().message();
}

TEST(Tokenizer, ErrorsNameTheProblem) {
  const Value tokens = Value::string_array({"a", "b"});
  std::string msg = load_error(
      {{"tokenizer.ggml.model", Value::string("bert")}, {"tokenizer.ggml.tokens", tokens}});
  EXPECT_NE(msg.find("'bert'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tokenizer.ggml.model"), std::string::npos) << msg;

  msg = load_error({{"tokenizer.ggml.model", Value::string("gpt2")},
                    {"tokenizer.ggml.pre", Value::string("no-such-pre")},
                    {"tokenizer.ggml.tokens", tokens},
                    {"tokenizer.ggml.merges", Value::string_array({"a b"})}});
  EXPECT_NE(msg.find("'no-such-pre'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tokenizer.ggml.pre"), std::string::npos) << msg;

  msg = load_error({{"tokenizer.ggml.model", Value::string("llama")}});
  EXPECT_NE(msg.find("tokenizer.ggml.tokens"), std::string::npos) << msg;

  msg = load_error({{"tokenizer.ggml.tokens", tokens}});
  EXPECT_NE(msg.find("tokenizer.ggml.model"), std::string::npos) << msg;

  msg = load_error({{"tokenizer.ggml.model", Value::string("gpt2")},
                    {"tokenizer.ggml.pre", Value::string("gpt-2")},
                    {"tokenizer.ggml.tokens", tokens}});
  EXPECT_NE(msg.find("tokenizer.ggml.merges"), std::string::npos) << msg;

  msg = load_error(
      {{"tokenizer.ggml.model", Value::string("llama")},
       {"tokenizer.ggml.tokens", tokens},
       {"tokenizer.ggml.scores", Value::array_of(ValueType::FLOAT32, std::vector<float>{0.0f})}});
  EXPECT_NE(msg.find("tokenizer.ggml.scores"), std::string::npos) << msg;

  msg = load_error({{"tokenizer.ggml.model", Value::string("llama")},
                    {"tokenizer.ggml.tokens", tokens},
                    {"tokenizer.ggml.add_bos_token", Value::string("yes")}});
  EXPECT_NE(msg.find("tokenizer.ggml.add_bos_token"), std::string::npos) << msg;
}

// --- vocabularies built here (no fixtures needed)
// ---------------------------------------------------

// SentencePiece: <unk> <s> </s>, the 256 byte tokens, "▁" and a few pieces.
Tokenizer small_spm(bool add_eos = false) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  std::vector<float> scores = {0, 0, 0};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    tokens.push_back(buf);
    types.push_back(6);
    scores.push_back(0);
  }
  const std::pair<const char*, float> pieces[] = {{"▁", -1},  {"▁t", -2}, {"he", -3},  {"▁the", -4},
                                                  {"▁a", -5}, {"ll", -6}, {"▁all", -7}};
  for (const auto& [text, score] : pieces) {
    tokens.push_back(text);
    types.push_back(1);
    scores.push_back(score);
  }
  const std::string path =
      write_vocab(add_eos ? "small-spm-eos.gguf" : "small-spm.gguf",
                  {{"tokenizer.ggml.model", Value::string("llama")},
                   {"tokenizer.ggml.add_eos_token", Value::boolean(add_eos)},
                   {"tokenizer.ggml.pre", Value::string("default")},
                   {"tokenizer.ggml.tokens", Value::string_array(tokens)},
                   {"tokenizer.ggml.scores", Value::array_of(ValueType::FLOAT32, scores)},
                   {"tokenizer.ggml.token_type", Value::array_of(ValueType::INT32, types)},
                   {"tokenizer.ggml.bos_token_id", Value::u32(1)},
                   {"tokenizer.ggml.eos_token_id", Value::u32(2)}});
  Result<Tokenizer> tok = load_path(path);
  EXPECT_TRUE(tok.is_ok()) << tok.status().message();
  return std::move(tok).value();
}

// Byte-level BPE with the GPT-2 pre-tokenizer: the 256 alphabet characters, a few merges and
// an <|endoftext|> control token.
Tokenizer small_bpe() {
  std::vector<std::string> tokens;
  for (const std::string& c : detail::byte_level_alphabet()) tokens.push_back(c);
  const std::vector<std::string> merges = {"Ġ t", "h e",   "Ġt he", "Ġ a",
                                           "l l", "Ġa ll", "i n",   "Ġ in"};
  for (const std::string& m : merges) {
    const size_t sp = m.find(' ');
    tokens.push_back(m.substr(0, sp) + m.substr(sp + 1));
  }
  tokens.push_back("<|endoftext|>");
  std::vector<int32_t> types(tokens.size(), 1);
  types.back() = 3;
  const auto eot = static_cast<uint32_t>(tokens.size() - 1);
  const std::string path = write_vocab(
      "small-bpe.gguf", {{"tokenizer.ggml.model", Value::string("gpt2")},
                         {"tokenizer.ggml.pre", Value::string("gpt-2")},
                         {"tokenizer.ggml.tokens", Value::string_array(tokens)},
                         {"tokenizer.ggml.token_type", Value::array_of(ValueType::INT32, types)},
                         {"tokenizer.ggml.merges", Value::string_array(merges)},
                         {"tokenizer.ggml.bos_token_id", Value::u32(eot)},
                         {"tokenizer.ggml.eos_token_id", Value::u32(eot)}});
  Result<Tokenizer> tok = load_path(path);
  EXPECT_TRUE(tok.is_ok()) << tok.status().message();
  return std::move(tok).value();
}

std::string random_bytes(std::mt19937& rng, size_t n, bool utf8) {
  std::string s;
  if (!utf8) {
    // Any bytes but the space: after a broken lead byte SentencePiece would swallow the U+2581
    // standing for a space into one "character" of byte tokens (llama.cpp does the same).
    for (size_t i = 0; i < n; ++i) {
      const char c = static_cast<char>(rng() % 256);
      s.push_back(c == ' ' ? '_' : c);
    }
    return s;
  }
  // (No U+2581: SentencePiece reads it as a space.)
  const uint32_t samples[] = {'a', 'b', ' ',  ' ',    '\n',    '\t', '\'',
                              '.', '7', 0xE9, 0x4E2D, 0x1F999, 0x85, 0x3000};
  for (size_t i = 0; i < n; ++i) {
    uint32_t cp = rng() % 3 == 0 ? (rng() % 0xD000) + 1 : samples[rng() % std::size(samples)];
    if (cp == 0x2581) cp = 'z';
    detail::append_utf8(s, cp);
  }
  return s;
}

TEST(Tokenizer, SmallSpmEncodesAndRoundTripsAnyBytes) {
  const Tokenizer tok = small_spm();
  EXPECT_EQ(tok.model_name(), "llama");
  EXPECT_TRUE(tok.add_bos());
  EXPECT_TRUE(tok.add_space_prefix());
  // "the all" -> "▁the▁all": merges by score, leftmost first.
  const std::vector<int32_t> ids = encode_ok(tok, "the all");
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(tok.text(ids[0]), "▁the");
  EXPECT_EQ(tok.text(ids[1]), "▁all");
  EXPECT_EQ(encode_ok(tok, "the", {.add_special = true}).front(), 1);
  // Byte fallback.
  const std::vector<int32_t> x = encode_ok(tok, "x");
  ASSERT_EQ(x.size(), 2u);
  EXPECT_EQ(tok.text(x[1]), "<0x78>");
  EXPECT_EQ(tok.decode(x), "x");

  std::mt19937 rng(1);
  for (int i = 0; i < 200; ++i) {
    const std::string s = random_bytes(rng, rng() % 40, i % 2 == 0);
    const std::vector<int32_t> got = encode_ok(tok, s);
    EXPECT_EQ(tok.decode(got), s);
    EXPECT_EQ(stream_decode(tok, got, {}, i % 2 == 0), s);
  }
}

TEST(Tokenizer, StreamingHandlesBosAndEosLikeDecode) {
  // A vocabulary that adds EOS too: remove_special drops a leading BOS and only the last EOS,
  // so the streaming decoder holds an EOS back until it knows whether more follows.
  const Tokenizer tok = small_spm(/*add_eos=*/true);
  EXPECT_TRUE(tok.add_eos());
  const std::vector<int32_t> ids = encode_ok(tok, "the all", {.add_special = true});
  ASSERT_EQ(ids.front(), 1);
  ASSERT_EQ(ids.back(), 2);
  EXPECT_EQ(tok.decode(ids, {.remove_special = true}), " the all");  // BOS removed: no lstrip
  EXPECT_EQ(tok.decode(ids), "<s> the all</s>");
  EXPECT_EQ(tok.decode(ids, {.unparse_special = false}), " the all");

  std::vector<int32_t> pool = {
      0,        1,        2,        *tok.find("▁"), *tok.find("▁the"), *tok.find("he"),
      3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99,       3 + 'x',           -1,
      999999};
  std::mt19937 rng(3);
  for (int round = 0; round < 2000; ++round) {
    std::vector<int32_t> seq(rng() % 8);
    for (int32_t& id : seq) id = pool[rng() % pool.size()];
    for (const DecodeOptions options :
         {DecodeOptions{}, DecodeOptions{.remove_special = true},
          DecodeOptions{.remove_special = true, .unparse_special = false}}) {
      EXPECT_EQ(stream_decode(tok, seq, options, false), tok.decode(seq, options))
          << ids_string(seq);
    }
  }
  // A decoder is reusable after finish().
  StreamingDecoder decoder(tok, {.remove_special = true});
  for (int pass = 0; pass < 2; ++pass) {
    std::string out;
    for (int32_t id : ids) out += decoder.push(id);
    out += decoder.finish();
    EXPECT_EQ(out, " the all");
  }
}

TEST(Tokenizer, SmallBpeEncodesAndRoundTripsUtf8) {
  const Tokenizer tok = small_bpe();
  EXPECT_EQ(tok.pre_name(), "gpt-2");
  const std::vector<int32_t> ids = encode_ok(tok, "the all in");
  // GPT-2 words: "the", " all", " in"; "the" has no "Ġ" so it stays t + he.
  ASSERT_EQ(ids.size(), 4u) << ids_string(ids);
  EXPECT_EQ(tok.text(ids[0]), "t");
  EXPECT_EQ(tok.text(ids[1]), "he");
  EXPECT_EQ(tok.text(ids[2]), "Ġall");
  EXPECT_EQ(tok.text(ids[3]), "Ġin");
  EXPECT_EQ(tok.decode(ids), "the all in");
  // Control text: a token with parse_special, bytes without.
  const int32_t eot = *tok.find("<|endoftext|>");
  EXPECT_EQ(encode_ok(tok, "<|endoftext|>", {.parse_special = true}), std::vector<int32_t>{eot});
  EXPECT_EQ(encode_ok(tok, "<|endoftext|>").size(), 13u);
  EXPECT_TRUE(tok.is_end_of_generation(eot));

  std::mt19937 rng(2);
  const DecodeOptions detokenize{.clean_up_spaces = true};
  for (int i = 0; i < 300; ++i) {
    const std::string s = random_bytes(rng, rng() % 40, true);
    const std::vector<int32_t> got = encode_ok(tok, s);
    EXPECT_EQ(tok.decode(got), s);
    EXPECT_EQ(stream_decode(tok, got, {}, true), s);
    EXPECT_EQ(stream_decode(tok, got, detokenize, true), tok.decode(got, detokenize));
  }
  // Invalid UTF-8 is read as llama.cpp reads it: each bad byte becomes U+FFFD.
  EXPECT_EQ(tok.decode(encode_ok(tok,
                                 "a\xFF"
                                 "b\xC3")),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
}

TEST(Tokenizer, OutOfRangeIdsDecodeToNothing) {
  const Tokenizer tok = small_spm();
  const std::vector<int32_t> ids = {-1, 1000000};
  EXPECT_EQ(tok.decode(ids), "");
  EXPECT_EQ(tok.piece(-5), "");
  EXPECT_EQ(tok.type(99999), TokenType::kUndefined);
  EXPECT_FALSE(tok.is_end_of_generation(-1));
}

// --- speed
// -----------------------------------------------------------------------------------------

TEST(Tokenizer, EncodesAMegabyteQuickly) {
  FLINT_REQUIRE_FIXTURES();
  const Tokenizer& tok = fixture_tokenizer("ggml-vocab-llama-bpe");
  std::string block;
  for (const VocabCase& c : read_vocab_cases("ggml-vocab-llama-bpe")) block += c.text + "\n";
  const std::string p1 = read_text(*test::fixtures_dir() + "/models/P1.txt");
  std::string text;
  while (text.size() < (1u << 20))
    text += (text.size() / block.size()) % 4 == 0 ? block : p1 + "\n";
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = encode_ok(tok, text);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double mb = static_cast<double>(text.size()) / (1 << 20);
  std::printf("llama-bpe: encoded %.2f MiB into %zu tokens in %.3f s (%.1f MiB/s)\n", mb,
              ids.size(), seconds, mb / seconds);
  EXPECT_LT(seconds, 20.0);
  EXPECT_EQ(tok.decode(ids), text);
}

}  // namespace
}  // namespace flint::tokenizer
