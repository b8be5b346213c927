// flint plan: whether a model fits a machine and how fast it will run, before a download or a
// purchase.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "planner/plan.h"

namespace flint::cli {

Runner add_plan(CLI::App& app) {
  struct Args {
    std::string model, quant, hw, kv = "f16", svg;
    bool all = false, json = false;
    int64_t ctx = 0, prompt = 512;
    int users = 1;
  };
  auto a = std::make_shared<Args>();
  std::string models, machines;
  for (const planner::CatalogModel& m : planner::model_catalog()) models += fmt::format("\n  {:<18} {}", m.id, m.description);
  for (const planner::Hardware& h : planner::hardware_catalog()) machines += fmt::format("\n  {:<24} {}", h.id, h.name);
  CLI::App* cmd = app.add_subcommand("plan", "Will a model fit a machine, and how fast will it run");
  cmd->footer("Models:" + models + "\n\nMachines:" + machines + "\n  local                    this machine, as flint probe measured it");
  cmd->add_option("--model", a->model, "A catalog model (below) or a GGUF file (its header is enough)")->required();
  cmd->add_option("--quant", a->quant, "Q4_K_M, Q5_K_M, Q6_K, Q8_0, F16, BF16, FP8, NVFP4, MXFP4 (default: the file's, or Q4_K_M)");
  cmd->add_option("--hw", a->hw, "Machines, comma-separated (below); default: all");
  cmd->add_flag("--all", a->all, "Every machine in the catalog, and this one");
  cmd->add_option("--ctx", a->ctx, "Tokens of context per user (default: the model's, at most 8192)");
  cmd->add_option("--users", a->users, "Users decoding at once");
  cmd->add_option("--prompt", a->prompt, "Prompt tokens (time to first token; the depth decode starts at)");
  cmd->add_option("--kv", a->kv, "KV cache type: f16 or q8_0");
  cmd->add_flag("--json", a->json, "JSON: per machine fits, weights_bytes, kv_bytes, max_ctx, decode_tok_s_ceiling, ...");
  cmd->add_option("--svg", a->svg, "Also draw the machines by decode speed, with fit marks, into this SVG file");
  return [a]() {
    planner::PlanRequest r{.model = a->model, .quant = a->quant, .hw = {}, .ctx = a->ctx, .users = a->users, .prompt = a->prompt};
    for (char& c : r.quant) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (a->kv == "f16") {
      r.kv_type = DType::F16;
    } else if (a->kv == "q8_0") {
      r.kv_type = DType::Q8_0;
    } else {
      return fail(fmt::format("--kv {}: use f16 or q8_0", a->kv));
    }
    if (a->all || a->hw.empty()) {
      for (const planner::Hardware& h : planner::hardware_catalog()) r.hw.push_back(h.id);
      r.hw.push_back("local");
    } else {
      std::stringstream ss(a->hw);
      std::string id;
      while (std::getline(ss, id, ',')) {
        if (!id.empty()) r.hw.push_back(id);
      }
    }
    std::optional<planner::ProbeResult> probe;
    if (std::find(r.hw.begin(), r.hw.end(), "local") != r.hw.end()) {
      probe = planner::load_cached_probe(planner::probe_cache_path());
      if (!probe) {
        if (!a->json) fmt::print(stderr, "plan: measuring this machine first (flint probe --quick)\n");
        Result<planner::ProbeResult> m = planner::run_probe({.quick = true, .progress = !a->json});
        if (!m) return fail(m.status().message());
        probe = std::move(*m);
      }
    }
    Result<planner::Plan> plan = planner::make_plan(r, probe ? &*probe : nullptr);
    if (!plan) return fail(plan.status().message());
    if (a->json) {
      fmt::print("{}\n", planner::to_json(*plan).dump(1));
    } else {
      fmt::print("{}", planner::to_table(*plan));
    }
    if (!a->svg.empty()) {
      std::ofstream out(a->svg);
      out << planner::to_svg(*plan);
      if (!out) return fail("cannot write " + a->svg);
    }
    return 0;
  };
}

}  // namespace flint::cli
