#include "backend/cpu/activation.h"

#include <algorithm>
#include <cmath>

#include "core/half.h"

namespace flint::cpu {
namespace {

enum class DotType { kF32, kF16, kBF16, kQ8_0, kQ8_K };

DotType dot_type(DType w) {
  switch (w) {
    case DType::F16: return DotType::kF16;
    case DType::BF16: return DotType::kBF16;
    case DType::Q4_0:
    case DType::Q5_0:
    case DType::Q8_0:
    case DType::IQ4_NL:
    case DType::MXFP4:
    case DType::Q4_1:  // Q8_1 rows hold the same values as Q8_0 rows
    case DType::Q5_1: return DotType::kQ8_0;
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return DotType::kQ8_K;
    default: return DotType::kF32;
  }
}

// Q8_0 as ggml's x86 CPU path makes it: q = nearest-even(x * (127 / amax)), scale amax / 127
// rounded to F16 for the product.
void q8_0(const float* x, float* out, int64_t n) {
  for (int64_t b = 0; b < n; b += 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b + j]));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const float d16 = fp16_to_fp32(fp32_to_fp16(amax / 127.0f));
    for (int j = 0; j < 32; ++j) out[b + j] = d16 * std::nearbyint(x[b + j] * id);
  }
}

// Q8_K: iscale = -127 / m (m the value of largest magnitude, with its sign), q = min(127,
// nearest(iscale * x)), d = 1 / iscale in float32.
void q8_k(const float* x, float* out, int64_t n) {
  for (int64_t b = 0; b < n; b += 256) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 256; ++j) {
      const float ax = std::fabs(x[b + j]);
      if (ax > amax) {
        amax = ax;
        max = x[b + j];
      }
    }
    if (amax == 0.0f) {
      std::fill(out + b, out + b + 256, 0.0f);
      continue;
    }
    const float iscale = -127.0f / max;
    const float d = 1.0f / iscale;
    for (int j = 0; j < 256; ++j) {
      const float q = std::min(127.0f, std::nearbyint(iscale * x[b + j]));
      out[b + j] = d * q;
    }
  }
}

}  // namespace

bool rounds_activations(DType weight_type) { return dot_type(weight_type) != DotType::kF32; }

void round_activations(DType weight_type, const float* x, float* out, int64_t n) {
  switch (dot_type(weight_type)) {
    case DotType::kF32:
      if (out != x) std::copy(x, x + n, out);
      return;
    case DotType::kF16:
      for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
      return;
    case DotType::kBF16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
      return;
    case DotType::kQ8_0: q8_0(x, out, n); return;
    case DotType::kQ8_K: q8_k(x, out, n); return;
  }
}

}  // namespace flint::cpu
