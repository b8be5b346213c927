// GGUF reader/writer: fixture files read, validate and round-trip byte-identically; corrupt
// input of every kind gives an error naming the file and offset, never a crash.
#include <unistd.h>

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "support/fixtures.h"

namespace flint::gguf {
namespace {

using test::fixtures_dir;
using test::read_file;
using test::tmp_dir;

std::vector<std::string> fixture_ggufs() {
  std::vector<std::string> out;
  const auto dir = fixtures_dir();
  if (!dir) return out;
  for (const auto& e : std::filesystem::directory_iterator(*dir + "/models")) {
    if (e.path().extension() == ".gguf") out.push_back(e.path().string());
  }
  for (const auto& e : std::filesystem::directory_iterator(*dir + "/vocab")) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".gguf.xz")) out.push_back(test::vocab_gguf(name.substr(0, name.size() - 8)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Writes `file` back out with GgufWriter, streaming each tensor in two pieces.
std::string rewrite(const GgufFile& file, const std::string& out_path) {
  Result<GgufWriter> w = GgufWriter::create(out_path);
  EXPECT_TRUE(w.is_ok()) << w.status().message();
  EXPECT_TRUE(w->add_all_from(file).is_ok());
  EXPECT_TRUE(w->write_header().is_ok());
  for (const TensorInfo& t : file.tensors()) {
    const std::span<const uint8_t> data = file.tensor_data(t);
    const size_t half = data.size() / 2;
    EXPECT_TRUE(w->write_tensor_data(data.subspan(0, half)).is_ok());
    EXPECT_TRUE(w->write_tensor_data(data.subspan(half)).is_ok());
  }
  Status s = w->finish();
  EXPECT_TRUE(s.is_ok()) << s.message();
  return out_path;
}

TEST(GgufFixtures, EveryFixtureReadsAndRoundTripsByteIdentically) {
  FLINT_REQUIRE_FIXTURES();
  const std::vector<std::string> files = fixture_ggufs();
  ASSERT_GE(files.size(), 24u);
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    Result<GgufFile> f = GgufFile::open(path);
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    EXPECT_TRUE(f->has_all_data());
    EXPECT_TRUE(f->get_string("general.architecture").is_ok());
    const std::string out = rewrite(*f, tmp_dir() + "/roundtrip.gguf");
    EXPECT_EQ(read_file(path), read_file(out)) << "round trip differs";
  }
}

TEST(GgufFixtures, TinyLlamaHasTheExpectedStructure) {
  FLINT_REQUIRE_FIXTURES();
  Result<GgufFile> f = GgufFile::open(*fixtures_dir() + "/models/llama-tiny-Q4_K_M.gguf");
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  EXPECT_EQ(*f->get<uint32_t>("llama.block_count"), 2u);
  EXPECT_EQ(*f->get<uint64_t>("llama.embedding_length"), 256u);  // widening is allowed
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")->size(), 512u);
  const TensorInfo* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->shape, (std::vector<uint64_t>{256, 512}));
  EXPECT_EQ(emb->type, DType::Q4_K);
  EXPECT_EQ(emb->n_bytes, 512u * 144u);
  EXPECT_EQ(f->find_tensor("output.weight")->type, DType::Q6_K);
  EXPECT_EQ(f->tensor_data(*emb).size(), emb->n_bytes);
}

TEST(GgufMetadata, TypedAccessErrorsNameTheKey) {
  FLINT_REQUIRE_FIXTURES();
  Result<GgufFile> f = GgufFile::open(*fixtures_dir() + "/models/llama-tiny-F32.gguf");
  ASSERT_TRUE(f.is_ok());
  Result<uint32_t> missing = f->get<uint32_t>("llama.no_such_key");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("'llama.no_such_key' is missing"), std::string::npos);
  Result<uint32_t> mistyped = f->get<uint32_t>("general.architecture");
  ASSERT_FALSE(mistyped.is_ok());
  EXPECT_NE(mistyped.status().message().find("has type string"), std::string::npos);
  Result<int8_t> narrow = f->get<int8_t>("llama.embedding_length");  // 256 does not fit int8
  EXPECT_FALSE(narrow.is_ok());
  Result<std::string> not_string = f->get_string("llama.block_count");
  EXPECT_FALSE(not_string.is_ok());
  EXPECT_EQ(*f->get_or<uint32_t>("llama.no_such_key", 7u), 7u);
}

// --- Hand-built files for the error paths ---------------------------------------------------

