// Weight binding: finds tensors by name, checks their shape and type, and returns zero-copy
// views. Errors name the file, the tensor, what was found and what was expected.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/cpu/weights.h"
#include "core/page_memory.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "gguf/gguf_file.h"

namespace flint::model {

// The weights a model holds repacked for this CPU's kernels (backend/cpu/repack.h: Q4_K in
// groups of 16 interleaved rows where the kernels multiply those natively, AVX-512 VNNI), each
// in anonymous memory of its own. The file's pages a copy came from are released as it is made,
// so a weight is held once, and loading never holds more than one tensor twice.
class RepackedWeights {
 public:
  // pool: the threads that copy (nullptr: the caller's alone).
  explicit RepackedWeights(ThreadPool* pool = nullptr) : pool_(pool) {}

  // w (tensor t of file, read in slices of rows_per_slice rows) repacked, or w itself where it
  // does not repack or this CPU's kernels would not gain.
  Result<cpu::WeightMatrix> add(const gguf::GgufFile& file, const gguf::TensorInfo& t, const cpu::WeightMatrix& w,
                                int64_t rows_per_slice);
  uint64_t bytes() const { return bytes_; }

 private:
  ThreadPool* pool_;
  std::vector<PageMemory> copies_;
  uint64_t bytes_ = 0;
};

class Binder {
 public:
  // repack: where the matrices go that are worth repacking (nullptr: every weight stays in the
  // file's layout, zero-copy).
  explicit Binder(const gguf::GgufFile& file, RepackedWeights* repack = nullptr) : file_(file), repack_(repack) {}

  const gguf::GgufFile& file() const { return file_; }
  // A matrix with rows of `n_in` values that products read whole; `shape` is the full ggml shape
  // expected (3-D for stacked experts, read an expert's rows at a time).
  Result<cpu::WeightMatrix> matrix(const std::string& name, std::vector<uint64_t> shape) const;
  // The same for a table whose rows are looked up one at a time (token embeddings): never
  // repacked.
  Result<cpu::WeightMatrix> table(const std::string& name, std::vector<uint64_t> shape) const;
  // A 1-D float32 vector of n values (norm weights, rope factors).
  Result<const float*> vector(const std::string& name, uint64_t n) const;
  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

  static std::string layer(int il, const char* what) {
    return "blk." + std::to_string(il) + "." + what + ".weight";
  }

 private:
  Result<const gguf::TensorInfo*> find(const std::string& name, const std::vector<uint64_t>& shape) const;
  Result<cpu::WeightMatrix> bind_matrix(const std::string& name, const std::vector<uint64_t>& shape,
                                        const gguf::TensorInfo** info) const;
  const gguf::GgufFile& file_;
  RepackedWeights* repack_;
};

}  // namespace flint::model
