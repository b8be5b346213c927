#include "runtime/engine.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "core/memory.h"
#include "core/progress.h"
#include "model/cost.h"

namespace flint::runtime {
namespace {

constexpr int32_t kBlockSize = model::kKvBlockSize;

}  // namespace

Result<MemoryPlan> plan_memory(const gguf::GgufFile& file, const model::ModelSpec& spec,
                               int32_t n_ctx, int32_t n_seq, int32_t n_batch, DType kv_type,
                               uint64_t repack_bytes) {
  FLINT_ASSIGN_OR_RETURN(const uint64_t kv_per_token, model::kv_bytes_per_token(spec, kv_type));
  FLINT_ASSIGN_OR_RETURN(const MemoryInfo mem, query_memory());
  MemoryPlan p;
  p.weights = model::compute_cost(file, spec).weight_bytes;
  const uint64_t ctx_rounded = (static_cast<uint64_t>(n_ctx) + kBlockSize - 1) / kBlockSize * kBlockSize;
  p.kv_cache = kv_per_token * ctx_rounded * static_cast<uint64_t>(n_seq);
  p.work = model::work_bytes(spec, n_batch, n_ctx);
  // The repacked copies are new anonymous memory (the file's pages they come from are page
  // cache the system may drop): they come out of what is available now.
  p.repacked = repack_bytes;
  p.available = mem.available > repack_bytes ? mem.available - repack_bytes : 0;
  // Weights are mapped (or repacked: read into new memory, never mapped), and they must fit in
  // memory alongside everything else to run at speed; the KV cache and work buffers are new
  // allocations.
  const uint64_t needed = p.kv_cache + p.work;
  // The work buffers grow with the context too (attention scores), so the longest context that
  // fits is solved with both terms; subtracting the work of the requested (maybe absurd) context
  // instead would leave no room and suggest 0 tokens.
  const uint64_t fixed_work = model::work_bytes(spec, n_batch, 0);
  // Two limits: what is free now for new allocations, and the machine (or cgroup) as a whole,
  // which must also hold the mapped weights to run without swapping or freezing.
  const uint64_t machine = mem.cgroup_limit ? std::min(*mem.cgroup_limit, mem.total) : mem.total;
  const uint64_t beside_weights = machine > p.weights ? machine - p.weights : 0;
  const uint64_t limit = std::min(p.available, beside_weights);
  const uint64_t room = limit > fixed_work ? limit - fixed_work : 0;
  const uint64_t per_ctx_token =
      kv_per_token * static_cast<uint64_t>(n_seq) + (model::work_bytes(spec, 0, 1) - model::work_bytes(spec, 0, 0));
  p.max_ctx_that_fits = static_cast<int32_t>(
      std::min<uint64_t>(INT32_MAX, room / per_ctx_token) / kBlockSize * kBlockSize);
  if (needed > limit) {
    const bool weights_bound = beside_weights < p.available;
    return error("not enough memory: a context of {} tokens x {} sequence(s) needs a {} KV cache "
                 "plus {} of work buffers, but only {} {}; {}", n_ctx, n_seq,
                 format_bytes(p.kv_cache), format_bytes(p.work), format_bytes(limit),
                 weights_bound ? fmt::format("remains of this machine's {}{} beside the {} of weights",
                                             format_bytes(machine), mem.cgroup_limit ? " (cgroup limit)" : "",
                                             format_bytes(p.weights))
                               : std::string(mem.cgroup_limit ? "is available (cgroup limit)" : "is available"),
                 p.max_ctx_that_fits >= kBlockSize
                     ? fmt::format("a context of {} tokens would fit (use --ctx)", p.max_ctx_that_fits)
                     : std::string("no context fits: use a smaller quantization of the model"));
  }
  return p;
}

Result<std::unique_ptr<Engine>> Engine::load(const EngineOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Engine> e(new Engine());
  FLINT_ASSIGN_OR_RETURN(e->file_, gguf::GgufFile::open(options.model_path));
  // The weights bound as views first (no copies): a file the model cannot use fails here,
  // before anything is read or allocated. What the model needs (KV cache, work buffers, the
  // repacked copies) is then planned from the metadata, and the weights bound again, repacked.
  FLINT_ASSIGN_OR_RETURN(e->model_, model::load_model(e->file_, {.repack = false}));
  const model::ModelSpec spec = e->model_->spec();
  if (options.n_ctx < 0) return error("the context length must be positive, not {}", options.n_ctx);
  if (options.n_threads < 0 || options.n_threads > model::kMaxThreads) {
    return error("--threads {} is out of range (0 for all cores, or 1..{})", options.n_threads, model::kMaxThreads);
  }
  e->n_ctx_ = options.n_ctx > 0 ? options.n_ctx : std::min<int32_t>(kDefaultMaxCtx, static_cast<int32_t>(spec.n_ctx_train));
  if (e->n_ctx_ <= 0) return error("{}: the model gives no context length: pass --ctx", options.model_path);
  e->n_seq_max_ = std::max(1, options.n_seq);
  e->n_batch_ = std::max(1, options.n_batch);
  const uint64_t repack_bytes = options.repack ? model::RepackedWeights::planned_bytes(e->file_) : 0;
  FLINT_ASSIGN_OR_RETURN(e->plan_, plan_memory(e->file_, spec, e->n_ctx_, e->n_seq_max_, e->n_batch_,
                                               options.kv_type, repack_bytes));

  // Touch every page of the mapped weights once, with progress, so the first token is not
  // slowed by page faults and a slow disk shows as progress rather than a hang; the tensors the
  // model repacks are read (and the progress advanced) as it copies them, never mapped.
  e->pool_ = std::make_unique<ThreadPool>(options.n_threads);
  {
    uint64_t total = 0;
    for (const gguf::TensorInfo& t : e->file_.tensors()) total += t.n_bytes;
    Progress progress("loading", total, options.progress && total > (256ull << 20));
    volatile uint8_t sink = 0;
    for (const gguf::TensorInfo& t : e->file_.tensors()) {
      if (options.repack && model::RepackedWeights::will_repack(e->file_, t)) continue;
      const std::span<const uint8_t> data = e->file_.tensor_data(t);
      for (size_t i = 0; i < data.size(); i += 4096) sink = sink + data[i];
      progress.advance(t.n_bytes);
    }
    if (options.repack) {
      FLINT_ASSIGN_OR_RETURN(e->model_, model::load_model(e->file_, {.repack = true, .pool = e->pool_.get(),
                                                                     .progress = &progress}));
    }
  }

  const int32_t blocks_per_seq = (e->n_ctx_ + kBlockSize - 1) / kBlockSize;
  FLINT_ASSIGN_OR_RETURN(KvCache kv, KvCache::create({.type = options.kv_type,
                                                      .n_layer = static_cast<int32_t>(spec.n_layer),
                                                      .kv_dim = static_cast<int32_t>(spec.n_head_kv * spec.head_dim_k),
                                                      .head_dim = static_cast<int32_t>(spec.head_dim_k),
                                                      .block_size = kBlockSize,
                                                      .n_blocks = blocks_per_seq * e->n_seq_max_}));
  e->kv_ = std::make_unique<KvCache>(std::move(kv));
  e->tracer_ = model::Tracer(options.trace_dir);
  e->load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return e;
}

Result<int32_t> Engine::add_sequence() {
  if (static_cast<int32_t>(seqs_.size()) >= n_seq_max_) {
    return error("all {} sequence slots are in use", n_seq_max_);
  }
  const int32_t id = next_seq_++;
  seqs_[id] = Sequence{};
  return id;
}

void Engine::remove_sequence(int32_t seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  kv_->release(it->second.blocks);
  seqs_.erase(it);
}

int32_t Engine::sequence_length(int32_t seq) const {
  auto it = seqs_.find(seq);
  return it == seqs_.end() ? 0 : it->second.n_past;
}

void Engine::truncate_sequence(int32_t seq, int32_t n) {
  auto it = seqs_.find(seq);
  if (it != seqs_.end()) it->second.n_past = std::clamp(n, 0, it->second.n_past);
}

Status Engine::forward(std::span<const model::SequenceInput> batch, float* logits) {
  const model::ForwardContext ctx{.pool = *pool_, .kv = kv_->view(), .trace = tracer_, .ws = workspace_};
  return model_->forward(ctx, batch, logits);
}

Result<std::vector<float>> Engine::decode(std::span<const DecodeRequest> requests) {
  // Validate everything before running anything.
  std::set<int32_t> named;
  for (const DecodeRequest& r : requests) {
    auto it = seqs_.find(r.seq);
    if (it == seqs_.end()) return error("unknown sequence {}", r.seq);
    if (!named.insert(r.seq).second) return error("sequence {} appears twice in one batch", r.seq);
    if (r.tokens.empty()) return error("a request for sequence {} has no tokens", r.seq);
    const int64_t total = static_cast<int64_t>(it->second.n_past) + static_cast<int64_t>(r.tokens.size());
    if (total > n_ctx_) {
      return error("{} tokens do not fit the context of {} ({} already in it, {} new): use a "
                   "longer --ctx or a shorter prompt", total, n_ctx_, it->second.n_past, r.tokens.size());
    }
    for (size_t i = 0; i < r.tokens.size(); ++i) {
      if (r.tokens[i] < 0 || static_cast<uint32_t>(r.tokens[i]) >= spec().n_vocab) {
        return error("token {} at position {} is outside the vocabulary (0..{})", r.tokens[i], i, spec().n_vocab - 1);
      }
    }
  }
  for (const DecodeRequest& r : requests) {
    Sequence& s = seqs_[r.seq];
    if (!kv_->reserve(s.blocks, s.n_past + static_cast<int32_t>(r.tokens.size()))) {
      return error("the KV cache is full ({} blocks of {} tokens)", kv_->total_blocks(), kv_->block_size());
    }
  }

  // Run in chunks of at most n_batch tokens in all, each sequence advancing in order.
  const int64_t n_vocab = spec().n_vocab;
  std::vector<float> out;
  std::vector<size_t> done(requests.size(), 0);
  std::vector<std::vector<float>> per_request(requests.size());
  for (;;) {
    std::vector<model::SequenceInput> batch;
    std::vector<size_t> which;
    int64_t budget = n_batch_;
    for (size_t i = 0; i < requests.size() && budget > 0; ++i) {
      const DecodeRequest& r = requests[i];
      const size_t left = r.tokens.size() - done[i];
      if (left == 0) continue;
      const auto take = static_cast<size_t>(std::min<int64_t>(budget, static_cast<int64_t>(left)));
      const Sequence& s = seqs_[r.seq];
      batch.push_back({.tokens = r.tokens.subspan(done[i], take), .pos0 = s.n_past,
                       .block_table = s.blocks, .all_logits = r.all_logits});
      // A non-final chunk of a last-logits-only request still yields one row; it is dropped below.
      which.push_back(i);
      budget -= static_cast<int64_t>(take);
    }
    if (batch.empty()) break;
    std::vector<float> logits(static_cast<size_t>(model::count_logit_rows(batch) * n_vocab));
    FLINT_RETURN_IF_ERROR(forward(batch, logits.data()));
    size_t row = 0;
    for (size_t b = 0; b < batch.size(); ++b) {
      const size_t i = which[b];
      const size_t n = batch[b].tokens.size();
      const size_t rows = requests[i].all_logits ? n : 1;
      const bool final_chunk = done[i] + n == requests[i].tokens.size();
      if (requests[i].all_logits || final_chunk) {
        if (batch.size() == 1 && per_request[i].empty()) {
          per_request[i] = std::move(logits);  // the whole of it (a decode step's): no copy
        } else {
          per_request[i].insert(per_request[i].end(), logits.begin() + static_cast<int64_t>(row * n_vocab),
                                logits.begin() + static_cast<int64_t>((row + rows) * n_vocab));
        }
      }
      row += rows;
      done[i] += n;
      seqs_[requests[i].seq].n_past += static_cast<int32_t>(n);
    }
  }
  if (per_request.size() == 1) return std::move(per_request.front());
  for (auto& v : per_request) out.insert(out.end(), v.begin(), v.end());
  return out;
}

}  // namespace flint::runtime
