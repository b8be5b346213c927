#include "backend/cpu/cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace flint::cpu {
namespace {

#if defined(__x86_64__)
// XCR0: which register states the OS saves (AVX needs XMM|YMM, AVX-512 also opmask and ZMM).
uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (__get_cpuid(0, &a, &b, &c, &d)) f.amd = b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;  // "AuthenticAMD"
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.family = (a >> 8) & 0xF;
  if (f.family == 0xF) f.family += (a >> 20) & 0xFF;
  const bool fma = c & bit_FMA, f16c = c & bit_F16C, osxsave = c & bit_OSXSAVE, avx = c & bit_AVX;
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = xgetbv0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6, zmm_state = (xcr0 & 0xE6) == 0xE6;
  if (!ymm_state || __get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = (b & bit_AVX2) && fma && f16c;
  if (zmm_state) {
    f.avx512f = b & bit_AVX512F;
    f.avx512bw = b & bit_AVX512BW;
    f.avx512vl = b & bit_AVX512VL;
    f.avx512vnni = c & bit_AVX512VNNI;
  }
  __cpuid_count(7, 1, a, b, c, d);
  f.avxvnni = a & (1u << 4);
  if (zmm_state) f.avx512bf16 = a & (1u << 5);
  return f;
}
#elif defined(__aarch64__) && defined(__linux__)
CpuFeatures detect() {
  CpuFeatures f;
  const unsigned long hw = getauxval(AT_HWCAP);
  const unsigned long hw2 = getauxval(AT_HWCAP2);
  f.neon = hw & HWCAP_ASIMD;
  f.dotprod = hw & HWCAP_ASIMDDP;
  f.fp16 = (hw & HWCAP_FPHP) && (hw & HWCAP_ASIMDHP);
#ifdef HWCAP2_I8MM
  f.i8mm = hw2 & HWCAP2_I8MM;
#else
  (void)hw2;
#endif
  return f;
}
#else
CpuFeatures detect() { return {}; }
#endif

}  // namespace

std::string CpuFeatures::summary() const {
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx2, "avx2 fma f16c");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512vnni, "avx512vnni");
  add(avx512bf16, "avx512bf16");
  add(avxvnni, "avxvnni");
  add(neon, "neon");
  add(dotprod, "dotprod");
  add(fp16, "fp16");
  add(i8mm, "i8mm");
  return s.empty() ? "baseline" : s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx512Bf16: return "avx512bf16";
    case Isa::kNeonDot: return "neon";
  }
  return "?";
}

bool isa_available(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return true;
#if defined(__x86_64__)
    case Isa::kAvx2: return cpu_features().avx2;
    case Isa::kAvx512: {
      const CpuFeatures& f = cpu_features();
      return f.avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
    }
    case Isa::kAvx512Bf16: return isa_available(Isa::kAvx512) && cpu_features().avx512bf16;
#else
    case Isa::kAvx2:
    case Isa::kAvx512:
    case Isa::kAvx512Bf16: return false;
#endif
#if defined(__aarch64__)
    case Isa::kNeonDot: return cpu_features().dotprod && cpu_features().fp16;
#else
    case Isa::kNeonDot: return false;
#endif
  }
  return false;
}

Isa best_isa() {
  static const Isa best = [] {
    if (const char* want = std::getenv("FLINT_CPU_KERNELS")) {
      for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Bf16, Isa::kNeonDot}) {
        if (std::strcmp(want, isa_name(isa)) == 0 && isa_available(isa)) return isa;
      }
    }
    for (Isa isa : {Isa::kNeonDot, Isa::kAvx512Bf16, Isa::kAvx512, Isa::kAvx2}) {
      if (isa_available(isa)) return isa;
    }
    return Isa::kScalar;
  }();
  return best;
}

}  // namespace flint::cpu
