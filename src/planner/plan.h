// flint plan: will this model fit this machine, and how fast will it run. Computed from the
// model's real tensor bytes (a GGUF header, or a catalog model priced tensor by tensor with
// llama-quantize's type choices) and the machine's memory and bandwidth (catalog figures, or
// what `flint probe` measured here).
//
//   fits     weights + KV(ctx) x users + work buffers <= (memory - OS reserve) x usable fraction
//   decode   ceiling = bandwidth / (weight bytes read per token + KV bytes at the prompt's depth);
//            expected = ceiling x the machine's decode efficiency (here: per-type measured speed)
//   prefill  expected = compute peak for the weight format x prefill efficiency / FLOPs per token
//   users    aggregate decode with every user's token in one step: the dense weights are read
//            once per step, the routed experts the step's tokens chose, each user's KV
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "core/status.h"
#include "planner/catalog.h"
#include "planner/probe.h"

namespace flint::planner {

struct PlanRequest {
  std::string model = {};         // a catalog id ("llama-3.3-70b") or a GGUF file (header only is enough)
  std::string quant = {};         // Q4_K_M, Q5_K_M, Q6_K, Q8_0, F16, BF16, FP8, NVFP4, MXFP4; "" = the
                                  // file's own types (catalog models: Q4_K_M)
  std::vector<std::string> hw = {};  // catalog ids and/or "local"
  int64_t ctx = 0;                // tokens of context per user; 0 = min(trained context, 8192)
  int users = 1;
  int64_t prompt = 512;           // tokens of prompt (time to first token, decode depth)
  DType kv_type = DType::F16;     // F16 or Q8_0
};

// What a model needs, whatever the machine.
struct ModelNeeds {
  std::string name, quant, note;
  std::string arch;
  uint64_t n_params = 0, n_active_params = 0;
  uint64_t weights_bytes = 0;         // all tensor data
  uint64_t bytes_per_token = 0;       // one decode step, one sequence
  uint64_t dense_bytes = 0;           // of those, read once per step whatever the batch
  uint64_t expert_bytes = 0;          // all routed-expert bytes
  uint64_t embd_row_bytes = 0;
  double expert_fraction = 1.0;
  double prompt_macs = 0;             // per prompt token, weight matmuls (no lm_head)
  double decode_macs = 0;             // per generated token (with the lm_head)
  uint64_t kv_layer_token_bytes = 0;  // K + V of one layer for one token
  uint32_t n_layer = 0, n_swa_layers = 0, swa_window = 0;
  uint32_t n_expert_used = 0;  // 0 for dense models
  uint32_t n_head = 0, head_dim = 0;
  uint32_t n_ctx_train = 0;
  struct TypeShare {
    std::string type;  // dtype name, or FP8 / NVFP4
    uint64_t token_bytes = 0;
    double prompt_macs = 0;
    double expert_prompt_macs = 0;  // the part of prompt_macs in routed experts
    // Bytes of the matrices a prompt multiplies: decoded into tiles once per batch (experts:
    // those some token of the batch chose).
    double dense_prompt_bytes = 0, expert_prompt_bytes = 0;
  };
  std::vector<TypeShare> by_type;  // for the measured (local) machine
  model::ModelShape shape;         // to re-price other quantizations
  bool can_requantize = false;

  uint64_t kv_bytes(int64_t ctx) const;  // one sequence holding ctx tokens
  double attention_macs(double ctx) const;
};

struct MachinePlan {
  std::string hw, name, kind;
  bool fits = false;
  uint64_t weights_bytes = 0, kv_bytes = 0, overhead_bytes = 0, usable_bytes = 0;
  int64_t ctx = 0;
  int users = 1;
  int64_t max_ctx = 0;  // the longest context that fits for `users` (0: none)
  int max_users = 0;    // at `ctx`
  std::optional<double> decode_tok_s_ceiling, decode_tok_s_expected, prefill_tok_s_expected, ttft_s,
      aggregate_tok_s;
  std::vector<std::string> unknown;      // what could not be computed, and why
  std::vector<std::string> suggestions;  // when it does not fit: what would
};

struct Plan {
  ModelNeeds model;
  PlanRequest request;
  std::vector<MachinePlan> machines;
};

// `probe` is needed for "local" (nullptr: local is refused).
Result<Plan> make_plan(const PlanRequest& request, const ProbeResult* probe);

// The quantizations flint plan prices, in decreasing size.
const std::vector<std::string>& plan_quants();

nlohmann::json to_json(const Plan& plan);
std::string to_table(const Plan& plan);
std::string to_svg(const Plan& plan);

}  // namespace flint::planner