// A small valid file: two metadata keys and two F32 tensors of 8 values. ctest runs test cases as
// processes side by side, several of them writing this: each its own file.
std::vector<uint8_t> small_file() {
  const std::string path = tmp_dir() + "/small." + std::to_string(::getpid()) + ".gguf";
  Result<GgufWriter> w = GgufWriter::create(path);
  FLINT_CHECK(w.is_ok());
  FLINT_CHECK(w->add("general.architecture", Value::string("llama")).is_ok());
  FLINT_CHECK(w->add("test.numbers", Value::array_of<int32_t>(ValueType::INT32, {1, 2, 3})).is_ok());
  FLINT_CHECK(w->add_tensor("a", DType::F32, {8}).is_ok());
  FLINT_CHECK(w->add_tensor("b", DType::F32, {4, 2}).is_ok());
  FLINT_CHECK(w->write_header().is_ok());
  std::vector<float> values(16);
  for (int i = 0; i < 16; ++i) values[i] = static_cast<float>(i);
  FLINT_CHECK(w->write_tensor_data({reinterpret_cast<const uint8_t*>(values.data()), 64}).is_ok());
  FLINT_CHECK(w->finish().is_ok());
  std::vector<uint8_t> bytes = read_file(path);
  std::filesystem::remove(path);
  return bytes;
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  Result<GgufFile> f = GgufFile::parse(bytes, "t.gguf");
  return f.is_ok() ? std::string() : f.status().message();
}

// Offsets in small_file(): the header is 24 bytes; then the two key/values; then tensor infos.
size_t find_bytes(const std::vector<uint8_t>& hay, const std::string& needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end());
  FLINT_CHECK(it != hay.end());
  return static_cast<size_t>(it - hay.begin());
}

template <typename T>
void poke(std::vector<uint8_t>& bytes, size_t at, T v) {
  std::memcpy(bytes.data() + at, &v, sizeof(T));
}

TEST(GgufValidation, SmallFileParses) {
  const std::vector<uint8_t> bytes = small_file();
  Result<GgufFile> f = GgufFile::parse(bytes, "t.gguf");
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->tensors().size(), 2u);
  EXPECT_EQ(*f->get_array<int32_t>("test.numbers"), (std::vector<int32_t>{1, 2, 3}));
  const std::span<const uint8_t> b = f->tensor_data(*f->find_tensor("b"));
  float first;
  std::memcpy(&first, b.data(), 4);
  EXPECT_EQ(first, 8.0f);
}

TEST(GgufValidation, BadMagicAndVersion) {
  std::vector<uint8_t> bytes = small_file();
  bytes[0] = 'X';
  EXPECT_NE(parse_error(bytes).find("not a GGUF file"), std::string::npos);
  bytes = small_file();
  poke<uint32_t>(bytes, 4, 1);
  EXPECT_NE(parse_error(bytes).find("version 1 is not supported"), std::string::npos);
}

TEST(GgufValidation, UnknownTensorType) {
  std::vector<uint8_t> bytes = small_file();
  // Tensor "b" info: name (8 + 1), n_dims (4), 2 dims (16), type (4), offset (8).
  const size_t b = find_bytes(bytes, std::string("\x01\0\0\0\0\0\0\0b", 9));
  poke<uint32_t>(bytes, b + 9 + 4 + 16, 4);  // type 4 was removed from ggml
  const std::string msg = parse_error(bytes);
  EXPECT_NE(msg.find("t.gguf: byte"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown type id 4"), std::string::npos) << msg;
}

TEST(GgufValidation, MisalignedDuplicateOverlappingAndTruncatedData) {
  const std::vector<uint8_t> good = small_file();
  const size_t b = find_bytes(good, std::string("\x01\0\0\0\0\0\0\0b", 9));
  const size_t b_offset = b + 9 + 4 + 16 + 4;
  std::vector<uint8_t> bytes = good;
  poke<uint64_t>(bytes, b_offset, 33);
  EXPECT_NE(parse_error(bytes).find("not a multiple of the alignment 32"), std::string::npos);
  bytes = good;
  poke<uint64_t>(bytes, b_offset, 0);
  EXPECT_NE(parse_error(bytes).find("tensor data overlaps"), std::string::npos);
  bytes = good;
  bytes[b + 8] = 'a';
  EXPECT_NE(parse_error(bytes).find("tensor name 'a' appears twice"), std::string::npos);
  bytes = good;
  bytes.resize(bytes.size() - 40);
  EXPECT_NE(parse_error(bytes).find("truncated file"), std::string::npos);
  // Without require_data, the header alone is accepted.
  Result<GgufFile> header_only = GgufFile::parse(bytes, "t.gguf", {.require_data = false});
  ASSERT_TRUE(header_only.is_ok()) << header_only.status().message();
  EXPECT_FALSE(header_only->has_all_data());
  EXPECT_TRUE(header_only->tensor_data(*header_only->find_tensor("b")).empty());
}

TEST(GgufValidation, HugeCountsAreRejectedBeforeAllocating) {
  std::vector<uint8_t> bytes = small_file();
  poke<uint64_t>(bytes, 16, uint64_t{1} << 60);  // n_kv
  EXPECT_NE(parse_error(bytes).find("metadata count"), std::string::npos);
  bytes = small_file();
  poke<uint64_t>(bytes, 8, uint64_t{1} << 60);  // n_tensors
  EXPECT_NE(parse_error(bytes).find("tensor count"), std::string::npos);
  bytes = small_file();
  const size_t arr = find_bytes(bytes, "test.numbers") + 12 + 4 + 4;  // the array length
  poke<uint64_t>(bytes, arr, uint64_t{1} << 62);
  EXPECT_NE(parse_error(bytes).find("claims"), std::string::npos);
}

TEST(GgufValidation, EveryTruncationOfASmallFileIsAnError) {
  const std::vector<uint8_t> good = small_file();
  for (size_t len = 0; len < good.size(); ++len) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(len));
    EXPECT_FALSE(parse_error(cut).empty()) << "length " << len;
  }
}

