// CPU operations on float32 activations. Every tensor argument says its shape; rows are
// contiguous. Ops that take a ThreadPool split their work over it.
#pragma once

#include <cstdint>
#include <span>

#include "backend/cpu/kernels.h"
#include "backend/cpu/weights.h"
#include "core/status.h"
#include "core/thread_pool.h"

namespace flint::cpu {

// y = x / rms(x) * w, per row. x, y: [n_rows, n]; w: [n].
void rms_norm(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps);

// y[t] = W x[t] for each token: x [n_tokens, w.n_in] -> y [n_tokens, w.n_out]. The activations
// are first quantized the way llama.cpp's CPU backend does for that weight type (kernels.h), then
// the kernel family multiplies them with the weights in their block format, rows split over the
// pool. The first form uses the best family for this CPU.
void matmul(ThreadPool& pool, const WeightMatrix& w, const float* x, float* y, int64_t n_tokens);
void matmul(ThreadPool& pool, const KernelSet& kernels, const WeightMatrix& w, const float* x,
            float* y, int64_t n_tokens);
// True when matmul handles weights of `type`.
bool matmul_supports(DType type);

// One of several independent products y = W x for matmul_many.
struct MatmulJob {
  const WeightMatrix* w = nullptr;
  const float* x = nullptr;  // [n_tokens, w->n_in]
  float* y = nullptr;        // [n_tokens, w->n_out]
  int64_t n_tokens = 0;
};
// Every job in one pass over the pool (a layer's routed experts: dozens of small matrices, where
// a hand-off per matrix costs as much as the work). The same kernels on the same rows as one
// matmul() per job, so the same results; jobs with the same x and weight format quantize it once.
void matmul_many(ThreadPool& pool, const KernelSet& kernels, std::span<const MatmulJob> jobs);

// The reference the kernels are tested against: weights dequantized a row at a time by quant/
// (bit-exact with ggml), activations rounded as llama.cpp rounds them (activation.h), products
// summed exactly within a block and in float32 across blocks. Slow; for tests and checks.
void matmul_reference(ThreadPool& pool, const WeightMatrix& w, const float* x, float* y,
                      int64_t n_tokens);

// Embedding lookup: out [n_tokens, w.n_in] = rows `ids` of w.
Status get_rows(const WeightMatrix& w, std::span<const int32_t> ids, float* out);

struct RopeParams {
  int n_rot = 0;                         // rotated dims per head (= head_dim here)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;               // linear rope scaling: 1 / factor
  bool neox = false;                     // NEOX rotates (i, i + n_rot/2); NORM rotates (2i, 2i+1)
  const float* freq_factors = nullptr;   // [n_rot / 2] divisors (Llama 3.1 rope_freqs), or null
};

// Rotates every head of one token in place. x: [n_heads, head_dim].
void rope(float* x, int64_t n_heads, int64_t head_dim, int32_t pos, const RopeParams& p);

// In place: gate = silu(gate) * up, elementwise (so the split over the pool changes nothing).
// gate, up: [n].
void silu_mul(ThreadPool& pool, float* gate, const float* up, int64_t n);

// In place softmax over x: [n].
void softmax(float* x, int64_t n);

}  // namespace flint::cpu
