#include "bench/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <random>

#include <fmt/format.h>

#include "backend/cpu/kernels.h"
#include "core/memory.h"
#include "core/progress.h"
#include "model/cost.h"
#include "model/mix.h"
#include "runtime/engine.h"

namespace flint::bench {
namespace {

using Clock = std::chrono::steady_clock;

// What one token costs this file, per tensor class: the numbers both rooflines are built from.
struct FileCost {
  double dense_bytes = 0;      // read once per decode step whatever the batch (incl. a tied lm_head)
  double expert_bytes = 0;     // all routed-expert bytes (a step reads the experts its tokens chose)
  double embd_row_bytes = 0;   // one token_embd row per token
  double expert_fraction = 0;  // n_expert_used / n_expert
  double prompt_macs = 0;      // multiply-adds per prompt token in the weight matmuls (no lm_head)
  double peak_gflops = 0;      // the probe's throughput for this mix of weight types
  uint64_t kv_per_token = 0;
};

FileCost file_cost(const gguf::GgufFile& file, const model::ModelSpec& spec, const planner::ProbeResult& probe,
                   DType kv_type) {
  FileCost c;
  c.expert_fraction = spec.is_moe() ? static_cast<double>(spec.n_expert_used) / spec.n_expert : 1.0;
  double macs = 0, seconds = 0;  // for the time-weighted peak
  for (const gguf::TensorInfo& t : file.tensors()) {
    const double bytes = static_cast<double>(t.n_bytes);
    const bool matrix = t.shape.size() >= 2;
    double m = 0;  // multiply-adds per prompt token through this tensor
    if (t.name == "token_embd.weight") {
      c.embd_row_bytes = bytes / std::max<uint64_t>(1, t.n_rows());
      if (spec.tied_embeddings) c.dense_bytes += bytes;  // also the lm_head, read once per step
    } else if (model::is_routed_expert_tensor(t) && spec.is_moe()) {
      c.expert_bytes += bytes;
      m = static_cast<double>(t.n_elements) * c.expert_fraction;
    } else {
      c.dense_bytes += bytes;
      if (matrix && t.name != "output.weight") m = static_cast<double>(t.n_elements);
    }
    c.prompt_macs += m;
    if (m > 0) {
      if (const planner::MatmulPoint* p = probe.matmul_for(t.type); p && p->prefill_gflops > 0) {
        macs += m;
        seconds += 2 * m / (p->prefill_gflops * 1e9);
      }
    }
  }
  c.peak_gflops = seconds > 0 ? 2 * macs / seconds / 1e9 : 0;
  const Result<uint64_t> kv = model::kv_bytes_per_token(spec, kv_type);
  c.kv_per_token = kv.is_ok() ? *kv : 0;
  return c;
}

// Bytes one decode step of `n_seq` sequences reads, each with `ctx` tokens in its cache: the dense
// weights once, the experts the step's tokens chose (each token picks k of E at random, so
// 1 - (1 - k/E)^n of them), an embedding row and the KV cache per sequence.
double step_bytes(const FileCost& c, int n_seq, double ctx) {
  const double coverage = c.expert_bytes > 0 ? 1.0 - std::pow(1.0 - c.expert_fraction, n_seq) : 0.0;
  return c.dense_bytes + c.expert_bytes * coverage + n_seq * (c.embd_row_bytes + ctx * static_cast<double>(c.kv_per_token));
}

// Attention multiply-adds per token at `ctx` cached tokens (q.k and p.v over every head).
double attention_macs(const model::ModelSpec& s, double ctx) {
  return 2.0 * s.n_layer * s.n_head * s.head_dim_k * ctx;
}

double median(std::vector<double> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  const size_t n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

// The read test for bench. An error (the roofline then stays the probe's) when memory is too
// short to spare its buffer (an eighth of what is available at most): a buffer under half the
// size could be read from cache rather than memory.
Result<planner::ReadMeter> read_meter(int threads) {
  FLINT_ASSIGN_OR_RETURN(const MemoryInfo mem, query_memory());
  const uint64_t want = planner::read_test_bytes();
  const uint64_t bytes = std::min(want, mem.available / 8);
  if (bytes < want / 2) {
    return error("only {} of memory is available, too little to spare the {} read test", format_bytes(mem.available),
                 format_bytes(want));
  }
  return planner::ReadMeter::create(bytes, threads);
}

void stats(const std::vector<double>& xs, double* mean, double* sd) {
  double sum = 0;
  for (double x : xs) sum += x;
  *mean = xs.empty() ? 0 : sum / static_cast<double>(xs.size());
  double var = 0;
  for (double x : xs) var += (x - *mean) * (x - *mean);
  *sd = xs.size() > 1 ? std::sqrt(var / static_cast<double>(xs.size() - 1)) : 0;
}

std::string model_type(const gguf::GgufFile& file, const model::ModelSpec& spec, uint64_t n_params) {
  std::string ftype = "?";
  if (auto ft = file.get_or<uint32_t>("general.file_type", UINT32_MAX); ft.is_ok() && *ft != UINT32_MAX) {
    ftype = std::string(model::file_type_name(static_cast<model::FileType>(*ft)));
  }
  return fmt::format("{} {} {}", spec.arch, format_count(n_params), ftype);
}

class Runner {
 public:
  Runner(runtime::Engine& e, std::mt19937_64& rng) : e_(e), rng_(rng) {}

  std::vector<int32_t> random_tokens(int n) {
    std::uniform_int_distribution<int32_t> d(0, static_cast<int32_t>(e_.spec().n_vocab) - 1);
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (int32_t& x : t) x = d(rng_);
    return t;
  }

  // Sequences holding `depth` tokens each (prefilled once, reused by every repetition).
  Result<std::vector<int32_t>> sequences(int n, int depth) {
    std::vector<int32_t> seqs;
    for (int i = 0; i < n; ++i) {
      FLINT_ASSIGN_OR_RETURN(const int32_t s, e_.add_sequence());
      seqs.push_back(s);
      if (depth > 0) {
        const std::vector<int32_t> t = random_tokens(depth);
        const runtime::DecodeRequest r{.seq = s, .tokens = t};
        FLINT_RETURN_IF_ERROR(e_.decode({&r, 1}).status());
      }
    }
    return seqs;
  }

  // Seconds to process a prompt of n tokens on top of `depth`.
  Result<double> prompt(int32_t seq, int depth, int n) {
    e_.truncate_sequence(seq, depth);
    const std::vector<int32_t> t = random_tokens(n);
    const runtime::DecodeRequest r{.seq = seq, .tokens = t};
    const auto t0 = Clock::now();
    FLINT_RETURN_IF_ERROR(e_.decode({&r, 1}).status());
    return std::chrono::duration<double>(Clock::now() - t0).count();
  }

  // Seconds to generate n tokens in every sequence, one decode step per token for all of them.
  Result<double> generate(const std::vector<int32_t>& seqs, int depth, int n) {
    for (int32_t s : seqs) e_.truncate_sequence(s, depth);
    const std::vector<int32_t> t = random_tokens(n * static_cast<int>(seqs.size()));
    std::vector<runtime::DecodeRequest> reqs(seqs.size());
    const auto t0 = Clock::now();
    for (int step = 0; step < n; ++step) {
      for (size_t i = 0; i < seqs.size(); ++i) {
        reqs[i] = {.seq = seqs[i], .tokens = std::span(t).subspan(static_cast<size_t>(step) * seqs.size() + i, 1)};
      }
      FLINT_RETURN_IF_ERROR(e_.decode(reqs).status());
    }
    return std::chrono::duration<double>(Clock::now() - t0).count();
  }

 private:
  runtime::Engine& e_;
  std::mt19937_64& rng_;
};

}  // namespace

Result<std::vector<BenchRow>> run_bench(const BenchOptions& o, const planner::ProbeResult& probe,
                                        const std::function<void(const std::string&)>& progress) {
  if (o.reps < 1) return error("--repetitions must be at least 1, not {}", o.reps);
  auto positive = [](const std::vector<int>& v, const char* what) -> Status {
    for (int x : v) {
      if (x < 0) return error("{} must not be negative ({})", what, x);
    }
    return Status::ok();
  };
  FLINT_RETURN_IF_ERROR(positive(o.n_prompt, "-p"));
  FLINT_RETURN_IF_ERROR(positive(o.n_gen, "-n"));
  FLINT_RETURN_IF_ERROR(positive(o.depths, "-d"));
  FLINT_RETURN_IF_ERROR(positive(o.threads, "-t"));
  for (int b : o.batches) {
    if (b < 1 || b > 256) return error("-b (sequences decoded together) must be 1..256, not {}", b);
  }
  const int max_p = o.n_prompt.empty() ? 0 : *std::max_element(o.n_prompt.begin(), o.n_prompt.end());
  const int max_n = o.n_gen.empty() ? 0 : *std::max_element(o.n_gen.begin(), o.n_gen.end());
  const int max_d = *std::max_element(o.depths.begin(), o.depths.end());
  const int max_b = *std::max_element(o.batches.begin(), o.batches.end());

  std::vector<BenchRow> rows;
  std::mt19937_64 rng(o.seed);
  for (int threads_opt : o.threads) {
    // One engine per thread count: its context holds the deepest test, its slots the widest batch
    // plus the sequence the prompt tests use.
    Result<std::unique_ptr<runtime::Engine>> loaded = runtime::Engine::load(
        {.model_path = o.model_path, .n_ctx = max_d + std::max(max_p, max_n) + 1, .n_seq = max_b + 1,
         .n_batch = 512, .kv_type = o.kv_type, .n_threads = threads_opt, .progress = false, .repack = o.repack});
    if (!loaded) return loaded.status();
    runtime::Engine& e = **loaded;
    const int threads = threads_opt > 0 ? threads_opt : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const model::ModelSpec& spec = e.spec();
    const FileCost cost = file_cost(e.file(), spec, probe, o.kv_type);
    const model::ModelCost mc = model::compute_cost(e.file(), spec);
    BenchRow base;
    base.model_filename = std::filesystem::path(o.model_path).filename().string();
    base.model_size = mc.weight_bytes;
    base.model_n_params = mc.n_params;
    base.model_type = model_type(e.file(), spec, mc.n_params);
    base.kernels = probe.machine.kernels;
    base.n_threads = threads;
    base.probe_gbps = probe.read_gbps_at(threads);
    base.repacked_bytes = e.repacked_bytes();
    if (progress && base.repacked_bytes > 0) {
      progress(fmt::format("{} of the weights repacked for this CPU's kernels (--no-repack: all read from the file's "
                           "mapping)", format_bytes(base.repacked_bytes)));
    }
    const uint64_t mapped = e.file().file_size() - std::min(e.file().file_size(), base.repacked_bytes);
    if (const std::optional<uint64_t> huge = e.file().huge_page_bytes(); huge && mapped > 0) {
      base.huge_pages_pct = std::min(100.0, 100.0 * static_cast<double>(*huge) / static_cast<double>(mapped));
      if (progress) {
        const std::string hint = fmt::format(
            " (its cached copy is in 4 KiB pages, as after a download or a copy: after `dd if='{}' iflag=nocache "
            "count=0` drops it, the next load reads it in 2 MiB pages, from which a MoE decode reads 2-6% faster)",
            o.model_path);
        progress(fmt::format("{:.0f}% of the {} is mapped with 2 MiB pages{}", base.huge_pages_pct,
                             base.repacked_bytes > 0 ? "rest of the file" : "file",
                             base.huge_pages_pct < 50 ? hint : ""));
      }
    }
    base.bandwidth_gbps = base.probe_gbps;
    const bool any_gen = std::any_of(o.n_gen.begin(), o.n_gen.end(), [](int n) { return n > 0; });
    std::optional<planner::ReadMeter> meter;
    if (o.bandwidth_now && any_gen) {
      Result<planner::ReadMeter> m = read_meter(threads);
      if (m) {
        meter = std::move(*m);
      } else if (progress) {
        progress(fmt::format("not timing the read test between repetitions ({}): the roofline is the probe's",
                             m.status().message()));
      }
    }
    Runner runner(e, rng);

    for (int depth : o.depths) {
      const std::string at = depth > 0 ? fmt::format(" @ d{}", depth) : "";
      if (progress) progress(fmt::format("t{} d{}: filling {} sequence(s) with {} tokens", threads, depth, max_b, depth));
      FLINT_ASSIGN_OR_RETURN(const std::vector<int32_t> seqs, runner.sequences(max_b, depth));
      for (int p : o.n_prompt) {
        if (p == 0) continue;
        BenchRow row = base;
        row.n_prompt = p;
        row.n_depth = depth;
        row.test = fmt::format("pp{}{}", p, at);
        for (int rep = 0; rep < o.reps; ++rep) {
          if (progress) progress(fmt::format("{} t{}: rep {}/{}", row.test, threads, rep + 1, o.reps));
          FLINT_ASSIGN_OR_RETURN(const double s, runner.prompt(seqs[0], depth, p));
          row.samples_ns.push_back(s * 1e9);
          row.samples_ts.push_back(p / s);
        }
        stats(row.samples_ns, &row.avg_ns, &row.stddev_ns);
        stats(row.samples_ts, &row.avg_ts, &row.stddev_ts);
        row.flops_per_token = 2 * (cost.prompt_macs + attention_macs(spec, depth + (p + 1) / 2.0));
        row.gflops = row.avg_ts * row.flops_per_token / 1e9;
        row.peak_gflops = cost.peak_gflops;
        row.compute_pct = row.peak_gflops > 0 ? 100 * row.gflops / row.peak_gflops : 0;
        rows.push_back(row);
      }
      for (int n : o.n_gen) {
        if (n == 0) continue;
        for (int b : o.batches) {
          BenchRow row = base;
          row.n_gen = n;
          row.n_depth = depth;
          row.n_seq = b;
          row.test = fmt::format("tg{}{}{}", n, b > 1 ? fmt::format(" x{}", b) : "", at);
          const std::vector<int32_t> active(seqs.begin(), seqs.begin() + b);
          std::vector<double> now;
          for (int rep = 0; rep < o.reps; ++rep) {
            if (progress) progress(fmt::format("{} t{}: rep {}/{}", row.test, threads, rep + 1, o.reps));
            if (meter) now.push_back(meter->measure(e.pool(), cpu::best_kernels(), 3));
            FLINT_ASSIGN_OR_RETURN(const double s, runner.generate(active, depth, n));
            row.samples_ns.push_back(s * 1e9);
            row.samples_ts.push_back(static_cast<double>(n) * b / s);
          }
          stats(row.samples_ns, &row.avg_ns, &row.stddev_ns);
          stats(row.samples_ts, &row.avg_ts, &row.stddev_ts);
          // The cache grows from depth to depth + n during the test: on average depth + (n - 1) / 2.
          row.bandwidth_now_gbps = median(now);
          row.bandwidth_gbps = std::max(row.probe_gbps, row.bandwidth_now_gbps);
          row.bytes_per_step = step_bytes(cost, b, depth + (n - 1) / 2.0);
          const double steps_per_s = row.avg_ts / b;
          row.gbps = steps_per_s * row.bytes_per_step / 1e9;
          row.roofline_ts = row.bandwidth_gbps * 1e9 / row.bytes_per_step * b;
          row.roofline_pct = row.roofline_ts > 0 ? 100 * row.avg_ts / row.roofline_ts : 0;
          rows.push_back(row);
        }
      }
      for (int32_t s : seqs) e.remove_sequence(s);
    }
  }
  return rows;
}

std::string to_markdown(const std::vector<BenchRow>& rows) {
  std::string out =
      "| model | size | params | kernels | threads | test | t/s | GB/s | roofline GB/s | roofline t/s | % roofline | GFLOP/s "
      "| % peak |\n"
      "| --- | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const BenchRow& r : rows) {
    const bool gen = r.n_gen > 0;
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {:.2f} ± {:.2f} | {} | {} | {} | {} | {} | {} |\n", r.model_type,
                       format_bytes(r.model_size), format_count(r.model_n_params), r.kernels, r.n_threads, r.test,
                       r.avg_ts, r.stddev_ts, gen ? fmt::format("{:.1f}", r.gbps) : "",
                       gen ? fmt::format("{:.1f}", r.bandwidth_gbps) : "",
                       gen ? fmt::format("{:.2f}", r.roofline_ts) : "", gen ? fmt::format("{:.0f}%", r.roofline_pct) : "",
                       gen ? "" : fmt::format("{:.1f}", r.gflops), gen ? "" : fmt::format("{:.0f}%", r.compute_pct));
  }
  return out;
}

