// The decoder-only transformer as flint runs it: the Model interface the runtime calls, the
// batch it takes, and the weights of one block. Architecture files (arch/*.cpp) bind tensors by
// name and describe their forward pass with the shared layers of layers.h.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/cpu/attention.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/weights.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "gguf/gguf_file.h"
#include "model/binder.h"
#include "model/model_spec.h"

namespace flint::model {

// One sequence's part of a batch: its new tokens at positions pos0.., and the KV blocks that
// cover positions 0 .. pos0 + tokens.size() - 1.
struct SequenceInput {
  std::span<const int32_t> tokens;
  int32_t pos0 = 0;
  std::span<const int32_t> block_table;
  bool all_logits = false;  // logits for every token, or only for the last
};

// The paged KV cache pool as the model sees it: layer l's K of block b starts at
// base + b * block_stride + l * layer_stride, its V values_offset bytes later (see
// backend/cpu/attention.h); the runtime's pool is layer-major (runtime/kv_cache.h).
struct KvCacheView {
  DType type = DType::F16;
  uint8_t* base = nullptr;
  uint64_t block_stride = 0;
  uint64_t layer_stride = 0;
  uint64_t values_offset = 0;
  int32_t block_size = 16;
  int32_t kv_dim = 0;
  int32_t head_dim = 0;

  cpu::PagedKvLayer layer(int32_t il) const {
    return {.type = type, .base = base + static_cast<uint64_t>(il) * layer_stride,
            .block_stride = block_stride, .values_offset = values_offset, .block_size = block_size,
            .kv_dim = kv_dim, .head_dim = head_dim};
  }
};

// Dumps named intermediates ("attn_norm", layer 3) as float32 files when a folder is set; a no-op
// otherwise. Passed explicitly, like the thread pool.
class Tracer {
 public:
  explicit Tracer(std::string dir = {}) : dir_(std::move(dir)) {}
  bool enabled() const { return !dir_.empty(); }
  void operator()(const char* name, int layer, const float* data, int64_t n) const;

 private:
  std::string dir_;
};

// A forward pass's scratch buffers, kept from one pass to the next by their owner (the engine).
// A prompt's per-layer buffers are tens of MiB: allocated per layer, the C library gave them
// back to the system and the kernel faulted them in again, zeroed, at every layer (keeping them
// made a 512-token prompt 9-15% faster on a Zen 4 VM). Each slot grows to the largest request
// and stays.
class Workspace {
 public:
  enum Slot {
    kResidual, kNormed, kBlockOut,  // the architectures' x, h, y: [n_tokens, n_embd]
    kQ, kK, kV, kAttn,              // self_attention
    kGate, kUp,                     // swiglu and the MoE experts' gate / up
    kProbs, kExpertIn, kExpertOut,  // moe
    kSlots
  };
  // Room for n floats in `slot`, holding whatever its last user left there.
  float* floats(Slot slot, int64_t n) {
    std::vector<float>& b = buffers_[slot];
    if (b.size() < static_cast<size_t>(n)) b.resize(static_cast<size_t>(n));
    return b.data();
  }

 private:
  std::array<std::vector<float>, kSlots> buffers_;
};

struct ForwardContext {
  ThreadPool& pool;
  const KvCacheView& kv;
  const Tracer& trace;
  Workspace& ws;
};

struct LoadOptions {
  // Repack the weights this CPU's kernels multiply faster in another layout (RepackedWeights:
  // Q4_0, Q8_0, Q4_K and Q6_K with AVX-512 VNNI): the same results, one token's products from
  // cache ~2.1x (Q4_0, Q8_0, Q4_K) and ~1.3x (Q6_K) as fast; false keeps every weight zero-copy
  // in the file's mapping.
  bool repack = true;
  ThreadPool* pool = nullptr;      // the threads that repack (nullptr: the caller's alone)
  Progress* progress = nullptr;    // advanced by the bytes repacked (nullptr: none)
};

class Model {
 public:
  virtual ~Model() = default;
  const ModelSpec& spec() const { return spec_; }
  // Bytes of weights held repacked (in anonymous memory, not the mapping).
  uint64_t repacked_bytes() const { return repacked_.bytes(); }
  // After binding (load_model): lets go of what loading used (LoadOptions' pool and progress).
  void finish_loading() { repacked_.finish_loading(); }

  // Runs the batch; logits: [rows, n_vocab], one row per requested position, sequences in order.
  virtual Status forward(const ForwardContext& ctx, std::span<const SequenceInput> batch,
                         float* logits) const = 0;

 protected:
  Model(ModelSpec spec, const LoadOptions& options)
      : spec_(std::move(spec)), repack_(options.repack), repacked_(options.pool, options.progress) {}
  // The binder an architecture binds its weights with.
  Binder binder(const gguf::GgufFile& file) { return Binder(file, repack_ ? &repacked_ : nullptr); }
  ModelSpec spec_;

 private:
  bool repack_;
  RepackedWeights repacked_;
};

// Builds the model for the file's architecture (llama, qwen3, qwen3moe). Weights stay in the
// mapping but those repacked (LoadOptions): `file` must outlive the model.
Result<std::unique_ptr<Model>> load_model(const gguf::GgufFile& file, const LoadOptions& options = {});

// Number of tokens in a batch, and of logits rows it produces.
int64_t count_tokens(std::span<const SequenceInput> batch);
int64_t count_logit_rows(std::span<const SequenceInput> batch);

// Rope settings from metadata: base, linear scaling, and the type the architecture uses.
Result<cpu::RopeParams> rope_params(const gguf::GgufFile& file, const ModelSpec& spec, bool neox);

}  // namespace flint::model
