// Repacking Q4_K, Q6_K, Q4_0 and Q8_0 weights into groups of 16 interleaved rows
// (Layout::kRows16), for the decode kernels of CPUs with AVX-512 VNNI: one 512-bit register then
// holds 4 bytes of each of 16 rows, so a row's sum stays in its own lane from the first block to
// the last. Read in the file's order, each row's sub-block sums have to be spread, scaled and
// reduced across lanes with shuffles that compete with the multiplies for the same two vector
// pipes on Zen 4. One token's product from L3, file order -> interleaved, one core / two: Q4_K
// 27 -> 58 / 53 -> 114 GB/s, Q4_0 30 -> 67 / 52 -> 117, Q8_0 41 -> 83 / 70 -> 145, Q6_K 29 -> 35
// / 63 -> 89 (same integer sums, so the same bits). Every group super-block is read front to
// back, in its kernel's order.
//
// Q4_K: a group's super-block sb (values 256 sb .. 256 sb + 255 of its 16 rows) is 2304 bytes:
//   [0, 32)       d of rows 0..15 (F16)
//   [32, 64)      dmin of rows 0..15 (F16)
//   [64, 256)     the 12 scale bytes of each row as three dwords: bytes 0-3 of rows 0..15, then
//                 bytes 4-7 of rows 0..15, then bytes 8-11
//   [256, 2304)   qs: 32 vectors of 64 bytes; vector 8c + m holds, for row r at 4r, the row's
//                 qs[32c + 4m .. 32c + 4m + 3] (low nibbles: values 64c + 4m ..; high: 64c + 32 + 4m ..)
// Q6_K: 3360 bytes (52.5 cache lines), from v0 = q6_k_rows16_vectors(block address):
//   [v0, v0 + 256)           the 16 int8 scales of each row as four dwords: scales 0-3 of rows
//                            0..15, then 4-7, ...
//   [v0 + 256, v0 + 3328)    16 steps s = 8n + m of three vectors: ql vectors 16n + m and
//                            16n + 8 + m, then qh vector s, where ql vector v holds, for row r at
//                            4r, the row's ql[4v ..] and qh vector v its qh[4v ..] (what the
//                            kernel takes together, side by side: the hardware prefetches one
//                            stream, not three)
// and d of rows 0..15 (F16) in the 32 bytes left, after them (v0 = 0) or before (v0 = 32): a block
// that starts half-way into a cache line puts d first, so the vectors never straddle two lines
// where the copy starts on a line (a 64-byte load across two lines costs two).
// Q4_0 / Q8_0: a super-block is 8 blocks of 32 values, 2304 / 4352 bytes:
//   [0, 256)      d of block j of rows 0..15 (F16) at 32 j
//   [256, ...)    qs: V = 4 / 8 vectors per block; vector V j + m holds, for row r at 4r, the row's
//                 qs[4m .. 4m + 3] of block j (Q4_0: low nibbles values 4m .., high ones 16 + 4m ..)
// Group g's super-block sb is at (g * n_sb + sb) * 16 * (the type's block bytes): the group
// takes the bytes its 16 rows took, so a slice of whole groups (an expert's rows) starts where
// its first row did.
#pragma once

#include <cstdint>

#include "backend/cpu/weights.h"
#include "core/dtype.h"

namespace flint::cpu {

inline constexpr int kQ4KGroupBlockBytes = 2304;
inline constexpr int kQ6KGroupBlockBytes = 3360;
inline constexpr int kQ4_0GroupBlockBytes = 2304;
inline constexpr int kQ8_0GroupBlockBytes = 4352;
// Where a Q6_K group super-block's vectors start in it: 32 where the block starts in the second
// half of a cache line, else 0.
inline int q6_k_rows16_vectors(const uint8_t* block) { return (reinterpret_cast<uintptr_t>(block) & 32) != 0 ? 32 : 0; }

// Super-blocks per row the interleaved kernels take (n_in up to 65536: their per-token
// activation sums live on the stack).
inline constexpr int64_t kRows16MaxSuperBlocks = 256;

// How far ahead the interleaved kernels ask for their weights on this CPU (GemmArgs::
// rows16_prefetch): FLINT_ROWS16_PREFETCH=bytes (0-65536; for measuring another CPU) where set,
// else 0 on AMD family 0x19 (Zen 4) and 6 KiB elsewhere. The two CPUs measured disagree: on the
// Zen 4 the hardware's prefetchers kept up with the kernels' address order by themselves and any
// software prefetch cost bandwidth (llama3-1b Q4_K_M decode 1.06x without); on the Zen 5 (family
// 0x1A) one core alone reads only ~28 GB/s of a ~60 GB/s memory, the prefetchers stay too close,
// and 6 KiB into L2 took Q4_0 / Q4_K_M / the MoE's decode from 47 / 46 / 128 to 70 / 67 / 172
// tokens/s (4 and 8 KiB 1-4% less, 12 KiB 5% less).
int rows16_prefetch_bytes();

// Whether a matrix of `type` with rows of n_in values and `n_out` rows (`rows_per_slice`: the rows
// of each slice it is read in, an expert's, or n_out) is stored as kRows16 where the kernels can.
bool rows16_supported(DType type, int64_t n_in, int64_t n_out, int64_t rows_per_slice);
// rows16_supported, and this CPU's kernels (best_kernels) multiply kRows16 themselves: where
// the engine repacks such a matrix.
bool rows16_pays(DType type, int64_t n_in, int64_t n_out, int64_t rows_per_slice);

// Groups [g0, g1) of src ([n_out][row_bytes] in the file's format) into dst (as many bytes as
// src, in kRows16); disjoint group ranges can be repacked at once on several threads.
void repack_rows16(DType type, int64_t n_in, const uint8_t* src, uint8_t* dst, int64_t g0, int64_t g1);

// Groups [g0, g1) of a kRows16 matrix back into the file's format: dst [16 (g1 - g0)][row_bytes].
void unpack_rows16(const WeightMatrix& w, int64_t g0, int64_t g1, uint8_t* dst);

// Row r in the file's format: a pointer into w (kRows) or into tmp (row_bytes of it) where the
// row is copied out of its group (kRows16).
const uint8_t* file_row(const WeightMatrix& w, int64_t r, uint8_t* tmp);

}  // namespace flint::cpu