std::string to_csv(const std::vector<BenchRow>& rows) {
  std::string out =
      "model_filename,model_type,model_size,model_n_params,kernels,n_threads,n_prompt,n_gen,n_depth,n_seq,test,"
      "avg_ts,stddev_ts,avg_ns,stddev_ns,gbps,bandwidth_gbps,probe_gbps,bandwidth_now_gbps,roofline_ts,roofline_pct,gflops,"
      "peak_gflops,compute_pct\n";
  for (const BenchRow& r : rows) {
    out += fmt::format("\"{}\",\"{}\",{},{},{},{},{},{},{},{},\"{}\",{:.4f},{:.4f},{:.0f},{:.0f},{:.3f},{:.3f},{:.3f},{:.3f},{:.4f},{:.2f},{:.3f},{:.3f},{:.2f}\n",
                       r.model_filename, r.model_type, r.model_size, r.model_n_params, r.kernels, r.n_threads,
                       r.n_prompt, r.n_gen, r.n_depth, r.n_seq, r.test, r.avg_ts, r.stddev_ts, r.avg_ns, r.stddev_ns,
                       r.gbps, r.bandwidth_gbps, r.probe_gbps, r.bandwidth_now_gbps, r.roofline_ts, r.roofline_pct, r.gflops, r.peak_gflops, r.compute_pct);
  }
  return out;
}

