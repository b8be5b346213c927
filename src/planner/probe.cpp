#include "planner/probe.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <fmt/format.h>

#include "backend/cpu/attention.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/repack.h"
#include "core/memory.h"
#include "core/progress.h"
#include "core/thread_pool.h"
#include "quant/quant.h"

namespace flint::planner {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The fastest of `reps` runs of fn (the least disturbed by the rest of the machine).
template <typename Fn>
double best_time(int reps, Fn&& fn) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, implementer, part;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon), value = line.substr(colon + 1);
    key.erase(key.find_last_not_of(" \t") + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (key == "model name") return value;
    if (key == "CPU implementer" && implementer.empty()) implementer = value;
    if (key == "CPU part" && part.empty()) part = value;
  }
  if (!implementer.empty()) return fmt::format("arm implementer {} part {}", implementer, part);
  return "unknown";
}

std::vector<int> thread_counts(int max_threads) {
  std::vector<int> out;
  for (int t = 1; t < max_threads; t *= 2) out.push_back(t);
  out.push_back(max_threads);
  return out;
}

std::vector<BandwidthPoint> measure_bandwidth(const cpu::KernelSet& ks, const ReadMeter& meter, int max_threads,
                                              int reps, Progress& progress) {
  const uint64_t chunks = 16ull * static_cast<uint64_t>(max_threads);
  const uint64_t n_floats = meter.bytes() / 3 / sizeof(float) / 64 * 64;
  std::vector<float> a(n_floats, 0.0f), b(n_floats, 1.0f), c(n_floats, 2.0f);
  const uint64_t fchunk = n_floats / chunks;
  std::vector<BandwidthPoint> out;
  for (int t : thread_counts(max_threads)) {
    ThreadPool pool(t);
    const double read = meter.measure(pool, ks, reps);
    const double tt = best_time(reps, [&] {
      pool.parallel_for(static_cast<int64_t>(chunks), 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const uint64_t o = static_cast<uint64_t>(i) * fchunk;
          ks.triad(a.data() + o, b.data() + o, c.data() + o, 3.0f, fchunk);
        }
      });
    });
    out.push_back({.threads = t,
                   .read_gbps = read,
                   .triad_gbps = 3.0 * sizeof(float) * static_cast<double>(fchunk * chunks) / tt / 1e9});
    progress.advance(1, fmt::format("bandwidth, {} thread{}", t, t == 1 ? "" : "s"));
  }
  return out;
}

// A weight matrix of `type` holding `bytes` or so: 16 rows quantized from Gaussian values, copied.
struct ProbeMatrix {
  std::vector<uint8_t> data;
  cpu::WeightMatrix w;
};

Result<ProbeMatrix> make_matrix(DType type, int64_t n_in, uint64_t bytes) {
  const uint64_t row = *dtype_row_bytes(type, static_cast<uint64_t>(n_in));
  const int64_t rows = std::max<int64_t>(1024, static_cast<int64_t>(bytes / row) / 16 * 16);
  ProbeMatrix m;
  m.data.resize(row * static_cast<uint64_t>(rows));
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> f(static_cast<size_t>(n_in));
  for (int64_t r = 0; r < 16; ++r) {
    for (float& v : f) v = nd(rng);
    FLINT_RETURN_IF_ERROR(quant::quantize_row(type, f.data(), m.data.data() + static_cast<uint64_t>(r) * row, n_in));
  }
  for (int64_t r = 16; r < rows; ++r) {
    std::copy_n(m.data.data() + static_cast<uint64_t>(r % 16) * row, row, m.data.data() + static_cast<uint64_t>(r) * row);
  }
  m.w = {.type = type, .data = m.data.data(), .n_in = n_in, .n_out = rows, .row_bytes = row};
  // In the layout the engine would hold it in (model::RepackedWeights), so that the throughput
  // measured is the engine's.
  if (cpu::rows16_pays(type, n_in, rows, rows)) {
    std::vector<uint8_t> packed(m.data.size());
    cpu::repack_rows16(type, n_in, m.data.data(), packed.data(), 0, rows / cpu::kRows16Group);
    m.data = std::move(packed);
    m.w.data = m.data.data();
    m.w.layout = cpu::Layout::kRows16;
  }
  return m;
}

