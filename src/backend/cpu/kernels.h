// The CPU kernel families behind matmul and attention: one KernelSet per instruction set, all
// computing the same thing (the scalar family is the portable build of the same algorithms and
// the reference the others are tested against; quant/ holds the bit-exact dequantizers).
//
// A matmul y = W x runs in two steps: the activation rows are quantized into the format llama.cpp
// pairs with the weight type (act_format; Q8_K for the K-quants, Q8_0/Q8_1 for the 32-value
// formats, F16/BF16-rounded floats for those weights), then `gemm` computes rows [r0, r1) of y
// for every token, decoding each weight block once per row tile and reusing it across tokens.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/qformats.h"
#include "core/dtype.h"

namespace flint::cpu {

// The activation format of `weight_type`, or false when no kernel multiplies that type.
bool act_format_for(DType weight_type, ActFormat* format);
struct KernelSet;
// The format `kernels` take for `weight_type` (a supported type): act_format_for's, except BF16
// pairs for BF16 weights in a family that packs them.
ActFormat act_format(const KernelSet& kernels, DType weight_type);
// Bytes of one activation row of n values (n a multiple of the weight's block size).
uint64_t act_row_bytes(ActFormat format, int64_t n);

struct GemmArgs {
  DType type = DType::F32;
  const uint8_t* w = nullptr;  // [n_out][w_row_bytes]: rows in the file's block format (gemm_rows16: kRows16)
  uint64_t w_row_bytes = 0;
  int64_t n_in = 0;            // values per row
  const uint8_t* x = nullptr;  // [n_tok][x_row_bytes], in act_format(kernels, type), 64-byte aligned
  uint64_t x_row_bytes = 0;
  int64_t n_tok = 0;
  float* y = nullptr;          // y[t * y_stride + r]
  int64_t y_stride = 0;
  int64_t r0 = 0, r1 = 0;      // the rows to compute
  int tile_rows = 1;           // gemm_tile_rows(type, n_in)
  uint8_t* scratch = nullptr;  // gemm_scratch_bytes(type, n_in) bytes, this thread's own
  int rows16_prefetch = 0;     // gemm_rows16: how far ahead of the group super-block it multiplies
                               // the kernel asks for the weights (into L2, or as a stream:
                               // rows16_stream), bytes (0: it leaves them to the hardware's
                               // prefetchers; rows16_prefetch_bytes())
  bool rows16_stream = false;  // gemm_rows16: no later call reads these rows again (every token
                               // of the product is in this one): ask for them as a stream
                               // (prefetch_stream), not into L2
};

// The x86 prompt GEMMs for the quantized types decode up to kTileRows rows at a time into an
// interleaved tile, at most kTileBytes per row and 256 values (kernels_x86_kgemm.inc: K-quants,
// 360; kernels_x86_lgemm.inc: 32-value formats, 320).
inline constexpr int kTileRows = 32;
inline constexpr size_t kTileBytes = 360;

// Rows decoded together when many tokens share a call (their panels stay in L2), and the bytes
// of scratch that takes.
int gemm_tile_rows(DType type, int64_t n_in);
size_t gemm_scratch_bytes(DType type, int64_t n_in);
// The avx512bf16 prompt GEMM's scratch: the accumulators of up to 64 rows against 6 tokens,
// kept between spans of a row.
inline constexpr size_t kBf16SavedBytes = 64 * 6 * 16 * sizeof(float);

// A run of cached blocks for attention: n positions in all, block_size per block (every block
// but the last full), block b's data at blocks[b], `heads` KV heads side by side in each
// (head_bytes apart), d values each; `group` query heads read each KV head.
//  - Keys (AttnKeys) are stored by column (attention.h): value i of head g's key j at
//    blocks[b] + g * head_bytes + i * stride + j * (2 or 4) bytes (stride: a column's bytes), so
//    a vector load reads one value of consecutive keys and a score needs no horizontal sum.
//  - Values (AttnRows) by row: head g's row j at blocks[b] + g * head_bytes + j * stride.
// next (or nullptr): while a kernel works on block b it asks the memory for next[b] (or nothing
// where that is nullptr): what the caller reads a little later, laid out as a block (keys or
// values of another block); the hardware's prefetchers alone left the cores waiting. One call
// covers a run of blocks, so what a call costs besides its multiply-adds (the values'
// accumulators loaded and stored, the setup) is paid once per run, and the AVX-512 scores take
// two blocks' keys per pass, each query value broadcast once for both.
struct AttnBlocks {
  const uint8_t* const* blocks = nullptr;  // [ceil(n / block_size)]
  const uint8_t* const* next = nullptr;    // [ceil(n / block_size)] or nullptr
  int32_t block_size = 0;
  uint64_t stride = 0;
  int64_t n = 0;
  int32_t d = 0;
  int32_t group = 1;
  int32_t heads = 1;
  uint64_t head_bytes = 0;
  // next as a stream (read once, soon; kept out of the L3, on some CPUs out of L2) rather than
  // into L2: where a decode step's cache is far larger than the last-level cache (attention.cpp).
  // Families that have not measured it ask into L2 either way.
  bool stream = false;

