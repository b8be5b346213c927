// Helpers for comparing flint's logits with llama.cpp's references (fixtures/models/refs):
// reading the reference files, float64 softmax / KL, and top-1 agreement.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/fixtures.h"

namespace flint::test::parity {

inline constexpr int32_t kEos = 2;  // </s> in the fixture vocab

inline std::string models_dir() { return *fixtures_dir() + "/models"; }
inline std::string refs_dir() { return models_dir() + "/refs"; }

inline std::vector<int32_t> read_i32(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  std::vector<int32_t> out(bytes.size() / sizeof(int32_t));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(int32_t));
  return out;
}

inline nlohmann::json read_json(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  return nlohmann::json::parse(bytes.begin(), bytes.end());
}

// One fixture file's references for prompt P1.
struct Reference {
  std::vector<int32_t> tokens;        // [n_tokens]
  std::vector<float> logits;          // [n_tokens][n_vocab], batch mode
  std::vector<float> incr_logits;     // same, one token per decode (F32/F16 files only)
  std::vector<float> greedy_logits;   // [32][n_vocab] (F32/F16 files only)
  std::vector<int32_t> greedy;        // [32]
  std::vector<double> top1_margin;    // per prompt position
  std::vector<double> step_margin;    // per greedy step
  int64_t n_vocab = 0;
};

inline Reference load_reference(const std::string& stem, bool with_incr) {
  const std::string base = refs_dir() + "/" + stem + ".P1.";
  Reference r;
  const nlohmann::json j = read_json(base + "json");
  r.n_vocab = j.at("n_vocab").get<int64_t>();
  r.tokens = read_i32(base + "tokens.i32");
  r.logits = read_f32(base + "logits.f32");
  r.greedy = read_i32(base + "greedy.i32");
  r.top1_margin = j.at("top1_margin").get<std::vector<double>>();
  r.step_margin = j.at("greedy").at("step_margin").get<std::vector<double>>();
  if (with_incr) {
    r.incr_logits = read_f32(base + "incr.logits.f32");
    r.greedy_logits = read_f32(base + "greedy_logits.f32");
  }
  return r;
}

// log-softmax of one row, in float64.
inline std::vector<double> log_softmax(std::span<const float> row) {
  double mx = -std::numeric_limits<double>::infinity();
  for (float v : row) mx = std::max(mx, static_cast<double>(v));
  double sum = 0;
  for (float v : row) sum += std::exp(static_cast<double>(v) - mx);
  const double lse = mx + std::log(sum);
  std::vector<double> out(row.size());
  for (size_t i = 0; i < row.size(); ++i) out[i] = static_cast<double>(row[i]) - lse;
  return out;
}

// KL(p || q) with p = softmax(ref), q = softmax(got).
inline double kl_divergence(std::span<const float> ref, std::span<const float> got) {
  const std::vector<double> lp = log_softmax(ref);
  const std::vector<double> lq = log_softmax(got);
  double kl = 0;
  for (size_t i = 0; i < lp.size(); ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
  if (std::isnan(kl)) return std::numeric_limits<double>::infinity();  // NaN logits fail every gate
  return std::max(0.0, kl);
}

// Highest logit, ties to the lowest id (like Sampler::argmax).
inline int32_t argmax(std::span<const float> row) {
  return static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

struct Comparison {
  int64_t rows = 0;
  double mean_kl = 0;
  double max_kl = 0;
  int64_t max_kl_row = -1;
  double max_abs_diff = 0;
  int64_t top1_agree = 0;           // over all rows
  int64_t top1_confident_rows = 0;  // rows whose reference margin >= min_margin
  int64_t top1_confident_agree = 0;

  double top1_rate() const { return rows ? static_cast<double>(top1_agree) / rows : 1.0; }
  double top1_confident_rate() const {
    return top1_confident_rows ? static_cast<double>(top1_confident_agree) / top1_confident_rows : 1.0;
  }
};

// Compares `rows` rows of logits [rows][n_vocab]; `margins` (may be empty) holds the reference's
// top1 - top2 per row, and top-1 is also counted over rows with margin >= min_margin.
inline Comparison compare_logits(std::span<const float> ref, std::span<const float> got, int64_t n_vocab,
                                 int64_t rows, std::span<const double> margins = {},
                                 double min_margin = 0.05) {
  Comparison c;
  c.rows = rows;
  double sum_kl = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const auto a = ref.subspan(static_cast<size_t>(r * n_vocab), static_cast<size_t>(n_vocab));
    const auto b = got.subspan(static_cast<size_t>(r * n_vocab), static_cast<size_t>(n_vocab));
    const double kl = kl_divergence(a, b);
    sum_kl += kl;
    if (kl > c.max_kl || c.max_kl_row < 0) {
      c.max_kl = kl;
      c.max_kl_row = r;
    }
    for (int64_t v = 0; v < n_vocab; ++v) {
      const double d = std::fabs(static_cast<double>(a[v]) - b[v]);
      if (!(d <= c.max_abs_diff)) c.max_abs_diff = std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
    }
    const bool same = argmax(a) == argmax(b);
    c.top1_agree += same;
    if (margins.empty() || margins[static_cast<size_t>(r)] >= min_margin) {
      ++c.top1_confident_rows;
      c.top1_confident_agree += same;
    }
  }
  c.mean_kl = rows ? sum_kl / static_cast<double>(rows) : 0;
  return c;
}

inline double max_abs_diff(std::span<const float> a, std::span<const float> b) {
  double m = 0;
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (!(d <= m)) m = std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
  }
  return m;
}

}  // namespace flint::test::parity
