// Scale searches for the K-quants. The float expressions keep ggml's evaluation order exactly
// (e.g. w * x * l is (w * x) * l, integer levels converted to float at the multiply): any
// reordering changes the last bit of a sum and can flip a comparison, hence a level.
#include "quant/kquant_search.h"

#include <algorithm>
#include <cmath>

#include "core/status.h"
#include "quant/kernels.h"

namespace flint::quant {
namespace {

// Below this magnitude a sub-block counts as all zero.
constexpr float kGroupMaxEps = 1e-15f;

// The value of largest magnitude with its sign (the first one on ties), and that magnitude.
float signed_extreme(int n, const float* x, float* amax_out) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  *amax_out = amax;
  return max;
}

}  // namespace

float search_scale_min(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* min_out, float rmin, float rdelta, int nstep, bool use_mad) {
  FLINT_CHECK(n <= kMaxSubBlock);
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  // The offset only ever shifts values up: a sub-block of positives keeps 0 as its lowest level.
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, uint8_t{0});
    *min_out = -min;
    return 0.f;
  }

  auto error_of = [&](float scale, float offset, const uint8_t* levels) {
    float error = 0;
    for (int i = 0; i < n; ++i) {
      float diff = scale * static_cast<float>(levels[i]) + offset - x[i];
      diff = use_mad ? std::fabs(diff) : diff * diff;
      error += weights[i] * diff;
    }
    return error;
  };

  // Candidate 0: the plain range fit.
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::clamp(l, 0, nmax));
  }
  float best_error = error_of(scale, min, L);
  if (nstep < 1) {
    *min_out = -min;
    return scale;
  }

  uint8_t candidate[kMaxSubBlock];
  for (int step = 0; step <= nstep; ++step) {
    iscale = (rmin + rdelta * static_cast<float>(step) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
      candidate[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      const float lf = static_cast<float>(l);
      sum_l += w * lf;
      sum_l2 += w * lf * lf;
      sum_xl += w * lf * x[i];
    }
    // Weighted least squares for x ~ this_scale * l + this_min over the candidate levels.
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      const float error = error_of(this_scale, this_min, candidate);
      if (error < best_error) {
        std::copy(candidate, candidate + n, L);
        best_error = error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *min_out = -min;
  return scale;
}

float search_scale_symmetric(int n, int nmax, const float* x, int8_t* L) {
  FLINT_CHECK(n <= kMaxSubBlock);
  float amax;
  const float max = signed_extreme(n, x, &amax);
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }

  // Levels and their weighted correlation sums for one inverse scale; w = x^2.
  int8_t candidate[kMaxSubBlock];
  auto fit = [&](float iscale, float* sumlx, float* suml2) {
    *sumlx = 0;
    *suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      candidate[i] = static_cast<int8_t>(l + nmax);
      const float w = x[i] * x[i];
      const float lf = static_cast<float>(l);
      *sumlx += w * x[i] * lf;
      *suml2 += w * lf * lf;
    }
  };

  float sumlx, suml2;
  fit(static_cast<float>(-nmax) / max, &sumlx, &suml2);
  std::copy(candidate, candidate + n, L);
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  // The weighted squared error is sum(w x^2) - sumlx^2 / suml2: maximize sumlx^2 / suml2.
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    fit(-(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / max, &sumlx, &suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      std::copy(candidate, candidate + n, L);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float refine_scale_symmetric(int n, int nmax, const float* x, int8_t* L) {
  FLINT_CHECK(n <= kMaxSubBlock);
  float amax;
  const float max = signed_extreme(n, x, &amax);
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }

  // Start from the levels of the naive scale; L holds signed levels until the end.
  const float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }

  // Coordinate descent: give value i the level that is best for the scale fitted to the other
  // values, and keep it if sumlx^2 / suml2 (the explained energy) grows.
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      if (slx > 0) {
        float sl2 = suml2 - w * li * li;
        const int new_l = std::clamp(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (new_l != L[i]) {
          const float nl = static_cast<float>(new_l);
          slx += w * x[i] * nl;
          sl2 += w * nl * nl;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<int8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

}  // namespace flint::quant
