// flint chat: an interactive conversation in the model's own chat template. Earlier turns stay
// in the KV cache: each turn renders the whole conversation, and only the tokens after the part
// already cached are processed.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/sampling_flags.h"
#include "tokenizer/jinja/template.h"
#include "tokenizer/tokenizer.h"

namespace flint::cli {

Runner add_chat(CLI::App& app) {
  struct Args {
    GenerationFlags flags;
    std::string system;
  };
  auto a = std::make_shared<Args>();
  a->flags.generate.max_tokens = 512;
  CLI::App* cmd = app.add_subcommand("chat", "Chat with a model in its own chat template (lines from stdin; /reset, /exit)");
  add_generation_flags(cmd, a->flags);
  cmd->add_option("--system", a->system, "System message");
  return [a]() {
    if (Status s = finish_generation_flags(a->flags); !s) return fail(s.message());
    Result<std::unique_ptr<runtime::Engine>> engine = runtime::Engine::load(a->flags.engine);
    if (!engine) return fail(engine.status().message());
    runtime::Engine& e = **engine;
    Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::from_gguf(e.file());
    if (!tok) return fail(tok.status().message());
    Result<std::string> source = e.file().get_string("tokenizer.chat_template");
    if (!source) return fail(e.file().path() + " has no chat template (tokenizer.chat_template): use flint run");
    Result<jinja::Template> tmpl = jinja::Template::parse(*source);
    if (!tmpl) return fail("the model's chat template: " + tmpl.status().message());
    Result<int32_t> seq = e.add_sequence();
    if (!seq) return fail(seq.status().message());

    const bool tty = ::isatty(::fileno(stdin)) != 0;
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (!a->system.empty()) messages.push_back({{"role", "system"}, {"content", a->system}});
    std::vector<int32_t> cached;  // tokens whose K/V are in the sequence's cache
    runtime::Sampler sampler(a->flags.sampler);
    std::string line;
    for (;;) {
      if (tty) std::fputs("\n> ", stderr);
      if (!std::getline(std::cin, line)) break;
      if (line == "/exit" || line == "/quit") break;
      if (line == "/reset") {
        sampler.set_history({});
        messages = nlohmann::ordered_json::array();
        if (!a->system.empty()) messages.push_back({{"role", "system"}, {"content", a->system}});
        continue;
      }
      if (line.empty()) continue;
      messages.push_back({{"role", "user"}, {"content", line}});
      nlohmann::ordered_json context = {{"messages", messages}, {"add_generation_prompt", true},
                                        {"bos_token", tok->bos() ? tok->text(*tok->bos()) : ""},
                                        {"eos_token", tok->eos() ? tok->text(*tok->eos()) : ""}};
      Result<std::string> prompt = tmpl->render(context);
      if (!prompt) return fail("rendering the chat template: " + prompt.status().message());
      // A turn that cannot run is reported and dropped; the conversation goes on (or /reset).
      const auto skip_turn = [&](const std::string& why) {
        std::fprintf(stderr, "flint: %s\n", why.c_str());
        messages.erase(messages.end() - 1);
      };
      // The template writes BOS itself when it uses bos_token; otherwise let the vocabulary add it.
      const bool has_bos_text = tok->bos() && prompt->starts_with(tok->text(*tok->bos()));
      Result<std::vector<int32_t>> ids = tok->encode(*prompt, {.add_special = !has_bos_text, .parse_special = true});
      if (!ids) return fail(ids.status().message());
      if (ids->empty()) {
        skip_turn("the chat template rendered nothing for this turn");
        continue;
      }
      if (static_cast<int64_t>(ids->size()) >= e.n_ctx()) {
        skip_turn(fmt::format("the conversation is {} tokens and no longer fits the context of {} "
                              "(start again with a larger --ctx, or /reset)", ids->size(), e.n_ctx()));
        continue;
      }
      // Reuse the cached prefix; process only what is new.
      size_t common = 0;
      while (common < cached.size() && common < ids->size() && cached[common] == (*ids)[common]) ++common;
      if (common == ids->size()) --common;  // something must run to get logits
      e.truncate_sequence(*seq, static_cast<int32_t>(common));
      cached.resize(common);
      const runtime::DecodeRequest req{.seq = *seq, .tokens = std::span(*ids).subspan(common)};
      Result<std::vector<float>> logits = e.decode({&req, 1});
      if (!logits) return fail(logits.status().message());
      cached.insert(cached.end(), ids->begin() + static_cast<int64_t>(common), ids->end());
      sampler.set_history(cached);  // the penalties see exactly the conversation in the cache

      a->flags.generate.context = cached;
      Result<runtime::GenerateResult> r = runtime::generate(
          e, *seq, *tok, sampler, std::move(*logits), a->flags.generate, [](const std::string& text) {
            std::fwrite(text.data(), 1, text.size(), stdout);
            std::fflush(stdout);
          });
      if (!r) return fail(r.status().message());
      std::fputs("\n", stdout);
      std::fflush(stdout);
      cached.insert(cached.end(), r->tokens.begin(), r->tokens.end());
      cached.resize(static_cast<size_t>(e.sequence_length(*seq)));
      messages.push_back({{"role", "assistant"}, {"content", r->text}});
      if (tty) {
        fmt::print(stderr, "[{} tokens, {:.1f} tokens/s, {} in context]\n", r->tokens.size(),
                   static_cast<double>(r->tokens.size()) / std::max(r->seconds, 1e-9), e.sequence_length(*seq));
      }
    }
    return 0;
  };
}

}  // namespace flint::cli