nlohmann::json to_json(const std::vector<BenchRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const BenchRow& r : rows) {
    out.push_back({{"model_filename", r.model_filename}, {"model_type", r.model_type}, {"model_size", r.model_size},
                   {"model_n_params", r.model_n_params}, {"backend", "CPU"}, {"kernels", r.kernels},
                   {"n_threads", r.n_threads}, {"n_prompt", r.n_prompt}, {"n_gen", r.n_gen}, {"n_depth", r.n_depth},
                   {"n_seq", r.n_seq}, {"test", r.test}, {"avg_ns", r.avg_ns}, {"stddev_ns", r.stddev_ns},
                   {"avg_ts", r.avg_ts}, {"stddev_ts", r.stddev_ts}, {"samples_ns", r.samples_ns},
                   {"samples_ts", r.samples_ts}, {"bytes_per_step", r.bytes_per_step}, {"gbps", r.gbps},
                   {"bandwidth_gbps", r.bandwidth_gbps}, {"probe_gbps", r.probe_gbps},
                   {"bandwidth_now_gbps", r.bandwidth_now_gbps}, {"roofline_ts", r.roofline_ts}, {"roofline_pct", r.roofline_pct},
                   {"flops_per_token", r.flops_per_token}, {"gflops", r.gflops}, {"peak_gflops", r.peak_gflops},
                   {"compute_pct", r.compute_pct}});
    if (r.huge_pages_pct >= 0) out.back()["huge_pages_pct"] = r.huge_pages_pct;
    out.back()["repacked_bytes"] = r.repacked_bytes;
  }
  return out;
}

