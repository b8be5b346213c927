// Activation rounding as llama.cpp's CPU backend does it before each matmul.
//
// ggml converts the activation row to the weight type's "vec_dot" partner and multiplies in that
// format: F16 weights see the row rounded to F16, BF16 to BF16, Q4_0/Q5_0/Q8_0/IQ4_NL/MXFP4 a
// Q8_0 row (32-value blocks, scale amax/127 stored as F16), Q4_1/Q5_1 a Q8_1 row (the same
// values), and the K-quants a Q8_K row (256-value blocks, scale 1/(-127/max) kept in float32).
// flint reproduces those values so its logits follow llama.cpp's to within summation order,
// not just within quantization noise (fixtures README section 2.5).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace flint::cpu {

// out[i] = the value llama.cpp's matmul uses for x[i] against weights of `weight_type`.
// x, out: [n] (n a multiple of the weight's block size); out may equal x.
void round_activations(DType weight_type, const float* x, float* out, int64_t n);

// False for F32 weights: their activations are used as they are.
bool rounds_activations(DType weight_type);

}  // namespace flint::cpu
