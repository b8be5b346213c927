#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "core/status.h"

namespace flint::runtime {

int32_t Sampler::argmax(std::span<const float> logits, std::span<const int32_t> banned) {
  int32_t best = -1;
  for (size_t i = 0; i < logits.size(); ++i) {
    const auto id = static_cast<int32_t>(i);
    if (std::find(banned.begin(), banned.end(), id) != banned.end()) continue;
    if (best < 0 || logits[i] > logits[static_cast<size_t>(best)]) best = id;  // ties: lowest id
  }
  return best;
}

int32_t Sampler::sample(std::span<const float> logits_in, std::span<const int32_t> banned) {
  std::vector<float> logits(logits_in.begin(), logits_in.end());
  for (int32_t b : banned) {
    if (b >= 0 && static_cast<size_t>(b) < logits.size()) logits[static_cast<size_t>(b)] = -std::numeric_limits<float>::infinity();
  }
  // Penalties over the recent history.
  const size_t first = history_.size() > static_cast<size_t>(std::max(0, params_.penalty_last_n))
                           ? history_.size() - static_cast<size_t>(params_.penalty_last_n) : 0;
  std::unordered_map<int32_t, int> counts;
  for (size_t i = first; i < history_.size(); ++i) counts[history_[i]]++;
  for (const auto& [tok, n] : counts) {
    if (tok < 0 || static_cast<size_t>(tok) >= logits.size()) continue;
    float& l = logits[static_cast<size_t>(tok)];
    if (params_.repeat_penalty != 1.0f) l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
    l -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(n);
  }

  FLINT_CHECK(!logits.empty());
  int32_t chosen;
  const int32_t best = argmax(logits);
  if (params_.temperature <= 0.0f || !std::isfinite(logits[static_cast<size_t>(best)])) {
    chosen = best;  // greedy, or nothing finite left to sample from
  } else {
    // Candidates sorted by logit; top-k, then softmax at the temperature, top-p, min-p.
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    size_t k = params_.top_k > 0 ? std::min(ids.size(), static_cast<size_t>(params_.top_k)) : ids.size();
    std::partial_sort(ids.begin(), ids.begin() + static_cast<int64_t>(k), ids.end(), [&](int32_t a, int32_t b) {
      return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
             (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
    });
    ids.resize(k);
    std::vector<double> p(k);
    const double mx = logits[static_cast<size_t>(ids[0])];
    double sum = 0;
    for (size_t i = 0; i < k; ++i) {
      p[i] = std::exp((logits[static_cast<size_t>(ids[i])] - mx) / params_.temperature);
      sum += p[i];
    }
    for (double& x : p) x /= sum;
    size_t keep = k;
    if (params_.top_p < 1.0f) {
      double cum = 0;
      for (size_t i = 0; i < k; ++i) {
        cum += p[i];
        if (cum >= params_.top_p) {
          keep = i + 1;
          break;
        }
      }
    }
    if (params_.min_p > 0.0f) {
      const double floor = params_.min_p * p[0];
      size_t n = 1;
      while (n < keep && p[n] >= floor) ++n;
      keep = n;
    }
    std::discrete_distribution<size_t> pick(p.begin(), p.begin() + static_cast<int64_t>(keep));
    chosen = ids[pick(rng_)];
  }
  history_.push_back(chosen);
  return chosen;
}

}  // namespace flint::runtime
