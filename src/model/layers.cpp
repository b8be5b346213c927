#include "model/layers.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace flint::model {

void self_attention(const ForwardContext& ctx, std::span<const SequenceInput> batch, int il,
                    const AttentionWeights& w, const AttentionParams& p, const float* x, float* out) {
  const int64_t n_tokens = count_tokens(batch);
  const int64_t hd = p.shape.head_dim;
  const int64_t q_dim = p.shape.n_head * hd, kv_dim = p.shape.n_head_kv * hd;
  float* q = ctx.ws.floats(Workspace::kQ, n_tokens * q_dim);   // [n_tokens, n_head * head_dim]
  float* k = ctx.ws.floats(Workspace::kK, n_tokens * kv_dim);  // [n_tokens, n_head_kv * head_dim]
  float* v = ctx.ws.floats(Workspace::kV, n_tokens * kv_dim);
  // One pass for the three: x quantized once, and a decode step reads their rows as one run
  // instead of three calls that each start cold (k and v are short). Its speed-up was never
  // measured without bias (NOTES, session 18); the result's bits are the same.
  const cpu::MatmulJob qkv[] = {{.w = &w.wq, .x = x, .y = q, .n_tokens = n_tokens},
                                {.w = &w.wk, .x = x, .y = k, .n_tokens = n_tokens},
                                {.w = &w.wv, .x = x, .y = v, .n_tokens = n_tokens}};
  cpu::matmul_many(ctx.pool, cpu::best_kernels(), qkv);
  if (w.q_norm) cpu::rms_norm(q, w.q_norm, q, n_tokens * p.shape.n_head, hd, p.rms_eps);
  if (w.k_norm) cpu::rms_norm(k, w.k_norm, k, n_tokens * p.shape.n_head_kv, hd, p.rms_eps);

  float* attn = ctx.ws.floats(Workspace::kAttn, n_tokens * q_dim);  // [n_tokens, n_head * head_dim]
  const cpu::PagedKvLayer kv = ctx.kv.layer(il);
  int64_t row = 0;
  for (const SequenceInput& s : batch) {
    const auto n = static_cast<int64_t>(s.tokens.size());
    for (int64_t t = 0; t < n; ++t) {
      const int32_t pos = s.pos0 + static_cast<int32_t>(t);
      cpu::rope(q + (row + t) * q_dim, p.shape.n_head, hd, pos, p.rope);
      cpu::rope(k + (row + t) * kv_dim, p.shape.n_head_kv, hd, pos, p.rope);
    }
    cpu::kv_store(kv, s.block_table, s.pos0, n, k + row * kv_dim, v + row * kv_dim);
    cpu::attention(ctx.pool, kv, s.block_table, q + row * q_dim, s.pos0, n, p.shape, attn + row * q_dim);
    row += n;
  }
  ctx.trace("attn_out", il, attn, n_tokens * q_dim);
  cpu::matmul(ctx.pool, w.wo, attn, out, n_tokens);
}

void swiglu(const ForwardContext& ctx, const FfnWeights& w, const float* x, float* out, int64_t n_tokens) {
  const int64_t n_ff = w.gate.n_out;
  float* gate = ctx.ws.floats(Workspace::kGate, n_tokens * n_ff);  // [n_tokens, n_ff]
  float* up = ctx.ws.floats(Workspace::kUp, n_tokens * n_ff);
  const cpu::MatmulJob gate_up[] = {{.w = &w.gate, .x = x, .y = gate, .n_tokens = n_tokens},
                                    {.w = &w.up, .x = x, .y = up, .n_tokens = n_tokens}};
  cpu::matmul_many(ctx.pool, cpu::best_kernels(), gate_up);
  cpu::silu_mul(ctx.pool, gate, up, n_tokens * n_ff);
  cpu::matmul(ctx.pool, w.down, gate, out, n_tokens);
}

