#include "model/binder.h"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backend/cpu/kernels.h"
#include "backend/cpu/repack.h"
#include "quant/quant.h"

namespace flint::model {

Result<const gguf::TensorInfo*> Binder::find(const std::string& name,
                                             const std::vector<uint64_t>& shape) const {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (!t) return error("{}: tensor '{}' is missing", file_.path(), name);
  if (t->shape != shape) {
    return error("{}: tensor '{}' has shape [{}], expected [{}] from the metadata", file_.path(),
                 name, fmt::join(t->shape, ", "), fmt::join(shape, ", "));
  }
  if (file_.tensor_data(*t).size() != t->n_bytes) {
    return error("{}: tensor '{}' data is missing (truncated file?)", file_.path(), name);
  }
  return t;
}

namespace {
// A copy's room in the allocation: from a cache line, so that the kernels' vector loads do not
// straddle two (repack.h).
uint64_t arena_bytes(const gguf::TensorInfo& t) { return (t.n_bytes + 63) / 64 * 64; }
}  // namespace

bool RepackedWeights::will_repack(const gguf::GgufFile& file, const gguf::TensorInfo& t) {
  if (t.shape.size() < 2) return false;
  if (t.name == "token_embd.weight" && file.find_tensor("output.weight") != nullptr) return false;
  // rows of one slice: an expert's (shape [n_in, n_out, n_expert]) or all
  return cpu::rows16_pays(t.type, static_cast<int64_t>(t.shape[0]), static_cast<int64_t>(t.n_rows()),
                               static_cast<int64_t>(t.shape[1]));
}

uint64_t RepackedWeights::planned_bytes(const gguf::GgufFile& file) {
  uint64_t total = 0;
  for (const gguf::TensorInfo& t : file.tensors()) total += will_repack(file, t) ? arena_bytes(t) : 0;
  return total;
}

Result<cpu::WeightMatrix> RepackedWeights::add(const gguf::GgufFile& file, const gguf::TensorInfo& t,
                                               const cpu::WeightMatrix& w) {
  if (!will_repack(file, t) || no_memory_) return w;
  if (copies_.data() == nullptr) {
    Result<PageMemory> all = PageMemory::allocate(planned_bytes(file));
    no_memory_ = !all.is_ok();
    if (no_memory_) return w;
    copies_ = std::move(*all);
  }
  FLINT_CHECK(used_ + arena_bytes(t) <= copies_.size());  // will_repack(t) counted it
  uint8_t* copy = copies_.data() + used_;
  if (file.from_file() && !reader_) {
    FLINT_ASSIGN_OR_RETURN(FileReader reader, FileReader::open(file.path()));
    reader_ = std::move(reader);
  }
  // Groups [g0, g1): their rows read into a buffer of this thread's, then interleaved into the
  // copy. In parallel: the copy's new pages cost more to fault in than the copying (2 MiB pages
  // asked for; 400 MB took ~1 s on one core of a Zen 4 VM, ~0.4 s on two).
  const uint64_t group_bytes = cpu::kRows16Group * w.row_bytes;
  const int64_t groups = w.n_out / cpu::kRows16Group;
  const uint64_t offset = file.data_offset() + t.offset;
  std::mutex failed_mu;
  Status failed = Status::ok();
  auto some = [&](int64_t g0, int64_t g1) {
    std::vector<uint8_t> rows(static_cast<size_t>((g1 - g0) * group_bytes));
    if (reader_) {
      if (Status s = reader_->read_at(offset + g0 * group_bytes, rows); !s) {
        std::lock_guard lock(failed_mu);
        if (failed.is_ok()) failed = s;
        return;
      }
    } else {
      std::copy_n(w.data + g0 * group_bytes, rows.size(), rows.data());
    }
    cpu::repack_rows16(w.type, w.n_in, rows.data(), copy + g0 * group_bytes, 0, g1 - g0);
  };
  // chunks of about 1 MiB: the read buffers stay small, the threads evenly loaded
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>((1u << 20) / group_bytes));
  if (pool_ != nullptr) {
    pool_->parallel_for(groups, grain, some);
  } else {
    for (int64_t g = 0; g < groups; g += grain) some(g, std::min(groups, g + grain));
  }
  FLINT_RETURN_IF_ERROR(failed);
  if (progress_ != nullptr) progress_->advance(t.n_bytes);
  cpu::WeightMatrix out = w;
  out.data = copy;
  out.layout = cpu::Layout::kRows16;
  bytes_ += t.n_bytes;
  used_ += arena_bytes(t);
  return out;
}

Result<cpu::WeightMatrix> Binder::matrix(const std::string& name, std::vector<uint64_t> shape) const {
  const gguf::TensorInfo* t = nullptr;
  FLINT_ASSIGN_OR_RETURN(cpu::WeightMatrix w, bind_matrix(name, shape, &t));
  if (repack_ == nullptr) return w;
  return repack_->add(file_, *t, w);
}

Result<cpu::WeightMatrix> Binder::table(const std::string& name, std::vector<uint64_t> shape) const {
  const gguf::TensorInfo* t = nullptr;
  return bind_matrix(name, shape, &t);
}

Result<cpu::WeightMatrix> Binder::bind_matrix(const std::string& name, const std::vector<uint64_t>& shape,
                                              const gguf::TensorInfo** info) const {
  FLINT_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, shape));
  *info = t;
  if (!quant::can_dequantize(t->type)) {
    return error("{}: tensor '{}' has type {}, which flint cannot compute with yet", file_.path(),
                 name, dtype_name(t->type));
  }
  // Float rows are read through typed pointers: they must be aligned (GGUF's default 32 is).
  const uint64_t element = t->type == DType::F32 ? 4 : (t->type == DType::F16 || t->type == DType::BF16) ? 2 : 1;
  if (reinterpret_cast<uintptr_t>(file_.tensor_data(*t).data()) % element != 0) {
    return error("{}: tensor '{}' ({}) is not {}-byte aligned", file_.path(), name, dtype_name(t->type), element);
  }
  cpu::WeightMatrix w;
  w.type = t->type;
  w.data = file_.tensor_data(*t).data();
  w.n_in = static_cast<int64_t>(t->shape[0]);
  w.n_out = static_cast<int64_t>(t->n_rows());
  w.row_bytes = *dtype_row_bytes(t->type, t->shape[0]);
  return w;
}

Result<const float*> Binder::vector(const std::string& name, uint64_t n) const {
  FLINT_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, {n}));
  if (t->type != DType::F32) {
    return error("{}: tensor '{}' has type {}, expected f32", file_.path(), name, dtype_name(t->type));
  }
  const uint8_t* p = file_.tensor_data(*t).data();
  if (reinterpret_cast<uintptr_t>(p) % alignof(float) != 0) {
    return error("{}: tensor '{}' is not 4-byte aligned", file_.path(), name);
  }
  return reinterpret_cast<const float*>(p);
}

}  // namespace flint::model
