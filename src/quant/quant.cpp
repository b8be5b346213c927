// Dispatch from a DType to its kernels, argument checks, and the plain float formats.
#include "quant/quant.h"

#include <array>
#include <cstring>
#include <optional>
#include <string>

#include "core/half.h"
#include "quant/blocks.h"
#include "quant/kernels.h"

namespace flint::quant {

// --- plain floats: one value per "block" ---

void dequantize_f16(const void* src, float* dst, int64_t n) {
  const auto* bytes = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, bytes + 2 * i, sizeof(h));
    dst[i] = fp16_to_fp32(h);
  }
}

void quantize_f16(const float* src, void* dst, int64_t n) {
  auto* bytes = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_fp16(src[i]);
    std::memcpy(bytes + 2 * i, &h, sizeof(h));
  }
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
  const auto* bytes = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, bytes + 2 * i, sizeof(h));
    dst[i] = bf16_to_fp32(h);
  }
}

void quantize_bf16(const float* src, void* dst, int64_t n) {
  auto* bytes = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_bf16(src[i]);
    std::memcpy(bytes + 2 * i, &h, sizeof(h));
  }
}

namespace {

void copy_f32_in(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void copy_f32_out(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

using DequantizeFn = void (*)(const void* src, float* dst, int64_t nblocks);
using QuantizeFn = void (*)(const float* src, void* dst, int64_t nblocks);

struct Kernels {
  DType type;
  uint32_t block_elems;
  uint32_t block_bytes;  // sizeof the block struct; checked against dtype_info()
  DequantizeFn dequantize;
  QuantizeFn quantize;  // nullptr: dequantize only
};

constexpr std::array kKernels = {
    Kernels{DType::F32, 1, 4, copy_f32_in, copy_f32_out},
    Kernels{DType::F16, 1, 2, dequantize_f16, quantize_f16},
    Kernels{DType::BF16, 1, 2, dequantize_bf16, quantize_bf16},
    Kernels{DType::Q4_0, kQK, sizeof(BlockQ4_0), dequantize_q4_0, quantize_q4_0},
    Kernels{DType::Q4_1, kQK, sizeof(BlockQ4_1), dequantize_q4_1, quantize_q4_1},
    Kernels{DType::Q5_0, kQK, sizeof(BlockQ5_0), dequantize_q5_0, quantize_q5_0},
    Kernels{DType::Q5_1, kQK, sizeof(BlockQ5_1), dequantize_q5_1, quantize_q5_1},
    Kernels{DType::Q8_0, kQK, sizeof(BlockQ8_0), dequantize_q8_0, quantize_q8_0},
    Kernels{DType::Q2_K, kQK_K, sizeof(BlockQ2_K), dequantize_q2_k, quantize_q2_k},
    Kernels{DType::Q3_K, kQK_K, sizeof(BlockQ3_K), dequantize_q3_k, quantize_q3_k},
    Kernels{DType::Q4_K, kQK_K, sizeof(BlockQ4_K), dequantize_q4_k, quantize_q4_k},
    Kernels{DType::Q5_K, kQK_K, sizeof(BlockQ5_K), dequantize_q5_k, quantize_q5_k},
    Kernels{DType::Q6_K, kQK_K, sizeof(BlockQ6_K), dequantize_q6_k, quantize_q6_k},
    Kernels{DType::IQ4_NL, kQK, sizeof(BlockIQ4_NL), dequantize_iq4_nl, quantize_iq4_nl},
    Kernels{DType::MXFP4, kQK, sizeof(BlockMXFP4), dequantize_mxfp4, quantize_mxfp4},
};

const Kernels* find_kernels(DType type) {
  for (const Kernels& k : kKernels) {
    if (k.type == type) {
      // The struct sizes here and the table in core/dtype.cpp must agree; only a bug breaks this.
      const DTypeInfo info = dtype_info(type);
      FLINT_CHECK(info.block_elems == k.block_elems && info.block_bytes == k.block_bytes);
      return &k;
    }
  }
  return nullptr;
}

// The name for messages; tolerates ids outside the enum.
std::string type_name(DType type) {
  const std::optional<DTypeInfo> info = dtype_info(static_cast<uint32_t>(type));
  return info ? std::string(info->name) : fmt::format("#{}", static_cast<uint32_t>(type));
}

// Checks the arguments shared by both directions; on success returns the block count in *nblocks.
Status check_row(const char* what, DType type, const Kernels* k, const void* src, const void* dst,
                 int64_t n, int64_t* nblocks) {
  if (k == nullptr) return error("{}: type {} is not supported", what, type_name(type));
  if (n < 0) return error("{} {}: negative length {}", what, type_name(type), n);
  if (n % k->block_elems != 0) {
    return error("{} {}: length {} is not a multiple of the block size {}", what, type_name(type),
                 n, k->block_elems);
  }
  if (n > 0 && (src == nullptr || dst == nullptr)) {
    return error("{} {}: null buffer for {} values", what, type_name(type), n);
  }
  *nblocks = n / k->block_elems;
  return Status::ok();
}

}  // namespace

bool can_dequantize(DType type) { return find_kernels(type) != nullptr; }

bool can_quantize(DType type) {
  const Kernels* k = find_kernels(type);
  return k != nullptr && k->quantize != nullptr;
}

Status dequantize_row(DType type, const void* src, float* dst, int64_t n) {
  const Kernels* k = find_kernels(type);
  int64_t nblocks = 0;
  FLINT_RETURN_IF_ERROR(check_row("dequantize", type, k, src, dst, n, &nblocks));
  if (nblocks > 0) k->dequantize(src, dst, nblocks);
  return Status::ok();
}

Status quantize_row(DType type, const float* src, void* dst, int64_t n) {
  const Kernels* k = find_kernels(type);
  if (k != nullptr && k->quantize == nullptr) {
    return error("quantize: type {} can be read but not written", type_name(type));
  }
  int64_t nblocks = 0;
  FLINT_RETURN_IF_ERROR(check_row("quantize", type, k, src, dst, n, &nblocks));
  if (nblocks > 0) k->quantize(src, dst, nblocks);
  return Status::ok();
}

}  // namespace flint::quant
