// Block quantization: scalar reference (de)quantization of ggml's block formats.
//
// Bit-exact with ggml's reference code: dequantize_row() gives the same floats as ggml's to_float,
// and quantize_row() the same bytes as ggml_quantize_chunk() without an importance matrix (what
// llama-quantize writes when given none). This is the single source of truth both backends are
// tested against; it favours clarity over speed.
#pragma once

#include <cstdint>
#include <span>

#include "core/dtype.h"
#include "core/status.h"

namespace flint::quant {

// True when dequantize_row() handles `type`.
bool can_dequantize(DType type);
// True when quantize_row() handles `type`.
bool can_quantize(DType type);

// src: the bytes of `n` values of `type` (n a multiple of the block size); dst: [n] floats.
Status dequantize_row(DType type, const void* src, float* dst, int64_t n);

// src: [n] floats; dst: dtype_row_bytes(type, n) bytes.
Status quantize_row(DType type, const float* src, void* dst, int64_t n);

}  // namespace flint::quant
