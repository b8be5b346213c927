// Quantizing a whole GGUF model file to a mix such as Q4_K_M, streaming tensor by tensor.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/dtype.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "model/mix.h"

namespace flint::model {

struct QuantizeOptions {
  std::string input;
  std::string output;
  FileType ftype = FileType::Q4_K_M;
  bool allow_requantize = false;  // re-quantizing an already-quantized tensor loses quality
  bool progress = true;
  int n_threads = 0;  // 0: all hardware threads
};

struct QuantizeReport {
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  int n_quantized = 0;  // tensors converted
  int n_copied = 0;     // tensors kept as they were
};

Result<QuantizeReport> quantize_model(const QuantizeOptions& options);

// Converts rows of `row_len` values from src_type to dst_type: src holds n_rows rows of
// src_type bytes, dst receives n_rows rows of dst_type bytes. Rows are spread over the pool.
Status convert_rows(ThreadPool& pool, DType src_type, std::span<const uint8_t> src, DType dst_type,
                    std::span<uint8_t> dst, uint64_t row_len);

}  // namespace flint::model
