// What the CPU can run, read once from CPUID (x86) or the auxiliary vector (Arm), and the kernel
// families flint has for it.
#pragma once

#include <string>

namespace flint::cpu {

struct CpuFeatures {
  // x86-64
  bool avx2 = false;  // with FMA and F16C (every AVX2 CPU flint targets has both)
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avxvnni = false;
  bool amd = false;         // AuthenticAMD
  unsigned family = 0;      // CPUID's display family (AMD Zen 4: 0x19, Zen 5: 0x1A)
  // AArch64
  bool neon = false;
  bool dotprod = false;  // SDOT/UDOT (Armv8.2 DotProd)
  bool fp16 = false;     // half-precision arithmetic
  bool i8mm = false;

  std::string summary() const;  // "avx2 fma f16c" and so on, for logs and bench rows
};

// The features of the CPU this process runs on (detected on first use; immutable after).
const CpuFeatures& cpu_features();

// Kernel families, best last. kScalar is the portable build of the same algorithms.
// kAvx512: AVX2 plus AVX-512 F, BW, VL and VNNI; kAvx512Bf16: the same with BF16 weights
// multiplied by AVX512_BF16's dot product (a different order of adds, so other bits for them).
enum class Isa { kScalar, kAvx2, kAvx512, kAvx512Bf16, kNeonDot };

const char* isa_name(Isa isa);
// True when this binary holds kernels for `isa` and the CPU can run them.
bool isa_available(Isa isa);
// The best available family, unless FLINT_CPU_KERNELS=scalar|avx2|avx512|avx512bf16|neon asks for
// another one (for comparisons; an unavailable request falls back to the best).
Isa best_isa();

}  // namespace flint::cpu
