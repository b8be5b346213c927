#include "runtime/generate.h"

#include <chrono>

namespace flint::runtime {
namespace {

// Length of the longest suffix of `text` that is a proper prefix of some stop string: that much
// must be held back, since the next token may complete the stop string.
size_t held_back(const std::string& text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const std::string& s : stops) {
    for (size_t n = std::min(text.size(), s.size() - 1); n > hold; --n) {
      if (text.compare(text.size() - n, n, s, 0, n) == 0) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}

}  // namespace

Result<GenerateResult> generate(Engine& engine, int32_t seq, const tokenizer::Tokenizer& tok,
                                Sampler& sampler, std::vector<float> logits,
                                const GenerateOptions& options,
                                const std::function<void(const std::string&)>& on_text) {
  const auto start = std::chrono::steady_clock::now();
  GenerateResult r;
  std::vector<int32_t> banned;
  if (options.ignore_eos) {
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
      if (tok.is_end_of_generation(id)) banned.push_back(id);
    }
  }
  tokenizer::StreamingDecoder decoder(tok);
  for (int32_t t : options.context) decoder.push(t);  // continue after the prompt's text
  std::string pending;  // decoded text not yet passed to on_text
  r.stop_reason = "length";
  for (int32_t i = 0; i < options.max_tokens; ++i) {
    const int32_t token = sampler.sample(logits, banned);
    if (!options.ignore_eos && tok.is_end_of_generation(token)) {
      r.stop_reason = "eos";
      break;
    }
    r.tokens.push_back(token);
    pending += decoder.push(token);
    // A stop string ends generation before it; text up to it is final.
    size_t cut = std::string::npos;
    for (const std::string& s : options.stop) {
      if (s.empty()) continue;
      const size_t at = pending.find(s);
      if (at != std::string::npos) cut = std::min(cut, at);
    }
    if (cut != std::string::npos) {
      pending.resize(cut);
      r.stop_reason = "stop";
      break;
    }
    const size_t ready = pending.size() - held_back(pending, options.stop);
    if (ready > 0) {
      on_text(pending.substr(0, ready));
      r.text += pending.substr(0, ready);
      pending.erase(0, ready);
    }
    if (engine.sequence_length(seq) >= engine.n_ctx()) {
      r.stop_reason = "context";
      break;
    }
    if (i + 1 == options.max_tokens) break;  // the limit: no need to run the last token
    const DecodeRequest req{.seq = seq, .tokens = std::span(&r.tokens.back(), 1)};
    FLINT_ASSIGN_OR_RETURN(logits, engine.decode({&req, 1}));
  }
  if (r.stop_reason != "stop") pending += decoder.finish();
  if (!pending.empty()) {
    on_text(pending);
    r.text += pending;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace flint::runtime