void moe(const ForwardContext& ctx, const MoeWeights& w, const float* x, float* out, int64_t n_tokens, int il) {
  const int64_t n_embd = w.router.n_in;
  float* probs = ctx.ws.floats(Workspace::kProbs, n_tokens * w.n_expert);  // [n_tokens, n_expert]
  cpu::matmul(ctx.pool, w.router, x, probs, n_tokens);
  ctx.trace("ffn_moe_logits", il, probs, n_tokens * w.n_expert);

  // Route: per token the top n_used experts and their weights.
  std::vector<std::vector<std::pair<int64_t, float>>> by_expert(static_cast<size_t>(w.n_expert));
  std::vector<int32_t> order(static_cast<size_t>(w.n_expert));
  for (int64_t t = 0; t < n_tokens; ++t) {
    float* pt = probs + t * w.n_expert;
    cpu::softmax(pt, w.n_expert);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + w.n_used, order.end(),
                      [&](int32_t a, int32_t b) { return pt[a] > pt[b] || (pt[a] == pt[b] && a < b); });
    float sum = 0.0f;
    for (int32_t j = 0; j < w.n_used; ++j) sum += pt[order[static_cast<size_t>(j)]];
    for (int32_t j = 0; j < w.n_used; ++j) {
      const int32_t e = order[static_cast<size_t>(j)];
      const float weight = w.renormalize ? pt[e] / sum : pt[e];
      by_expert[static_cast<size_t>(e)].emplace_back(t, weight);
    }
  }

  // Experts in groups of about kGroupRows routed rows (decode: all of them at once): a group's
  // tokens gathered expert by expert (an expert no token chose is never read), the group's gate
  // and up products in one pass over the pool, then its down products, then the weighted sums,
  // expert by expert as ever. The buffers hold one group and are reused.
  constexpr int64_t kGroupRows = 256;
  const int64_t n_ff = w.n_ff_exp;
  const cpu::KernelSet& ks = cpu::best_kernels();
  std::fill(out, out + n_tokens * n_embd, 0.0f);
  // A group's buffers: [group rows, n_embd], [.., n_ff_exp] x 2, [.., n_embd]. A group is at
  // most kGroupRows rows unless its first expert alone has more (at most n_tokens), and never
  // more than all the routed rows.
  const int64_t max_rows = std::min<int64_t>(n_tokens * w.n_used, std::max<int64_t>(kGroupRows, n_tokens));
  float* xs = ctx.ws.floats(Workspace::kExpertIn, max_rows * n_embd);
  float* gate = ctx.ws.floats(Workspace::kGate, max_rows * n_ff);
  float* up = ctx.ws.floats(Workspace::kUp, max_rows * n_ff);
  float* ys = ctx.ws.floats(Workspace::kExpertOut, max_rows * n_embd);
  std::vector<cpu::WeightMatrix> mats;
  std::vector<cpu::MatmulJob> gate_up, ups, down;
  std::vector<int32_t> experts;
  for (int32_t e0 = 0; e0 < w.n_expert;) {
    experts.clear();
    int64_t rows = 0;
    int32_t e1 = e0;
    for (; e1 < w.n_expert; ++e1) {
      const auto m = static_cast<int64_t>(by_expert[static_cast<size_t>(e1)].size());
      if (m == 0) continue;
      if (rows > 0 && rows + m > kGroupRows) break;
      experts.push_back(e1);
      rows += m;
    }
    e0 = e1;
    if (experts.empty()) continue;
    FLINT_CHECK(rows <= max_rows);
    mats.clear();
    mats.reserve(3 * experts.size());  // the jobs point into it
    gate_up.clear();
    ups.clear();
    down.clear();
    int64_t r0 = 0;
    for (const int32_t e : experts) {
      const auto& routed = by_expert[static_cast<size_t>(e)];
      const auto m = static_cast<int64_t>(routed.size());
      // One token (decode) is every expert's input as it is: one activation row for matmul_many
      // to quantize, not a copy per expert.
      const float* xe = x;
      if (n_tokens > 1) {
        for (int64_t i = 0; i < m; ++i) {
          std::copy_n(x + routed[static_cast<size_t>(i)].first * n_embd, n_embd, xs + (r0 + i) * n_embd);
        }
        xe = xs + r0 * n_embd;
      }
      mats.push_back(w.gate_exps.rows(e * n_ff, n_ff));
      gate_up.push_back({.w = &mats.back(), .x = xe, .y = gate + r0 * n_ff, .n_tokens = m});
      mats.push_back(w.up_exps.rows(e * n_ff, n_ff));
      ups.push_back({.w = &mats.back(), .x = xe, .y = up + r0 * n_ff, .n_tokens = m});
      mats.push_back(w.down_exps.rows(static_cast<int64_t>(e) * n_embd, n_embd));
      down.push_back({.w = &mats.back(), .x = gate + r0 * n_ff, .y = ys + r0 * n_embd, .n_tokens = m});
      r0 += m;
    }
    // Every gate slice, then every up slice, each in expert order: a decode step's two threads
    // then each read one tensor forwards (one its gates, the other its ups) rather than both
    // switching between the two every slice. 8 random experts of qwen3-moe-mini's layers from
    // memory, alternated in one process (/tmp/s23/moe1c.cpp): 1.04-1.06x in four runs of five;
    // qwen3-moe-mini decode, the same tokens alternated: 1.009x over 60 rounds (0.985-1.014 in
    // three of 24).
    gate_up.insert(gate_up.end(), ups.begin(), ups.end());
    cpu::matmul_many(ctx.pool, ks, gate_up);
    cpu::silu_mul(ctx.pool, gate, up, rows * n_ff);
    cpu::matmul_many(ctx.pool, ks, down);
    r0 = 0;
    for (const int32_t e : experts) {
      for (const auto& [t, weight] : by_expert[static_cast<size_t>(e)]) {
        float* ot = out + t * n_embd;
        const float* yi = ys + r0++ * n_embd;
        for (int64_t j = 0; j < n_embd; ++j) ot[j] += weight * yi[j];
      }
    }
  }
}

Status embed(std::span<const SequenceInput> batch, const cpu::WeightMatrix& token_embd, float* x) {
  std::vector<int32_t> ids;
  for (const SequenceInput& s : batch) ids.insert(ids.end(), s.tokens.begin(), s.tokens.end());
  return cpu::get_rows(token_embd, ids, x);
}

std::vector<int64_t> logit_rows(std::span<const SequenceInput> batch) {
  std::vector<int64_t> rows;
  int64_t row = 0;
  for (const SequenceInput& s : batch) {
    const auto n = static_cast<int64_t>(s.tokens.size());
    if (s.all_logits) {
      for (int64_t t = 0; t < n; ++t) rows.push_back(row + t);
    } else if (n > 0) {
      rows.push_back(row + n - 1);
    }
    row += n;
  }
  return rows;
}

void output_logits(ThreadPool& pool, std::span<const SequenceInput> batch, const float* norm_w,
                   float eps, const cpu::WeightMatrix& output, const float* x, int64_t n_embd,
                   float* logits) {
  const std::vector<int64_t> rows = logit_rows(batch);
  std::vector<float> h(rows.size() * static_cast<size_t>(n_embd));  // [rows, n_embd]
  for (size_t i = 0; i < rows.size(); ++i) {
    cpu::rms_norm(x + rows[i] * n_embd, norm_w, h.data() + i * n_embd, 1, n_embd, eps);
  }
  cpu::matmul(pool, output, h.data(), logits, static_cast<int64_t>(rows.size()));
}

void add_in_place(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace flint::model
