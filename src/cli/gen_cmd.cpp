// flint gen: make a model of a real architecture with seeded random weights.
#include <fmt/format.h>

#include "cli/commands.h"
#include "core/progress.h"
#include "model/generator.h"

namespace flint::cli {

Runner add_gen(CLI::App& app) {
  auto opts = std::make_shared<model::GenOptions>();
  struct Flags {
    std::string arch, preset, type = "F16";
    std::optional<uint32_t> layers, embd, heads, kv_heads, head_dim, ff, vocab, ctx, experts,
        experts_used, expert_ff;
    std::optional<float> rope_base;
    bool tied = false;
  };
  auto f = std::make_shared<Flags>();
  std::string preset_names;
  for (const model::Preset& p : model::presets()) preset_names += fmt::format("\n  {:<16} {}", p.name, p.description);
  CLI::App* cmd = app.add_subcommand("gen", "Generate a model with a real architecture and seeded random weights");
  cmd->footer("Presets:" + preset_names);
  cmd->add_option("--arch", f->arch, "llama (experts make it Mixtral-style), qwen3, qwen3moe");
  cmd->add_option("--preset", f->preset, "A named shape (see below); flags override its fields");
  cmd->add_option("--type", f->type, "F32, F16, BF16, Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q3_K_M, ...");
  cmd->add_option("--seed", opts->seed, "Random seed (same seed, same bytes)");
  cmd->add_option("--vocab", opts->vocab_path, "GGUF whose tokenizer is copied (default: a byte-level vocab)");
  cmd->add_option("-o,--output", opts->output, "Output GGUF")->required();
  cmd->add_option("--name", opts->name, "general.name");
  cmd->add_option("--layers", f->layers, "Layers");
  cmd->add_option("--embd", f->embd, "Embedding width");
  cmd->add_option("--heads", f->heads, "Attention heads");
  cmd->add_option("--kv-heads", f->kv_heads, "KV heads");
  cmd->add_option("--head-dim", f->head_dim, "Head dimension");
  cmd->add_option("--ff", f->ff, "Dense FFN width");
  cmd->add_option("--n-vocab", f->vocab, "Vocabulary size (without --vocab)");
  cmd->add_option("--ctx", f->ctx, "Context length");
  cmd->add_option("--experts", f->experts, "Experts per layer");
  cmd->add_option("--experts-used", f->experts_used, "Experts used per token");
  cmd->add_option("--expert-ff", f->expert_ff, "Expert FFN width");
  cmd->add_option("--rope-base", f->rope_base, "RoPE frequency base");
  cmd->add_flag("--tied", f->tied, "Tie the output matrix to the embeddings");
  cmd->add_option("-t,--threads", opts->n_threads, "Threads (default: all)");
  cmd->add_flag("--header-only", opts->header_only,
                "Write only the header (no tensor data), like a partial download: for flint plan and inspect");
  return [opts, f]() {
    model::ModelShape shape;
    if (!f->preset.empty()) {
      std::optional<model::ModelShape> p = model::find_preset(f->preset);
      if (!p) return fail(fmt::format("unknown preset '{}' (see flint gen --help)", f->preset));
      shape = *p;
      if (opts->name == "flint-gen") opts->name = f->preset;
    }
    if (!f->arch.empty()) shape.arch = f->arch;
    const auto set = [](auto& field, const auto& flag) { if (flag) field = *flag; };
    set(shape.n_layer, f->layers);
    set(shape.n_embd, f->embd);
    set(shape.n_head, f->heads);
    set(shape.n_head_kv, f->kv_heads);
    set(shape.head_dim, f->head_dim);
    set(shape.n_ff, f->ff);
    set(shape.n_vocab, f->vocab);
    set(shape.n_ctx, f->ctx);
    set(shape.n_expert, f->experts);
    set(shape.n_expert_used, f->experts_used);
    set(shape.n_ff_exp, f->expert_ff);
    set(shape.rope_freq_base, f->rope_base);
    if (f->tied) shape.tied_embeddings = true;
    if (f->preset.empty() && !f->head_dim && f->embd && shape.n_head) shape.head_dim = shape.n_embd / shape.n_head;
    const std::optional<model::FileType> ftype = model::file_type_from_name(f->type);
    if (!ftype) return fail(fmt::format("unknown type '{}'", f->type));
    opts->ftype = *ftype;
    opts->shape = shape;
    Result<model::GenReport> r = model::generate_model(*opts);
    if (!r) return fail(r.status().message());
    fmt::print(stderr, "wrote {}: {} {} ({} params, vocab {}), {}\n", opts->output, shape.arch,
               f->type, format_count(r->n_params), r->n_vocab, format_bytes(r->bytes));
    return 0;
  };
}

}  // namespace flint::cli
