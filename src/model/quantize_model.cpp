#include "model/quantize_model.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <vector>

#include "core/progress.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/model_spec.h"
#include "quant/quant.h"

namespace flint::model {

Status convert_rows(ThreadPool& pool, DType src_type, std::span<const uint8_t> src, DType dst_type,
                    std::span<uint8_t> dst, uint64_t row_len) {
  const std::optional<uint64_t> src_row = dtype_row_bytes(src_type, row_len);
  const std::optional<uint64_t> dst_row = dtype_row_bytes(dst_type, row_len);
  if (!src_row || !dst_row) {
    return error("rows of {} values cannot be converted from {} to {}", row_len,
                 dtype_name(src_type), dtype_name(dst_type));
  }
  const uint64_t n_rows = src.size() / *src_row;
  FLINT_CHECK(n_rows * *src_row == src.size() && n_rows * *dst_row == dst.size());
  std::mutex mu;
  Status first_error;
  pool.parallel_for(static_cast<int64_t>(n_rows), 1, [&](int64_t begin, int64_t end) {
    std::vector<float> row(row_len);
    for (int64_t r = begin; r < end; ++r) {
      Status s = quant::dequantize_row(src_type, src.data() + r * *src_row, row.data(),
                                       static_cast<int64_t>(row_len));
      if (s.is_ok()) {
        s = quant::quantize_row(dst_type, row.data(), dst.data() + r * *dst_row,
                                static_cast<int64_t>(row_len));
      }
      if (!s.is_ok()) {
        std::lock_guard lock(mu);
        if (first_error.is_ok()) first_error = s;
        return;
      }
    }
  });
  return first_error;
}

Result<QuantizeReport> quantize_model(const QuantizeOptions& options) {
  FLINT_ASSIGN_OR_RETURN(gguf::GgufFile in, gguf::GgufFile::open(options.input));
  FLINT_ASSIGN_OR_RETURN(ModelSpec spec, ModelSpec::from_gguf(in));

  // llama-quantize's order: tensors outside layers first, then by layer; by name within each.
  std::vector<gguf::TensorInfo> tensors = in.tensors();
  std::stable_sort(tensors.begin(), tensors.end(), [](const gguf::TensorInfo& a, const gguf::TensorInfo& b) {
    return llama_tensor_order(a.name, b.name);
  });

  // Plan every tensor's type first: the header is written before any data.
  MixPlanner planner(options.ftype, spec, tensors);
  std::vector<DType> types;
  for (const gguf::TensorInfo& t : tensors) {
    const DType target = planner.choose(t);
    if (target != t.type) {
      if (!quant::can_dequantize(t.type)) {
        return error("{}: tensor '{}' has type {}, which flint cannot convert", options.input,
                     t.name, dtype_name(t.type));
      }
      if (!quant::can_quantize(target)) {
        return error("tensor '{}': flint cannot quantize to {}", t.name, dtype_name(target));
      }
      const bool source_quantized = dtype_info(t.type).block_elems > 1;
      if (source_quantized && !options.allow_requantize) {
        return error("{}: tensor '{}' is already quantized ({}); re-quantizing it to {} loses "
                     "quality: start from an F32/F16/BF16 file, or pass --allow-requantize",
                     options.input, t.name, dtype_name(t.type), dtype_name(target));
      }
    }
    types.push_back(target);
  }

  FLINT_ASSIGN_OR_RETURN(gguf::GgufWriter out, gguf::GgufWriter::create(options.output));
  // Metadata as in the input; the quantization keys go last, as llama-quantize writes them.
  for (const gguf::KeyValue& kv : in.metadata()) {
    if (kv.key == "general.quantization_version" || kv.key == "general.file_type") continue;
    FLINT_RETURN_IF_ERROR(out.add(kv.key, kv.value));
  }
  FLINT_RETURN_IF_ERROR(out.add("general.quantization_version", gguf::Value::u32(2)));
  FLINT_RETURN_IF_ERROR(out.add("general.file_type",
                                gguf::Value::u32(static_cast<uint32_t>(options.ftype))));
  for (size_t i = 0; i < tensors.size(); ++i) {
    const gguf::TensorInfo& t = tensors[i];
    FLINT_RETURN_IF_ERROR(out.add_tensor(t.name, types[i], t.shape));
  }
  FLINT_RETURN_IF_ERROR(out.write_header());

  QuantizeReport report;
  report.bytes_in = in.file_size();
  ThreadPool pool(options.n_threads);
  uint64_t total = 0;
  for (const gguf::TensorInfo& t : tensors) total += t.n_bytes;
  Progress progress("quantize", total, options.progress);
  std::vector<uint8_t> buffer;
  constexpr uint64_t kChunkBytes = 32ull << 20;  // source bytes converted per step
  for (size_t i = 0; i < tensors.size(); ++i) {
    const gguf::TensorInfo& t = tensors[i];
    const std::span<const uint8_t> src = in.tensor_data(t);
    if (types[i] == t.type) {
      FLINT_RETURN_IF_ERROR(out.write_tensor_data(src));
      ++report.n_copied;
    } else {
      const uint64_t src_row = t.n_bytes / std::max<uint64_t>(1, t.n_rows());
      const uint64_t dst_row = *dtype_row_bytes(types[i], t.shape[0]);
      const uint64_t rows_per_chunk = std::max<uint64_t>(1, kChunkBytes / std::max<uint64_t>(1, src_row));
      for (uint64_t r = 0; r < t.n_rows(); r += rows_per_chunk) {
        const uint64_t n = std::min(rows_per_chunk, t.n_rows() - r);
        buffer.resize(n * dst_row);
        FLINT_RETURN_IF_ERROR(convert_rows(pool, t.type, src.subspan(r * src_row, n * src_row),
                                           types[i], buffer, t.shape[0])
                                  .with_context("tensor '" + t.name + "'"));
        FLINT_RETURN_IF_ERROR(out.write_tensor_data(buffer));
      }
      ++report.n_quantized;
    }
    progress.advance(t.n_bytes, t.name);
  }
  progress.finish();
  FLINT_RETURN_IF_ERROR(out.finish());
  report.bytes_out = out.bytes_written();
  return report;
}

}  // namespace flint::model
