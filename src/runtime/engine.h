// Engine: a loaded model, its paged KV cache and its sequences. decode() runs a batch of
// sequences (each with new tokens) through the model and returns the logits asked for; the CLI
// is a batch of one, a server is the same call with many sequences.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "gguf/gguf_file.h"
#include "model/transformer.h"
#include "runtime/kv_cache.h"

namespace flint::runtime {

inline constexpr int32_t kDefaultMaxCtx = 4096;

struct EngineOptions {
  std::string model_path = {};
  int32_t n_ctx = 0;           // tokens of context per sequence; 0: the model's trained length,
                               // capped at kDefaultMaxCtx so the KV cache stays small
  int32_t n_seq = 1;           // sequences that may be live at once
  int32_t n_batch = 512;       // tokens per forward pass (longer prompts run in chunks)
  DType kv_type = DType::F16;  // F16 or F32
  int n_threads = 0;           // 0: all hardware threads
  bool progress = true;        // show loading progress on stderr
  bool repack = true;          // model::LoadOptions::repack
  std::string trace_dir = {};  // dump named intermediates here when set
};

// What running a model will take, computed before anything is allocated.
struct MemoryPlan {
  uint64_t weights = 0;   // from the file: mapped, or repacked (model::RepackedWeights)
  uint64_t repacked = 0;  // of those, the bytes repacked into new memory
  uint64_t kv_cache = 0;
  uint64_t work = 0;      // activations of one forward pass
  uint64_t available = 0;
  int32_t max_ctx_that_fits = 0;
};

struct DecodeRequest {
  int32_t seq = 0;
  std::span<const int32_t> tokens;
  bool all_logits = false;  // logits for every token, or only the last
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> load(const EngineOptions& options);

  const model::ModelSpec& spec() const { return model_->spec(); }
  const gguf::GgufFile& file() const { return file_; }
  // Bytes of weights the model holds repacked rather than mapped (model::LoadOptions::repack).
  uint64_t repacked_bytes() const { return model_->repacked_bytes(); }
  int32_t n_ctx() const { return n_ctx_; }
  const MemoryPlan& memory_plan() const { return plan_; }
  double load_seconds() const { return load_seconds_; }
  // The threads forward passes run on (for work timed alongside them, as bench's read test).
  ThreadPool& pool() { return *pool_; }

  Result<int32_t> add_sequence();
  void remove_sequence(int32_t seq);
  int32_t sequence_length(int32_t seq) const;  // tokens already in its cache
  // Forgets a sequence's tokens from position n on (to re-run or branch a conversation).
  void truncate_sequence(int32_t seq, int32_t n);

  // Appends each request's tokens to its sequence and returns the logits, [rows, n_vocab], rows
  // in request order. A request that would overflow the context is an error and nothing runs.
  Result<std::vector<float>> decode(std::span<const DecodeRequest> requests);

 private:
  struct Sequence {
    std::vector<int32_t> blocks;
    int32_t n_past = 0;
  };
  Engine() = default;
  Status forward(std::span<const model::SequenceInput> batch, float* logits);

  gguf::GgufFile file_;
  std::unique_ptr<ThreadPool> pool_;  // before model_: the model keeps it (repacking) while it lives
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<KvCache> kv_;
  std::map<int32_t, Sequence> seqs_;
  int32_t next_seq_ = 0;
  int32_t n_ctx_ = 0;
  int32_t n_seq_max_ = 1;
  int32_t n_batch_ = 512;
  MemoryPlan plan_;
  model::Tracer tracer_;
  model::Workspace workspace_;  // forward passes' scratch, kept between them
  double load_seconds_ = 0;
};

// The memory a model needs for n_ctx tokens x n_seq sequences, against what the machine has;
// an error with the numbers (and the longest context that would fit) when it does not fit.
Result<MemoryPlan> plan_memory(const gguf::GgufFile& file, const model::ModelSpec& spec,
                               int32_t n_ctx, int32_t n_seq, int32_t n_batch, DType kv_type,
                               uint64_t repack_bytes = 0);

}  // namespace flint::runtime
