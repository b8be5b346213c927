// y = W x through the kernel families: quantize the activations once (llama.cpp's partner format
// for the weight type), then split W's rows over the thread pool.
#include <algorithm>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/repack.h"
#include "core/status.h"

namespace flint::cpu {
namespace {

// Each thread's buffers grow to the largest call and are reused (a forward pass makes hundreds
// of matmul calls): 0 the caller's activations, 1 the kernels' scratch, 2 matmul_many's
// activations, 3 interleaved groups read back into the file's format (run_gemm).
std::vector<uint8_t>& thread_buffer(int which) {
  thread_local std::vector<uint8_t> buffers[4];
  return buffers[which];
}

// At least `bytes` of buf from a cache-line boundary: the kernels' vector loads of their tiles and
// activations would otherwise each straddle two lines (a std::vector's data is 16-byte aligned).
uint8_t* aligned(std::vector<uint8_t>& buf, size_t bytes) {
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);
  return buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
}

// The thread's decode scratch.
uint8_t* thread_scratch(size_t bytes) { return aligned(thread_buffer(1), bytes); }

// Row chunks of one product: several per thread so a slow thread does not hold up the rest;
// whole tiles when many tokens share the call. `all_rows`: the rows of every product in the same
// pass (matmul_many): the chunks are sized on those, so many small products (a token's routed
// experts) are read in long runs of rows rather than cut into short ones that each start cold.
int64_t row_grain(const ThreadPool& pool, const WeightMatrix& w, int64_t n_tokens, int64_t all_rows) {
  int64_t grain = std::clamp<int64_t>(all_rows / (8 * pool.size()), 1, w.n_out);
  if (n_tokens > 4) {
    const int tile = gemm_tile_rows(w.type, w.n_in);
    grain = (grain + tile - 1) / tile * tile;
  }
  if (w.layout == Layout::kRows16) grain = (grain + kRows16Group - 1) / kRows16Group * kRows16Group;  // whole groups
  return grain;
}

// A decode step's smallest chunk: at least 16 KiB of rows, in fours (the kernels' row groups).
// Each thread reads its share of the rows (parallel_for_shares) in chunks that shrink to this,
// so the last leave no thread waiting long for the other.
int64_t decode_min_rows(uint64_t row_bytes) {
  return (static_cast<int64_t>(16384 / std::max<uint64_t>(1, row_bytes)) + 4) / 4 * 4;
}

// A decode chunk's first bytes, asked for at once before its kernel starts: the file-order
// kernels ask for weights about 12 KiB ahead of the block they multiply (the interleaved ones
// leave it to the hardware's prefetchers), so a run of rows that starts cold would otherwise
// wait for its first 12 KiB a few lines at a time. Each thread's share of a product starts such
// a run, and so does each chunk taken from another's; a MoE decode step's experts are ~300 KB
// each. MoE decode ran 2% faster with it (in-process A/B over the same tokens, 30 rounds, three
// runs, when every chunk started a run); where a chunk follows on from the thread's last, the
// lines are on their way already and the asking costs a few instructions.
void prefetch_start(const WeightMatrix& w, int64_t r0, int64_t r1) {
  constexpr uint64_t kStartBytes = 12288;
  const uint8_t* p = w.data + static_cast<uint64_t>(r0) * w.row_bytes;
  const uint64_t bytes = std::min(static_cast<uint64_t>(r1 - r0) * w.row_bytes, kStartBytes);
  for (uint64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 2);
}

// args (rows [args.r0, args.r1) of w) through the kernels. A kRows16 matrix goes to the family's
// interleaved kernel, or, where it has none for this type and token count (prompts; families
// without AVX-512), is read back into the file's format a few groups at a time and multiplied as
// such: the same bytes in the same kernels, so the same results either way.
constexpr int64_t kRows16DirectTokens = 16;

void run_gemm(const KernelSet& ks, const WeightMatrix& w, const GemmArgs& args) {
  if (w.layout == Layout::kRows) {
    FLINT_CHECK(ks.gemm(args));
    return;
  }
  if (ks.gemm_rows16 != nullptr && args.n_tok <= kRows16DirectTokens) {
    // Up to 4 tokens at a time, to the same bits (a token's result does not depend on the others
    // in its call): a few tokens (a prompt's share of one expert) skip the read-back copy.
    // qwen3-moe-mini pp64 ran 509.6 t/s this way against 379.8 with every prompt read back and
    // 475.7 not repacked (`flint bench -p 64 -r 3`, one run each, +-77/117 t/s); 16 is not tuned.
    auto part = [&](int64_t t0) {
      GemmArgs p = args;
      p.n_tok = std::min<int64_t>(4, args.n_tok - t0);
      p.x = args.x + static_cast<uint64_t>(t0) * args.x_row_bytes;
      p.y = args.y + t0 * args.y_stride;
      p.rows16_prefetch = rows16_prefetch_bytes();
      // One part: the rows are read once. With several, the next part reads them again; on the
      // Zen 5 here that found them in L2 even when asked for as a stream (8-token calls with the
      // stream forced: 1.008x Q4_0, 1.048x Q4_K_M, 0.994x the MoE), but another CPU's NTA may
      // keep them out of L2, so only the single pass streams.
      p.rows16_stream = args.n_tok <= 4;
      return p;
    };
    if (ks.gemm_rows16(part(0))) {  // the family takes this type and width: every part then
      for (int64_t t0 = 4; t0 < args.n_tok; t0 += 4) FLINT_CHECK(ks.gemm_rows16(part(t0)));
      return;
    }
  }
  constexpr int64_t kGroups = 4;  // 64 rows: two prompt tiles, 295 KB at n_in 8192
  uint8_t* buf = aligned(thread_buffer(3), static_cast<size_t>(kGroups * kRows16Group * w.row_bytes));
  const int64_t g0 = args.r0 / kRows16Group, g1 = (args.r1 + kRows16Group - 1) / kRows16Group;
  for (int64_t g = g0; g < g1; g += kGroups) {
    const int64_t end = std::min(g1, g + kGroups), first = g * kRows16Group;
    unpack_rows16(w, g, end, buf);
    GemmArgs piece = args;
    piece.w = buf;
    piece.r0 = std::max(args.r0, first) - first;
    piece.r1 = std::min(args.r1, end * kRows16Group) - first;
    piece.y = args.y + first;
    FLINT_CHECK(ks.gemm(piece));
  }
}

// One activation row x: [k] into the weight type's partner format at out.
void quantize_row(const KernelSet& ks, ActFormat f, const float* x, int64_t k, uint8_t* out) {
  switch (f) {
    case ActFormat::kF32: std::copy(x, x + k, reinterpret_cast<float*>(out)); break;
    case ActFormat::kF16: ks.round_f16(x, reinterpret_cast<float*>(out), k); break;
    case ActFormat::kBF16: ks.round_bf16(x, reinterpret_cast<float*>(out), k); break;
    case ActFormat::kBF16Pairs: ks.pack_bf16(x, out, k); break;
    case ActFormat::kQ8B: ks.quantize_q8b(x, reinterpret_cast<ActQ8B*>(out), k); break;
    case ActFormat::kQ8K: ks.quantize_q8k(x, reinterpret_cast<ActQ8K*>(out), k); break;
  }
}

void quantize_rows(ThreadPool& pool, const KernelSet& ks, ActFormat f, const float* x, int64_t n_tokens,
                   int64_t k, uint8_t* out, uint64_t row_bytes) {
  auto some = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) quantize_row(ks, f, x + t * k, k, out + static_cast<uint64_t>(t) * row_bytes);
  };
  if (n_tokens < 8) {
    some(0, n_tokens);
  } else {
    pool.parallel_for(n_tokens, 4, some);
  }
}

}  // namespace

