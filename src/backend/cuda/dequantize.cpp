#include "backend/cuda/dequantize.h"

#include "backend/cuda/check.h"
#include "backend/cuda/dequantize_kernels.h"

namespace flint::cuda {

bool can_dequantize(DType type) { return type == DType::Q8_0 || type == DType::Q4_0; }

Status dequantize(DType type, const void* src, float* dst, int64_t n, const Stream& stream) {
  if (!can_dequantize(type)) {
    return error("no CUDA dequantize kernel for type {}", dtype_name(type));
  }
  const DTypeInfo info = dtype_info(type);
  if (n < 0 || n % info.block_elems != 0) {
    return error("CUDA dequantize {}: {} values is not a multiple of the block size {}",
                 info.name, n, info.block_elems);
  }
  if (n == 0) return Status::ok();
  const auto s = static_cast<cudaStream_t>(stream.handle());
  FLINT_CUDA_RETURN_IF_ERROR(type == DType::Q8_0 ? launch_dequantize_q8_0(src, dst, n, s)
                                                 : launch_dequantize_q4_0(src, dst, n, s));
  return Status::ok();
}

}  // namespace flint::cuda
