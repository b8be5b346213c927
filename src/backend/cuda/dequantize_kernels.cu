// Dequantize kernels: one thread per value. Launchers return the CUDA error; the Status
// wrapper lives in dequantize.cpp (host code stays out of nvcc).
#include "backend/cuda/dequantize_kernels.h"

#include <cuda_fp16.h>

namespace flint::cuda {
namespace {

// Q8_0 block: f16 scale d, then 32 int8 quants; x = d * q. Blocks are 34 bytes, so the scale is
// only 2-byte aligned: read it as two bytes.
constexpr int kQ8_0Elems = 32;
constexpr int kQ8_0Bytes = 34;

// One thread per value; a warp covers one block.
__global__ void dequantize_q8_0_kernel(const uint8_t* __restrict__ src, float* __restrict__ dst,
                                       int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const uint8_t* block = src + (i / kQ8_0Elems) * kQ8_0Bytes;
  const __half_raw raw{static_cast<unsigned short>(block[0] | (block[1] << 8))};
  const float d = __half2float(__half(raw));
  const auto q = static_cast<int8_t>(block[2 + i % kQ8_0Elems]);
  dst[i] = d * static_cast<float>(q);
}

// Q4_0 block: f16 scale d, then 16 bytes of nibbles; value j (j < 16) is the low nibble of byte
// j, value j + 16 the high nibble; x = d * (nibble - 8).
constexpr int kQ4_0Elems = 32;
constexpr int kQ4_0Bytes = 18;

__global__ void dequantize_q4_0_kernel(const uint8_t* __restrict__ src, float* __restrict__ dst,
                                       int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const uint8_t* block = src + (i / kQ4_0Elems) * kQ4_0Bytes;
  const __half_raw raw{static_cast<unsigned short>(block[0] | (block[1] << 8))};
  const float d = __half2float(__half(raw));
  const int j = static_cast<int>(i % kQ4_0Elems);
  const uint8_t byte = block[2 + (j & 15)];
  const int nibble = j < 16 ? (byte & 0x0F) : (byte >> 4);
  dst[i] = d * static_cast<float>(nibble - 8);
}

}  // namespace

cudaError_t launch_dequantize_q8_0(const void* src, float* dst, int64_t n, cudaStream_t stream) {
  constexpr int kThreads = 256;
  const auto blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  dequantize_q8_0_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
  return cudaGetLastError();
}

cudaError_t launch_dequantize_q4_0(const void* src, float* dst, int64_t n, cudaStream_t stream) {
  constexpr int kThreads = 256;
  const auto blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  dequantize_q4_0_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<const uint8_t*>(src), dst, n);
  return cudaGetLastError();
}

}  // namespace flint::cuda
