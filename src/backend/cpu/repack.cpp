#include "backend/cpu/repack.h"

#include <cstdlib>
#include <cstring>

#include "backend/cpu/kernels.h"

namespace flint::cpu {
namespace {

// The pieces of row r's block in the group super-block at g (repack.h): f(offset in the group's
// super-block, offset in the file's block, bytes) for each.
template <class F>
void for_each_piece(DType type, const uint8_t* g, int r, F f) {
  if (type == DType::Q4_0 || type == DType::Q8_0) {  // 8 blocks of d (F16), qs[16] or qs[32]
    const int block = type == DType::Q4_0 ? 18 : 34, vectors = (block - 2) / 4;
    for (int j = 0; j < 8; ++j) {
      f(32 * j + 2 * r, block * j, 2);                                                                  // d
      for (int m = 0; m < vectors; ++m) f(256 + 64 * (vectors * j + m) + 4 * r, block * j + 2 + 4 * m, 4);  // qs
    }
  } else if (type == DType::Q4_K) {  // d, dmin (F16), scales[12], qs[128]
    f(2 * r, 0, 2);                                                        // d
    f(32 + 2 * r, 2, 2);                                                   // dmin
    for (int k = 0; k < 3; ++k) f(64 + 64 * k + 4 * r, 4 + 4 * k, 4);     // scales
    for (int v = 0; v < 32; ++v) f(256 + 64 * v + 4 * r, 16 + 4 * v, 4);  // qs: v = 8c + m
  } else {  // Q6_K: ql[128], qh[64], scales[16] (int8), d (F16)
    const int v0 = q6_k_rows16_vectors(g), d = v0 == 0 ? kQ6KGroupBlockBytes - 32 : 0;
    f(d + 2 * r, 208, 2);                                                      // d
    for (int k = 0; k < 4; ++k) f(v0 + 64 * k + 4 * r, 192 + 4 * k, 4);       // scales
    // step s = 8n + m: ql vectors 16n + m and 16n + 8 + m, qh vector s
    for (int v = 0; v < 32; ++v) f(v0 + 256 + 192 * (8 * (v / 16) + v % 8) + 64 * (v % 16 / 8) + 4 * r, 4 * v, 4);  // ql
    for (int v = 0; v < 16; ++v) f(v0 + 256 + 192 * v + 128 + 4 * r, 128 + 4 * v, 4);                                // qh
  }
}

// A row's bytes per 256 values.
int block_bytes(DType type) {
  switch (type) {
    case DType::Q4_0:
    case DType::Q4_K: return 144;
    case DType::Q6_K: return 210;
    default: return 272;  // Q8_0
  }
}

bool repackable(DType type) { return type == DType::Q4_K || type == DType::Q6_K || type == DType::Q4_0 || type == DType::Q8_0; }

// Row `lane` of a group's super-block `in` into the file's block format at out.
void unpack_block(DType type, const uint8_t* in, int lane, uint8_t* out) {
  for_each_piece(type, in, lane, [&](int go, int bo, int n) { std::memcpy(out + bo, in + go, static_cast<size_t>(n)); });
}

}  // namespace

int rows16_prefetch_bytes() {
  static const int bytes = [] {
    if (const char* want = std::getenv("FLINT_ROWS16_PREFETCH")) {
      char* end = nullptr;
      const long v = std::strtol(want, &end, 10);
      if (end != want && *end == '\0' && v >= 0 && v <= 65536) return static_cast<int>(v);
    }
    const CpuFeatures& f = cpu_features();
    return f.amd && f.family == 0x19 ? 0 : 6144;
  }();
  return bytes;
}

bool rows16_supported(DType type, int64_t n_in, int64_t n_out, int64_t rows_per_slice) {
  return repackable(type) && n_in > 0 && n_in % 256 == 0 &&
         n_in / 256 <= kRows16MaxSuperBlocks && n_out > 0 && n_out % kRows16Group == 0 && rows_per_slice > 0 &&
         rows_per_slice % kRows16Group == 0;
}

bool rows16_pays(DType type, int64_t n_in, int64_t n_out, int64_t rows_per_slice) {
  return best_kernels().gemm_rows16 != nullptr && rows16_supported(type, n_in, n_out, rows_per_slice);
}

void repack_rows16(DType type, int64_t n_in, const uint8_t* src, uint8_t* dst, int64_t g0, int64_t g1) {
  FLINT_CHECK(repackable(type) && n_in % 256 == 0);
  const int64_t n_sb = n_in / 256;
  const int bytes = block_bytes(type);
  const uint64_t row_bytes = static_cast<uint64_t>(n_sb) * bytes, group_block = kRows16Group * static_cast<uint64_t>(bytes);
  for (int64_t g = g0; g < g1; ++g) {
    for (int64_t sb = 0; sb < n_sb; ++sb) {
      uint8_t* out = dst + static_cast<uint64_t>(g * n_sb + sb) * group_block;
      for (int r = 0; r < kRows16Group; ++r) {
        const uint8_t* in = src + static_cast<uint64_t>(g * kRows16Group + r) * row_bytes + sb * bytes;
        for_each_piece(type, out, r, [&](int go, int bo, int n) { std::memcpy(out + go, in + bo, static_cast<size_t>(n)); });
      }
    }
  }
}

void unpack_rows16(const WeightMatrix& w, int64_t g0, int64_t g1, uint8_t* dst) {
  FLINT_CHECK(w.layout == Layout::kRows16 && repackable(w.type));
  const int64_t n_sb = w.n_in / 256;
  const int bytes = block_bytes(w.type);
  const uint64_t group_block = kRows16Group * static_cast<uint64_t>(bytes);
  for (int64_t g = g0; g < g1; ++g) {
    for (int64_t sb = 0; sb < n_sb; ++sb) {
      const uint8_t* in = w.data + static_cast<uint64_t>(g * n_sb + sb) * group_block;
      for (int r = 0; r < kRows16Group; ++r) {
        unpack_block(w.type, in, r, dst + static_cast<uint64_t>((g - g0) * kRows16Group + r) * w.row_bytes + sb * bytes);
      }
    }
  }
}

const uint8_t* file_row(const WeightMatrix& w, int64_t r, uint8_t* tmp) {
  if (w.layout == Layout::kRows) return w.row(r);
  FLINT_CHECK(repackable(w.type));
  const int64_t n_sb = w.n_in / 256, g = r / kRows16Group;
  const int lane = static_cast<int>(r % kRows16Group), bytes = block_bytes(w.type);
  const uint64_t group_block = kRows16Group * static_cast<uint64_t>(bytes);
  for (int64_t sb = 0; sb < n_sb; ++sb) {
    unpack_block(w.type, w.data + static_cast<uint64_t>(g * n_sb + sb) * group_block, lane, tmp + sb * bytes);
  }
  return tmp;
}

}  // namespace flint::cpu
