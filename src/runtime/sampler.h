// Sampling the next token from logits: penalties, then temperature, top-k, top-p, min-p, and a
// seeded draw (same seed and settings, same text). temperature <= 0 is greedy.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace flint::runtime {

struct SamplerParams {
  float temperature = 0.8f;
  int32_t top_k = 40;        // 0: off
  float top_p = 0.95f;       // 1: off
  float min_p = 0.05f;       // 0: off
  float repeat_penalty = 1.0f;     // 1: off; divides positive logits (multiplies negative) of seen tokens
  float presence_penalty = 0.0f;   // subtracted once from every seen token
  float frequency_penalty = 0.0f;  // subtracted per occurrence
  int32_t penalty_last_n = 64;     // how many recent tokens the penalties look at
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(SamplerParams params) : params_(params), rng_(params.seed) {}

  // Picks a token from logits [n_vocab]; `banned` tokens (e.g. end-of-generation when ignored)
  // are never picked. Remembers the choice for the penalties.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> banned = {});
  // Tokens the penalties should see (e.g. the prompt).
  void accept(int32_t token) { history_.push_back(token); }
  // Replaces what the penalties see (e.g. the tokens now in a sequence's cache).
  void set_history(std::span<const int32_t> tokens) { history_.assign(tokens.begin(), tokens.end()); }

  static int32_t argmax(std::span<const float> logits, std::span<const int32_t> banned = {});

 private:
  SamplerParams params_;
  std::mt19937_64 rng_;
  std::vector<int32_t> history_;
};

}  // namespace flint::runtime
