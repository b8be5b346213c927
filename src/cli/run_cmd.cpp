// flint run: generate text from a prompt, streaming it as it comes.
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/sampling_flags.h"
#include "tokenizer/tokenizer.h"

namespace flint::cli {

Runner add_run(CLI::App& app) {
  struct Args {
    GenerationFlags flags;
    std::string prompt, prompt_file;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt");
  add_generation_flags(cmd, a->flags);
  cmd->add_option("-p,--prompt", a->prompt, "Prompt text");
  cmd->add_option("-f,--file", a->prompt_file, "Read the prompt from a file");
  cmd->add_flag("--json", a->json, "Print one JSON object (text, tokens, timings) instead of streaming");
  return [a]() {
    if (Status s = finish_generation_flags(a->flags); !s) return fail(s.message());
    if (!a->prompt_file.empty()) {
      std::ifstream in(a->prompt_file, std::ios::binary);
      if (!in) return fail("cannot read " + a->prompt_file);
      std::stringstream ss;
      ss << in.rdbuf();
      a->prompt = ss.str();
    }
    a->flags.engine.progress = !a->json;
    Result<std::unique_ptr<runtime::Engine>> engine = runtime::Engine::load(a->flags.engine);
    if (!engine) return fail(engine.status().message());
    runtime::Engine& e = **engine;
    Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::from_gguf(e.file());
    if (!tok) return fail(tok.status().message());
    Result<std::vector<int32_t>> prompt = tok->encode(a->prompt, {.add_special = true, .parse_special = true});
    if (!prompt) return fail(prompt.status().message());
    if (prompt->empty()) return fail("the prompt is empty (and the model adds no BOS token)");
    if (static_cast<int64_t>(prompt->size()) > e.n_ctx()) {
      return fail(fmt::format("the prompt is {} tokens but the context is {}: use --ctx {} or a "
                              "shorter prompt (flint never truncates a prompt)",
                              prompt->size(), e.n_ctx(), prompt->size() + a->flags.generate.max_tokens));
    }
    Result<int32_t> seq = e.add_sequence();
    if (!seq) return fail(seq.status().message());
    const auto t0 = std::chrono::steady_clock::now();
    const runtime::DecodeRequest req{.seq = *seq, .tokens = *prompt};
    Result<std::vector<float>> logits = e.decode({&req, 1});
    if (!logits) return fail(logits.status().message());
    const double prompt_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    a->flags.generate.context = *prompt;
    runtime::Sampler sampler(a->flags.sampler);
    for (int32_t t : *prompt) sampler.accept(t);
    if (!a->json) {
      std::fwrite(a->prompt.data(), 1, a->prompt.size(), stdout);
      std::fflush(stdout);
    }
    Result<runtime::GenerateResult> r = runtime::generate(
        e, *seq, *tok, sampler, std::move(*logits), a->flags.generate, [&](const std::string& text) {
          if (a->json) return;
          std::fwrite(text.data(), 1, text.size(), stdout);
          std::fflush(stdout);
        });
    if (!r) return fail(r.status().message());
    const double prompt_tps = static_cast<double>(prompt->size()) / std::max(prompt_s, 1e-9);
    const double gen_tps = static_cast<double>(r->tokens.size()) / std::max(r->seconds, 1e-9);
    if (a->json) {
      nlohmann::json j = {{"text", r->text}, {"tokens", r->tokens}, {"stop_reason", r->stop_reason},
                          {"n_prompt", prompt->size()}, {"n_gen", r->tokens.size()},
                          {"load_s", e.load_seconds()}, {"prompt_s", prompt_s},
                          {"prompt_tokens_per_s", prompt_tps}, {"gen_s", r->seconds},
                          {"gen_tokens_per_s", gen_tps}};
      fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      fmt::print(stderr, "\n\nload {:.2f} s | prompt {} tokens, {:.1f} tokens/s | generated {} tokens, "
                         "{:.1f} tokens/s | stop: {}\n",
                 e.load_seconds(), prompt->size(), prompt_tps, r->tokens.size(), gen_tps, r->stop_reason);
    }
    return 0;
  };
}

}  // namespace flint::cli