std::string to_svg(const std::vector<BenchRow>& rows) {
  // One bar per row: measured tokens/s, and the ceiling (memory roofline for generation, the
  // probe's matmul peak for prompts) as an outline behind it.
  constexpr int kLabel = 260, kWidth = 560, kRow = 34, kTop = 40;
  double max_ts = 1e-9;
  for (const BenchRow& r : rows) {
    const double ceiling = r.n_gen > 0 ? r.roofline_ts : (r.flops_per_token > 0 ? r.peak_gflops * 1e9 / r.flops_per_token : 0);
    max_ts = std::max({max_ts, r.avg_ts, ceiling});
  }
  const int height = kTop + kRow * static_cast<int>(rows.size()) + 30;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<text x=\"10\" y=\"22\" font-size=\"14\">flint bench: tokens/s against the roofline (outline)</text>\n",
      kLabel + kWidth + 140, height);
  for (size_t i = 0; i < rows.size(); ++i) {
    const BenchRow& r = rows[i];
    const int y = kTop + kRow * static_cast<int>(i);
    const double ceiling = r.n_gen > 0 ? r.roofline_ts : (r.flops_per_token > 0 ? r.peak_gflops * 1e9 / r.flops_per_token : 0);
    const double pct = r.n_gen > 0 ? r.roofline_pct : r.compute_pct;
    svg += fmt::format("<text x=\"10\" y=\"{}\">{} t{} {}</text>\n", y + 16, r.model_filename, r.n_threads, r.test);
    if (ceiling > 0) {
      svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"22\" fill=\"none\" stroke=\"#555\" stroke-dasharray=\"4 2\"/>\n",
                         kLabel, y, kWidth * ceiling / max_ts);
    }
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"22\" fill=\"{}\"/>\n", kLabel, y,
                       kWidth * r.avg_ts / max_ts, r.n_gen > 0 ? "#3b7dd8" : "#d8843b");
    svg += fmt::format("<text x=\"{}\" y=\"{}\">{:.1f} t/s ({:.0f}%)</text>\n", kLabel + kWidth + 8, y + 16, r.avg_ts, pct);
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace flint::bench
