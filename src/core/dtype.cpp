#include "core/dtype.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "core/status.h"

namespace flint {
namespace {

// Sizes follow ggml's block structs (ggml-common.h): e.g. Q4_K = f16 d, f16 dmin, 12 bytes of
// packed 6-bit scales and 128 bytes of nibbles for 256 values.
constexpr std::array kTypes = {
    DTypeInfo{DType::F32, "f32", 1, 4},
    DTypeInfo{DType::F16, "f16", 1, 2},
    DTypeInfo{DType::Q4_0, "q4_0", 32, 18},
    DTypeInfo{DType::Q4_1, "q4_1", 32, 20},
    DTypeInfo{DType::Q5_0, "q5_0", 32, 22},
    DTypeInfo{DType::Q5_1, "q5_1", 32, 24},
    DTypeInfo{DType::Q8_0, "q8_0", 32, 34},
    DTypeInfo{DType::Q8_1, "q8_1", 32, 36},
    DTypeInfo{DType::Q2_K, "q2_K", 256, 84},
    DTypeInfo{DType::Q3_K, "q3_K", 256, 110},
    DTypeInfo{DType::Q4_K, "q4_K", 256, 144},
    DTypeInfo{DType::Q5_K, "q5_K", 256, 176},
    DTypeInfo{DType::Q6_K, "q6_K", 256, 210},
    DTypeInfo{DType::Q8_K, "q8_K", 256, 292},
    DTypeInfo{DType::IQ2_XXS, "iq2_xxs", 256, 66},
    DTypeInfo{DType::IQ2_XS, "iq2_xs", 256, 74},
    DTypeInfo{DType::IQ3_XXS, "iq3_xxs", 256, 98},
    DTypeInfo{DType::IQ1_S, "iq1_s", 256, 50},
    DTypeInfo{DType::IQ4_NL, "iq4_nl", 32, 18},
    DTypeInfo{DType::IQ3_S, "iq3_s", 256, 110},
    DTypeInfo{DType::IQ2_S, "iq2_s", 256, 82},
    DTypeInfo{DType::IQ4_XS, "iq4_xs", 256, 136},
    DTypeInfo{DType::I8, "i8", 1, 1},
    DTypeInfo{DType::I16, "i16", 1, 2},
    DTypeInfo{DType::I32, "i32", 1, 4},
    DTypeInfo{DType::I64, "i64", 1, 8},
    DTypeInfo{DType::F64, "f64", 1, 8},
    DTypeInfo{DType::IQ1_M, "iq1_m", 256, 56},
    DTypeInfo{DType::BF16, "bf16", 1, 2},
    DTypeInfo{DType::TQ1_0, "tq1_0", 256, 54},
    DTypeInfo{DType::TQ2_0, "tq2_0", 256, 66},
    DTypeInfo{DType::MXFP4, "mxfp4", 32, 17},
    DTypeInfo{DType::NVFP4, "nvfp4", 64, 36},
    DTypeInfo{DType::Q1_0, "q1_0", 128, 18},
    DTypeInfo{DType::Q2_0, "q2_0", 64, 18},
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::optional<DTypeInfo> dtype_info(uint32_t id) {
  for (const DTypeInfo& info : kTypes) {
    if (static_cast<uint32_t>(info.type) == id) return info;
  }
  return std::nullopt;
}

DTypeInfo dtype_info(DType type) {
  std::optional<DTypeInfo> info = dtype_info(static_cast<uint32_t>(type));
  FLINT_CHECK(info.has_value());
  return *info;
}

std::string_view dtype_name(DType type) { return dtype_info(type).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const DTypeInfo& info : kTypes) {
    if (iequals(info.name, name)) return info.type;
  }
  return std::nullopt;
}

std::span<const DTypeInfo> all_dtypes() { return kTypes; }

std::optional<uint64_t> dtype_row_bytes(DType type, uint64_t n) {
  const DTypeInfo info = dtype_info(type);
  if (n % info.block_elems != 0) return std::nullopt;
  return n / info.block_elems * info.block_bytes;
}

double dtype_bits_per_weight(DType type) {
  const DTypeInfo info = dtype_info(type);
  return 8.0 * info.block_bytes / info.block_elems;
}

}  // namespace flint
