// The AVX-512 kernel family (F, BW, VL, VNNI on top of AVX2): kernels_x86.inc built with those
// flags, for the VNNI integer dot products.
#define FLINT_X86_NS avx512
#define FLINT_X86_ISA Isa::kAvx512
#include "backend/cpu/kernels_x86.inc"
