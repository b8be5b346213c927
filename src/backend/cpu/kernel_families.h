// The kernel families this binary holds (internal to backend/cpu): each defined in its own file,
// built with its instruction set's flags.
#pragma once

#include "backend/cpu/kernels.h"

namespace flint::cpu {
namespace scalar {
extern const KernelSet kKernels;
}
#if defined(__x86_64__)
namespace avx2 {
extern const KernelSet kKernels;
}
namespace avx512 {
extern const KernelSet kKernels;
}
// avx512 with BF16 weights multiplied by vdpbf16ps (kernels_avx512bf16.cpp); its KernelSet is
// defined beside avx512's (kernels_x86.inc).
namespace avx512bf16 {
extern const KernelSet kKernels;
// The BF16 product of a GemmArgs (activations as kBF16Pairs); false for any other weight type.
bool gemm_bf16(const GemmArgs& a);
// KernelSet::pack_bf16.
void pack_bf16(const float* x, uint8_t* out, int64_t n);
}
#endif
#if defined(__aarch64__)
namespace neon {
extern const KernelSet kKernels;
}
#endif
}  // namespace flint::cpu
