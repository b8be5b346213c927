// Sampling and engine flags shared by `flint run` and `flint chat`.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "runtime/engine.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"

namespace flint::cli {

struct GenerationFlags {
  runtime::EngineOptions engine;
  runtime::SamplerParams sampler;
  runtime::GenerateOptions generate;
  std::string kv = "f16";
  bool no_repack = false;
};

inline void add_generation_flags(CLI::App* cmd, GenerationFlags& f) {
  cmd->add_option("-m,--model", f.engine.model_path, "GGUF model")->required();
  cmd->add_option("-n,--n-predict", f.generate.max_tokens, "Tokens to generate (default 128)");
  cmd->add_option("--ctx", f.engine.n_ctx, "Context length (default: the model's)");
  cmd->add_option("-t,--threads", f.engine.n_threads, "Threads (default: all)");
  cmd->add_option("--kv", f.kv, "KV cache type: f16 (default) or f32");
  cmd->add_flag("--no-repack", f.no_repack, "Read every weight from the file's mapping (no repacking for the kernels)");
  cmd->add_option("--temp", f.sampler.temperature, "Temperature; 0 is greedy (default 0.8)");
  cmd->add_option("--top-k", f.sampler.top_k, "Top-k (0: off; default 40)");
  cmd->add_option("--top-p", f.sampler.top_p, "Top-p (1: off; default 0.95)");
  cmd->add_option("--min-p", f.sampler.min_p, "Min-p (0: off; default 0.05)");
  cmd->add_option("--repeat-penalty", f.sampler.repeat_penalty, "Repetition penalty (1: off)");
  cmd->add_option("--presence-penalty", f.sampler.presence_penalty, "Presence penalty (0: off)");
  cmd->add_option("--frequency-penalty", f.sampler.frequency_penalty, "Frequency penalty (0: off)");
  cmd->add_option("--repeat-last-n", f.sampler.penalty_last_n, "Tokens the penalties look back over");
  cmd->add_option("-s,--seed", f.sampler.seed, "Random seed (same seed and settings, same text)");
  cmd->add_option("--stop", f.generate.stop, "Stop before this text (repeatable)");
  cmd->add_flag("--ignore-eos", f.generate.ignore_eos, "Do not stop at end-of-generation tokens");
}

inline Status finish_generation_flags(GenerationFlags& f) {
  f.engine.repack = !f.no_repack;
  if (f.kv == "f16") {
    f.engine.kv_type = DType::F16;
  } else if (f.kv == "f32") {
    f.engine.kv_type = DType::F32;
  } else {
    return error("--kv must be f16 or f32, not '{}'", f.kv);
  }
  if (f.generate.max_tokens < 0) return error("-n must be >= 0");
  if (f.sampler.temperature < 0) return error("--temp must be >= 0");
  if (f.sampler.repeat_penalty <= 0) return error("--repeat-penalty must be > 0 (1 is off)");
  if (f.sampler.top_p <= 0 || f.sampler.top_p > 1) return error("--top-p must be in (0, 1]");
  if (f.sampler.min_p < 0 || f.sampler.min_p > 1) return error("--min-p must be in [0, 1]");
  if (f.sampler.top_k < 0) return error("--top-k must be >= 0");
  if (f.sampler.penalty_last_n < 0) return error("--repeat-last-n must be >= 0");
  return Status::ok();
}

}  // namespace flint::cli
