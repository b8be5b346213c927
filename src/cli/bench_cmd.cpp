// flint bench: llama-bench's tests with every row against this machine's roofline.
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "bench/bench.h"
#include "cli/commands.h"

namespace flint::cli {
namespace {

// "0,4096" -> {0, 4096}
Result<std::vector<int>> int_list(const std::string& s, const char* flag) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      const int v = std::stoi(item, &used);
      if (used != item.size()) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      return error("{} takes comma-separated integers, not \"{}\"", flag, s);
    }
  }
  if (out.empty()) return error("{} needs at least one value", flag);
  return out;
}

}  // namespace

Runner add_bench(CLI::App& app) {
  struct Args {
    std::string model, prompt = "512", gen = "128", depth = "0", threads = "0", batch = "1", svg, kv = "f16";
    int reps = 5;
    bool json = false, csv = false, md = false, probe_only = false, no_repack = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("bench", "Benchmark prompt processing and generation against the roofline");
  cmd->add_option("-m,--model", a->model, "GGUF file")->required();
  cmd->add_option("-p,--n-prompt", a->prompt, "Prompt lengths, comma-separated (0: none)");
  cmd->add_option("-n,--n-gen", a->gen, "Generation lengths, comma-separated (0: none)");
  cmd->add_option("-d,--n-depth", a->depth, "Context depths to run each test at, comma-separated");
  cmd->add_option("-t,--threads", a->threads, "Thread counts, comma-separated (0: all)");
  cmd->add_option("-b,--batch", a->batch, "Sequences decoded together in generation tests, comma-separated");
  cmd->add_option("-r,--repetitions", a->reps, "Repetitions of each test");
  cmd->add_option("--kv", a->kv, "KV cache type: f16 or f32");
  cmd->add_flag("--no-repack", a->no_repack, "Read every weight from the file's mapping (no repacking for the kernels)");
  cmd->add_flag("--probe-bandwidth", a->probe_only,
                 "Roofline from the cached probe alone (default: also time the read test before every generation "
                 "repetition and use the larger)");
  cmd->add_flag("--json", a->json, "JSON rows (llama-bench's field names, plus flint's)");
  cmd->add_flag("--csv", a->csv, "CSV rows");
  cmd->add_flag("--md", a->md, "A Markdown table (the default)");
  cmd->add_option("--svg", a->svg, "Also draw the rows against their rooflines into this SVG file");
  return [a]() {
    bench::BenchOptions o;
    o.model_path = a->model;
    o.reps = a->reps;
    o.bandwidth_now = !a->probe_only;
    o.repack = !a->no_repack;
    const auto parse = [](const std::string& s, const char* flag, std::vector<int>& out) -> Status {
      FLINT_ASSIGN_OR_RETURN(out, int_list(s, flag));
      return Status::ok();
    };
    for (Status s : {parse(a->prompt, "-p", o.n_prompt), parse(a->gen, "-n", o.n_gen), parse(a->depth, "-d", o.depths),
                     parse(a->threads, "-t", o.threads), parse(a->batch, "-b", o.batches)}) {
      if (!s) return fail(s.message());
    }
    if (a->kv == "f16") {
      o.kv_type = DType::F16;
    } else if (a->kv == "f32") {
      o.kv_type = DType::F32;
    } else {
      return fail(fmt::format("--kv {}: use f16 or f32", a->kv));
    }
    if (a->json + a->csv + a->md > 1) return fail("choose one of --json, --csv, --md");

    const std::string cache = planner::probe_cache_path();
    std::optional<planner::ProbeResult> probe = planner::load_cached_probe(cache);
    if (!probe) {
      fmt::print(stderr, "bench: no probe result for this machine yet: measuring it (flint probe)\n");
      Result<planner::ProbeResult> r = planner::run_probe({.progress = true});
      if (!r) return fail(r.status().message());
      if (Status s = planner::save_probe(*r, cache); !s) fmt::print(stderr, "flint: warning: {}\n", s.message());
      probe = std::move(*r);
    }
    fmt::print(stderr, "bench: probe read {:.1f} GB/s at best ({}); the roofline also times it between repetitions{}\n",
               probe->read_gbps(), probe->date, o.bandwidth_now ? "" : " (off: --probe-bandwidth)");
    Result<std::vector<bench::BenchRow>> rows = bench::run_bench(o, *probe, [](const std::string& line) {
      fmt::print(stderr, "bench: {}\n", line);
    });
    if (!rows) return fail(rows.status().message());
    if (a->json) {
      fmt::print("{}\n", bench::to_json(*rows).dump(1));
    } else if (a->csv) {
      fmt::print("{}", bench::to_csv(*rows));
    } else {
      fmt::print("{}", bench::to_markdown(*rows));
    }
    if (!a->svg.empty()) {
      std::ofstream out(a->svg);
      out << bench::to_svg(*rows);
      if (!out) return fail("cannot write " + a->svg);
    }
    return 0;
  };
}

}  // namespace flint::cli
