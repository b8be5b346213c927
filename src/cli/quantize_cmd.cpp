// flint quantize: convert a GGUF model to a quantization mix, streaming.
#include <fmt/format.h>

#include "cli/commands.h"
#include "core/progress.h"
#include "model/quantize_model.h"

namespace flint::cli {

Runner add_quantize(CLI::App& app) {
  auto opts = std::make_shared<model::QuantizeOptions>();
  auto type = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("quantize", "Quantize a GGUF model (Q4_K_M, Q8_0, ...), as llama-quantize does");
  cmd->add_option("input", opts->input, "Source GGUF (F32/F16/BF16)")->required();
  cmd->add_option("output", opts->output, "Destination GGUF")->required();
  std::string types;
  for (std::string_view n : model::file_type_names()) types += (types.empty() ? "" : ", ") + std::string(n);
  cmd->add_option("type", *type, "Target: " + types)->required();
  cmd->add_flag("--allow-requantize", opts->allow_requantize, "Allow re-quantizing quantized tensors");
  cmd->add_option("-t,--threads", opts->n_threads, "Threads (default: all)");
  return [opts, type]() {
    const std::optional<model::FileType> ftype = model::file_type_from_name(*type);
    if (!ftype) return fail(fmt::format("unknown quantization type '{}'", *type));
    opts->ftype = *ftype;
    if (opts->input == opts->output) return fail("input and output must be different files");
    Result<model::QuantizeReport> r = model::quantize_model(*opts);
    if (!r) return fail(r.status().message());
    fmt::print(stderr, "quantized {} tensors, copied {}: {} -> {}\n", r->n_quantized, r->n_copied,
               format_bytes(r->bytes_in), format_bytes(r->bytes_out));
    return 0;
  };
}

}  // namespace flint::cli
