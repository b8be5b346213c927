// flint bench: llama-bench's tests (prompt processing, generation, at a context depth, repeated)
// with every row placed against this machine's roofline: achieved GB/s against the read bandwidth
// (generation: the larger of what `flint probe` measured and what the same read test gives between
// the repetitions), achieved GFLOP/s against the probe's matmul peak (prompt).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "core/status.h"
#include "planner/probe.h"

namespace flint::bench {

struct BenchOptions {
  std::string model_path;
  std::vector<int> n_prompt = {512};  // pp tests (0 entries: none)
  std::vector<int> n_gen = {128};     // tg tests
  std::vector<int> depths = {0};      // tokens already in the context when a test starts
  std::vector<int> threads = {0};     // 0: all hardware threads
  std::vector<int> batches = {1};     // sequences decoded together in tg tests
  int reps = 5;
  DType kv_type = DType::F16;
  uint64_t seed = 1;                  // the random tokens
  // Time the probe's read test again before every generation repetition: memory shared with other
  // tenants (cloud VMs) moves within minutes, and a roofline from an older probe then misleads.
  bool bandwidth_now = true;
  bool repack = true;  // runtime::EngineOptions::repack
};

struct BenchRow {
  // What ran
  std::string model_filename, model_type;
  uint64_t model_size = 0, model_n_params = 0;
  std::string kernels;
  int n_prompt = 0, n_gen = 0, n_depth = 0, n_threads = 0, n_seq = 1;
  std::string test;  // "pp512", "tg128", "tg128 x4" (batched), with " @ d4096" at a depth
  // Timings: tokens per second over all sequences, one sample per repetition.
  std::vector<double> samples_ns, samples_ts;
  double avg_ns = 0, stddev_ns = 0, avg_ts = 0, stddev_ts = 0;
  // Against the roofline
  double bytes_per_step = 0;   // weights + KV read by one decode step (tg)
  double probe_gbps = 0;       // the probe's read bandwidth at n_threads
  double bandwidth_now_gbps = 0;  // the same read test before each repetition, median (tg; 0: not run)
  double bandwidth_gbps = 0;   // the roofline's: the larger of the two (tg; the probe's for pp)
  double gbps = 0;             // achieved (tg)
  double roofline_ts = 0;      // bandwidth / bytes per token (tg)
  double roofline_pct = 0;     // avg_ts / roofline_ts (tg)
  double flops_per_token = 0;  // (pp)
  double gflops = 0;           // achieved (pp)
  double peak_gflops = 0;      // probe's matmul throughput for this file's weight mix (pp)
  double compute_pct = 0;      // gflops / peak_gflops (pp)
  // Share of the file mapped with 2 MiB pages while the test ran (-1: not known). A file read in
  // cold is; one written and still cached (a download, a copy) mostly is not, and a MoE decode
  // step reads 2-6% slower from it.
  double huge_pages_pct = -1;  // of the weights read from the mapping (not repacked)
  uint64_t repacked_bytes = 0;  // weights held repacked for the kernels (runtime::Engine)
};

// Runs every (threads, depth, test) combination. `progress` (may be empty) hears one line per step.
Result<std::vector<BenchRow>> run_bench(const BenchOptions& options, const planner::ProbeResult& probe,
                                        const std::function<void(const std::string&)>& progress);

// Output: a Markdown table (llama-bench's columns plus GB/s and roofline), CSV, JSON (llama-bench's
// field names where the meaning is the same, plus flint's), and an SVG chart of the rows against
// their rooflines.
std::string to_markdown(const std::vector<BenchRow>& rows);
std::string to_csv(const std::vector<BenchRow>& rows);
nlohmann::json to_json(const std::vector<BenchRow>& rows);
std::string to_svg(const std::vector<BenchRow>& rows);

}  // namespace flint::bench
