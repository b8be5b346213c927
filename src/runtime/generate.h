// Generating text for one sequence: sample, stream the text, stop on the model's end-of-
// generation tokens, on user stop strings, at the token limit or at the end of the context.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace flint::runtime {

struct GenerateOptions {
  int32_t max_tokens = 128;
  // Tokens already in the sequence (the prompt): the detokenizer continues after them, so the
  // first generated piece keeps its leading space.
  std::span<const int32_t> context = {};
  std::vector<std::string> stop = {};  // stop strings: generation ends before the first one
  bool ignore_eos = false;        // keep going past end-of-generation tokens (never pick them)
};

struct GenerateResult {
  std::string text;              // without the stop string
  std::vector<int32_t> tokens;   // generated tokens (an end-of-generation token not included)
  std::string stop_reason;       // "eos", "stop", "length" or "context"
  double seconds = 0;
};

// Generates after the sequence's current contents; `first_logits` are the logits of its last
// token (what decode() returned for the prompt). `on_text` receives text as it becomes final:
// complete UTF-8, and never a piece that might still turn out to start a stop string.
Result<GenerateResult> generate(Engine& engine, int32_t seq, const tokenizer::Tokenizer& tok,
                                Sampler& sampler, std::vector<float> first_logits,
                                const GenerateOptions& options,
                                const std::function<void(const std::string&)>& on_text);

}  // namespace flint::runtime
