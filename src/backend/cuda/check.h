// Turns a failed CUDA runtime call into a Status naming the call, file and line.
#pragma once

#include <cuda_runtime.h>

#include "core/status.h"

#define FLINT_CUDA_RETURN_IF_ERROR(call)                                                   \
  do {                                                                                     \
    const cudaError_t flint_cuda_err_ = (call);                                            \
    if (flint_cuda_err_ != cudaSuccess) {                                                  \
      return ::flint::error("{} failed at {}:{}: {}", #call, __FILE__, __LINE__,          \
                            cudaGetErrorString(flint_cuda_err_));                          \
    }                                                                                      \
  } while (0)
