// Shared helpers for the model tests (quantize, spec/cost, generator).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/cost.h"
#include "model/generator.h"
#include "model/mix.h"
#include "model/model_spec.h"
#include "model/presets.h"
#include "model/quantize_model.h"
#include "support/fixtures.h"


namespace flint::model::testing_support {

namespace fs = std::filesystem;
using gguf::GgufFile;
using gguf::TensorInfo;
using test::fixtures_dir;
using test::read_file;

inline std::string model_path(const std::string& stem) { return *fixtures_dir() + "/models/" + stem + ".gguf"; }

// A scratch path unique to the running test (ctest runs tests in parallel).
inline std::string scratch(const std::string& suffix) {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name() + "." + suffix;
  std::replace(name.begin(), name.end(), '/', '_');
  const std::string path = test::tmp_dir() + "/" + name;
  fs::remove(path);
  fs::remove(path + ".partial");
  return path;
}

// Opens a file the test itself expects to be valid; gtest reports the exception as a failure.
inline GgufFile open_or_throw(const std::string& path) {
  Result<GgufFile> f = GgufFile::open(path);
  if (!f) throw std::runtime_error(f.status().message());
  return std::move(f).value();
}

// "" when equal, else where the two byte strings first differ.
inline std::string first_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return "first difference at byte " + std::to_string(i);
  }
  if (a.size() != b.size()) {
    return "sizes differ: " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
  }
  return "";
}

inline QuantizeOptions quantize_options(const std::string& input, const std::string& output, FileType type) {
  QuantizeOptions o;
  o.input = input;
  o.output = output;
  o.ftype = type;
  o.progress = false;
  o.n_threads = 2;
  return o;
}

// Same tensors (names, order, shapes, types) in both files.
inline void expect_same_tensors(const GgufFile& got, const GgufFile& want) {
  ASSERT_EQ(got.tensors().size(), want.tensors().size());
  for (size_t i = 0; i < got.tensors().size(); ++i) {
    const TensorInfo& g = got.tensors()[i];
    const TensorInfo& w = want.tensors()[i];
    SCOPED_TRACE(w.name);
    EXPECT_EQ(g.name, w.name) << "at index " << i;
    EXPECT_EQ(g.shape, w.shape);
    EXPECT_EQ(dtype_name(g.type), dtype_name(w.type));
  }
}


// Writes a tensor-less GGUF with the given metadata.
inline std::string write_metadata_only(const std::string& path, std::vector<gguf::KeyValue> kvs) {
  Result<gguf::GgufWriter> w = gguf::GgufWriter::create(path);
  EXPECT_TRUE(w.is_ok()) << w.status().message();
  for (gguf::KeyValue& kv : kvs) EXPECT_TRUE(w->add(kv.key, kv.value).is_ok());
  EXPECT_TRUE(w->write_header().is_ok());
  EXPECT_TRUE(w->finish().is_ok());
  return path;
}

}  // namespace flint::model::testing_support
