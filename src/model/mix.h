// Quantization mixes: which type each tensor gets for a file type such as Q4_K_M.
//
// These follow llama.cpp's llama-quantize (at the fixtures' commit) so that a file quantized by
// flint has the same per-tensor types as the one people download: e.g. Q4_K_M keeps the output
// matrix at Q6_K and gives more bits to attn_v / ffn_down in the first and last eighth of the
// layers and every third layer between; 8-expert MoE models keep attn_k / attn_v at Q8_0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "gguf/gguf_file.h"
#include "model/model_spec.h"

namespace flint::model {

// Values are llama.cpp's LLAMA_FTYPE_* (stored as general.file_type).
enum class FileType : uint32_t {
  ALL_F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q8_0 = 7,
  Q5_0 = 8,
  Q5_1 = 9,
  Q2_K = 10,
  Q3_K_S = 11,
  Q3_K_M = 12,
  Q3_K_L = 13,
  Q4_K_S = 14,
  Q4_K_M = 15,
  Q5_K_S = 16,
  Q5_K_M = 17,
  Q6_K = 18,
  IQ4_NL = 25,
  BF16 = 32,
  MXFP4_MOE = 38,
};

std::optional<FileType> file_type_from_name(std::string_view name);  // "Q4_K_M", "f16", ...
std::string_view file_type_name(FileType type);
std::vector<std::string_view> file_type_names();
DType file_type_base(FileType type);  // the type most tensors get

// The N of "blk.N.*" tensor names; -1 for tensors outside the layers.
int tensor_layer(const std::string& name);
// The tensor order of llama.cpp's loader (and so of llama-quantize's output): tensors outside
// the layers first, then layer by layer, by name within each.
bool llama_tensor_order(const std::string& a, const std::string& b);

// Whether llama-quantize would quantize this tensor at all (2-D/3-D weights other than norms
// and the expert router).
bool is_quantizable(const gguf::TensorInfo& tensor);

// Chooses types tensor by tensor, in file order (some rules count attn_v tensors as they come).
class MixPlanner {
 public:
  MixPlanner(FileType ftype, const ModelSpec& spec, const std::vector<gguf::TensorInfo>& tensors);
  // The type for `tensor`; call once per tensor, in file order.
  DType choose(const gguf::TensorInfo& tensor);

 private:
  DType choose_quantized(const gguf::TensorInfo& tensor, DType type);
  FileType ftype_;
  ModelSpec spec_;
  bool tied_ = true;
  int n_attention_wv_ = 0;
  int i_attention_wv_ = 0;
  int i_ffn_down_ = 0;
};

}  // namespace flint::model
