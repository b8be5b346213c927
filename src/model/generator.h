// `flint gen`: real architectures at real shapes with seeded random weights, written as GGUF.
//
// Benchmarks need models of real sizes and no weights can be downloaded, so flint makes them.
// Weights are N(0, sigma) with sigmas scaled by fan-in so activations and logits have a
// realistic spread (logit std around 2, as in the fixtures); norms are 1 + 0.1 N(0, 1). Every
// row is drawn from its own seeded stream, so the same seed gives the same bytes whatever the
// thread count, and a tensor is generated, quantized and written a slice at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/gguf_file.h"
#include "model/mix.h"
#include "model/presets.h"

namespace flint::model {

struct GenOptions {
  ModelShape shape;
  std::string name = "flint-gen";
  FileType ftype = FileType::F16;
  uint64_t seed = 1;
  std::string vocab_path;  // a GGUF whose tokenizer.* metadata is copied; "" for a byte vocab
  std::string output;
  int n_threads = 0;
  bool progress = true;
  bool header_only = false;  // write the header and no tensor data (a partial download)
};

struct GenReport {
  uint64_t bytes = 0;
  uint64_t n_params = 0;
  uint32_t n_vocab = 0;
};

Result<GenReport> generate_model(const GenOptions& options);

// The tensors a file of this shape and file type holds: names, shapes and the types
// llama-quantize would choose (bytes included), in file order, without writing anything.
// `flint plan` prices its catalog models with this.
Result<std::vector<gguf::TensorInfo>> shape_tensors(const ModelShape& shape, FileType ftype);

}  // namespace flint::model
