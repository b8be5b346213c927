// Test helpers: where the shared fixtures (llama.cpp's outputs) are, and small file utilities.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace flint::test {

// ../shared/fixtures, or nullopt when the shared folder is absent (a user's clone).
std::optional<std::string> fixtures_dir();

// A scratch folder for this test binary (created on first use).
std::string tmp_dir();

std::vector<uint8_t> read_file(const std::string& path);
std::vector<float> read_f32(const std::string& path);
void write_file(const std::string& path, const std::vector<uint8_t>& bytes);

// Decompresses fixtures/vocab/NAME.gguf.xz into tmp_dir() once and returns the path.
std::string vocab_gguf(const std::string& name);

}  // namespace flint::test

// Skips the current test with a message when the shared fixtures are absent.
#define FLINT_REQUIRE_FIXTURES()                                                       \
  do {                                                                                 \
    if (!::flint::test::fixtures_dir()) {                                              \
      GTEST_SKIP() << "shared fixtures not found (set FLINT_SHARED_DIR): skipping";    \
    }                                                                                  \
  } while (0)
