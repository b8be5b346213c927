// Launchers for the dequantize kernels (plain CUDA, no flint types beyond the pointers).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace flint::cuda {

// src: device bytes of n values (n a multiple of 32); dst: device float[n].
cudaError_t launch_dequantize_q8_0(const void* src, float* dst, int64_t n, cudaStream_t stream);
cudaError_t launch_dequantize_q4_0(const void* src, float* dst, int64_t n, cudaStream_t stream);

}  // namespace flint::cuda
