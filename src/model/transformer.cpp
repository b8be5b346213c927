#include "model/transformer.h"

#include <cstdio>

#include "model/layers.h"

namespace flint::model {

// The architectures flint runs, each in its own file under arch/.
Result<std::unique_ptr<Model>> load_llama(const gguf::GgufFile& file, ModelSpec spec, const LoadOptions& options);
Result<std::unique_ptr<Model>> load_qwen3(const gguf::GgufFile& file, ModelSpec spec, const LoadOptions& options);
Result<std::unique_ptr<Model>> load_qwen3moe(const gguf::GgufFile& file, ModelSpec spec, const LoadOptions& options);

Result<std::unique_ptr<Model>> load_model(const gguf::GgufFile& file, const LoadOptions& options) {
  FLINT_ASSIGN_OR_RETURN(ModelSpec spec, ModelSpec::from_gguf(file));
  Result<std::unique_ptr<Model>> model =
      spec.arch == "llama"      ? load_llama(file, std::move(spec), options)
      : spec.arch == "qwen3"    ? load_qwen3(file, std::move(spec), options)
      : spec.arch == "qwen3moe" ? load_qwen3moe(file, std::move(spec), options)
                                : error("{}: architecture '{}' is not supported (flint runs llama, qwen3 and qwen3moe)",
                                        file.path(), spec.arch);
  if (model) (*model)->finish_loading();
  return model;
}

int64_t count_tokens(std::span<const SequenceInput> batch) {
  int64_t n = 0;
  for (const SequenceInput& s : batch) n += static_cast<int64_t>(s.tokens.size());
  return n;
}

int64_t count_logit_rows(std::span<const SequenceInput> batch) {
  return static_cast<int64_t>(logit_rows(batch).size());
}

Result<cpu::RopeParams> rope_params(const gguf::GgufFile& file, const ModelSpec& spec, bool neox) {
  const std::string p = spec.arch + ".";
  cpu::RopeParams r;
  r.neox = neox;
  r.freq_base = spec.rope_freq_base;
  FLINT_ASSIGN_OR_RETURN(const uint32_t n_rot, file.get_or<uint32_t>(p + "rope.dimension_count", spec.head_dim_k));
  if (n_rot != spec.head_dim_k) {
    return error("{}: {}rope.dimension_count is {}, but flint rotates whole heads of {}", file.path(),
                 p, n_rot, spec.head_dim_k);
  }
  r.n_rot = static_cast<int>(n_rot);
  std::string scaling = "none";
  if (file.has(p + "rope.scaling.type")) {
    FLINT_ASSIGN_OR_RETURN(scaling, file.get_string(p + "rope.scaling.type"));
  }
  if (scaling == "linear") {
    FLINT_ASSIGN_OR_RETURN(const float factor, file.get<float>(p + "rope.scaling.factor"));
    if (factor <= 0) return error("{}: {}rope.scaling.factor is {}", file.path(), p, factor);
    r.freq_scale = 1.0f / factor;
  } else if (scaling != "none") {
    return error("{}: {}rope.scaling.type '{}' is not supported yet", file.path(), p, scaling);
  }
  return r;
}

void Tracer::operator()(const char* name, int layer, const float* data, int64_t n) const {
  if (dir_.empty()) return;
  const std::string path = layer >= 0 ? fmt::format("{}/{}-{}.f32", dir_, name, layer)
                                      : fmt::format("{}/{}.f32", dir_, name);
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, sizeof(float), static_cast<size_t>(n), f);
    std::fclose(f);
  }
}

}  // namespace flint::model