  int64_t n_blocks() const { return (n + block_size - 1) / block_size; }
  // Positions in block b.
  int64_t rows_in(int64_t b) const { return n - b * block_size < block_size ? n - b * block_size : block_size; }
  // What to ask for while on block b, KV head g (nullptr: nothing).
  const uint8_t* ahead(int64_t b, int32_t g) const {
    return next != nullptr && next[b] != nullptr ? next[b] + g * head_bytes : nullptr;
  }
};
using AttnKeys = AttnBlocks;
using AttnRows = AttnBlocks;

struct KernelSet {
  Isa isa;
  // x: [n] -> n / 256 blocks (n a multiple of 256).
  void (*quantize_q8k)(const float* x, ActQ8K* out, int64_t n);
  // x: [n] -> n / 32 blocks.
  void (*quantize_q8b)(const float* x, ActQ8B* out, int64_t n);
  // out[i] = x[i] rounded to F16 / BF16 (kept as float32).
  void (*round_f16)(const float* x, float* out, int64_t n);
  void (*round_bf16)(const float* x, float* out, int64_t n);
  // x: [n] -> the kBF16Pairs row (act_row_bytes), in families that multiply BF16 pairs; nullptr
  // elsewhere (they take kBF16).
  void (*pack_bf16)(const float* x, uint8_t* out, int64_t n);
  // False when `type` has no kernel (the caller checked act_format_for first).
  bool (*gemm)(const GemmArgs& args);
  // The same with args.w in Layout::kRows16 (repack.h): false where the family has no kernel for
  // that type and token count (matmul then reads the rows back into the file's format first);
  // nullptr in families that have none.
  bool (*gemm_rows16)(const GemmArgs& args);

  // Attention for the `group` query heads that share each of `heads` KV heads, over a run of
  // cached blocks of keys or value rows (F16 or F32; see attention.h for the layout); query head
  // h = g * group + h' reads KV head g, position j of the run is slot j % block_size of block
  // j / block_size:
  //   scores[h * ld + j] = scale * dot(q[h * d .. h * d + d), key j of its KV head)
  //                                                        q: [heads * group][d]
  // Every family forms a score in the same order, so gives the same bits: two chains of fused
  // multiply-adds, over the even and the odd i, then scale * (even + odd).
  void (*group_scores_f16)(const AttnKeys& keys, const float* q, float scale, float* scores, int64_t ld);
  void (*group_scores_f32)(const AttnKeys& keys, const float* q, float scale, float* scores, int64_t ld);
  //   out[h * d + i] += sum_j p[h * ld + j] * row_j[i] of its KV head  out: [heads * group][d]
  // (j in order).
  void (*group_accum_f16)(const AttnRows& rows, const float* p, int64_t ld, float* out);
  void (*group_accum_f32)(const AttnRows& rows, const float* p, int64_t ld, float* out);
  // x[i] = exp(x[i] - shift) for i < n; returns the sum of the new x.
  float (*exp_shift)(float* x, int64_t n, float shift);
  // A softmax's steps on rows x[r * ld .. r * ld + n) for r < rows (score rows: n > 0, no NaN):
  // m[r] = the row's largest, the row's x = exp(x - m[r]) as exp_shift, l[r] = their sum; each
  // row the same bits as alone.
  void (*softmax_rows)(float* x, int64_t rows, int64_t n, int64_t ld, float* m, float* l);
  // gate[i] = silu(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i], each element alone.
  void (*silu_mul)(float* gate, const float* up, int64_t n);
  // Memory probes: a sum over n bytes (n a multiple of 128) that forces every load, and the
  // STREAM triad a[i] = b[i] + s * c[i].
  uint64_t (*read_sum)(const uint8_t* p, size_t n);
  void (*triad)(float* a, const float* b, const float* c, float s, size_t n);
};

// The kernels for `isa`, or nullptr when this binary or CPU has none.
const KernelSet* kernels_for(Isa isa);
// The kernels of best_isa().
const KernelSet& best_kernels();

}  // namespace flint::cpu
