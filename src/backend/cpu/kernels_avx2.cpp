// The AVX2 kernel family (AVX2, FMA, F16C): kernels_x86.inc built with -mavx2 -mfma -mf16c.
#define FLINT_X86_NS avx2
#define FLINT_X86_ISA Isa::kAvx2
#include "backend/cpu/kernels_x86.inc"
