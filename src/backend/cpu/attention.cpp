#include "backend/cpu/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "core/half.h"
#include "core/status.h"

namespace flint::cpu {
namespace {

// src[0 .. n) to dst + i * stride for each i, as F16 or F32.
void store_strided(DType type, uint8_t* dst, uint64_t stride, const float* src, int32_t n) {
  for (int32_t i = 0; i < n; ++i, dst += stride) {
    if (type == DType::F32) {
      std::memcpy(dst, src + i, sizeof(float));
    } else {
      const uint16_t h = fp32_to_fp16(src[i]);
      std::memcpy(dst, &h, sizeof(h));
    }
  }
}

}  // namespace

void kv_store(const PagedKvLayer& kv, std::span<const int32_t> block_table, int32_t pos0, int64_t n,
              const float* k, const float* v) {
  FLINT_CHECK(kv.values_offset >= kv.keys_bytes());  // values never over keys (a layer built without it)
  const int32_t n_head_kv = kv.kv_dim / kv.head_dim;
  for (int64_t t = 0; t < n; ++t) {
    const int32_t pos = pos0 + static_cast<int32_t>(t);
    const int32_t block = block_table[static_cast<size_t>(pos / kv.block_size)];
    const uint64_t slot = static_cast<uint64_t>(pos % kv.block_size);
    for (int32_t h = 0; h < n_head_kv; ++h) {
      const int64_t off = t * kv.kv_dim + static_cast<int64_t>(h) * kv.head_dim;
      store_strided(kv.type, kv.keys(block, h) + slot * kv.element_bytes(), kv.column_bytes(), k + off, kv.head_dim);
      store_strided(kv.type, kv.values(block, h) + slot * kv.row_bytes(), kv.element_bytes(), v + off, kv.head_dim);
    }
  }
}

void attention(ThreadPool& pool, const PagedKvLayer& kv, std::span<const int32_t> block_table,
               const float* q, int32_t pos0, int64_t n, const AttentionShape& s, float* out) {
  attention(pool, best_kernels(), kv, block_table, q, pos0, n, s, out);
}

namespace {

// Positions per chunk: a task reads a chunk of the cache for every KV head, and a decode step at
// depth splits over chunks (not only over KV heads, of which a model may have few).
constexpr int32_t kChunkPositions = 128;

// Whole blocks of about kChunkPositions positions (one block when blocks are larger).
int64_t chunk_positions(int32_t block_size) {
  return static_cast<int64_t>(std::max<int32_t>(1, kChunkPositions / block_size)) * block_size;
}

// How far ahead (in blocks of a task's read order) the attention kernels ask for the cache's next
// keys or values: two blocks ahead read 13.1-13.4 GB/s where one block read 11.0-11.4 (a decode
// step's attention at depth 4096 on one thread of a Zen 5, the kernels alone, when a block's
// values followed its keys); with keys and values in runs (f75eddd), on two threads, one, two
// and four blocks ahead measured within the noise of each other (5.0-5.5 ms), eight 5.5-6.1;
// with a call per run of blocks (the values read KV head by KV head, so two blocks ahead is the
// same head two blocks on), one block 4.8-5.1 ms, two to six 3.5-3.9.
constexpr int64_t kAheadBlocks = 2;

// Below this many (token, chunk) partials a round's combine runs on the calling thread.
constexpr int64_t kSplitCombineChunks = 4;

// Chunks whose partials are folded into one first (a group's), in order, before a token's groups
// are: a decode step's worker folds each group whose chunks it read as soon as the last is done,
// from its own cache, and the step's last worker folds the groups. Combined in one pass after the
// tasks, half of the partials came from the other core's cache: 0.35-0.4 ms of attention over 16
// layers of llama3-1b at depth 4096 on two threads, 0.18 ms on one. Folded where read, attention
// alone (the same cache alternated in one process, two threads): llama3-1b's shape at depth 4096
// 1.04-1.05x, 1024 1.04-1.08x, qwen3-moe-mini's at 4096 1.07-1.09x.
constexpr int64_t kGroupChunks = 8;

// Bytes of per-chunk partial results one round of tokens may hold.
constexpr uint64_t kPartialBytes = 4u << 20;

// A decode step whose layer's cache (keys and values up to the token) is at least this many
// bytes asks for it as a stream (AttnBlocks::stream): the step reads that times the layers, far
// more than a last-level cache holds, so none of it is still cached for the next step, and asked
// for into L2 it pushed out what is. llama3-1b Q4_K_M, the same tokens alternated in one process
// (Zen 5, 16 rounds): at depth 4096 (8 MiB a layer) 1.033x, 1.053x, qwen3-moe-mini 1.023x; at
// 2048 1.001x, 1024 1.015x, 512 0.996x; at depth 0-128 0.985x (its cache stays in the L3 from
// one step to the next).
constexpr uint64_t kStreamBytes = 4u << 20;

// One token's attention over one chunk of positions (or a group of chunks), for every query
// head: the softmax's running max m and sum l, and the unnormalized weighted values o.
struct PartialView {
  float* o;  // [n_head][head_dim]
  float* m;  // [n_head]
  float* l;  // [n_head]
};

}  // namespace

AttentionScratch attention_scratch_bytes(const AttentionShape& s, int32_t block_size, int n_threads) {
  // partials, a chunk's and a group's: max(kPartialBytes, per_chunk * (ceil(n_ctx / chunk) +
  // ceil(n_ctx / group))) <= kPartialBytes + 2 * per_chunk + per_chunk * (1 / chunk + 1 / group)
  // * n_ctx; per worker, scores [n_head][chunk] and the combine's weights (a float per head per
  // chunk of a group and per group).
  const uint64_t chunk = static_cast<uint64_t>(chunk_positions(block_size)), group = chunk * kGroupChunks;
  const uint64_t heads = static_cast<uint64_t>(s.n_head);
  const uint64_t per_chunk = sizeof(float) * heads * (s.head_dim + 2);
  const uint64_t threads = static_cast<uint64_t>(std::max(1, n_threads));
  const uint64_t scores = sizeof(float) * heads * chunk;
  const uint64_t weights = sizeof(float) * heads;
  return {.fixed = kPartialBytes + 2 * per_chunk + threads * (scores + weights * (kGroupChunks + 1)),
          .per_position = (per_chunk + chunk - 1) / chunk + (per_chunk + group - 1) / group +
                          (threads * weights + group - 1) / group};
}

// A token's chunks are folded in order into groups of kGroupChunks, and the groups in order (a
// single group's chunks straight into the result), with the same arithmetic whether the token is
// alone or in a batch and on any number of threads, so its result does not depend on them.
void attention(ThreadPool& pool, const KernelSet& ks, const PagedKvLayer& kv,
               std::span<const int32_t> block_table, const float* q, int32_t pos0, int64_t n,
               const AttentionShape& s, float* out) {
  if (n <= 0) return;
  FLINT_CHECK(kv.values_offset >= kv.keys_bytes());
  const int32_t group = s.n_head / s.n_head_kv, d = s.head_dim;
  const int64_t q_stride = static_cast<int64_t>(s.n_head) * d;
  const bool f16 = kv.type == DType::F16;
  const auto group_scores = f16 ? ks.group_scores_f16 : ks.group_scores_f32;
  const auto group_accum = f16 ? ks.group_accum_f16 : ks.group_accum_f32;
  const int64_t chunk = chunk_positions(kv.block_size), max_blocks = chunk / kv.block_size;
  const int64_t max_chunks = (pos0 + n + chunk - 1) / chunk;  // of the last token
  const int64_t max_groups = (max_chunks + kGroupChunks - 1) / kGroupChunks;
  const int64_t partial_floats = q_stride + 2 * s.n_head;
  const int64_t per_token = (max_chunks + max_groups) * partial_floats;  // its chunks', then its groups'
  const int64_t round = std::clamp<int64_t>(static_cast<int64_t>(kPartialBytes / (sizeof(float) * per_token)), 1, n);
  // Every entry a token reads is written first (its chunks and groups up to its position): no
  // zero fill.
  const std::unique_ptr<float[]> partials(new float[static_cast<size_t>(round * per_token)]);
  auto view = [&](float* base) { return PartialView{base, base + q_stride, base + q_stride + s.n_head}; };
  auto partial = [&](int64_t slot, int64_t c) { return view(partials.get() + slot * per_token + c * partial_floats); };
  auto group_partial = [&](int64_t slot, int64_t g) { return partial(slot, max_chunks + g); };
  auto n_chunks_of = [&](int64_t t) { return (pos0 + t + chunk) / chunk; };  // chunks up to position pos0 + t

  // Folds parts [0, n_parts) of query heads [h0, h0 + run) into `to` or, when `to` is nullptr,
  // into out's rows [h0, h0 + run) of token t, normalized:
  //   M = max_c m_c,  w_c = e^(m_c - M),  L = sum_c w_c l_c,  O = sum_c w_c o_c  (c in order),
  //   to = (O, M, L), or out = O / L.
  // Each part's heads are read side by side, part by part (read head by head: runs of 256 bytes
  // 8 KiB apart, a combine over 33 chunks took twice as long). w: [part][run], the weights.
  auto fold = [&](std::vector<float>& w, auto part, int64_t n_parts, int32_t h0, int32_t run, const PartialView* to,
                  int64_t t) {
    w.resize(static_cast<size_t>(n_parts * run));
    float* o_to = (to != nullptr ? to->o : out + t * q_stride) + static_cast<int64_t>(h0) * d;
    for (int32_t r = 0; r < run; ++r) {
      const int32_t h = h0 + r;
      float mx = part(0).m[h];
      for (int64_t c = 1; c < n_parts; ++c) mx = std::max(mx, part(c).m[h]);
      float sum = 0.0f;
      for (int64_t c = 0; c < n_parts; ++c) {
        const PartialView pv = part(c);
        w[static_cast<size_t>(c * run + r)] = std::exp(pv.m[h] - mx);
        sum += w[static_cast<size_t>(c * run + r)] * pv.l[h];
      }
      if (to != nullptr) {
        to->m[h] = mx;
        to->l[h] = sum;
      } else {
        for (int64_t c = 0; c < n_parts; ++c) w[static_cast<size_t>(c * run + r)] /= sum;
      }
    }
    std::fill(o_to, o_to + static_cast<int64_t>(run) * d, 0.0f);  // [run][d]
    for (int64_t c = 0; c < n_parts; ++c) {
      const float* o = part(c).o + static_cast<int64_t>(h0) * d;  // [run][d]
      for (int32_t r = 0; r < run; ++r) {
        const float wc = w[static_cast<size_t>(c * run + r)];
        for (int32_t i = 0; i < d; ++i) o_to[r * d + i] += wc * o[r * d + i];
      }
    }
  };
  // Group g's chunks of token t (slot) into its group partial.
  auto fold_group = [&](std::vector<float>& w, int64_t slot, int64_t t, int64_t g, int32_t h0, int32_t run) {
    const int64_t c0 = g * kGroupChunks, parts = std::min(kGroupChunks, n_chunks_of(t) - c0);
    const PartialView to = group_partial(slot, g);
    fold(w, [&](int64_t c) { return partial(slot, c0 + c); }, parts, h0, run, &to, t);
  };
  // Token t's groups into out; a single group's chunks straight into out.
  auto fold_token = [&](std::vector<float>& w, int64_t slot, int64_t t, int32_t h0, int32_t run) {
    const int64_t groups = (n_chunks_of(t) + kGroupChunks - 1) / kGroupChunks;
    if (groups == 1) {
      fold(w, [&](int64_t c) { return partial(slot, c); }, n_chunks_of(t), h0, run, nullptr, t);
    } else {
      fold(w, [&](int64_t g) { return group_partial(slot, g); }, groups, h0, run, nullptr, t);
    }
  };

  for (int64_t t0 = 0; t0 < n; t0 += round) {
    const int64_t nt = std::min(round, n - t0);
    // One token: each chunk is read once. Several: each chunk by every token, so kept in cache.
    const uint64_t cache_bytes = 2 * static_cast<uint64_t>(pos0 + t0 + 1) * kv.kv_dim * kv.element_bytes();
    const bool stream = nt == 1 && cache_bytes >= kStreamBytes;
    // One token: what's left to do of each group (its chunks) and of the token (its groups).
    const int64_t n_groups = nt == 1 ? (n_chunks_of(t0) + kGroupChunks - 1) / kGroupChunks : 0;
    std::unique_ptr<std::atomic<int64_t>[]> left;
    if (nt == 1) {
      left.reset(new std::atomic<int64_t>[static_cast<size_t>(n_groups + 1)]);
      for (int64_t g = 0; g < n_groups; ++g) {
        const int64_t chunks = std::min(kGroupChunks, n_chunks_of(t0) - g * kGroupChunks);
        left[static_cast<size_t>(g)].store(chunks, std::memory_order_relaxed);
      }
      left[static_cast<size_t>(n_groups)].store(n_groups, std::memory_order_relaxed);
    }
    // Tasks chunk-major: tokens next to each other in the task order read the same chunk.
    const int64_t tasks = nt * max_chunks;
    auto run_tasks = [&](int64_t begin, int64_t end) {
      // [n_head][chunk]; each task writes what it reads
      const std::unique_ptr<float[]> scores(new float[static_cast<size_t>(s.n_head * chunk)]);
      std::vector<float> w;
      // A task's read order, a block at a time: its blocks' keys, their values, then (one token:
      // the thread's next task is mostly the next chunk) the next chunk's first keys. Each kernel
      // asks for what the task reads kAheadBlocks blocks after the one it is on.
      std::vector<const uint8_t*> order(static_cast<size_t>(2 * max_blocks + kAheadBlocks));
      for (int64_t task = begin; task < end; ++task) {
        const int64_t c = task / nt, slot = task % nt, t = t0 + slot;
        const int64_t n_pos = pos0 + t + 1, j_begin = c * chunk;
        if (j_begin >= n_pos) continue;  // past this token's causal mask
        const int64_t len = std::min(chunk, n_pos - j_begin);
        const float* qt = q + t * q_stride;
        const PartialView pv = partial(slot, c);
        const int64_t n_blocks = (len + kv.block_size - 1) / kv.block_size;
        auto block_at = [&](int64_t j) { return block_table[static_cast<size_t>(j / kv.block_size)]; };
        for (int64_t b = 0; b < n_blocks; ++b) {
          order[static_cast<size_t>(b)] = kv.keys(block_at(j_begin + b * kv.block_size), 0);
          order[static_cast<size_t>(n_blocks + b)] = kv.values(block_at(j_begin + b * kv.block_size), 0);
        }
        for (int64_t i = 0; i < kAheadBlocks; ++i) {
          const int64_t j = j_begin + chunk + i * kv.block_size;
          const bool next_task_reads = nt == 1 && j < n_pos;
          order[static_cast<size_t>(2 * n_blocks + i)] = next_task_reads ? kv.keys(block_at(j), 0) : nullptr;
        }
        // One call per run of blocks covers their KV heads (a block's keys, or values, lie side
        // by side).
        const uint64_t head_bytes = static_cast<uint64_t>(kv.block_size) * kv.row_bytes();
        const AttnKeys keys{.blocks = order.data(), .next = order.data() + kAheadBlocks, .block_size = kv.block_size,
                            .stride = kv.column_bytes(), .n = len, .d = d, .group = group, .heads = s.n_head_kv,
                            .head_bytes = head_bytes, .stream = stream};
        group_scores(keys, qt, s.scale, scores.get(), chunk);
        ks.softmax_rows(scores.get(), s.n_head, len, chunk, pv.m, pv.l);
        std::fill(pv.o, pv.o + q_stride, 0.0f);
        const AttnRows rows{.blocks = order.data() + n_blocks, .next = order.data() + n_blocks + kAheadBlocks,
                            .block_size = kv.block_size, .stride = kv.row_bytes(), .n = len, .d = d, .group = group,
                            .heads = s.n_head_kv, .head_bytes = head_bytes, .stream = stream};
        group_accum(rows, scores.get(), chunk, pv.o);
        if (nt > 1) continue;
        // The group's last chunk done, and then the token's last group: each fold sees what the
        // workers that counted down before it wrote (acquire-release).
        const int64_t g = c / kGroupChunks;
        if (left[static_cast<size_t>(g)].fetch_sub(1, std::memory_order_acq_rel) != 1) continue;
        if (n_groups > 1) fold_group(w, 0, t, g, 0, s.n_head);
        if (left[static_cast<size_t>(n_groups)].fetch_sub(1, std::memory_order_acq_rel) == 1) {
          fold_token(w, 0, t, 0, s.n_head);
        }
      }
    };
    if (nt == 1) {
      // One token (a decode step): each thread reads its share of the chunks in order, so what it
      // asks for after its task is what it reads next (but at its share's end). Handed out from
      // one counter, every other task started cold (its first keys never asked for ahead):
      // attention at depth 4096 took 3.5-4.0 ms of a qwen3-moe-mini step. The folds run in the
      // tasks (above).
      pool.parallel_for_shares(tasks, 1, run_tasks);
      continue;
    }
    // A few tasks per hand-out (about 8 per worker per round), so the buffers are not allocated
    // once per task.
    pool.parallel_for(tasks, std::max<int64_t>(1, tasks / (8 * pool.size())), run_tasks);
    // A task per token and query head, or for a few chunks in all (a short context) one task:
    // handing out the tasks and reading the partials another core wrote cost more than the folds.
    const int64_t heads = nt * s.n_head;
    const int64_t combine_grain = nt * max_chunks < kSplitCombineChunks ? heads : std::max<int64_t>(1, heads / (4 * pool.size()));
    pool.parallel_for(heads, combine_grain, [&](int64_t begin, int64_t end) {
      std::vector<float> w;
      for (int64_t task = begin; task < end;) {  // runs of heads of one token
        const int64_t slot = task / s.n_head, t = t0 + slot;
        const int32_t h0 = static_cast<int32_t>(task % s.n_head);
        const int32_t run = static_cast<int32_t>(std::min<int64_t>(s.n_head - h0, end - task));
        const int64_t groups = (n_chunks_of(t) + kGroupChunks - 1) / kGroupChunks;
        for (int64_t g = 0; groups > 1 && g < groups; ++g) fold_group(w, slot, t, g, h0, run);
        fold_token(w, slot, t, h0, run);
        task += run;
      }
    });
  }
}

}  // namespace flint::cpu
