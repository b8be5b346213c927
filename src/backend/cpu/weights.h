// A weight matrix as the CPU kernels read it: rows of `n_in` values in a block format, either as
// they lie in the mapped file or repacked into groups of 16 interleaved rows (repack.h).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/status.h"

namespace flint::cpu {

// How a matrix's bytes are ordered. kRows: row after row, as in the file. kRows16 (Q4_K, Q6_K;
// repack.h): each group of 16 rows is stored super-block by super-block with the 16 rows'
// blocks interleaved, so a vector lane holds one row; a group takes the bytes its 16 rows took.
enum class Layout : uint8_t { kRows, kRows16 };
inline constexpr int64_t kRows16Group = 16;

struct WeightMatrix {
  DType type = DType::F32;
  const uint8_t* data = nullptr;  // [n_out rows][row_bytes]: zero-copy from the GGUF mapping (kRows),
                                  // or the repacked copy that replaced it (kRows16)
  int64_t n_in = 0;               // values per row (ggml's ne[0])
  int64_t n_out = 0;              // rows (ggml's ne[1])
  uint64_t row_bytes = 0;
  Layout layout = Layout::kRows;

  // Row r in the file's format; kRows only (repack.h's file_row reads either layout).
  const uint8_t* row(int64_t r) const {
    FLINT_CHECK(layout == Layout::kRows);
    return data + static_cast<uint64_t>(r) * row_bytes;
  }
  // Rows [first, first + n): e.g. one expert's slice of a stacked [n_expert][n_out][n_in] tensor.
  // Interleaved groups are sliced whole: first and n are multiples of 16 for kRows16.
  WeightMatrix rows(int64_t first, int64_t n) const {
    FLINT_CHECK(layout == Layout::kRows || (first % kRows16Group == 0 && n % kRows16Group == 0));
    WeightMatrix w = *this;
    w.data = data + static_cast<uint64_t>(first) * row_bytes;
    w.n_out = n;
    return w;
  }
  bool empty() const { return data == nullptr; }
};

}  // namespace flint::cpu
