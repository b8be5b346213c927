#include "support/fixtures.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace flint::test {

std::optional<std::string> fixtures_dir() {
  const char* shared = std::getenv("FLINT_SHARED_DIR");
  std::string dir = std::string(shared ? shared : FLINT_DEFAULT_SHARED_DIR) + "/fixtures";
  if (std::filesystem::is_directory(dir + "/models") && std::filesystem::is_directory(dir + "/quant")) {
    return dir;
  }
  return std::nullopt;
}

std::string tmp_dir() {
  const char* env = std::getenv("FLINT_TEST_TMP");
  std::string dir = env ? env : FLINT_DEFAULT_TEST_TMP;
  std::filesystem::create_directories(dir);
  return dir;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<float> read_f32(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string vocab_gguf(const std::string& name) {
  const std::optional<std::string> fixtures = fixtures_dir();
  if (!fixtures) throw std::runtime_error("no fixtures");
  const std::string out = tmp_dir() + "/" + name + ".gguf";
  if (!std::filesystem::exists(out)) {
    // Decompress to a temporary name, then rename, so parallel tests never see half a file.
    const std::string partial = out + ".part." + std::to_string(::getpid());
    const std::string cmd =
        "xz -dc '" + *fixtures + "/vocab/" + name + ".gguf.xz' > '" + partial + "'";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
    std::filesystem::rename(partial, out);
  }
  return out;
}

}  // namespace flint::test
