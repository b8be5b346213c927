// The AVX-512 family's fused decode kernels: kernels_x86_direct.inc built with AVX-512 VNNI.
#define FLINT_X86_NS avx512
#include "backend/cpu/kernels_x86_direct.inc"
