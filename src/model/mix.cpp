#include "model/mix.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <string>

namespace flint::model {
namespace {

struct FileTypeRow {
  FileType type;
  std::string_view name;
  DType base;
};

constexpr std::array kFileTypes = {
    FileTypeRow{FileType::ALL_F32, "F32", DType::F32},
    FileTypeRow{FileType::F16, "F16", DType::F16},
    FileTypeRow{FileType::BF16, "BF16", DType::BF16},
    FileTypeRow{FileType::Q8_0, "Q8_0", DType::Q8_0},
    FileTypeRow{FileType::Q4_0, "Q4_0", DType::Q4_0},
    FileTypeRow{FileType::Q4_1, "Q4_1", DType::Q4_1},
    FileTypeRow{FileType::Q5_0, "Q5_0", DType::Q5_0},
    FileTypeRow{FileType::Q5_1, "Q5_1", DType::Q5_1},
    FileTypeRow{FileType::Q2_K, "Q2_K", DType::Q2_K},
    FileTypeRow{FileType::Q3_K_S, "Q3_K_S", DType::Q3_K},
    FileTypeRow{FileType::Q3_K_M, "Q3_K_M", DType::Q3_K},
    FileTypeRow{FileType::Q3_K_L, "Q3_K_L", DType::Q3_K},
    FileTypeRow{FileType::Q4_K_S, "Q4_K_S", DType::Q4_K},
    FileTypeRow{FileType::Q4_K_M, "Q4_K_M", DType::Q4_K},
    FileTypeRow{FileType::Q5_K_S, "Q5_K_S", DType::Q5_K},
    FileTypeRow{FileType::Q5_K_M, "Q5_K_M", DType::Q5_K},
    FileTypeRow{FileType::Q6_K, "Q6_K", DType::Q6_K},
    FileTypeRow{FileType::IQ4_NL, "IQ4_NL", DType::IQ4_NL},
    FileTypeRow{FileType::MXFP4_MOE, "MXFP4_MOE", DType::MXFP4},
};

const FileTypeRow& row(FileType type) {
  for (const FileTypeRow& r : kFileTypes) {
    if (r.type == type) return r;
  }
  FLINT_CHECK(false && "unknown FileType");
  return kFileTypes[0];
}

bool is_quantized(DType t) { return dtype_info(t).block_elems > 1; }

enum class Category { kOutput, kTokenEmbd, kAttnV, kAttnK, kAttnQ, kAttnOutput, kFfnUp, kFfnGate, kFfnDown, kOther };

Category category_of(const std::string& name) {
  const auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (name == "output.weight") return Category::kOutput;
  if (name == "token_embd.weight") return Category::kTokenEmbd;
  if (has("attn_v.weight") || has("attn_qkv.weight")) return Category::kAttnV;
  if (has("attn_k.weight")) return Category::kAttnK;
  if (has("attn_q.weight")) return Category::kAttnQ;
  if (has("attn_output.weight")) return Category::kAttnOutput;
  if (has("ffn_up")) return Category::kFfnUp;
  if (has("ffn_gate")) return Category::kFfnGate;
  if (has("ffn_down")) return Category::kFfnDown;
  return Category::kOther;
}

// llama.cpp's "use more bits" layers: the first and last eighth, and every third in between.
bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

// A type whose block does not divide the row length falls back to a 32-wide type.
DType fallback(DType type, uint64_t ncols) {
  if (ncols % dtype_info(type).block_elems == 0) return type;
  DType out = DType::F16;
  switch (type) {
    case DType::Q2_K:
    case DType::Q3_K: out = DType::Q4_0; break;
    case DType::Q4_K: out = DType::Q5_0; break;
    case DType::Q5_K: out = DType::Q5_1; break;
    case DType::Q6_K: out = DType::Q8_0; break;
    default: out = DType::F16; break;
  }
  return ncols % dtype_info(out).block_elems == 0 ? out : DType::F16;
}

}  // namespace

int tensor_layer(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
}

bool llama_tensor_order(const std::string& a, const std::string& b) {
  const int la = tensor_layer(a), lb = tensor_layer(b);
  return la != lb ? la < lb : a < b;
}

std::optional<FileType> file_type_from_name(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  for (const FileTypeRow& r : kFileTypes) {
    if (r.name == upper) return r.type;
  }
  return std::nullopt;
}

std::string_view file_type_name(FileType type) { return row(type).name; }
DType file_type_base(FileType type) { return row(type).base; }

std::vector<std::string_view> file_type_names() {
  std::vector<std::string_view> out;
  for (const FileTypeRow& r : kFileTypes) out.push_back(r.name);
  return out;
}

bool is_quantizable(const gguf::TensorInfo& t) {
  if (t.shape.size() < 2) return false;
  const std::string& n = t.name;
  if (!n.ends_with("weight")) return false;
  if (n.find("_norm.weight") != std::string::npos) return false;
  if (n.find("ffn_gate_inp.weight") != std::string::npos) return false;
  return true;
}

MixPlanner::MixPlanner(FileType ftype, const ModelSpec& spec,
                       const std::vector<gguf::TensorInfo>& tensors)
    : ftype_(ftype), spec_(spec) {
  for (const gguf::TensorInfo& t : tensors) {
    const Category c = category_of(t.name);
    if (c == Category::kAttnV) ++n_attention_wv_;
    if (c == Category::kOutput) tied_ = false;
  }
}

DType MixPlanner::choose(const gguf::TensorInfo& t) {
  if (!is_quantizable(t)) return t.type;
  const DType base = file_type_base(ftype_);
  if (!is_quantized(base)) return base;
  return fallback(choose_quantized(t, base), t.shape[0]);
}

DType MixPlanner::choose_quantized(const gguf::TensorInfo& t, DType type) {
  using F = FileType;
  const F f = ftype_;
  const Category c = category_of(t.name);
  const int n_layer = static_cast<int>(spec_.n_layer);
  const bool eight_experts = spec_.n_expert == 8;
  // llama.cpp recognizes the 70B Llama by its 80 layers.
  const bool is_70b = spec_.arch == "llama" && spec_.n_layer == 80;

  if (c == Category::kOutput || (tied_ && c == Category::kTokenEmbd)) {
    if (f == F::MXFP4_MOE || t.shape[0] % dtype_info(type).block_elems != 0) return DType::Q8_0;
    return type == DType::Q8_0 ? type : DType::Q6_K;
  }
  if (f == F::MXFP4_MOE) return t.shape.size() >= 3 && t.shape[2] > 1 ? DType::MXFP4 : DType::Q8_0;
  if (c == Category::kTokenEmbd) return type;

  if (c == Category::kAttnV) {
    const int i = i_attention_wv_++;
    if (f == F::Q2_K) type = spec_.n_gqa() >= 4 ? DType::Q4_K : DType::Q3_K;
    else if (f == F::Q3_K_M) type = i < 2 ? DType::Q5_K : DType::Q4_K;
    else if (f == F::Q3_K_L) type = DType::Q5_K;
    else if (f == F::IQ4_NL && spec_.n_gqa() >= 4) type = DType::Q5_K;
    else if ((f == F::Q4_K_M || f == F::Q5_K_M) && use_more_bits(i, n_attention_wv_)) type = DType::Q6_K;
    else if (f == F::Q4_K_S && i < 4) type = DType::Q5_K;
    if (is_70b && (type == DType::Q3_K || type == DType::Q4_K)) type = DType::Q5_K;
    if (eight_experts) type = DType::Q8_0;
    return type;
  }
  if (c == Category::kAttnK) return eight_experts ? DType::Q8_0 : type;
  if (c == Category::kFfnDown) {
    // MoE files interleave expert tensors, so the layer comes from the name.
    int i = i_ffn_down_++;
    if (spec_.n_expert > 1) i = tensor_layer(t.name);
    if (f == F::Q2_K) type = DType::Q3_K;
    else if (f == F::Q3_K_M) type = i < n_layer / 16 ? DType::Q5_K : DType::Q4_K;
    else if (f == F::Q3_K_L) type = DType::Q5_K;
    else if (f == F::Q4_K_M) { if (use_more_bits(i, n_layer)) type = DType::Q6_K; }
    else if (i < n_layer / 8 && f == F::IQ4_NL) type = DType::Q5_K;
    else if (f == F::Q5_K_M && use_more_bits(i, n_layer)) type = DType::Q6_K;
    else if (f == F::Q4_K_S && i < n_layer / 8) type = DType::Q5_K;
    return type;
  }
  if (c == Category::kAttnOutput) {
    if (eight_experts) {
      if (f == F::Q2_K || f == F::Q3_K_S || f == F::Q3_K_M || f == F::IQ4_NL || f == F::Q4_K_S ||
          f == F::Q4_K_M) {
        type = DType::Q5_K;
      }
    } else if (f == F::Q2_K) {
      type = DType::Q3_K;
    } else if (f == F::Q3_K_M) {
      type = DType::Q4_K;
    } else if (f == F::Q3_K_L) {
      type = DType::Q5_K;
    }
    return type;
  }
  return type;
}

}  // namespace flint::model
