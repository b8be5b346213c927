// Weight binding: finds tensors by name, checks their shape and type, and returns zero-copy
// views, or repacked copies where the CPU kernels multiply those faster (RepackedWeights).
// Errors name the file, the tensor, what was found and what was expected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/cpu/weights.h"
#include "core/file_reader.h"
#include "core/page_memory.h"
#include "core/progress.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "gguf/gguf_file.h"

namespace flint::model {

// The weights a model holds repacked for this CPU's kernels (backend/cpu/repack.h: Q4_0, Q8_0,
// Q4_K and Q6_K in groups of 16 interleaved rows where the kernels multiply those natively,
// AVX-512 VNNI), end to end in one anonymous allocation of planned_bytes, made at the first copy.
// A copy's bytes are read from the file with pread, never through the mapping, so they are not
// also held as pages of it (the engine does not touch them: will_repack), and the mapped
// neighbours keep their 2 MiB pages.
class RepackedWeights {
 public:
  // pool: the threads that copy while the model loads (nullptr: the caller's alone); progress:
  // advanced by each tensor's bytes (nullptr: none). Both are let go by finish_loading.
  RepackedWeights(ThreadPool* pool = nullptr, Progress* progress = nullptr) : pool_(pool), progress_(progress) {}

  // Whether tensor t of file is repacked when bound: a matrix of a type and shape the kernels
  // take interleaved (token_embd only where it is also the output: tied, no output.weight).
  static bool will_repack(const gguf::GgufFile& file, const gguf::TensorInfo& t);
  // The bytes of the tensors of file that will_repack (what loading will allocate for them).
  static uint64_t planned_bytes(const gguf::GgufFile& file);

  // w (tensor t of file) repacked, or w itself where it does not repack or the memory for the
  // copies could not be had (the mapping then serves them, at the file layout's speed).
  Result<cpu::WeightMatrix> add(const gguf::GgufFile& file, const gguf::TensorInfo& t, const cpu::WeightMatrix& w);
  uint64_t bytes() const { return bytes_; }
  // Loading is over: forgets the pool and progress it was given and closes the file.
  void finish_loading() {
    pool_ = nullptr;
    progress_ = nullptr;
    reader_.reset();
  }

 private:
  ThreadPool* pool_;
  Progress* progress_;
  std::optional<FileReader> reader_;  // the file, opened at the first copy
  PageMemory copies_;                 // planned_bytes; empty before the first copy
  bool no_memory_ = false;            // allocating it failed: nothing is repacked
  uint64_t bytes_ = 0;                // the tensors' bytes repacked
  uint64_t used_ = 0;                 // of copies_, taken (each copy from a cache line)
};

class Binder {
 public:
  // repack: where the matrices go that are worth repacking (nullptr: every weight stays in the
  // file's layout, zero-copy).
  explicit Binder(const gguf::GgufFile& file, RepackedWeights* repack = nullptr) : file_(file), repack_(repack) {}

  // A matrix with rows of `n_in` values that products read whole; `shape` is the full ggml shape
  // expected (3-D for stacked experts, read an expert's rows at a time).
  Result<cpu::WeightMatrix> matrix(const std::string& name, std::vector<uint64_t> shape) const;
  // The same for a table whose rows are only looked up one at a time (token embeddings when
  // there is an output matrix): never repacked.
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
