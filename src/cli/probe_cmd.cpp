// flint probe: measure this machine (memory bandwidth, matmul speed per weight type) and cache it.
#include <fmt/format.h>

#include "cli/commands.h"
#include "planner/probe.h"

namespace flint::cli {

Runner add_probe(CLI::App& app) {
  struct Args {
    int threads = 0;
    bool json = false, quick = false, cached = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("probe", "Measure memory bandwidth and matmul speed; cache the result");
  cmd->add_option("-t,--threads", a->threads, "Most threads to measure with (default: all)")->check(CLI::Range(0, 1024));
  cmd->add_flag("--json", a->json, "Print the result as JSON");
  cmd->add_flag("--quick", a->quick, "Fewer repetitions and weight types");
  cmd->add_flag("--cached", a->cached, "Print the cached result for this machine instead of measuring");
  return [a]() {
    const std::string path = planner::probe_cache_path();
    planner::ProbeResult r;
    if (a->cached) {
      std::optional<planner::ProbeResult> c = planner::load_cached_probe(path);
      if (!c) return fail(fmt::format("no probe result for this machine in {}: run flint probe", path));
      r = std::move(*c);
    } else {
      Result<planner::ProbeResult> m =
          planner::run_probe({.max_threads = a->threads, .quick = a->quick, .progress = !a->json});
      if (!m) return fail(m.status().message());
      r = std::move(*m);
      if (Status s = planner::save_probe(r, path); !s) fmt::print(stderr, "flint: warning: {}\n", s.message());
    }
    if (a->json) {
      fmt::print("{}\n", planner::to_json(r).dump(1));
      return 0;
    }
    fmt::print("machine   {} ({} threads, {:.1f} GiB), kernels {} [{}]\n", r.machine.cpu, r.machine.cores,
               static_cast<double>(r.machine.mem_total) / (1ull << 30), r.machine.kernels, r.machine.features);
    fmt::print("measured  {}{}\n\n", r.date, a->cached ? " (cached)" : "");
    fmt::print("{:>8} {:>12} {:>12}\n", "threads", "read GB/s", "triad GB/s");
    for (const planner::BandwidthPoint& b : r.bandwidth) {
      fmt::print("{:>8} {:>12.1f} {:>12.1f}\n", b.threads, b.read_gbps, b.triad_gbps);
    }
    fmt::print("\nattention (512-token prompt, F16 cache): {:.1f} GFLOP/s\n", r.attention_gflops);
    fmt::print("\n{:>8} {:>16} {:>16} {:>18}\n", "type", "decode GB/s", "of read bw", "prefill GFLOP/s");
    const double bw = r.read_gbps();
    for (const planner::MatmulPoint& m : r.matmul) {
      fmt::print("{:>8} {:>16.1f} {:>15.0f}% {:>18.1f}\n", dtype_name(m.type), m.decode_gbps,
                 bw > 0 ? 100.0 * m.decode_gbps / bw : 0.0, m.prefill_gflops);
    }
    fmt::print("\ncached in {}\n", path);
    return 0;
  };
}

}  // namespace flint::cli
