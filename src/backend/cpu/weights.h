// A weight matrix as it lies in the mapped file: rows of `n_in` values in a block format.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace flint::cpu {

struct WeightMatrix {
  DType type = DType::F32;
  const uint8_t* data = nullptr;  // [n_out rows][row_bytes], zero-copy from the GGUF mapping
  int64_t n_in = 0;               // values per row (ggml's ne[0])
  int64_t n_out = 0;              // rows (ggml's ne[1])
  uint64_t row_bytes = 0;

  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes; }
  // Rows [first, first + n): e.g. one expert's slice of a stacked [n_expert][n_out][n_in] tensor.
  WeightMatrix rows(int64_t first, int64_t n) const {
    WeightMatrix w = *this;
    w.data = row(first);
    w.n_out = n;
    return w;
  }
  bool empty() const { return data == nullptr; }
};

}  // namespace flint::cpu
