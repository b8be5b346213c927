// GPU dequantization of block-quantized rows to float32.
#pragma once

#include <cstdint>

#include "backend/cuda/runtime.h"
#include "core/dtype.h"
#include "core/status.h"

namespace flint::cuda {

// True when dequantize() has a kernel for `type`.
bool can_dequantize(DType type);

// src: device bytes of n values of `type`; dst: device float[n]. Enqueued on `stream`.
Status dequantize(DType type, const void* src, float* dst, int64_t n, const Stream& stream);

}  // namespace flint::cuda
