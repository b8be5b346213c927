// flint probe: what this machine can do, measured. Memory bandwidth (a read-only stream and the
// STREAM triad, 1..N threads) and matmul throughput per weight type (decode: one token, weights
// streamed from memory; prefill: many tokens, compute-bound). The result is cached with the
// machine's identity so `flint bench` and `flint plan --hw local` reuse it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "core/page_memory.h"
#include "core/status.h"
#include "core/thread_pool.h"

namespace flint::cpu {
struct KernelSet;
}

namespace flint::planner {

struct MachineIdentity {
  std::string cpu;        // "AMD EPYC 7B13", from /proc/cpuinfo
  int cores = 0;          // hardware threads the process may use
  uint64_t mem_total = 0;
  std::string kernels;    // kernel family flint uses here ("avx2")
  std::string features;   // CPU features flint detected
  // Weight layouts the engine repacks into here ("q4_0 q8_0 q4_K q6_K in 16-row groups, ...";
  // empty: none): a probe from a build that read them in another order measured other kernels.
  std::string layouts;
  // The attention kernels' shape (cpu::kAttentionKernels): a probe from a build whose attention
  // worked otherwise measured another attention_gflops.
  std::string attention;

  bool operator==(const MachineIdentity&) const = default;
};
MachineIdentity this_machine();

struct BandwidthPoint {
  int threads = 0;
  double read_gbps = 0;   // GB/s (1e9 bytes) reading a buffer far larger than the caches
  double triad_gbps = 0;  // a[i] = b[i] + s * c[i], counting 3 arrays of traffic
};

// The read test `flint probe` times and `flint bench` repeats between its repetitions (memory
// shared with other tenants can move by half within minutes): the kernels' read_sum over a
// buffer far larger than the caches, 16 chunks per thread so the threads stay evenly loaded.
class ReadMeter {
 public:
  // A buffer of about `bytes` (at least 64 MiB), written once so every page is really mapped.
  static Result<ReadMeter> create(uint64_t bytes, int max_threads);
  // The best of `passes` reads of the whole buffer on `pool`, GB/s (1e9 bytes per second).
  double measure(ThreadPool& pool, const cpu::KernelSet& ks, int passes) const;
  uint64_t bytes() const { return chunk_ * chunks_; }

 private:
  ReadMeter() = default;
  PageMemory buf_;
  uint64_t chunk_ = 0, chunks_ = 0;
};

// What a read test should stream so it measures memory, not cache: four times the last-level
// cache, at most 1 GiB, and at least 256 MiB (where the cache size is unknown: sysconf gives 0 on
// many Arm systems, or small).
uint64_t read_test_bytes();

struct MatmulPoint {
  DType type = DType::F32;
  double decode_gbps = 0;     // weight bytes per second, one token, all threads
  double prefill_gflops = 0;  // 2 * n_in * n_out * tokens per second, 256 tokens, all threads
  // The same matrix at 32 and 256 tokens, as time = setup + tokens * per-token: the setup (the
  // rows decoded into tiles once per call) per weight byte, and the per-token rate (0 in older
  // probe results: then prefill_gflops stands for both).
  double prefill_setup_s_per_byte = 0;
  double prefill_marginal_gflops = 0;
};

struct ProbeResult {
  MachineIdentity machine;
  std::string date;  // ISO 8601, UTC
  std::vector<BandwidthPoint> bandwidth;
  std::vector<MatmulPoint> matmul;
  // Causal attention of a 512-token prompt over an F16 paged cache (32 heads over 8 KV heads of
  // 64), GFLOP/s counting q.k and p.v; 0 when not measured (older caches).
  double attention_gflops = 0;

  // The best read bandwidth over thread counts, and at exactly `threads` (the nearest measured).
  double read_gbps() const;
  double read_gbps_at(int threads) const;
  // The point for `type`, or nullptr when it was not measured.
  const MatmulPoint* matmul_for(DType type) const;
};

struct ProbeOptions {
  int max_threads = 0;       // 0: every hardware thread
  uint64_t buffer_bytes = 0; // 0: 1 GiB, less when memory is short
  bool quick = false;        // fewer repetitions and types (tests)
  bool progress = true;
};

Result<ProbeResult> run_probe(const ProbeOptions& options);

nlohmann::json to_json(const ProbeResult& r);
Result<ProbeResult> probe_from_json(const nlohmann::json& j);

// Where the probe result is cached: $FLINT_CACHE_DIR, else $XDG_CACHE_HOME/flint, else
// ~/.cache/flint; the file is probe.json.
std::string probe_cache_path();
Status save_probe(const ProbeResult& r, const std::string& path);
// The cached result if there is one for this machine (same identity); nullopt otherwise.
std::optional<ProbeResult> load_cached_probe(const std::string& path);

}  // namespace flint::planner