TEST(GgufValidation, TruncationsOfAFixtureAreErrors) {
  FLINT_REQUIRE_FIXTURES();
  const std::vector<uint8_t> good = read_file(*fixtures_dir() + "/models/qwen3moe-tiny-Q4_K_M.gguf");
  Result<GgufFile> f = GgufFile::parse(good, "q.gguf");
  ASSERT_TRUE(f.is_ok());
  // Every length inside the header, and a stride through the data section.
  const size_t header = f->data_offset();
  for (size_t len = 0; len < good.size(); len += (len < header ? 1 : 997)) {
    const std::span<const uint8_t> cut(good.data(), len);
    Result<GgufFile> g = GgufFile::parse(cut, "q.gguf");
    EXPECT_FALSE(g.is_ok()) << "length " << len;
  }
}

TEST(GgufValidation, RandomByteFlipsNeverCrash) {
  std::vector<std::vector<uint8_t>> seeds = {small_file()};
  if (fixtures_dir()) seeds.push_back(read_file(*fixtures_dir() + "/models/llama-tiny-Q2_K.gguf"));
  std::mt19937_64 rng(1234);
  int errors = 0, oks = 0;
  for (const std::vector<uint8_t>& seed : seeds) {
    Result<GgufFile> f = GgufFile::parse(seed, "seed");
    ASSERT_TRUE(f.is_ok());
    const size_t header = f->data_offset();
    for (int iter = 0; iter < 1500; ++iter) {
      std::vector<uint8_t> bytes = seed;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) bytes[rng() % header] = static_cast<uint8_t>(rng());
      Result<GgufFile> g = GgufFile::parse(bytes, "fuzzed.gguf");
      if (g.is_ok()) {
        ++oks;
        for (const TensorInfo& t : g->tensors()) {
          EXPECT_LE(g->tensor_data(t).size(), bytes.size());
        }
      } else {
        ++errors;
        EXPECT_EQ(g.status().message().rfind("fuzzed.gguf", 0), 0u) << g.status().message();
      }
    }
  }
  EXPECT_GT(errors, 0);
}

TEST(GgufWriter, RefusesIncompleteDataAndLeavesNoFile) {
  const std::string path = tmp_dir() + "/incomplete.gguf";
  {
    Result<GgufWriter> w = GgufWriter::create(path);
    ASSERT_TRUE(w.is_ok());
    ASSERT_TRUE(w->add_tensor("a", DType::Q8_0, {64}).is_ok());
    ASSERT_TRUE(w->write_header().is_ok());
    const std::vector<uint8_t> some(10);
    ASSERT_TRUE(w->write_tensor_data(some).is_ok());
    Status s = w->finish();
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("got 10 of its 68 bytes"), std::string::npos) << s.message();
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
}

TEST(GgufWriter, RejectsBadDeclarations) {
  Result<GgufWriter> w = GgufWriter::create(tmp_dir() + "/bad.gguf");
  ASSERT_TRUE(w.is_ok());
  EXPECT_FALSE(w->add_tensor("q", DType::Q4_K, {100}).is_ok());  // not a multiple of 256
  EXPECT_FALSE(w->add_tensor(std::string(64, 'x'), DType::F32, {1}).is_ok());
  ASSERT_TRUE(w->add("k", Value::u32(1)).is_ok());
  EXPECT_FALSE(w->add("k", Value::u32(2)).is_ok());
  EXPECT_FALSE(w->add("general.alignment", Value::u32(3)).is_ok());
}

}  // namespace
}  // namespace flint::gguf
