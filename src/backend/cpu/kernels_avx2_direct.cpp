// The AVX2 family's fused decode kernels: kernels_x86_direct.inc built with -mavx2 -mfma -mf16c.
#define FLINT_X86_NS avx2
#include "backend/cpu/kernels_x86_direct.inc"
