// Weight binding: finds tensors by name, checks their shape and type, and returns zero-copy
// views. Errors name the file, the tensor, what was found and what was expected.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/cpu/weights.h"
#include "core/status.h"
#include "gguf/gguf_file.h"

namespace flint::model {

class Binder {
 public:
  explicit Binder(const gguf::GgufFile& file) : file_(file) {}

  // A matrix with rows of `n_in` values; `shape` is the full ggml shape expected.
  Result<cpu::WeightMatrix> matrix(const std::string& name, std::vector<uint64_t> shape) const;
  // A 1-D float32 vector of n values (norm weights, rope factors).
  Result<const float*> vector(const std::string& name, uint64_t n) const;
  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

  static std::string layer(int il, const char* what) {
    return "blk." + std::to_string(il) + "." + what + ".weight";
  }

 private:
  Result<const gguf::TensorInfo*> find(const std::string& name, const std::vector<uint64_t>& shape) const;
  const gguf::GgufFile& file_;
};

}  // namespace flint::model
