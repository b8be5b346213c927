// End-to-end: the flint binary as a user runs it, on the fixtures and on generated models.
#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/run_flint.h"
#include "support/fixtures.h"

namespace flint {
namespace {

using nlohmann::json;

json inspect_json(const std::string& path) {
  const Output o = run_flint("inspect --json '" + path + "'");
  EXPECT_EQ(o.exit_code, 0) << o.out;
  return json::parse(o.out);
}

TEST(CliInspect, DescribesEveryFixtureModel) {
  FLINT_REQUIRE_FIXTURES();
  const std::string dir = *test::fixtures_dir() + "/models";
  std::ifstream index_file(dir + "/index.json");
  const json index = json::parse(index_file);
  int checked = 0;
  for (const auto& [file, entry] : index["files"].items()) {
    SCOPED_TRACE(file);
    const json& model = index["models"][entry["model"].get<std::string>()];
    const json j = inspect_json(dir + "/" + file);
    const json& a = j["architecture"];
    EXPECT_EQ(a["arch"], model["arch"]);
    EXPECT_EQ(a["n_layer"], model["n_layer"]);
    EXPECT_EQ(a["n_embd"], model["n_embd"]);
    EXPECT_EQ(a["n_head"], model["n_head"]);
    EXPECT_EQ(a["n_head_kv"], model["n_head_kv"]);
    EXPECT_EQ(a["head_dim_k"], model["head_dim"]);
    EXPECT_EQ(a["n_vocab"], model["n_vocab"]);
    EXPECT_EQ(a["tied_embeddings"], model["tied_embeddings"]);
    EXPECT_EQ(a["n_expert"], model.value("n_expert", 0));
    EXPECT_EQ(j["file_bytes"], entry["bytes"]);
    EXPECT_EQ(j["tokenizer"]["model"], "llama");
    EXPECT_EQ(j["tokenizer"]["n_tokens"], 512);
    EXPECT_EQ(j["tokenizer"]["special"]["bos"]["id"], 1);
    // The per-tensor types the index lists (type -> names without ".weight", where listed).
    std::map<std::string, std::string> types;
    for (const json& t : j["tensors"]) types[t["name"]] = t["type"];
    for (const auto& [type, names] : entry["tensor_types"].items()) {
      if (!names.is_array()) continue;
      std::string want = type;
      std::transform(want.begin(), want.end(), want.begin(), ::tolower);
      for (const json& n : names) {
        std::string got = types[n.get<std::string>() + ".weight"];
        std::transform(got.begin(), got.end(), got.begin(), ::tolower);
        EXPECT_EQ(got, want) << n;
      }
    }
    // Bytes per token: every tensor once, but one row of token_embd (plus all of it when tied)
    // and n_used / n_expert of routed experts.
    uint64_t expected = 0;
    const double expert_share = a["n_expert"].get<int>() > 0
        ? a["n_expert_used"].get<double>() / a["n_expert"].get<double>() : 1.0;
    for (const json& t : j["tensors"]) {
      const uint64_t bytes = t["bytes"];
      const std::string name = t["name"];
      if (name == "token_embd.weight") {
        expected += bytes / t["shape"][1].get<uint64_t>();
        if (a["tied_embeddings"].get<bool>()) expected += bytes;
      } else if (name.find("_exps.") != std::string::npos) {
        expected += static_cast<uint64_t>(static_cast<double>(bytes) * expert_share);
      } else {
        expected += bytes;
      }
    }
    EXPECT_EQ(j["cost"]["weight_bytes_per_token"], expected);
    ++checked;
  }
  EXPECT_EQ(checked, 17);
}

TEST(CliInspect, WorksOnAHeaderOnlyFileAndFailsClearlyOnGarbage) {
  const std::string dir = test::tmp_dir();
  const std::string model = dir + "/cli-tiny.gguf";
  Output g = run_flint("gen --preset llama-tiny --type Q8_0 --seed 3 -o '" + model + "'");
  ASSERT_EQ(g.exit_code, 0) << g.out;
  // A partial download: the header and a little of the data.
  const std::vector<uint8_t> bytes = test::read_file(model);
  test::write_file(dir + "/cli-partial.gguf", {bytes.begin(), bytes.begin() + 20000});
  const json j = inspect_json(dir + "/cli-partial.gguf");
  EXPECT_FALSE(j["has_all_data"].get<bool>());
  EXPECT_EQ(j["architecture"]["n_layer"], 2);

  test::write_file(dir + "/cli-garbage.gguf", {'n', 'o', 't', ' ', 'g', 'g', 'u', 'f', 0, 0});
  const Output bad = run_flint("inspect '" + dir + "/cli-garbage.gguf'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("flint: error:"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("not a GGUF file"), std::string::npos) << bad.out;
  const Output missing = run_flint("inspect '" + dir + "/no-such-file.gguf'");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("cannot open"), std::string::npos) << missing.out;
}

TEST(CliGenQuantize, GenThenQuantizeThenInspect) {
  const std::string dir = test::tmp_dir();
  const std::string f32 = dir + "/cli-moe-F32.gguf", q = dir + "/cli-moe-Q4_K_M.gguf";
  Output g = run_flint("gen --preset qwen3moe-tiny --type F32 --seed 5 -o '" + f32 + "'");
  ASSERT_EQ(g.exit_code, 0) << g.out;
  Output qz = run_flint("quantize '" + f32 + "' '" + q + "' Q4_K_M");
  ASSERT_EQ(qz.exit_code, 0) << qz.out;
  const json j = inspect_json(q);
  EXPECT_EQ(j["architecture"]["arch"], "qwen3moe");
  EXPECT_EQ(j["metadata"]["general.file_type"], "15");
  // Eight experts: attn_k / attn_v go to Q8_0 as in llama.cpp.
  for (const json& t : j["tensors"]) {
    if (t["name"] == "blk.0.attn_v.weight") {
      EXPECT_EQ(t["type"], "q8_0");
    }
    if (t["name"] == "blk.0.ffn_gate_exps.weight") {
      EXPECT_EQ(t["type"], "q4_K");
    }
  }
}

TEST(CliTokenize, TokenizeAndDetokenizeRoundTrip) {
  FLINT_REQUIRE_FIXTURES();
  const std::string vocab = test::vocab_gguf("ggml-vocab-llama-bpe");
  const std::string dir = test::tmp_dir();
  const std::string text = "Hello world <|eot_id|>";
  test::write_file(dir + "/tok-in.txt", {text.begin(), text.end()});
  Output o = run_flint("tokenize -m '" + vocab + "' --json < '" + dir + "/tok-in.txt'");
  ASSERT_EQ(o.exit_code, 0) << o.out;
  const json plain = json::parse(o.out);
  EXPECT_EQ(plain[0], 9906);  // "Hello"
  EXPECT_EQ(plain[1], 1917);  // " world"
  o = run_flint("tokenize -m '" + vocab + "' --json --add-special --parse-special < '" + dir + "/tok-in.txt'");
  ASSERT_EQ(o.exit_code, 0) << o.out;
  const json special = json::parse(o.out);
  EXPECT_EQ(special.front(), 128000);  // BOS
  EXPECT_EQ(special.back(), 128009);   // <|eot_id|> as one token
  test::write_file(dir + "/tok-ids.txt", {o.out.begin(), o.out.end()});
  o = run_flint("detokenize -m '" + vocab + "' --remove-special < '" + dir + "/tok-ids.txt'");
  ASSERT_EQ(o.exit_code, 0) << o.out;
  EXPECT_EQ(o.out, text);
  const std::string bad = "[1, 2, 999999]";
  test::write_file(dir + "/tok-bad.txt", {bad.begin(), bad.end()});
  o = run_flint("detokenize -m '" + vocab + "' < '" + dir + "/tok-bad.txt'");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.out.find("outside the vocabulary"), std::string::npos) << o.out;
}

TEST(CliRun, GeneratesDeterministicallyAndRefusesTooLongPrompts) {
  const std::string dir = test::tmp_dir();
  const std::string model = dir + "/cli-run.gguf";
  Output g = run_flint("gen --preset llama-tiny --n-vocab 300 --type Q8_0 --seed 4 -o '" + model + "'");
  ASSERT_EQ(g.exit_code, 0) << g.out;
  const std::string cmd = "run -m '" + model + "' -p 'Once upon a time' -n 12 --temp 0.8 --seed 7 --ignore-eos --json -t 2";
  Output a = run_flint(cmd), b = run_flint(cmd);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  const json ja = json::parse(a.out), jb = json::parse(b.out);
  EXPECT_EQ(ja["tokens"], jb["tokens"]);
  EXPECT_EQ(ja["n_gen"], 12);
  EXPECT_EQ(ja["n_prompt"], 26);  // BOS, then 13 letters and 4 spaces as U+2581 (3 byte tokens each)
  EXPECT_GT(ja["gen_tokens_per_s"].get<double>(), 0.0);
  Output too_long = run_flint("run -m '" + model + "' -p 'Once upon a time' --ctx 8 -t 2");
  EXPECT_EQ(too_long.exit_code, 1);
  EXPECT_NE(too_long.out.find("never truncates"), std::string::npos) << too_long.out;
}

TEST(CliChat, TwoTurnsInTheModelsTemplate) {
  FLINT_REQUIRE_FIXTURES();
  const std::string dir = test::tmp_dir();
  const std::string model = dir + "/cli-chat.gguf";
  // A tiny llama with Llama 3's tokenizer and chat template.
  Output g = run_flint("gen --preset llama-tiny --vocab '" + test::vocab_gguf("ggml-vocab-llama-bpe") +
                       "' --type Q8_0 --seed 4 -o '" + model + "'");
  ASSERT_EQ(g.exit_code, 0) << g.out;
  const std::string turns = "Hello there\nAnd a second question\n/exit\n";
  test::write_file(dir + "/chat-in.txt", {turns.begin(), turns.end()});
  Output o = run_flint("chat -m '" + model + "' -n 6 --temp 0 --ignore-eos -t 2 < '" + dir + "/chat-in.txt'");
  ASSERT_EQ(o.exit_code, 0) << o.out;
  // One line of reply per turn.
  EXPECT_EQ(std::count(o.out.begin(), o.out.end(), '\n'), 2) << o.out;
  // A model without a template is told so.
  const std::string plain = dir + "/cli-chat-plain.gguf";
  ASSERT_EQ(run_flint("gen --preset llama-tiny --type Q8_0 -o '" + plain + "'").exit_code, 0);
  o = run_flint("chat -m '" + plain + "' < '" + dir + "/chat-in.txt'");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.out.find("has no chat template"), std::string::npos) << o.out;
}

TEST(CliErrors, BadArgumentsGiveClearErrors) {
  const std::string dir = test::tmp_dir();
  Output o = run_flint("gen --preset no-such-preset -o '" + dir + "/x.gguf'");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.out.find("unknown preset 'no-such-preset'"), std::string::npos) << o.out;
  o = run_flint("gen --arch llama --heads 6 --kv-heads 4 -o '" + dir + "/x.gguf'");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.out.find("kv heads (4) must divide heads (6)"), std::string::npos) << o.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.gguf"));
  o = run_flint("quantize '" + dir + "/nothing.gguf' '" + dir + "/y.gguf' Q9_X");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.out.find("unknown quantization type 'Q9_X'"), std::string::npos) << o.out;
}

}  // namespace
}  // namespace flint
