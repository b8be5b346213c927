// Scale searches used by the K-quant quantizers (internal to src/quant).
//
// Each function quantizes one sub-block of n <= 32 values to integer levels L and returns the
// scale (and offset) that best reconstructs it, by trying a few candidate scales around the
// naive one and keeping the one with the least weighted error. They follow ggml's helpers of the
// same purpose operation by operation, so the chosen levels are bit-identical.
#pragma once

#include <cstdint>

namespace flint::quant {

inline constexpr int kMaxSubBlock = 32;

// Asymmetric fit x ~ scale * L - min_out with L in [0, nmax] and min_out >= 0 (ggml's
// make_qkx2_quants). Starts from the [min(x, 0), max(x)] range, then for nstep + 1 candidate
// level counts nmax + rmin + rdelta * k re-rounds and solves the weighted least-squares scale and
// offset for those levels, keeping the candidate with the least weighted error (|diff| when
// use_mad, diff^2 otherwise). Returns the scale; *min_out receives the (positive) offset.
float search_scale_min(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* min_out, float rmin, float rdelta, int nstep, bool use_mad);

// Symmetric fit x ~ scale * (L - nmax) with L - nmax in [-nmax, nmax - 1], weights x^2 (ggml's
// make_qx_quants with rmse_type 1 and no importance weights). The level of the largest-magnitude
// value is pinned at -nmax; 18 nearby scales are tried. Returns the least-squares scale; it has
// the sign that maps the extreme to -nmax (so it may be negative).
float search_scale_symmetric(int n, int nmax, const float* x, int8_t* L);

// Symmetric fit as above, refined by coordinate descent instead of a scale sweep: up to 5 passes
// that move one level at a time when that raises the weighted correlation (ggml's make_q3_quants
// with do_rmse).
float refine_scale_symmetric(int n, int nmax, const float* x, int8_t* L);

}  // namespace flint::quant
