#include "backend/cpu/kernels.h"

#include <algorithm>

#include "backend/cpu/kernel_families.h"

namespace flint::cpu {

bool act_format_for(DType weight_type, ActFormat* format) {
  switch (weight_type) {
    case DType::F32: *format = ActFormat::kF32; return true;
    case DType::F16: *format = ActFormat::kF16; return true;
    case DType::BF16: *format = ActFormat::kBF16; return true;
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::Q8_0:
    case DType::IQ4_NL:
    case DType::MXFP4: *format = ActFormat::kQ8B; return true;
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: *format = ActFormat::kQ8K; return true;
    default: return false;
  }
}

uint64_t act_row_bytes(ActFormat format, int64_t n) {
  const auto un = static_cast<uint64_t>(n);
  switch (format) {
    // one cache line past the values: the float GEMM's tiles read six tokens' rows side by side,
    // and rows a multiple of 4 KiB apart would share an L1 set
    case ActFormat::kF32:
    case ActFormat::kF16:
    case ActFormat::kBF16: return un * sizeof(float) + 64;
    case ActFormat::kBF16Pairs: return ((un + 31) / 32 + 1) * 64;
    case ActFormat::kQ8B: return un / 32 * sizeof(ActQ8B);
    case ActFormat::kQ8K: return un / 256 * sizeof(ActQ8K);
  }
  return 0;
}

namespace {

size_t panel_bytes(DType type) {
  ActFormat f = ActFormat::kF32;
  if (!act_format_for(type, &f)) return 0;
  switch (f) {
    case ActFormat::kQ8K: return sizeof(KPanel);
    case ActFormat::kQ8B: return sizeof(LPanel);
    default: return sizeof(FPanel);
  }
}

bool is_block_quant(DType type) {
  ActFormat f = ActFormat::kF32;
  return act_format_for(type, &f) && (f == ActFormat::kQ8K || f == ActFormat::kQ8B);
}

}  // namespace

int gemm_tile_rows(DType type, int64_t n_in) {
  // Block quants: the x86 interleaved tile (the panel families take 16 rows of it).
  if (is_block_quant(type)) return kTileRows;
  // Decoded panels of one tile stay within ~192 KiB (L2 on current cores), 16 rows at most.
  constexpr size_t kTarget = 192 * 1024;
  const size_t row = panel_bytes(type) * static_cast<size_t>((n_in + 255) / 256);
  if (row == 0) return 1;
  return static_cast<int>(std::clamp<size_t>(kTarget / row, 1, 16));
}

ActFormat act_format(const KernelSet& kernels, DType weight_type) {
  if (weight_type == DType::BF16 && kernels.pack_bf16) return ActFormat::kBF16Pairs;
  ActFormat f = ActFormat::kF32;
  act_format_for(weight_type, &f);
  return f;
}

size_t gemm_scratch_bytes(DType type, int64_t n_in) {
  const auto n_panels = static_cast<size_t>((n_in + 255) / 256);
  if (is_block_quant(type)) return std::max(kTileBytes, panel_bytes(type)) * kTileRows * n_panels;
  const size_t panels = static_cast<size_t>(gemm_tile_rows(type, n_in)) * panel_bytes(type) * n_panels;
  return type == DType::BF16 ? std::max(panels, kBf16SavedBytes) : panels;
}

const KernelSet* kernels_for(Isa isa) {
  if (!isa_available(isa)) return nullptr;
  switch (isa) {
    case Isa::kScalar: return &scalar::kKernels;
#if defined(__x86_64__)
    case Isa::kAvx2: return &avx2::kKernels;
    case Isa::kAvx512: return &avx512::kKernels;
    case Isa::kAvx512Bf16: return &avx512bf16::kKernels;
#endif
#if defined(__aarch64__)
    case Isa::kNeonDot: return &neon::kKernels;
#endif
    default: return nullptr;
  }
}

const KernelSet& best_kernels() {
  const KernelSet* k = kernels_for(best_isa());
  return k ? *k : scalar::kKernels;
}

}  // namespace flint::cpu