double measure_attention(ThreadPool& pool, int reps) {
  const cpu::AttentionShape shape{.n_head = 32, .n_head_kv = 8, .head_dim = 64, .scale = 0.125f};
  constexpr int32_t kBlock = 16, kTokens = 512, kKvDim = 8 * 64;
  const uint64_t keys_bytes = static_cast<uint64_t>(kBlock) * kKvDim * sizeof(uint16_t);
  std::vector<uint8_t> cache(2 * keys_bytes * (kTokens / kBlock));
  const cpu::PagedKvLayer kv{.type = DType::F16, .base = cache.data(), .block_stride = keys_bytes,
                             .values_offset = keys_bytes * (kTokens / kBlock), .block_size = kBlock,
                             .kv_dim = kKvDim, .head_dim = 64};
  std::vector<int32_t> table(kTokens / kBlock);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> k(kTokens * kKvDim), v(k.size()), q(kTokens * 32 * 64), out(q.size());
  for (float& x : k) x = nd(rng);
  for (float& x : v) x = nd(rng);
  for (float& x : q) x = nd(rng);
  cpu::kv_store(kv, table, 0, kTokens, k.data(), v.data());
  const double t = best_time(reps, [&] { cpu::attention(pool, kv, table, q.data(), 0, kTokens, shape, out.data()); });
  const double macs = 2.0 * 32 * 64 * (kTokens * (kTokens + 1) / 2.0);  // q.k and p.v over the causal triangle
  return 2.0 * macs / t / 1e9;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Result<ReadMeter> ReadMeter::create(uint64_t bytes, int max_threads) {
  ReadMeter m;
  // Whole 128-byte lines per chunk (read_sum's step).
  m.chunks_ = 16ull * static_cast<uint64_t>(std::max(1, max_threads));
  m.chunk_ = std::max<uint64_t>(128, std::max<uint64_t>(bytes, 64ull << 20) / m.chunks_ / 128 * 128);
  FLINT_ASSIGN_OR_RETURN(m.buf_, PageMemory::allocate(m.bytes()));
  std::fill_n(m.buf_.data(), m.bytes(), uint8_t{1});  // untouched pages would all read the zero page
  return m;
}

double ReadMeter::measure(ThreadPool& pool, const cpu::KernelSet& ks, int passes) const {
  std::atomic<uint64_t> sink{0};  // what was read is used, so the loads stay
  const double t = best_time(std::max(1, passes), [&] {
    pool.parallel_for(static_cast<int64_t>(chunks_), 1, [&](int64_t begin, int64_t end) {
      uint64_t s = 0;
      for (int64_t i = begin; i < end; ++i) s += ks.read_sum(buf_.data() + static_cast<uint64_t>(i) * chunk_, chunk_);
      sink.fetch_add(s, std::memory_order_relaxed);
    });
  });
  return static_cast<double>(bytes()) / t / 1e9;
}

uint64_t read_test_bytes() {
  const long llc = ::sysconf(_SC_LEVEL3_CACHE_SIZE);
  const uint64_t four_llc = 4 * static_cast<uint64_t>(std::max(llc, 0L));
  return std::clamp<uint64_t>(four_llc, 256ull << 20, 1ull << 30);
}

MachineIdentity this_machine() {
  MachineIdentity m;
  m.cpu = cpu_model_name();
  m.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (Result<MemoryInfo> mem = query_memory(); mem.is_ok()) m.mem_total = mem->total;
  m.kernels = cpu::isa_name(cpu::best_isa());
  m.features = cpu::cpu_features().summary();
  m.attention = cpu::kAttentionKernels;
  if (cpu::best_kernels().gemm_rows16 != nullptr) {
    m.layouts = fmt::format("q4_0 q8_0 q4_K q6_K in 16-row groups, q6_K by kernel step with its sums in registers, "
                            "prefetch {} B as a stream",
                            cpu::rows16_prefetch_bytes());
  }
  return m;
}

double ProbeResult::read_gbps() const {
  double best = 0;
  for (const BandwidthPoint& b : bandwidth) best = std::max(best, b.read_gbps);
  return best;
}

double ProbeResult::read_gbps_at(int threads) const {
  const BandwidthPoint* best = nullptr;
  for (const BandwidthPoint& b : bandwidth) {
    if (!best || std::abs(b.threads - threads) < std::abs(best->threads - threads)) best = &b;
  }
  return best ? best->read_gbps : 0.0;
}

const MatmulPoint* ProbeResult::matmul_for(DType type) const {
  for (const MatmulPoint& m : matmul) {
    if (m.type == type) return &m;
  }
  return nullptr;
}

Result<ProbeResult> run_probe(const ProbeOptions& o) {
  ProbeResult r;
  r.machine = this_machine();
  r.date = utc_now();
  const int max_threads = o.max_threads > 0 ? o.max_threads : r.machine.cores;
  FLINT_ASSIGN_OR_RETURN(const MemoryInfo mem, query_memory());
  uint64_t buffer = o.buffer_bytes ? o.buffer_bytes : (1ull << 30);
  buffer = std::min(buffer, mem.available / 4);
  if (buffer < (64ull << 20)) {
    return error("only {} of memory is available: the probe needs at least 256 MiB", format_bytes(mem.available));
  }
  const cpu::KernelSet& ks = cpu::best_kernels();
  const int reps = o.quick ? 2 : 5;
  const std::vector<DType> types =
      o.quick ? std::vector<DType>{DType::Q4_K, DType::Q8_0, DType::F16}
              : std::vector<DType>{DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0,
                                   DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K, DType::Q3_K,
                                   DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::MXFP4};
  Progress progress("probe", thread_counts(max_threads).size() + types.size(), o.progress);
  {
    // The read test bench repeats (read_test_bytes), freed before the matmuls.
    const uint64_t read_bytes = std::min(o.buffer_bytes ? o.buffer_bytes : read_test_bytes(), buffer);
    FLINT_ASSIGN_OR_RETURN(const ReadMeter meter, ReadMeter::create(read_bytes, max_threads));
    r.bandwidth = measure_bandwidth(ks, meter, max_threads, reps, progress);
  }

  ThreadPool pool(max_threads);
  r.attention_gflops = measure_attention(pool, reps);
  constexpr int64_t kIn = 4096, kPrefillRows = 2048, kPrefillTokens = 256, kFewTokens = 32;
  std::vector<float> x(static_cast<size_t>(kIn * kPrefillTokens)), y;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (float& v : x) v = nd(rng);
  for (DType type : types) {
    FLINT_ASSIGN_OR_RETURN(ProbeMatrix m, make_matrix(type, kIn, std::min<uint64_t>(buffer / 4, 256ull << 20)));
    y.resize(static_cast<size_t>(m.w.n_out * kPrefillTokens));
    cpu::matmul(pool, m.w, x.data(), y.data(), 1);  // warm up: page in, grow the buffers
    const double td = best_time(reps, [&] { cpu::matmul(pool, m.w, x.data(), y.data(), 1); });
    const cpu::WeightMatrix small = m.w.rows(0, kPrefillRows);
    cpu::matmul(pool, small, x.data(), y.data(), kPrefillTokens);
    const int prefill_reps = std::max(2, reps - 2);
    const double tp = best_time(prefill_reps, [&] { cpu::matmul(pool, small, x.data(), y.data(), kPrefillTokens); });
    const double tf = best_time(prefill_reps, [&] { cpu::matmul(pool, small, x.data(), y.data(), kFewTokens); });
    // time(tokens) = setup + tokens * per_token, through the two points. On a noisy pair the
    // per-token cost is kept at least a quarter of the 256-token average (so the setup is at
    // most 3/4 of that time), and a negative setup counts as none.
    const double per_token = std::max((tp - tf) / (kPrefillTokens - kFewTokens), tp / kPrefillTokens / 4);
    const double setup = std::max(0.0, tp - kPrefillTokens * per_token);
    const double macs = static_cast<double>(kIn) * kPrefillRows;
    r.matmul.push_back({.type = type,
                        .decode_gbps = static_cast<double>(m.data.size()) / td / 1e9,
                        .prefill_gflops = 2.0 * macs * kPrefillTokens / tp / 1e9,
                        .prefill_setup_s_per_byte = setup / static_cast<double>(small.n_out * small.row_bytes),
                        .prefill_marginal_gflops = 2.0 * macs / (tp - setup) * kPrefillTokens / 1e9});
    progress.advance(1, std::string(dtype_name(type)));
  }
  progress.finish();
  return r;
}

nlohmann::json to_json(const ProbeResult& r) {
  nlohmann::json bw = nlohmann::json::array(), mm = nlohmann::json::array();
  for (const BandwidthPoint& b : r.bandwidth) {
    bw.push_back({{"threads", b.threads}, {"read_gbps", b.read_gbps}, {"triad_gbps", b.triad_gbps}});
  }
  for (const MatmulPoint& m : r.matmul) {
    mm.push_back({{"type", dtype_name(m.type)}, {"decode_gbps", m.decode_gbps}, {"prefill_gflops", m.prefill_gflops},
                  {"prefill_setup_s_per_byte", m.prefill_setup_s_per_byte},
                  {"prefill_marginal_gflops", m.prefill_marginal_gflops}});
  }
  return {{"machine", {{"cpu", r.machine.cpu}, {"cores", r.machine.cores}, {"mem_total", r.machine.mem_total},
                       {"kernels", r.machine.kernels}, {"features", r.machine.features},
                       {"layouts", r.machine.layouts}, {"attention", r.machine.attention}}},
          {"date", r.date},
          {"read_gbps", r.read_gbps()},
          {"attention_gflops", r.attention_gflops},
          {"bandwidth", bw},
          {"matmul", mm}};
}

Result<ProbeResult> probe_from_json(const nlohmann::json& j) {
  try {
    ProbeResult r;
    const auto& m = j.at("machine");
    r.machine = {.cpu = m.at("cpu").get<std::string>(), .cores = m.at("cores").get<int>(),
                 .mem_total = m.at("mem_total").get<uint64_t>(), .kernels = m.at("kernels").get<std::string>(),
                 .features = m.at("features").get<std::string>(), .layouts = m.value("layouts", ""),
                 .attention = m.value("attention", "")};
    r.date = j.at("date").get<std::string>();
    r.attention_gflops = j.value("attention_gflops", 0.0);
    for (const auto& b : j.at("bandwidth")) {
      r.bandwidth.push_back({.threads = b.at("threads").get<int>(), .read_gbps = b.at("read_gbps").get<double>(),
                             .triad_gbps = b.at("triad_gbps").get<double>()});
    }
    for (const auto& p : j.at("matmul")) {
      const std::optional<DType> t = dtype_from_name(p.at("type").get<std::string>());
      if (!t) return error("probe result: unknown type {}", p.at("type").dump());
      r.matmul.push_back({.type = *t, .decode_gbps = p.at("decode_gbps").get<double>(),
                          .prefill_gflops = p.at("prefill_gflops").get<double>(),
                          .prefill_setup_s_per_byte = p.value("prefill_setup_s_per_byte", 0.0),
                          .prefill_marginal_gflops = p.value("prefill_marginal_gflops", 0.0)});
      if (r.matmul.back().prefill_setup_s_per_byte < 0 || r.matmul.back().prefill_marginal_gflops < 0) {
        return error("probe result: negative prefill setup or rate for {}", dtype_name(*t));
      }
    }
    if (r.bandwidth.empty()) return error("probe result: no bandwidth measurements");
    return r;
  } catch (const nlohmann::json::exception& e) {
    return error("probe result: {}", e.what());
  }
}

std::string probe_cache_path() {
  namespace fs = std::filesystem;
  if (const char* d = std::getenv("FLINT_CACHE_DIR"); d && *d) return (fs::path(d) / "probe.json").string();
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return (fs::path(d) / "flint" / "probe.json").string();
  if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".cache" / "flint" / "probe.json").string();
  return "flint-probe.json";
}

Status save_probe(const ProbeResult& r, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  const std::string tmp = path + ".partial";
  {
    std::ofstream out(tmp);
    if (!out) return error("cannot write the probe cache {}", tmp);
    out << to_json(r).dump(1) << "\n";
    if (!out) return error("cannot write the probe cache {}", tmp);
  }
  fs::rename(tmp, path, ec);
  if (ec) return error("cannot write the probe cache {}: {}", path, ec.message());
  return Status::ok();
}

std::optional<ProbeResult> load_cached_probe(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  Result<ProbeResult> r = probe_from_json(j);
  if (!r || !(r->machine == this_machine())) return std::nullopt;
  return std::move(r).value();
}

}  // namespace flint::planner