bool matmul_supports(DType type) {
  ActFormat f;
  return act_format_for(type, &f);
}

void matmul(ThreadPool& pool, const KernelSet& ks, const WeightMatrix& w, const float* x, float* y,
            int64_t n_tokens) {
  if (n_tokens <= 0 || w.n_out <= 0) return;
  FLINT_CHECK(matmul_supports(w.type));  // types are checked when weights are bound
  const ActFormat f = act_format(ks, w.type);
  const int64_t k = w.n_in;
  const uint64_t x_row = act_row_bytes(f, k);
  uint8_t* act = aligned(thread_buffer(0), static_cast<size_t>(x_row * static_cast<uint64_t>(n_tokens)));
  quantize_rows(pool, ks, f, x, n_tokens, k, act, x_row);

  const int tile = gemm_tile_rows(w.type, k);
  const size_t scratch = n_tokens > 4 ? gemm_scratch_bytes(w.type, k) : 0;
  auto rows = [&](int64_t begin, int64_t end) {
    uint8_t* buf = thread_scratch(scratch);
    if (n_tokens <= 4) prefetch_start(w, begin, end);
    const GemmArgs args{.type = w.type, .w = w.data, .w_row_bytes = w.row_bytes, .n_in = k,
                        .x = act, .x_row_bytes = x_row, .n_tok = n_tokens, .y = y,
                        .y_stride = w.n_out, .r0 = begin, .r1 = end, .tile_rows = tile,
                        .scratch = buf};
    run_gemm(ks, w, args);
  };
  if (n_tokens <= 4) {
    const int64_t unit = w.layout == Layout::kRows16 ? kRows16Group : 1;  // chunks of whole groups
    pool.parallel_for_shares(w.n_out / unit, std::max<int64_t>(1, decode_min_rows(w.row_bytes) / unit),
                             [&](int64_t begin, int64_t end) { rows(begin * unit, end * unit); });
  } else {
    pool.parallel_for(w.n_out, row_grain(pool, w, n_tokens, w.n_out), rows);
  }
}

