#include "model/binder.h"

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

Result<cpu::WeightMatrix> RepackedWeights::add(const gguf::GgufFile& file, const gguf::TensorInfo& t,
                                               const cpu::WeightMatrix& w, int64_t rows_per_slice) {
  const cpu::KernelSet& kernels = cpu::best_kernels();
  if (kernels.gemm_rows16 == nullptr || !cpu::rows16_supported(w.type, w.n_in, w.n_out, rows_per_slice)) return w;
  FLINT_ASSIGN_OR_RETURN(PageMemory copy, PageMemory::allocate(t.n_bytes));
  // In parallel: the new pages' first touches cost more than the copying (2 MiB pages asked
  // for; 400 MB took ~1 s on one core of a Zen 4 VM, ~0.4 s on two).
  const int64_t groups = w.n_out / cpu::kRows16Group;
  auto some = [&](int64_t g0, int64_t g1) { cpu::repack_rows16(w.type, w.n_in, w.data, copy.data(), g0, g1); };
  if (pool_ != nullptr) {
    pool_->parallel_for(groups, std::max<int64_t>(1, groups / (4 * pool_->size())), some);
  } else {
    some(0, groups);
  }
  file.release_tensor_pages(t);
  cpu::WeightMatrix out = w;
  out.data = copy.data();
  out.layout = cpu::Layout::kRows16;
  bytes_ += t.n_bytes;
  copies_.push_back(std::move(copy));
  return out;
}

Result<cpu::WeightMatrix> Binder::matrix(const std::string& name, std::vector<uint64_t> shape) const {
  const gguf::TensorInfo* t = nullptr;
  FLINT_ASSIGN_OR_RETURN(cpu::WeightMatrix w, bind_matrix(name, shape, &t));
  if (repack_ == nullptr) return w;
  // rows of one slice: an expert's (shape [n_in, n_out, n_expert]) or all
  const auto slice = static_cast<int64_t>(shape.size() >= 2 ? shape[1] : 1);
  return repack_->add(file_, *t, w, slice);
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
