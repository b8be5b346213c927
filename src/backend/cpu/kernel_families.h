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
#endif
#if defined(__aarch64__)
namespace neon {
extern const KernelSet kKernels;
}
#endif
}  // namespace flint::cpu