void matmul_many(ThreadPool& pool, const KernelSet& ks, std::span<const MatmulJob> jobs) {
  // Each job's activations, quantized once per distinct (x, format, width), for as many tokens
  // as the most any job sharing them asks.
  struct Act {
    const float* x;
    ActFormat f;
    int64_t k, n_tokens;
    uint64_t offset, row_bytes;
  };
  std::vector<Act> acts;
  std::vector<size_t> act_of(jobs.size());
  size_t scratch = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const MatmulJob& job = jobs[j];
    FLINT_CHECK(matmul_supports(job.w->type));
    const ActFormat f = act_format(ks, job.w->type);
    const int64_t k = job.w->n_in;
    size_t a = 0;
    while (a < acts.size() && !(acts[a].x == job.x && acts[a].f == f && acts[a].k == k)) ++a;
    if (a == acts.size()) acts.push_back({job.x, f, k, 0, 0, act_row_bytes(f, k)});
    acts[a].n_tokens = std::max(acts[a].n_tokens, job.n_tokens);
    act_of[j] = a;
    if (job.n_tokens > 4) scratch = std::max(scratch, gemm_scratch_bytes(job.w->type, k));
  }
  uint64_t act_bytes = 0;
  int64_t act_rows = 0;
  for (Act& a : acts) {
    a.offset = act_bytes;  // each input's rows from a cache-line boundary
    act_bytes += (a.row_bytes * static_cast<uint64_t>(a.n_tokens) + 63) / 64 * 64;
    act_rows += a.n_tokens;
  }
  uint8_t* act = aligned(thread_buffer(2), static_cast<size_t>(act_bytes));
  // Every input's rows in one pass: (input, token) in order.
  auto quantize = [&](int64_t begin, int64_t end) {
    size_t a = 0;
    int64_t base = 0;
    for (int64_t i = begin; i < end; ++i) {
      while (i - base >= acts[a].n_tokens) base += acts[a++].n_tokens;
      const Act& in = acts[a];
      quantize_row(ks, in.f, in.x + (i - base) * in.k, in.k, act + in.offset + static_cast<uint64_t>(i - base) * in.row_bytes);
    }
  };
  // Small inputs (a decode step's: one row per expert) on this thread: a parallel region costs
  // more than quantizing them.
  int64_t act_values = 0;
  for (const Act& a : acts) act_values += a.n_tokens * a.k;
  if (act_rows < 8 || act_values <= 16384) {
    quantize(0, act_rows);
  } else {
    pool.parallel_for(act_rows, 4, quantize);
  }
  // Rows [r0, r1) of job j.
  auto run_rows = [&](size_t j, int64_t r0, int64_t r1, uint8_t* scratch_buf) {
    const MatmulJob& job = jobs[j];
    const Act& a = acts[act_of[j]];
    if (job.n_tokens <= 4) prefetch_start(*job.w, r0, r1);
    const GemmArgs args{.type = job.w->type, .w = job.w->data, .w_row_bytes = job.w->row_bytes, .n_in = a.k,
                        .x = act + a.offset, .x_row_bytes = a.row_bytes, .n_tok = job.n_tokens,
                        .y = job.y, .y_stride = job.w->n_out, .r0 = r0, .r1 = r1,
                        .tile_rows = gemm_tile_rows(job.w->type, a.k), .scratch = scratch_buf};
    run_gemm(ks, *job.w, args);
  };
  bool decode = true;
  for (const MatmulJob& job : jobs) decode = decode && job.n_tokens <= 4;
  if (decode) {
    // The jobs' rows end to end (first[j]: job j's first), in shares and chunks as matmul's, a
    // chunk running on from one job into the next: a decode step's experts read in long runs.
    // Counted in units of 16 rows where a job is interleaved in groups of 16 (and every job's
    // rows come in sixteens), so that chunks cut between groups.
    bool rows16 = false, sixteens = true;
    for (const MatmulJob& job : jobs) {
      rows16 = rows16 || job.w->layout == Layout::kRows16;
      sixteens = sixteens && job.w->n_out % kRows16Group == 0;
    }
    const int64_t unit = rows16 && sixteens ? kRows16Group : 1;
    std::vector<int64_t> first(jobs.size() + 1, 0);
    for (size_t j = 0; j < jobs.size(); ++j) first[j + 1] = first[j] + (jobs[j].n_tokens > 0 ? jobs[j].w->n_out / unit : 0);
    const uint64_t row_bytes = jobs.empty() ? 1 : std::max<uint64_t>(1, jobs.front().w->row_bytes);
    pool.parallel_for_shares(first.back(), std::max<int64_t>(1, decode_min_rows(row_bytes) / unit), [&](int64_t begin, int64_t end) {
      auto j = static_cast<size_t>(std::upper_bound(first.begin(), first.end(), begin) - first.begin() - 1);
      for (; begin < end; ++j) {
        const int64_t stop = std::min(end, first[j + 1]);
        if (stop > begin) run_rows(j, (begin - first[j]) * unit, (stop - first[j]) * unit, thread_scratch(0));
        begin = stop;
      }
    });
    return;
  }
  // Prompts: one task per row chunk of every job.
  struct Task {
    size_t job;
    int64_t r0, r1;
  };
  std::vector<Task> tasks;
  int64_t all_rows = 0;
  for (const MatmulJob& job : jobs) all_rows += job.n_tokens > 0 ? job.w->n_out : 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (jobs[j].n_tokens <= 0) continue;
    const int64_t grain = row_grain(pool, *jobs[j].w, jobs[j].n_tokens, all_rows);
    for (int64_t r = 0; r < jobs[j].w->n_out; r += grain) tasks.push_back({j, r, std::min(jobs[j].w->n_out, r + grain)});
  }
  pool.parallel_for(static_cast<int64_t>(tasks.size()), 1, [&](int64_t begin, int64_t end) {
    uint8_t* buf = thread_scratch(scratch);
    for (int64_t i = begin; i < end; ++i) {
      const Task& t = tasks[static_cast<size_t>(i)];
      run_rows(t.job, t.r0, t.r1, buf);
    }
  });
}

void matmul(ThreadPool& pool, const WeightMatrix& w, const float* x, float* y, int64_t n_tokens) {
  matmul(pool, best_kernels(), w, x, y, n_tokens);
}

}  // namespace flint::cpu
